/**
 * A network namespace's iptables: its tables (raw, mangle, nat, filter),
 * loaded with iptables-restore text and run at the netfilter hooks.
 *
 *     const ipt = new IptablesRuleset();
 *     ipt.restore(kubeProxyDump, 'kube-proxy.rules', { noflush: true });
 *     const { verdict } = ipt.runHook('nat', p, host);
 *
 * State that outlives a packet lives here, one instance per namespace:
 * per-rule counters (in the compiled tables), xt_recent lists, nfacct
 * objects, the nth counters of -m statistic (reset when their table is
 * reloaded, as in the kernel) and the TRACE mark of packets.
 *
 * runHook runs one table at one hook; the caller (the stack's hook walk)
 * orders tables by priority and, for nat, runs it only for a connection's
 * first packet, as nf_nat_inet_fn does.
 */
import type { Packet } from '../../packet.js';
import { HOOK_NAMES, NfVerdict, type TableName } from '../hooks.js';
import type { IpSet, NetfilterHost, NfPacket } from '../types.js';
import type { Counters } from './ast.js';
import { DEFAULT_CHAIN_INDEX, type ChainIndexOptions, type IndexedRun } from './chain-index.js';
import { compileTable, type CompiledTable } from './compile.js';
import { doTable, type IptTraceFn } from './evaluate.js';
import { listTable, type ListOptions } from './list.js';
import { NfacctRegistry } from './nfacct.js';
import { readRestore, type RuleLineCache } from './parse.js';
import { RecentRegistry, type RecentTable } from './recent-table.js';
import { saveTable } from './save.js';
import { ruleBytes, rulePackets, TableModel, type ChainOrder } from './table-model.js';
import { XtPacket } from './xt.js';

export interface RestoreOptions {
  /** iptables-restore --noflush: add to the tables instead of replacing them. */
  noflush?: boolean;
  /** iptables-restore -c: load the "[packets:bytes]" counters of rules and policies. */
  counters?: boolean;
  /** Lines parsed by other restores of similar text (a cluster's nodes), to parse each once. */
  lines?: RuleLineCache;
}

export interface SaveOptions {
  /** iptables-save -c: rule counters as "[packets:bytes] " prefixes. */
  counters?: boolean;
  /** iptables-save -t TABLE. */
  table?: TableName;
}

export interface RunResult {
  verdict: NfVerdict;
  /** Entries visited, rules and chain tails (policies, implicit returns). */
  rulesEvaluated: number;
}

export interface RulesetOptions {
  /**
   * Resolves -m set names when rules are loaded, so a rule naming a missing
   * set is refused ("Set X doesn't exist."); without it sets are looked up
   * per packet through NetfilterHost.ipset.
   */
  ipsets?: (name: string) => IpSet | undefined;
  /** The namespace's nfacct objects (created on demand if not given). */
  nfacct?: NfacctRegistry;
  /**
   * How tables index runs of kube-proxy-shaped rules (chain-index.ts); false
   * walks every rule. Only wall-clock time differs: verdicts, counters and
   * rulesEvaluated are the same either way.
   */
  chainIndex?: ChainIndexOptions | false;
}

interface LoadedTable {
  model: TableModel;
  compiled: CompiledTable;
}

/** Scratch for one (possibly nested) traversal: REJECT may send a packet that re-enters this namespace's hooks. */
interface Frame {
  x: XtPacket;
  stack: Int32Array;
}

export class IptablesRuleset {
  readonly nfacct: NfacctRegistry;
  /** RulesetOptions.chainIndex; read at each restore, so a change applies to tables loaded afterwards. */
  chainIndex: ChainIndexOptions | false;
  private readonly recentLists = new RecentRegistry();
  private readonly traced = new WeakSet<Packet>();
  private readonly ipsets: ((name: string) => IpSet | undefined) | undefined;
  /** In creation order; iptables-save lists the newest first (/proc/net/ip_tables_names). */
  private readonly tables = new Map<TableName, LoadedTable>();
  private readonly frames: Frame[] = [];
  private depth = 0;
  private anyTrace = false;
  /** Reused by every runHook call: read it before the next call. */
  private readonly result: RunResult = { verdict: NfVerdict.ACCEPT, rulesEvaluated: 0 };

  constructor(opts: RulesetOptions = {}) {
    this.nfacct = opts.nfacct ?? new NfacctRegistry();
    this.ipsets = opts.ipsets;
    this.chainIndex = opts.chainIndex ?? DEFAULT_CHAIN_INDEX;
  }

  /**
   * iptables-restore. Each COMMIT loads its table atomically; an error (an
   * IptablesError naming file, line and token) leaves that table as it was
   * and tables committed earlier in the text loaded, as iptables-restore does.
   */
  restore(text: string, fileName = 'iptables-restore', opts: RestoreOptions = {}): void {
    const apply = { counters: opts.counters === true, noflush: opts.noflush === true };
    // The table being restored: a copy of the loaded one, edited line by line, compiled and swapped in at COMMIT.
    let model: TableModel | null = null;
    readRestore(
      text,
      fileName,
      {
        table: (name) => {
          const loaded = this.tables.get(name);
          if (loaded !== undefined) loaded.compiled.harvest();
          model = loaded !== undefined ? loaded.model.clone() : TableModel.fresh(name);
          if (!apply.noflush) model.flushAll();
        },
        chain: (d) => model!.declare(d, apply),
        command: (s) => model!.apply(s, apply),
        commit: () => {
          this.commit(model!, opts.lines?.chainOrder);
          model = null;
        },
      },
      opts.lines,
    );
  }

  /** COMMIT: compiles `model` and swaps it in for its table. */
  private commit(model: TableModel, order: ChainOrder | undefined): void {
    const loaded = this.tables.get(model.name);
    model.compact();
    const env = { recent: this.recentLists, nfacct: this.nfacct, traced: this.traced, ...(this.ipsets ? { ipsets: this.ipsets } : {}) };
    const compiled = compileTable(model, env, this.chainIndex, order);
    // New rules took their references first; now the old table lets go (recent lists survive).
    if (loaded !== undefined) loaded.compiled.destroy();
    if (compiled.hasTrace) this.anyTrace = true;
    this.tables.set(model.name, { model, compiled });
  }

  hasTable(table: TableName): boolean {
    return this.tables.has(table);
  }

  /**
   * Runs `table` for `p` at hook p.hook (ipt_do_table). The verdict is ACCEPT
   * or DROP: REJECT has already asked the host to send its error, NAT
   * targets have called host.setupNat, CT --notrack has set p.ctState. A
   * table never loaded accepts without looking (its hooks are not
   * registered). The returned object is reused by the next call.
   */
  runHook(table: TableName, p: NfPacket, host: NetfilterHost, trace?: IptTraceFn): RunResult {
    const loaded = this.tables.get(table);
    const r = this.result;
    if (loaded === undefined) {
      r.verdict = NfVerdict.ACCEPT;
      r.rulesEvaluated = 0;
      return r;
    }
    const t = loaded.compiled;
    if (t.hookEntry[p.hook]! < 0) throw new Error(`iptables: table ${table} has no ${HOOK_NAMES[p.hook]} chain`);
    let frame = this.frames[this.depth];
    if (frame === undefined) {
      frame = { x: new XtPacket(), stack: new Int32Array(t.stackSize) };
      this.frames[this.depth] = frame;
    }
    if (frame.stack.length < t.stackSize) frame.stack = new Int32Array(t.stackSize);
    const x = frame.x;
    x.load(p, host, this.anyTrace && this.traced.has(p.pkt));
    this.depth++;
    let verdict: number;
    try {
      verdict = doTable(t, x, frame.stack, trace);
    } finally {
      this.depth--;
    }
    r.verdict = verdict as NfVerdict;
    r.rulesEvaluated = x.evaluated;
    return r;
  }

  /** iptables-save [-c] [-t TABLE]: tables newest first, as the legacy backend lists them. */
  save(opts: SaveOptions = {}): string {
    let out = '';
    const names = [...this.tables.keys()].reverse();
    for (const name of names) {
      if (opts.table !== undefined && opts.table !== name) continue;
      const t = this.tables.get(name)!;
      t.compiled.harvest();
      out += saveTable(t.model, opts.counters === true);
    }
    return out;
  }

  /** iptables -t TABLE -L [CHAIN] -v -n -x [--line-numbers]. */
  list(table: TableName, opts: ListOptions = {}): string {
    const t = this.tables.get(table);
    const model = t?.model ?? TableModel.fresh(table);
    t?.compiled.harvest();
    return listTable(model, opts);
  }

  /** iptables -Z [-t TABLE] [CHAIN]; no table: every table. */
  zeroCounters(table?: TableName, chain?: string): void {
    for (const [name, t] of this.tables) {
      if (table !== undefined && name !== table) continue;
      t.compiled.zero(chain ?? null);
    }
  }

  /** A chain's counters: the policy's (built-in chains) and each rule's. */
  chainCounters(table: TableName, chain: string): { policy: Counters | null; rules: Counters[] } {
    const t = this.tables.get(table);
    const c = t?.model.chains.get(chain);
    if (t === undefined || c === undefined) throw new Error(`iptables: no chain ${chain} in table ${table}`);
    t.compiled.harvest();
    return {
      policy: c.builtin ? { packets: c.packets, bytes: c.bytes } : null,
      rules: c.rules.map((r) => ({ packets: rulePackets(r), bytes: ruleBytes(r) })),
    };
  }

  /** The runs of `table` that the walk jumps through by index (none when the table is not loaded). */
  indexedRuns(table: TableName): IndexedRun[] {
    const t = this.tables.get(table)?.compiled;
    return t?.index?.runs(t) ?? [];
  }

  /** An xt_recent list of this namespace (/proc/net/xt_recent/NAME). */
  recent(name: string): RecentTable | undefined {
    return this.recentLists.get(name);
  }
}
