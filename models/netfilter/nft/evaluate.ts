/**
 * nft_do_chain over the loaded ruleset: a base chain's rules in order, each
 * rule's statements left to right until one does not match (next rule) or
 * gives a verdict. jump pushes the return point, goto does not; return (or
 * the end of a regular chain) pops, the end of a base chain applies its
 * policy. accept and drop end the base chain. A rule costs one evaluation
 * however many statements it has, so a verdict-map lookup is one rule for
 * any number of Services.
 */
import { NfHook, NfVerdict } from '../hooks.js';
import { CtState, CtStatus, type AddrType, type NatRange, type NetfilterHost, type NfPacket } from '../types.js';
import { XtPacket } from '../iptables/xt.js';
import { selectMasqueradeSource } from '../iptables/targets/nat.js';
import type { Chain, Element, NftSet, Selector, Statement, Table, Verdict } from './ast.js';
import { addElement, keyPart, lookupElement } from './values.js';
import { ruleText } from './list.js';

/** Deepest jump stack (NFT_JUMP_STACK_SIZE). */
const JUMP_STACK = 16;
const NEXT = -1;
const BREAK = -2;

/** One step for a tracer: the rule tested and what it did. */
export interface NftTraceStep {
  chain: string;
  rule: number;
  text: string;
  /** Every statement matched. */
  matched: boolean;
  /** What the rule decided: accept, drop, return, continue, jump X, goto X; null when it did not match or only acted. */
  verdict: string | null;
}

export interface NftRunResult {
  verdict: NfVerdict;
  rulesEvaluated: number;
}

const CT_STATE_BITS: Record<string, number> = {
  invalid: CtState.INVALID,
  new: CtState.NEW,
  established: CtState.ESTABLISHED,
  related: CtState.RELATED,
  untracked: CtState.UNTRACKED,
};
const CT_STATUS_BITS: Record<string, number> = {
  expected: CtStatus.EXPECTED,
  'seen-reply': CtStatus.SEEN_REPLY,
  assured: CtStatus.ASSURED,
  confirmed: CtStatus.CONFIRMED,
  snat: CtStatus.SRC_NAT,
  dnat: CtStatus.DST_NAT,
  dying: CtStatus.DYING,
};

function natRange(addr: number, port: number, flags: readonly string[] = []): NatRange {
  return {
    minAddr: addr,
    maxAddr: addr,
    minPort: port,
    maxPort: port,
    random: flags.includes('random'),
    randomFully: flags.includes('fully-random'),
    persistent: flags.includes('persistent'),
  };
}

export class NftEvaluator {
  private readonly x = new XtPacket();
  /** The values a lookup's selectors loaded (load). */
  private values: number[] = [];
  private readonly valuesByLength: number[][] = [];
  private target: Chain | null = null;
  /** What run() returns, reused: its caller reads it before the next run. */
  private readonly result: NftRunResult = { verdict: NfVerdict.ACCEPT, rulesEvaluated: 0 };
  /**
   * The jump stack: where each jump returns to (chain, rule index), entries
   * [base, top) belonging to the run in progress. A run that starts inside
   * another (a reject's answer through the same hooks) stacks above it.
   */
  private readonly returnChains: Chain[] = [];
  private readonly returnRules: number[] = [];
  private top = 0;

  constructor(private readonly table: Table) {}

  /** Runs base chain `chain` for `p`. */
  run(chain: Chain, p: NfPacket, host: NetfilterHost, trace?: (s: NftTraceStep) => void): NftRunResult {
    const base = this.top;
    try {
      return this.walk(chain, p, host, base, trace);
    } finally {
      this.top = base;
    }
  }

  private walk(chain: Chain, p: NfPacket, host: NetfilterHost, base: number, trace?: (s: NftTraceStep) => void): NftRunResult {
    const x = this.x;
    x.load(p, host, false);
    let cur = chain;
    let i = 0;
    let evaluated = 0;
    for (;;) {
      if (i >= cur.rules.length) {
        if (this.top === base) return this.done(chain.base!.policy === 'accept' ? NfVerdict.ACCEPT : NfVerdict.DROP, evaluated);
        const t = --this.top;
        cur = this.returnChains[t]!;
        i = this.returnRules[t]!;
        continue;
      }
      const rule = cur.rules[i]!;
      evaluated++;
      let v = NEXT;
      for (const s of rule.stmts) {
        v = this.statement(s, x);
        if (v !== NEXT) break;
      }
      if (trace !== undefined) trace({ chain: cur.name, rule: i + 1, text: ruleText(rule), matched: v !== BREAK, verdict: v === NEXT || v === BREAK ? null : verdictName(v, this.target) });
      if (v === NEXT || v === BREAK) {
        i++;
        continue;
      }
      if (v === NfVerdict.ACCEPT || v === NfVerdict.DROP) return this.done(v, evaluated);
      if (v === V_RETURN) {
        if (this.top === base) return this.done(chain.base!.policy === 'accept' ? NfVerdict.ACCEPT : NfVerdict.DROP, evaluated);
        const t = --this.top;
        cur = this.returnChains[t]!;
        i = this.returnRules[t]!;
        continue;
      }
      if (v === V_CONTINUE) {
        i++;
        continue;
      }
      const target = this.target!;
      if (v === V_JUMP) {
        if (this.top - base >= JUMP_STACK) return this.done(NfVerdict.DROP, evaluated);
        const t = this.top++;
        this.returnChains[t] = cur;
        this.returnRules[t] = i + 1;
      }
      cur = target;
      i = 0;
    }
  }

  private done(verdict: NfVerdict, evaluated: number): NftRunResult {
    const r = this.result;
    r.verdict = verdict;
    r.rulesEvaluated = evaluated;
    return r;
  }

  private verdict(v: Verdict): number {
    switch (v.kind) {
      case 'accept':
        return NfVerdict.ACCEPT;
      case 'drop':
        return NfVerdict.DROP;
      case 'return':
        return V_RETURN;
      case 'continue':
        return V_CONTINUE;
      default:
        this.target = this.table.chains.get(v.chain)!;
        return v.kind === 'jump' ? V_JUMP : V_GOTO;
    }
  }

  /**
   * Loads the selectors' values into this.values; false when one cannot be read (NFT_BREAK).
   * There is one array per key length, always that long: changing an array's
   * length on every lookup reallocated its store.
   */
  private load(sel: readonly Selector[], x: XtPacket): boolean {
    const vals = this.valuesOf(sel.length);
    for (let k = 0; k < sel.length; k++) {
      const v = selectorValue(sel[k]!, x);
      if (v < 0) return false;
      vals[k] = v;
    }
    return true;
  }

  /** The values array of `n` selectors (this.values is the one last loaded). */
  private valuesOf(n: number): number[] {
    let vals = this.valuesByLength[n];
    if (vals === undefined) {
      vals = new Array<number>(n).fill(0);
      this.valuesByLength[n] = vals;
    }
    this.values = vals;
    return vals;
  }

  private set(name: string): NftSet {
    return this.table.sets.get(name)!;
  }

  private statement(s: Statement, x: XtPacket): number {
    const now = x.host.now();
    switch (s.kind) {
      case 'match':
      case 'lookup': {
        if (!this.load(s.sel, x)) return BREAK;
        const set = s.kind === 'match' ? s.set : this.set(s.set);
        const hit = lookupElement(set, this.values, now) !== undefined;
        return hit === (s.op === '==') ? NEXT : BREAK;
      }
      case 'vmap': {
        if (!this.load(s.sel, x)) return BREAK;
        const map = typeof s.map === 'string' ? this.set(s.map) : s.map;
        const e = lookupElement(map, this.values, now);
        return e === undefined ? BREAK : this.verdict(e.verdict!);
      }
      case 'numgen': {
        const n = Math.floor(x.host.random() * s.mod) + s.offset;
        const vals = this.valuesOf(1);
        vals[0] = n;
        const e = lookupElement(s.map, vals, now);
        return e === undefined ? BREAK : this.verdict(e.verdict!);
      }
      case 'mark': {
        const m = s.mask === null ? x.pkt.mark : (x.pkt.mark & s.mask) >>> 0;
        return (m === s.value) === (s.op === '==') ? NEXT : BREAK;
      }
      case 'fib': {
        const addr = s.field === 'saddr' ? x.src : x.dst;
        const t = FIB_TYPE_NAMES[x.host.addressType(addr)];
        return s.types.includes(t) === (s.op === '==') ? NEXT : BREAK;
      }
      case 'ct state': {
        // No connection state at all reads as invalid (nft_ct_get_eval).
        const st = x.p.ctState || CtState.INVALID;
        let bits = 0;
        for (const n of s.states) bits |= CT_STATE_BITS[n]!;
        return ((st & bits) !== 0) === (s.op === '==') ? NEXT : BREAK;
      }
      case 'ct status': {
        // No connection: the ct expression cannot load (NFT_BREAK).
        if (x.p.ct === null) return BREAK;
        let bits = 0;
        for (const n of s.statuses) bits |= CT_STATUS_BITS[n]!;
        return ((x.p.ct.status & bits) !== 0) === (s.op === '==') ? NEXT : BREAK;
      }
      case 'counter':
        s.packets++;
        s.bytes += x.skbLen;
        return NEXT;
      case 'mark set': {
        const m = x.pkt.mark;
        x.pkt.mark = (s.op === 'set' ? s.value : s.op === 'or' ? m | s.value : s.op === 'xor' ? m ^ s.value : m & s.value) >>> 0;
        return NEXT;
      }
      case 'verdict':
        return this.verdict(s.verdict);
      case 'reject':
        x.host.reject(x.p, s.with);
        return NfVerdict.DROP;
      case 'dnat':
        x.host.setupNat(x.p, 'dst', natRange(s.addr, s.port));
        return NfVerdict.ACCEPT;
      case 'masquerade': {
        // nf_nat_masquerade_ipv4, as the iptables target does it.
        const ct = x.p.ct;
        if (ct !== null && ct.tuple[0].src === 0) return NfVerdict.ACCEPT;
        const out = x.p.outDev;
        const src = out === null ? 0 : selectMasqueradeSource(out.addrs, x.dst);
        if (src === 0) return NfVerdict.DROP;
        x.host.setupNat(x.p, 'src', natRange(src, 0, s.flags));
        return NfVerdict.ACCEPT;
      }
      case 'update': {
        if (!this.load(s.sel, x)) return BREAK;
        const set = this.set(s.set);
        const e: Element = { key: this.values.map((v) => keyPart(v, v)) };
        if (set.timeout > 0) e.expires = now + set.timeout * 1e9;
        addElement(set, e);
        return NEXT;
      }
    }
  }
}

/** How nft names an address type (fib ... type local): lower case, looked up rather than made per packet. */
const FIB_TYPE_NAMES: Record<AddrType, string> = {
  UNSPEC: 'unspec',
  UNICAST: 'unicast',
  LOCAL: 'local',
  BROADCAST: 'broadcast',
  ANYCAST: 'anycast',
  MULTICAST: 'multicast',
  BLACKHOLE: 'blackhole',
  UNREACHABLE: 'unreachable',
  PROHIBIT: 'prohibit',
};

const V_JUMP = -3;
const V_GOTO = -4;
const V_RETURN = -5;
const V_CONTINUE = -6;

function verdictName(v: number, target: Chain | null): string {
  if (v === NfVerdict.ACCEPT) return 'accept';
  if (v === NfVerdict.DROP) return 'drop';
  if (v === V_RETURN) return 'return';
  if (v === V_CONTINUE) return 'continue';
  return `${v === V_JUMP ? 'jump' : 'goto'} ${target?.name ?? ''}`;
}

/** The value a selector loads, or -1 when the packet does not have it. */
function selectorValue(s: Selector, x: XtPacket): number {
  switch (s) {
    case 'ip saddr':
      return x.src;
    case 'ip daddr':
      return x.dst;
    case 'meta l4proto':
      return x.proto;
    case 'meta mark':
      return x.pkt.mark;
    default: {
      // th/tcp/udp/sctp sport|dport: two bytes of the transport header (not in a later fragment).
      if (x.fragoff !== 0 || x.l4Avail() < 4) return -1;
      const proto = s.slice(0, s.indexOf(' '));
      if (proto !== 'th' && PROTO_OF[proto] !== x.proto) return -1;
      const off = x.thoff + (s.endsWith('dport') ? 2 : 0);
      return (x.buf[off]! << 8) | x.buf[off + 1]!;
    }
  }
}

const PROTO_OF: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

/** The kernel hook of a base chain. */
export function hookOf(name: string): NfHook {
  return { prerouting: NfHook.PRE_ROUTING, input: NfHook.LOCAL_IN, forward: NfHook.FORWARD, output: NfHook.LOCAL_OUT, postrouting: NfHook.POST_ROUTING }[name as 'input'];
}
