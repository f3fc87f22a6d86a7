/**
 * A table compiled to flat data, laid out as the kernel's ipt_entry blob
 * (net/ipv4/netfilter/ip_tables.c): each chain's rules in order, then one
 * tail entry per chain (the built-in chain's policy, the "underflow"; a user
 * chain's implicit RETURN). A jump is the index of the target chain's first
 * entry. Per-entry parallel typed arrays hold the kind, the jump offset or
 * verdict, the ipt_ip fields and the counters; matches and targets are
 * compiled once into objects indexed by entry, so evaluating a rule
 * allocates nothing.
 *
 * compileTable also does what translate_table checks at load time:
 * mark_source_chains (which hooks reach each entry; a loop is ELOOP) and
 * each match's and target's checkentry with that hook mask.
 *
 * Chains are contiguous entry ranges (chainStart/chainEnd), so long runs of
 * kube-proxy-shaped rules get a lookup structure beside the layout
 * (chain-index.ts) that maps a packet to the first entry worth testing.
 */
import type { RuleSpec } from './ast.js';
import { ChainIndex, DEFAULT_CHAIN_INDEX, type ChainIndexOptions } from './chain-index.js';
import { fail, IptablesError } from './errors.js';
import type { CheckCtx, CompileEnv } from './extension.js';
import { MissingObjectError } from './matches/nfacct.js';
import { saveRule } from './rule-text.js';
import type { ChainOrder, ChainState, RuleState, TableModel } from './table-model.js';
import type { IfaceSpec } from './values.js';
import type { Matcher, TargetFn } from './xt.js';
import { HOOK_NAMES, NfVerdict, type TableName } from '../hooks.js';

/** What an entry does once it matches. */
export const enum EntryKind {
  /** No target: count and go on (a libiptc FALLTHROUGH). */
  NONE = 0,
  /** ACCEPT or DROP (arg = NfVerdict); also a built-in chain's policy. */
  VERDICT = 1,
  /** RETURN; also a user chain's tail. */
  RETURN = 2,
  /** -j CHAIN: push, then arg = first entry of CHAIN. */
  JUMP = 3,
  /** -g CHAIN: no push. */
  GOTO = 4,
  /** An extension target (targets[arg]). */
  TARGET = 5,
}

/** ipFlags bits: which ipt_ip tests an entry has. */
export const enum IpTest {
  SRC = 1,
  DST = 2,
  IN = 4,
  OUT = 8,
  PROTO = 16,
  FRAG = 32,
}

/** What TRACE calls an entry (nf_ip_trace_comments). */
export const enum TraceComment {
  RULE = 0,
  RETURN = 1,
  POLICY = 2,
}

export class CompiledTable {
  /** Entry index of each hook's chain, -1 where the table has none (hook_entry). */
  readonly hookEntry = new Int32Array(5).fill(-1);
  /** Entry index of each hook's policy (underflow). */
  readonly underflow = new Int32Array(5).fill(-1);
  readonly kind: Uint8Array;
  /** Verdict for VERDICT, entry index for JUMP/GOTO. */
  readonly arg: Int32Array;
  readonly ipFlags: Uint8Array;
  /** IpTest bits that are negated. */
  readonly ipInv: Uint8Array;
  readonly src: Uint32Array;
  readonly smsk: Uint32Array;
  readonly dst: Uint32Array;
  readonly dmsk: Uint32Array;
  readonly proto: Uint8Array;
  /**
   * -i and -o of entries that test either: entry e's are ifaces[2 * ifaceSlot[e]]
   * and the one after. Few rules name interfaces (none of kube-proxy's 10,000
   * Services' rules do), so they are kept apart rather than in two arrays of
   * 8 bytes an entry.
   */
  readonly ifaceSlot: Int32Array;
  readonly ifaces: (IfaceSpec | null)[] = [];
  /** Matchers of entry e are matchers[matchStart[e] .. matchStart[e + 1]). */
  readonly matchStart: Int32Array;
  readonly matchers: Matcher[] = [];
  /** The loaded extension targets, in entry order: a TARGET entry's is targets[arg[e]] (most entries have none). */
  readonly targets: TargetFn[] = [];
  readonly pcnt: Float64Array;
  readonly bcnt: Float64Array;
  /** Hooks whose traversal can reach the entry (e->comefrom). */
  readonly comefrom: Uint8Array;
  readonly traceComment: Uint8Array;
  readonly chainNames: string[];
  readonly chainBuiltin: boolean[];
  readonly chainStart: Int32Array;
  /** Index of the chain's tail entry. */
  readonly chainEnd: Int32Array;
  /** Jump stack depth: user chains + 1, as translate_table counts ERROR entries. */
  readonly stackSize: number;
  /** Whether any rule uses -j TRACE (traversals then check skb->nf_trace). */
  readonly hasTrace: boolean;
  /** Runs of keyed rules the walk may jump through (null: none, or indexing off). */
  index: ChainIndex | null = null;
  /** Undo actions of loaded matches (recent table references, nfacct references). */
  readonly releases: (() => void)[];
  private readonly chains: ChainState[];

  constructor(
    readonly name: TableName,
    size: number,
    chains: ChainState[],
    releases: (() => void)[],
    hasTrace: boolean,
  ) {
    this.kind = new Uint8Array(size);
    this.arg = new Int32Array(size);
    this.ipFlags = new Uint8Array(size);
    this.ipInv = new Uint8Array(size);
    this.src = new Uint32Array(size);
    this.smsk = new Uint32Array(size);
    this.dst = new Uint32Array(size);
    this.dmsk = new Uint32Array(size);
    this.proto = new Uint8Array(size);
    this.ifaceSlot = new Int32Array(size);
    this.matchStart = new Int32Array(size + 1);
    this.pcnt = new Float64Array(size);
    this.bcnt = new Float64Array(size);
    this.comefrom = new Uint8Array(size);
    this.traceComment = new Uint8Array(size);
    this.chains = chains;
    this.chainNames = chains.map((c) => c.name);
    this.chainBuiltin = chains.map((c) => c.builtin);
    this.chainStart = new Int32Array(chains.length);
    this.chainEnd = new Int32Array(chains.length);
    this.stackSize = chains.filter((c) => !c.builtin).length + 1;
    this.releases = releases;
    this.hasTrace = hasTrace;
  }

  get size(): number {
    return this.kind.length;
  }

  /**
   * The chain of entry `e` (chains are laid out in order: the last whose start
   * is at or before e). Asked by traces, listings and the load's checks, never
   * per packet, so entries do not carry it: 4 bytes an entry, 140,000 a node
   * for kube-proxy's 10,000 Services.
   */
  chainOf(e: number): number {
    const starts = this.chainStart;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= e) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The 1-based position of entry `e` in its chain (a tail is rules + 1). */
  entryNum(e: number): number {
    return e - this.chainStart[this.chainOf(e)]! + 1;
  }

  /** The entry as iptables-save writes it, or its chain's tail. Made when asked: a trace wants a few of 100,000. */
  entryText(e: number): string {
    const ci = this.chainOf(e);
    const chain = this.chains[ci]!;
    if (e !== this.chainEnd[ci]) return saveRule(chain.name, chain.rules[e - this.chainStart[ci]!]!.spec);
    return chain.builtin ? `-P ${chain.name} ${chain.policy}` : `(end of chain ${chain.name}: implicit RETURN)`;
  }

  /**
   * Copies the live counters back into the model (before save, -L, or a new
   * restore of this table). A rule's counters object is replaced only when
   * they changed, and dropped when they are zero: kube-proxy's --noflush sync
   * harvests the base rules' zeros before adding 110,000 rules a node. A
   * chain's policy counters are stored only when changed: a value read from a
   * Float64Array is a heap number, and storing one turns the field of every
   * ChainState into a boxed double.
   */
  harvest(): void {
    for (let c = 0; c < this.chains.length; c++) {
      const ch = this.chains[c]!;
      // A chain's rules are its entries from its start, in order (the table keeps its chains' arrays as compiled).
      const rules = ch.rules;
      for (let i = 0, e = this.chainStart[c]!; i < rules.length; i++, e++) {
        const s = rules[i]!;
        const p = this.pcnt[e]!;
        const b = this.bcnt[e]!;
        if (p === 0 && b === 0) s.counters = null;
        else if (s.counters === null || s.counters.packets !== p || s.counters.bytes !== b) s.counters = { packets: p, bytes: b };
      }
      if (ch.builtin) {
        const p = this.pcnt[this.chainEnd[c]!]!;
        const b = this.bcnt[this.chainEnd[c]!]!;
        if (ch.packets !== p) ch.packets = p;
        if (ch.bytes !== b) ch.bytes = b;
      }
    }
  }

  zero(chain: string | null): void {
    for (let c = 0; c < this.chains.length; c++) {
      if (chain !== null && this.chainNames[c] !== chain) continue;
      for (let e = this.chainStart[c]!; e <= this.chainEnd[c]!; e++) this.pcnt[e] = this.bcnt[e] = 0;
    }
    this.harvest();
  }

  /** The table is being replaced: let go of what its matches hold (their destroy). */
  destroy(): void {
    for (const r of this.releases) r();
    this.releases.length = 0;
  }
}

/** Unconditional as the kernel means it: no ipt_ip test and no match (ip_tables.c unconditional()). */
function unconditional(r: RuleSpec): boolean {
  const ip = r.ip;
  return (
    r.matches.length === 0 &&
    ip.src.mask === 0 &&
    !ip.srcInv &&
    ip.dst.mask === 0 &&
    !ip.dstInv &&
    ip.inIface === null &&
    !ip.inInv &&
    ip.outIface === null &&
    !ip.outInv &&
    ip.proto === 0 &&
    !ip.protoInv &&
    !ip.frag &&
    !ip.fragInv
  );
}

/**
 * `index`: how to index long runs of kube-proxy-shaped rules, or false for
 * none (the plain linear walk). `order`: chain orders of other tables (see
 * ChainOrder).
 */
export function compileTable(model: TableModel, env: Omit<CompileEnv, 'defer'>, index: ChainIndexOptions | false = DEFAULT_CHAIN_INDEX, order?: ChainOrder): CompiledTable {
  const chains = model.orderedChains(order);
  const chainIndex = new Map<string, number>();
  chains.forEach((c, i) => chainIndex.set(c.name, i));
  let size = 0;
  for (const c of chains) size += c.rules.length + 1;
  const releases: (() => void)[] = [];
  const hasTrace = chains.some((c) => c.rules.some((r) => r.spec.target.kind === 'ext' && r.spec.target.ext.name === 'TRACE'));
  const t = new CompiledTable(model.name, size, chains, releases, hasTrace);

  // Layout and jump offsets.
  let e = 0;
  chains.forEach((c, ci) => {
    t.chainStart[ci] = e;
    e += c.rules.length;
    t.chainEnd[ci] = e;
    e++;
  });
  chains.forEach((c, ci) => {
    let k = t.chainStart[ci]!;
    c.rules.forEach((r) => {
      const spec = r.spec;
      if (r.counters !== null) {
        t.pcnt[k] = r.counters.packets;
        t.bcnt[k] = r.counters.bytes;
      }
      const ip = spec.ip;
      let flags = 0;
      let inv = 0;
      if (ip.src.mask !== 0 || ip.srcInv) flags |= IpTest.SRC;
      if (ip.dst.mask !== 0 || ip.dstInv) flags |= IpTest.DST;
      if (ip.inIface !== null || ip.inInv) flags |= IpTest.IN;
      if (ip.outIface !== null || ip.outInv) flags |= IpTest.OUT;
      if (ip.proto !== 0) flags |= IpTest.PROTO;
      if (ip.frag || ip.fragInv) flags |= IpTest.FRAG;
      if (ip.srcInv) inv |= IpTest.SRC;
      if (ip.dstInv) inv |= IpTest.DST;
      if (ip.inInv) inv |= IpTest.IN;
      if (ip.outInv) inv |= IpTest.OUT;
      if (ip.protoInv) inv |= IpTest.PROTO;
      if (ip.fragInv) inv |= IpTest.FRAG;
      t.ipFlags[k] = flags;
      t.ipInv[k] = inv;
      t.src[k] = ip.src.addr;
      t.smsk[k] = ip.src.mask;
      t.dst[k] = ip.dst.addr;
      t.dmsk[k] = ip.dst.mask;
      t.proto[k] = ip.proto;
      if ((flags & (IpTest.IN | IpTest.OUT)) !== 0) {
        t.ifaceSlot[k] = t.ifaces.length >> 1;
        t.ifaces.push(ip.inIface, ip.outIface);
      }
      const tg = spec.target;
      switch (tg.kind) {
        case 'none':
          t.kind[k] = EntryKind.NONE;
          break;
        case 'verdict':
          if (tg.verdict === 'RETURN') t.kind[k] = EntryKind.RETURN;
          else {
            t.kind[k] = EntryKind.VERDICT;
            t.arg[k] = tg.verdict === 'ACCEPT' ? NfVerdict.ACCEPT : NfVerdict.DROP;
          }
          break;
        case 'jump': {
          const target = chainIndex.get(tg.chain);
          if (target === undefined) fail(r, tg.chain, `Couldn't load target \`${tg.chain}': no such chain`);
          t.kind[k] = tg.goto ? EntryKind.GOTO : EntryKind.JUMP;
          t.arg[k] = t.chainStart[target]!;
          break;
        }
        case 'ext':
          t.kind[k] = EntryKind.TARGET;
      }
      // get_chainname_rulenum: an unconditional standard verdict reads as policy/return in TRACE.
      t.traceComment[k] = tg.kind === 'verdict' && unconditional(spec) ? (c.builtin ? TraceComment.POLICY : TraceComment.RETURN) : TraceComment.RULE;
      k++;
    });
    // The tail: policy (built-in) or implicit RETURN (user chain).
    if (c.builtin) {
      t.kind[k] = EntryKind.VERDICT;
      t.arg[k] = c.policy === 'DROP' ? NfVerdict.DROP : NfVerdict.ACCEPT;
      t.pcnt[k] = c.packets;
      t.bcnt[k] = c.bytes;
      t.traceComment[k] = TraceComment.POLICY;
      t.hookEntry[c.hook] = t.chainStart[ci]!;
      t.underflow[c.hook] = k;
    } else {
      t.kind[k] = EntryKind.RETURN;
      t.traceComment[k] = TraceComment.RETURN;
    }
  });

  markSourceChains(t, chains);

  // find_check_entry for every rule: checkentry with the entry's hook mask, then load.
  const fullEnv: CompileEnv = { ...env, defer: (r) => releases.push(r) };
  // One context for every rule (checks read it and keep nothing): a kube-proxy sync is 110,000 rules a node.
  const ctx: { -readonly [K in keyof CheckCtx]: CheckCtx[K] } = { file: '', line: 0, table: model.name, hookMask: 0, proto: 0, invProto: false };
  let at: RuleState | null = null;
  try {
    let m = 0;
    for (let ci = 0; ci < chains.length; ci++) {
      let k = t.chainStart[ci]!;
      for (const r of chains[ci]!.rules) {
        const spec = r.spec;
        at = r;
        ctx.file = r.file;
        ctx.line = r.line;
        ctx.hookMask = t.comefrom[k]!;
        ctx.proto = spec.ip.proto;
        ctx.invProto = spec.ip.protoInv;
        t.matchStart[k] = m;
        for (const ext of spec.matches) {
          ext.check(ctx);
          t.matchers.push(ext.compile(fullEnv));
          m++;
        }
        if (spec.target.kind === 'ext') {
          const ext = spec.target.ext;
          ext.check(ctx);
          t.arg[k] = t.targets.length;
          t.targets.push(ext.compile(fullEnv));
        }
        k++;
      }
      t.matchStart[k] = m; // the tail has no matches
    }
    t.matchStart[size] = m;
  } catch (err) {
    t.destroy();
    // A set or nfacct object a rule names that does not exist: the error is the rule's.
    if (err instanceof MissingObjectError && at !== null) throw new IptablesError(at.file, at.line, err.token, err.message);
    throw err;
  }
  if (index !== false) t.index = ChainIndex.build(t, chains, index);
  return t;
}

/**
 * mark_source_chains: walk each hook's chain, following jumps and gotos, to
 * learn which hooks reach each entry (comefrom); stop a chain at an
 * unconditional verdict or RETURN, and at an entry this hook already
 * visited. A jump into a chain on the current path is a loop (ELOOP).
 */
function markSourceChains(t: CompiledTable, chains: ChainState[]): void {
  const onPath = new Uint8Array(chains.length);
  // Each entry's chain, for this walk only (the table does not keep it: chainOf).
  const chainAt = new Int32Array(t.size);
  for (let ci = 0; ci < chains.length; ci++) chainAt.fill(ci, t.chainStart[ci]!, t.chainEnd[ci]! + 1);
  const ruleOf = (e: number): RuleState | null => {
    const ci = chainAt[e]!;
    const n = e - t.chainStart[ci]!;
    return chains[ci]!.rules[n] ?? null;
  };
  const walk = (ci: number, bit: number, from: number): void => {
    if (onPath[ci]) {
      const r = ruleOf(from)!;
      fail(r, chains[ci]!.name, `ip_tables: loop detected: -j ${chains[ci]!.name} in chain ${chains[chainAt[from]!]!.name} leads back to itself (ELOOP, Too many links)`);
    }
    onPath[ci] = 1;
    for (let e = t.chainStart[ci]!; e <= t.chainEnd[ci]!; e++) {
      if (t.comefrom[e]! & bit) break;
      t.comefrom[e] |= bit;
      const kind = t.kind[e]!;
      if (kind === EntryKind.JUMP || kind === EntryKind.GOTO) {
        walk(chainAt[t.arg[e]!]!, bit, e);
        continue;
      }
      if (kind === EntryKind.VERDICT || kind === EntryKind.RETURN) {
        const r = ruleOf(e);
        if (r === null || unconditional(r.spec)) break;
      }
    }
    onPath[ci] = 0;
  };
  for (let h = 0; h < HOOK_NAMES.length; h++) {
    const start = t.hookEntry[h]!;
    if (start >= 0) walk(chainAt[start]!, 1 << h, start);
  }
}
