/**
 * ipt_do_table (net/ipv4/netfilter/ip_tables.c) over a CompiledTable.
 *
 * Start at the hook's chain; an entry whose ipt_ip test and matches all pass
 * adds the packet to its counters (skb->len bytes), then:
 *   - a standard verdict (ACCEPT, DROP, a policy) ends the traversal;
 *   - RETURN pops the jump stack, or on an empty stack goes to the hook's
 *     policy entry (underflow), which counts the packet too;
 *   - a jump pushes the entry and continues at the chain's first entry; a
 *     goto does not push, so the chain's RETURN goes back to whoever called
 *     the chain that did the goto;
 *   - a target runs: XT_CONTINUE moves to the next entry, anything else is
 *     the verdict.
 * A match may hotdrop (truncated header): the traversal stops with NF_DROP.
 *
 * Where the table has an index (chain-index.ts), reaching an entry of an
 * indexed run jumps to the first entry of the run the packet can match; the
 * entries jumped over are counted as evaluated, as the kernel tests them.
 * A trace callback turns the index off, since it reports every entry tested.
 *
 * Nothing here allocates unless a trace callback is given or the packet is
 * being TRACEd.
 */
import { EntryKind, IpTest, TraceComment, type CompiledTable } from './compile.js';
import { formatLogPacket } from './log-format.js';
import { ifaceMatches } from './values.js';
import { XT_CONTINUE, type XtPacket } from './xt.js';
import { NfVerdict } from '../hooks.js';
import type { TableName } from '../hooks.js';

/** What the matched entry did, for a trace step. */
export type TraceAction = 'ACCEPT' | 'DROP' | 'RETURN' | 'JUMP' | 'GOTO' | 'CONTINUE';

/** One entry the traversal tested. */
export interface IptTraceStep {
  table: TableName;
  chain: string;
  /** 1-based; the chain's policy (built-in) or implicit return (user chain) is rules + 1. */
  ruleNum: number;
  /** 'policy' / 'return' for a chain's tail entry, else 'rule'. */
  kind: 'rule' | 'return' | 'policy';
  /** The rule as iptables-save prints it; "-P INPUT ACCEPT" for a policy. */
  rule: string;
  matched: boolean;
  /** What the entry did (null when it did not match). */
  verdict: TraceAction | null;
  /** The chain jumped or gone to. */
  target: string | null;
}

export type IptTraceFn = (step: IptTraceStep) => void;

/** NF_LOG_DEFAULT_MASK, the flags trace_loginfo logs with. */
const TRACE_LOGFLAGS = 0x0f;
const TRACE_COMMENTS = ['rule', 'return', 'policy'] as const;

/** ip_packet_match. */
function ipMatch(t: CompiledTable, e: number, x: XtPacket): boolean {
  const f = t.ipFlags[e]!;
  const inv = t.ipInv[e]!;
  if (f & IpTest.SRC && ((x.src & t.smsk[e]!) >>> 0 !== t.src[e]) !== ((inv & IpTest.SRC) !== 0)) return false;
  if (f & IpTest.DST && ((x.dst & t.dmsk[e]!) >>> 0 !== t.dst[e]) !== ((inv & IpTest.DST) !== 0)) return false;
  if (f & IpTest.IN) {
    const spec = t.ifaces[2 * t.ifaceSlot[e]!]!;
    if ((spec !== null && ifaceMatches(spec, x.inName)) === ((inv & IpTest.IN) !== 0)) return false;
  }
  if (f & IpTest.OUT) {
    const spec = t.ifaces[2 * t.ifaceSlot[e]! + 1]!;
    if ((spec !== null && ifaceMatches(spec, x.outName)) === ((inv & IpTest.OUT) !== 0)) return false;
  }
  if (f & IpTest.PROTO && (x.proto !== t.proto[e]) !== ((inv & IpTest.PROTO) !== 0)) return false;
  // "If we have a fragment rule but the packet is not a fragment then we return zero."
  if (f & IpTest.FRAG && (x.fragoff === 0) !== ((inv & IpTest.FRAG) !== 0)) return false;
  return true;
}

/**
 * Runs the table for the packet loaded in `x` at hook x.hook and returns the
 * verdict (NfVerdict.ACCEPT or DROP). `stack` must hold t.stackSize entries.
 * The number of entries visited is left in x.evaluated.
 */
export function doTable(t: CompiledTable, x: XtPacket, stack: Int32Array, trace?: IptTraceFn): number {
  const hook = x.hook;
  const kind = t.kind;
  const arg = t.arg;
  const ipFlags = t.ipFlags;
  const matchStart = t.matchStart;
  const matchers = t.matchers;
  const pcnt = t.pcnt;
  const bcnt = t.bcnt;
  let e = t.hookEntry[hook]!;
  let sp = 0;
  let verdict: number = NfVerdict.DROP;
  let evaluated = 0;
  const index = trace === undefined ? t.index : null;
  const runAt = index === null ? null : index.runAt;
  for (;;) {
    if (runAt !== null) {
      const r = runAt[e]!;
      if (r >= 0) {
        const j = index!.next(r, e, x);
        evaluated += j - e;
        e = j;
      }
    }
    evaluated++;
    let matched = ipFlags[e] === 0 || ipMatch(t, e, x);
    if (matched) {
      const end = matchStart[e + 1]!;
      for (let m = matchStart[e]!; m < end; m++) {
        if (!matchers[m]!.match(x)) {
          matched = false;
          break;
        }
      }
    }
    if (!matched) {
      if (trace !== undefined) step(t, e, false, null, null, trace);
      e++;
      if (x.hotdrop) break;
      continue;
    }
    pcnt[e]++;
    bcnt[e] += x.skbLen;
    if (x.traced) traceLog(t, e, x);
    const k = kind[e]!;
    if (k === EntryKind.VERDICT) {
      verdict = arg[e]!;
      if (trace !== undefined) step(t, e, true, verdict === NfVerdict.ACCEPT ? 'ACCEPT' : 'DROP', null, trace);
      break;
    }
    if (k === EntryKind.RETURN) {
      if (trace !== undefined) step(t, e, true, 'RETURN', null, trace);
      e = sp === 0 ? t.underflow[hook]! : stack[--sp]! + 1;
    } else if (k === EntryKind.JUMP) {
      if (trace !== undefined) step(t, e, true, 'JUMP', t.chainNames[t.chainOf(arg[e]!)]!, trace);
      if (sp >= stack.length) {
        verdict = NfVerdict.DROP;
        break;
      }
      stack[sp++] = e;
      e = arg[e]!;
    } else if (k === EntryKind.GOTO) {
      if (trace !== undefined) step(t, e, true, 'GOTO', t.chainNames[t.chainOf(arg[e]!)]!, trace);
      e = arg[e]!;
    } else if (k === EntryKind.NONE) {
      if (trace !== undefined) step(t, e, true, 'CONTINUE', null, trace);
      e++;
    } else {
      const v = t.targets[arg[e]!]!.run(x);
      if (v === XT_CONTINUE) {
        if (trace !== undefined) step(t, e, true, 'CONTINUE', null, trace);
        e++;
      } else {
        verdict = v;
        if (trace !== undefined) step(t, e, true, v === NfVerdict.ACCEPT ? 'ACCEPT' : 'DROP', null, trace);
        break;
      }
    }
    if (x.hotdrop) break;
  }
  x.evaluated = evaluated;
  return x.hotdrop ? NfVerdict.DROP : verdict;
}

function step(t: CompiledTable, e: number, matched: boolean, verdict: TraceAction | null, target: string | null, trace: IptTraceFn): void {
  const ci = t.chainOf(e);
  const tail = e === t.chainEnd[ci];
  trace({
    table: t.name,
    chain: t.chainNames[ci]!,
    ruleNum: e - t.chainStart[ci]! + 1,
    kind: tail ? (t.chainBuiltin[ci] ? 'policy' : 'return') : 'rule',
    rule: t.entryText(e),
    matched,
    verdict,
    target,
  });
}

/** trace_packet: "TRACE: table:chain:comment:rulenum " and the packet, through the host's logger. */
function traceLog(t: CompiledTable, e: number, x: XtPacket): void {
  const ci = t.chainOf(e);
  const comment = TRACE_COMMENTS[t.traceComment[e]! as TraceComment];
  x.host.log(x.p, `TRACE: ${t.name}:${t.chainNames[ci]}:${comment}:${e - t.chainStart[ci]! + 1} `, formatLogPacket(x.p, TRACE_LOGFLAGS));
}
