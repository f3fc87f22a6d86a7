/**
 * One table as userspace sees it between COMMITs (libiptc's cache): chains
 * with their rules, policies and counters. iptables-restore edits a copy of
 * it line by line (declare, apply), then COMMIT compiles the copy and swaps
 * it in. Built-in chains are listed in hook order, user chains sorted by
 * name, as libiptc keeps them (and as iptables-save and -L print them).
 */
import type { ChainDecl, CommandStmt, Counters, Policy, RuleSpec } from './ast.js';
import { fail } from './errors.js';
import { checkChainName } from './parse-rule.js';
import { ruleBody } from './rule-text.js';
import { HOOK_NAMES, TABLE_HOOKS } from '../hooks.js';
import type { TableName } from '../hooks.js';

/**
 * A rule in a table: the parsed rule, the line it was loaded from, its
 * counters (null while both are zero, as every rule of a fresh load is: one
 * field instead of two, 110,000 rules a node for kube-proxy's 10,000
 * Services). A Counters object is replaced, never changed: clones share it.
 */
export interface RuleState {
  readonly spec: RuleSpec;
  readonly file: string;
  readonly line: number;
  counters: Readonly<Counters> | null;
}

/** A rule's packets, or 0. */
export function rulePackets(r: RuleState): number {
  return r.counters === null ? 0 : r.counters.packets;
}

/** A rule's bytes, or 0. */
export function ruleBytes(r: RuleState): number {
  return r.counters === null ? 0 : r.counters.bytes;
}

/** A new rule's state: counters from the rule's own "-c" or, with -c, the line's "[p:b]" prefix. */
function ruleState(spec: RuleSpec, stmt: CommandStmt, opts: ApplyOptions): RuleState {
  const ctr = spec.counters ?? (opts.counters ? stmt.prefixCounters : null);
  return { spec, file: stmt.file, line: stmt.line, counters: ctr === null || (ctr.packets === 0 && ctr.bytes === 0) ? null : { packets: ctr.packets, bytes: ctr.bytes } };
}

export class ChainState {
  rules: RuleState[] = [];
  /** Policy counters (the underflow entry's); always 0 for user chains. */
  packets = 0;
  bytes = 0;

  constructor(
    readonly name: string,
    /** The NfHook of a built-in chain, or -1 for a user chain. */
    readonly hook: number,
    public policy: Policy | null,
  ) {}

  get builtin(): boolean {
    return this.hook >= 0;
  }

  clone(name = this.name): ChainState {
    const c = new ChainState(name, this.hook, this.policy);
    c.rules = this.rules.map((r) => ({ spec: r.spec, file: r.file, line: r.line, counters: r.counters }));
    c.packets = this.packets;
    c.bytes = this.bytes;
    return c;
  }
}

function byName(chains: ChainState[]): ChainState[] {
  return chains.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The strcmp order of a table's user chains, remembered from the last table
 * of that name with as many user chains, and reused if it had the same ones:
 * a cluster's nodes restore the same chains (kube-proxy's 30,000, after its
 * base rules' few), each declared in an order of its own, and sorting them
 * again for every node was 8 % of its build.
 */
export class ChainOrder {
  private readonly byTable = new Map<string, { names: string[]; known: Set<string> }>();
  /** Tables whose order was reused, and tables sorted. */
  readonly counts = { reused: 0, sorted: 0 };

  /** `user` (the user chains of table `table`, `chains` by name) in strcmp order. */
  sorted(table: TableName, user: ChainState[], chains: ReadonlyMap<string, ChainState>): ChainState[] {
    const key = `${table}/${user.length}`;
    const last = this.byTable.get(key);
    if (last !== undefined && user.every((c) => last.known.has(c.name))) {
      this.counts.reused++;
      return last.names.map((n) => chains.get(n)!);
    }
    this.counts.sorted++;
    const sorted = byName(user);
    const names = sorted.map((c) => c.name);
    this.byTable.set(key, { names, known: new Set(names) });
    return sorted;
  }
}

export interface ApplyOptions {
  /** iptables-restore -c: honour "[packets:bytes]" on rules and chain lines. */
  counters: boolean;
  /** iptables-restore --noflush. */
  noflush: boolean;
}

export class TableModel {
  readonly chains = new Map<string, ChainState>();

  private constructor(readonly name: TableName) {}

  /** A table as the kernel creates it: its built-in chains, empty, policy ACCEPT. */
  static fresh(name: TableName): TableModel {
    const t = new TableModel(name);
    for (const h of TABLE_HOOKS[name]) t.chains.set(h, new ChainState(h, HOOK_NAMES.indexOf(h), 'ACCEPT'));
    return t;
  }

  clone(): TableModel {
    const t = new TableModel(this.name);
    for (const [k, c] of this.chains) t.chains.set(k, c.clone());
    return t;
  }

  /** Built-in chains in hook order, then user chains by name (strcmp order). `known`: orders other tables of this name had. */
  orderedChains(known?: ChainOrder): ChainState[] {
    const all = [...this.chains.values()];
    const builtin = all.filter((c) => c.builtin).sort((a, b) => a.hook - b.hook);
    const user = all.filter((c) => !c.builtin);
    return [...builtin, ...(known !== undefined ? known.sorted(this.name, user, this.chains) : byName(user))];
  }

  /**
   * Lets go of the spare room push leaves in each chain's array (a chain of
   * 2 rules holds 17 slots): called at COMMIT, before the table is compiled.
   * kube-proxy's sync makes 30,000 chains a node.
   */
  compact(): void {
    for (const c of this.chains.values()) c.rules = c.rules.slice();
  }

  /** Rules that jump or go to `chain`, optionally counting only those in `from` (-L's "references"). */
  references(chain: string, from: Iterable<ChainState> = this.chains.values()): number {
    let n = 0;
    for (const c of from) for (const r of c.rules) if (r.spec.target.kind === 'jump' && r.spec.target.chain === chain) n++;
    return n;
  }

  /** What "*table" does without --noflush: every rule and user chain goes. */
  flushAll(): void {
    for (const [k, c] of this.chains) {
      if (c.builtin) c.rules = [];
      else this.chains.delete(k);
    }
  }

  private chain(name: string, at: CommandStmt): ChainState {
    const c = this.chains.get(name);
    if (c === undefined) fail(at, name, `Couldn't find chain \`${name}' in table ${this.name} (No chain/target/match by that name)`);
    return c;
  }

  /**
   * ":NAME POLICY [p:b]": a built-in chain's policy (its counters only with
   * -c, else zeroed, as iptables-restore leaves them); a user chain is
   * created, or with --noflush flushed if it exists (what kube-proxy's
   * partial restores rely on).
   */
  declare(d: ChainDecl, opts: ApplyOptions): void {
    const existing = this.chains.get(d.name);
    if (existing?.builtin) {
      if (d.policy === null) return;
      existing.policy = d.policy;
      const ctr = opts.counters ? d.counters : null;
      existing.packets = ctr?.packets ?? 0;
      existing.bytes = ctr?.bytes ?? 0;
      return;
    }
    if (d.policy !== null) fail(d, d.name, `Can't set policy \`${d.policy}' on \`${d.name}' line ${d.line}: Bad built-in chain name`);
    if (existing !== undefined) {
      if (!opts.noflush) fail(d, d.name, `error creating chain '${d.name}': Chain already exists`);
      existing.rules = [];
      return;
    }
    checkChainName(d.name, d);
    this.chains.set(d.name, new ChainState(d.name, -1, null));
  }

  /** One command line (do_command4 against the cache). */
  apply(stmt: CommandStmt, opts: ApplyOptions): void {
    const cmd = stmt.command;
    switch (cmd.op) {
      case 'append': {
        // A kube-proxy sync is 110,000 appends a node: no array or closure made for each.
        const c = this.chain(cmd.chain, stmt);
        for (const r of cmd.rules) this.checkJump(r, stmt);
        for (const r of cmd.rules) c.rules.push(ruleState(r, stmt, opts));
        return;
      }
      case 'insert': {
        const c = this.chain(cmd.chain, stmt);
        for (const r of cmd.rules) this.checkJump(r, stmt);
        if (cmd.num > c.rules.length + 1) fail(stmt, String(cmd.num), `Index of insertion too big (${cmd.num}) in chain ${cmd.chain}`);
        for (const r of cmd.rules) c.rules.splice(cmd.num - 1, 0, ruleState(r, stmt, opts));
        return;
      }
      case 'replace': {
        const c = this.chain(cmd.chain, stmt);
        for (const r of cmd.rules) this.checkJump(r, stmt);
        if (cmd.num > c.rules.length) fail(stmt, String(cmd.num), `Index of replacement too big (${cmd.num}) in chain ${cmd.chain}`);
        c.rules.splice(cmd.num - 1, 1, ...cmd.rules.map((r) => ruleState(r, stmt, opts)));
        return;
      }
      case 'delete': {
        const c = this.chain(cmd.chain, stmt);
        if (cmd.num !== null) {
          if (cmd.num > c.rules.length) fail(stmt, String(cmd.num), `Index of deletion too big (${cmd.num}) in chain ${cmd.chain}`);
          c.rules.splice(cmd.num - 1, 1);
          return;
        }
        for (const r of cmd.rules) {
          const want = ruleBody(r);
          const k = c.rules.findIndex((x) => ruleBody(x.spec) === want);
          if (k < 0) fail(stmt, cmd.chain, `Bad rule (does a matching rule exist in chain ${cmd.chain}?)`);
          c.rules.splice(k, 1);
        }
        return;
      }
      case 'new-chain':
        if (this.chains.has(cmd.chain)) fail(stmt, cmd.chain, `Chain '${cmd.chain}' already exists`);
        this.chains.set(cmd.chain, new ChainState(cmd.chain, -1, null));
        return;
      case 'delete-chain': {
        const victims = cmd.chain === null ? [...this.chains.values()].filter((c) => !c.builtin) : [this.chain(cmd.chain, stmt)];
        const staying = [...this.chains.values()].filter((c) => !victims.includes(c));
        for (const c of victims) {
          if (c.builtin) fail(stmt, c.name, `Can't delete built-in chain \`${c.name}'`);
          if (c.rules.length > 0) fail(stmt, c.name, `Can't delete chain \`${c.name}': Directory not empty`);
          const refs = this.references(c.name, staying);
          if (refs > 0) fail(stmt, c.name, `Can't delete chain \`${c.name}': Too many links (${refs} references)`);
        }
        for (const c of victims) this.chains.delete(c.name);
        return;
      }
      case 'flush':
        for (const c of this.select(cmd.chain, stmt)) c.rules = [];
        return;
      case 'zero':
        for (const c of this.select(cmd.chain, stmt)) {
          c.packets = c.bytes = 0;
          for (const r of c.rules) r.counters = null;
        }
        return;
      case 'policy': {
        const c = this.chain(cmd.chain, stmt);
        if (!c.builtin) fail(stmt, cmd.chain, `Can't set policy \`${cmd.policy}' on \`${cmd.chain}': Bad built-in chain name`);
        c.policy = cmd.policy;
        return;
      }
      case 'rename-chain': {
        const c = this.chain(cmd.chain, stmt);
        if (c.builtin) fail(stmt, cmd.chain, `Can't rename built-in chain \`${cmd.chain}'`);
        if (this.chains.has(cmd.newName)) fail(stmt, cmd.newName, `Chain '${cmd.newName}' already exists`);
        this.chains.delete(cmd.chain);
        this.chains.set(cmd.newName, c.clone(cmd.newName));
        for (const ch of this.chains.values()) {
          ch.rules = ch.rules.map((r) => {
            const t = r.spec.target;
            if (t.kind !== 'jump' || t.chain !== cmd.chain) return r;
            return { ...r, spec: { ...r.spec, target: { ...t, chain: cmd.newName } } };
          });
        }
      }
    }
  }

  private select(chain: string | null, stmt: CommandStmt): ChainState[] {
    return chain === null ? [...this.chains.values()] : [this.chain(chain, stmt)];
  }

  /** -j CHAIN / -g CHAIN must name a user chain of this table when the rule is added. */
  private checkJump(r: RuleSpec, at: CommandStmt): void {
    const t = r.target;
    if (t.kind !== 'jump') return;
    const c = this.chains.get(t.chain);
    if (c === undefined) {
      if (t.goto) fail(at, t.chain, `goto '${t.chain}' is not a chain`);
      fail(at, t.chain, `Couldn't load target \`${t.chain}': no such chain in table ${this.name} (No such file or directory)`);
    }
    if (c.builtin) fail(at, t.chain, `Can't jump to built-in chain \`${t.chain}'`);
  }
}
