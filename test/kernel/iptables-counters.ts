/**
 * Per-rule counters out of `iptables-save -c` text (iptables-save(8):
 * "[packets:bytes]" before each rule, after each built-in chain's policy), and
 * a comparison of two dumps: the kernel's and podwire's
 * (`Netfilter.iptables.save({ counters: true })`).
 *
 * Rules are keyed by table, chain and position in the chain (1-based, as
 * `iptables -L --line-numbers` numbers them), not by their text: the two
 * dumps may spell a rule differently (match order, quoting) and still be the
 * same rule at the same place.
 */

export interface RuleCounter {
  /** "nat/KUBE-SVC-ECHO/#2", or "nat/PREROUTING/policy" for a built-in chain's policy. */
  key: string;
  table: string;
  chain: string;
  /** 1-based rule number in its chain; 0 for the policy. */
  index: number;
  packets: bigint;
  bytes: bigint;
  /** The rule as the dump wrote it (without the counters), or ":CHAIN POLICY". */
  text: string;
}

export type CounterDump = Map<string, RuleCounter>;

const CHAIN_LINE = /^:(\S+)\s+(\S+)\s+\[(\d+):(\d+)\]\s*$/;
const RULE_LINE = /^\[(\d+):(\d+)\]\s+(-A\s+(\S+)(?:\s.*)?)$/;

/** Parses `iptables-save -c` output; throws on a rule line without counters (a dump taken without -c). */
export function parseSaveCounters(text: string, source = 'iptables-save'): CounterDump {
  const out: CounterDump = new Map();
  const perChain = new Map<string, number>();
  let table: string | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${i + 1}`;
    if (line.startsWith('*')) {
      table = line.slice(1);
      return;
    }
    if (line === 'COMMIT') {
      table = null;
      return;
    }
    if (table === null) throw new Error(`${where}: "${line}" outside a table`);
    const chain = CHAIN_LINE.exec(line);
    if (chain) {
      const [, name, policy, packets, bytes] = chain;
      // User chains ("-") have no policy and no counters of their own.
      if (policy !== '-') add(out, { key: `${table}/${name}/policy`, table, chain: name!, index: 0, packets: BigInt(packets!), bytes: BigInt(bytes!), text: `:${name} ${policy}` }, where);
      return;
    }
    const rule = RULE_LINE.exec(line);
    if (rule) {
      const [, packets, bytes, ruleText, chainName] = rule;
      const slot = `${table}/${chainName}`;
      const index = (perChain.get(slot) ?? 0) + 1;
      perChain.set(slot, index);
      add(out, { key: `${slot}/#${index}`, table, chain: chainName!, index, packets: BigInt(packets!), bytes: BigInt(bytes!), text: ruleText! }, where);
      return;
    }
    throw new Error(`${where}: not a chain or counted rule line: "${line}"`);
  });
  return out;
}

function add(out: CounterDump, c: RuleCounter, where: string): void {
  if (out.has(c.key)) throw new Error(`${where}: ${c.key} appears twice`);
  out.set(c.key, c);
}

export interface CounterComparison {
  equal: boolean;
  /** One line per difference, "" when equal. */
  text: string;
  differences: string[];
  /** Counters compared on both sides (rules and policies). */
  compared: number;
}

/**
 * Compares the kernel's counters with podwire's: every rule and policy of a
 * table both have must agree in packets and bytes. A table only one side has
 * (iptables-save prints only the tables that were loaded) must have counted
 * nothing on that side.
 */
export function compareCounters(kernel: CounterDump, podwire: CounterDump): CounterComparison {
  const differences: string[] = [];
  const tablesOf = (d: CounterDump) => new Set([...d.values()].map((c) => c.table));
  const kTables = tablesOf(kernel);
  const pTables = tablesOf(podwire);
  let compared = 0;
  const keys = [...new Set([...kernel.keys(), ...podwire.keys()])].sort();
  for (const key of keys) {
    const k = kernel.get(key);
    const p = podwire.get(key);
    if (k !== undefined && p !== undefined) {
      compared++;
      if (k.packets !== p.packets || k.bytes !== p.bytes) {
        differences.push(`${key}: kernel [${k.packets}:${k.bytes}] podwire [${p.packets}:${p.bytes}]  (${k.text})`);
      }
      continue;
    }
    const only = (k ?? p)!;
    const side = k !== undefined ? 'kernel' : 'podwire';
    const otherHasTable = (k !== undefined ? pTables : kTables).has(only.table);
    if (otherHasTable) differences.push(`${key}: only in ${side}'s dump (${only.text})`);
    else if (only.packets !== 0n || only.bytes !== 0n) {
      differences.push(`${key}: table ${only.table} only in ${side}'s dump, with [${only.packets}:${only.bytes}] (${only.text})`);
    }
  }
  return { equal: differences.length === 0, text: differences.join('\n'), differences, compared };
}
