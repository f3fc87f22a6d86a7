/**
 * An index over the long runs of rules kube-proxy writes in KUBE-SERVICES,
 * KUBE-EXTERNAL-SERVICES and KUBE-NODEPORTS, one or more per Service port:
 *
 *     -A KUBE-SERVICES -m comment --comment "ns/svc:p cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 80 -j KUBE-SVC-...
 *     -A KUBE-NODEPORTS -m comment --comment ns/svc:p -m tcp -p tcp --dport 30080 -j KUBE-EXT-...
 *
 * ipt_do_table tests them one by one, so the kernel's cost per new connection
 * grows with the number of Services; podwire charges that cost in simulated
 * time (Netfilter.costs.ruleNs per entry) and must keep doing so. What it need
 * not do is spend wall-clock time on it: a rule whose key (destination,
 * protocol, destination port) differs from the packet's cannot match, and
 * testing it has no effect, so the walk can jump to the next rule whose key
 * fits. nf_tables offers the same thing to rule writers as a verdict map
 * (`ip daddr . tcp dport vmap { ... }`, kube-proxy's nftables mode); here it
 * is hidden inside the compiled iptables table and changes nothing visible.
 *
 * The key of a rule is what the rule needs, not all it tests:
 *   - dst: an exact, non-negated `-d ADDR/32` in the ipt_ip part;
 *   - proto: a non-negated `-p PROTO` in the ipt_ip part;
 *   - port: the destination port of the first -m tcp/udp/sctp, if it is one
 *     port, not negated, and only side-effect-free matches that never
 *     hotdrop come before it (comment, addrtype).
 * Any part may be missing (a rule without -d is keyed by proto and port);
 * a rule with neither dst nor proto has no key and ends the run. Everything
 * else the rule tests is tested as before, when the walk reaches it.
 *
 * Why skipping is exact: a rule keyed by dst or proto that differs fails in
 * ip_packet_match, before any match runs. One keyed by port that differs
 * fails in the port match (xt_tcpudp's tcp_mt/udp_mt), after only matches
 * that change nothing; so no counter moves, no draw is taken, no hotdrop
 * happens. The port is trusted only when that match would read it: not a
 * fragment and the header all there. Otherwise the walk goes rule by rule,
 * as it does under a trace callback (which reports every rule tested).
 *
 * The caller adds the skipped rules to its evaluated count, so
 * rulesEvaluated (and the simulated cost) is what the linear walk would
 * have counted.
 *
 * Layout: one open-addressing hash table (linear probing) for all runs of a
 * table, keyed by (run, key class, dst, proto << 16 | port), four Int32
 * words a slot; a key with one rule holds its entry in the slot, one with
 * several points into a flat postings array of ascending entry indexes.
 */
import type { CompiledTable } from './compile.js';
import type { MatchExt } from './extension.js';
import { AddrtypeMatch } from './matches/addrtype.js';
import { CommentMatch } from './matches/comment.js';
import { IPPROTO_SCTP, SctpMatch, TcpMatch, UdpMatch } from './matches/tcpudp.js';
import type { ChainState } from './table-model.js';
import type { XtPacket } from './xt.js';
import { read16 } from '../../wire/bytes.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../wire/ipv4.js';
import { TCP_HEADER_LEN } from '../../wire/tcp.js';
import { UDP_HEADER_LEN } from '../../wire/udp.js';

export interface ChainIndexOptions {
  /**
   * Runs shorter than this are walked rule by rule: a lookup costs about what
   * testing 6-8 non-matching rules does (bench/README.md).
   */
  minRun: number;
  /**
   * Distinct keys per rule a run needs to be worth it: where many rules share
   * a key (a firewall's "-p tcp --dport 22 -s X" lists), a packet with that
   * key has a candidate at nearly every rule, and a probe per rule costs more
   * than the tests it replaces.
   */
  minSelectivity: number;
}

export const DEFAULT_CHAIN_INDEX: ChainIndexOptions = { minRun: 16, minSelectivity: 0.5 };

/** Which parts a rule's key has (bits); 0 = no key. */
const enum KeyPart {
  DST = 1,
  PROTO = 2,
  PORT = 4,
}

/** Key classes with a port part, as a mask over class numbers. */
const PORT_CLASSES = (1 << (KeyPart.PROTO | KeyPart.PORT)) | (1 << (KeyPart.DST | KeyPart.PROTO | KeyPart.PORT));

const SCTP_HEADER_LEN = 12;
/** A free slot's first word (run << 3 | class is never negative). */
const EMPTY = -1;
/** Int32 words per hash slot. */
const SLOT = 4;
/** "No entry": past every run. */
const NONE = 0x7fffffff;

/** An indexed run, for listings and tests. */
export interface IndexedRun {
  chain: string;
  /** 1-based number of the run's first rule in its chain. */
  firstRule: number;
  rules: number;
}

/** Matches that never change state, never hotdrop and read no transport header: safe to skip past. */
function pure(m: MatchExt): boolean {
  return m instanceof CommentMatch || m instanceof AddrtypeMatch;
}

/** The port part of a rule's key, or -1. */
function keyPort(matches: readonly MatchExt[]): number {
  for (const m of matches) {
    if (m instanceof TcpMatch || m instanceof UdpMatch || m instanceof SctpMatch) {
      return !m.dptInv && m.dpts[0] === m.dpts[1] ? m.dpts[0] : -1;
    }
    if (!pure(m)) return -1;
  }
  return -1;
}

/** The three key words mixed murmur3-style (multiply, xor-shift), for the slot. */
function hash(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35) ^ c;
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class ChainIndex {
  /** Run of each entry, -1 outside indexed runs (chain tails are never in one). */
  readonly runAt: Int32Array;
  /** One past each run's last entry. */
  readonly runEnd: Int32Array;
  /** Bit (1 << class) for each key class present in the run. */
  readonly runClasses: Uint8Array;
  private readonly runStart: Int32Array;
  private readonly mask: number;
  /**
   * SLOT words per slot, so a probe touches one cache line: run << 3 | class
   * (EMPTY when free), dst, proto << 16 | port, and the entries: the entry
   * itself when the key has one (the usual case), else ~i with postings[i]
   * the count and postings[i + 1 ..] the entries, ascending.
   */
  private readonly slots: Int32Array;
  private postings = new Int32Array(0);

  private constructor(size: number, runs: number, keys: number) {
    this.runAt = new Int32Array(size).fill(-1);
    this.runStart = new Int32Array(runs);
    this.runEnd = new Int32Array(runs);
    this.runClasses = new Uint8Array(runs);
    let cap = 16;
    while (cap < keys * 2) cap *= 2;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap * SLOT);
    for (let s = 0; s < cap; s++) this.slots[s * SLOT] = EMPTY;
  }

  /**
   * Indexes every run of at least opts.minRun keyed rules in the table's
   * chains that has opts.minSelectivity distinct keys per rule; null when
   * there is none (the walk then never consults it).
   */
  static build(t: CompiledTable, chains: readonly ChainState[], opts: ChainIndexOptions): ChainIndex | null {
    const size = t.size;
    const cls = new Int8Array(size);
    const port = new Int32Array(size);
    const runs: [number, number][] = [];
    chains.forEach((c, ci) => {
      // Most chains (kube-proxy's per-Service ones) are too short to hold a run.
      if (c.rules.length < opts.minRun) return;
      const first = t.chainStart[ci]!;
      let start = -1;
      c.rules.forEach((r, i) => {
        const e = first + i;
        const ip = r.spec.ip;
        let k = 0;
        if (ip.dst.mask >>> 0 === 0xffffffff && !ip.dstInv) k |= KeyPart.DST;
        if (ip.proto !== 0 && !ip.protoInv) {
          k |= KeyPart.PROTO;
          const p = keyPort(r.spec.matches);
          if (p >= 0) {
            k |= KeyPart.PORT;
            port[e] = p;
          }
        }
        cls[e] = k;
        if (k !== 0 && start < 0) start = e;
        if (k === 0 && start >= 0) {
          if (e - start >= opts.minRun) runs.push([start, e]);
          start = -1;
        }
      });
      const end = t.chainEnd[ci]!;
      if (start >= 0 && end - start >= opts.minRun) runs.push([start, end]);
    });
    if (runs.length === 0) return null;

    // Every key into its slot, counting the entries of each.
    let keyed = 0;
    for (const [a, b] of runs) keyed += b - a;
    const ix = new ChainIndex(size, runs.length, keyed);
    const slotOf = new Int32Array(size);
    const count = new Int32Array(ix.mask + 1);
    const distinct = new Int32Array(runs.length);
    runs.forEach(([a, b], r) => {
      ix.runStart[r] = a;
      ix.runEnd[r] = b;
      for (let e = a; e < b; e++) {
        const k = cls[e]!;
        ix.runAt[e] = r;
        ix.runClasses[r] |= 1 << k;
        const w1 = k & KeyPart.DST ? t.dst[e]! | 0 : 0;
        const w2 = ((k & KeyPart.PROTO ? t.proto[e]! : 0) << 16) | (k & KeyPart.PORT ? port[e]! : 0);
        const slot = ix.slotFor((r << 3) | k, w1, w2);
        if (count[slot]++ === 0) distinct[r]++;
        slotOf[e] = slot;
      }
    });
    // Too few distinct keys: the run is walked (its slots stay, unused).
    let kept = 0;
    runs.forEach(([a, b], r) => {
      if (distinct[r]! >= opts.minSelectivity * (b - a)) kept++;
      else ix.runAt.fill(-1, a, b);
    });
    if (kept === 0) return null;
    // A key with one entry keeps it in its slot; the others get a postings list.
    let shared = 0;
    for (let s = 0; s <= ix.mask; s++) {
      if (count[s]! > 1) {
        ix.slots[s * SLOT + 3] = ~shared;
        shared += count[s]! + 1;
      }
    }
    const postings = new Int32Array(shared);
    for (const [a, b] of runs) {
      for (let e = a; e < b; e++) {
        const s = slotOf[e]!;
        if (count[s] === 1) ix.slots[s * SLOT + 3] = e;
        else {
          const at = ~ix.slots[s * SLOT + 3]!;
          postings[at + 1 + postings[at]!++] = e;
        }
      }
    }
    ix.postings = postings;
    return ix;
  }

  /** The slot of a key, claimed for it if new (linear probing). */
  private slotFor(w0: number, w1: number, w2: number): number {
    const slots = this.slots;
    let s = hash(w0, w1, w2) & this.mask;
    for (;;) {
      const i = s * SLOT;
      const k = slots[i]!;
      if (k === EMPTY) {
        slots[i] = w0;
        slots[i + 1] = w1;
        slots[i + 2] = w2;
        return s;
      }
      if (k === w0 && slots[i + 1] === w1 && slots[i + 2] === w2) return s;
      s = (s + 1) & this.mask;
    }
  }

  /**
   * The first entry at or after `e` (which is in run `r`) that the packet can
   * match, or the run's end when none can. Entries skipped are entries the
   * linear walk would have tested without effect.
   */
  next(r: number, e: number, x: XtPacket): number {
    const classes = this.runClasses[r]!;
    const proto = x.proto;
    let dport = -1;
    if (classes & PORT_CLASSES) {
      const hdr = proto === IPPROTO_TCP ? TCP_HEADER_LEN : proto === IPPROTO_UDP ? UDP_HEADER_LEN : proto === IPPROTO_SCTP ? SCTP_HEADER_LEN : 0;
      if (hdr !== 0) {
        // The port match would not read the port (fragment: no match or
        // hotdrop; short header: hotdrop): let the walk meet it.
        if (x.fragoff !== 0 || x.l4Avail() < hdr) return e;
        dport = read16(x.buf, x.thoff + 2);
      }
      // Otherwise no port-keyed rule can match: each says -p tcp, udp or sctp.
    }
    let best = this.runEnd[r]!;
    for (let k = 1; k < 8; k++) {
      if (!(classes & (1 << k))) continue;
      let pp = 0;
      if (k & KeyPart.PORT) {
        if (dport < 0) continue;
        pp = (proto << 16) | dport;
      } else if (k & KeyPart.PROTO) pp = proto << 16;
      const j = this.lookup((r << 3) | k, k & KeyPart.DST ? x.dst | 0 : 0, pp, e);
      if (j < best) best = j;
    }
    return best;
  }

  /** The key's first entry >= e, or a value past every run when there is none. */
  private lookup(w0: number, w1: number, w2: number, e: number): number {
    const slots = this.slots;
    let s = hash(w0, w1, w2) & this.mask;
    for (;;) {
      const i = s * SLOT;
      const k = slots[i]!;
      if (k === EMPTY) return NONE;
      if (k === w0 && slots[i + 1] === w1 && slots[i + 2] === w2) {
        const v = slots[i + 3]!;
        if (v >= 0) return v >= e ? v : NONE;
        return this.firstAtOrAfter(~v, e);
      }
      s = (s + 1) & this.mask;
    }
  }

  /** Binary search in the postings list at `at` (count, then entries ascending). */
  private firstAtOrAfter(at: number, e: number): number {
    const p = this.postings;
    let lo = at + 1;
    const end = lo + p[at]!;
    if (p[lo]! >= e) return p[lo]!;
    let hi = end;
    // p[lo] < e; the answer is in (lo, end].
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (p[mid]! >= e) hi = mid;
      else lo = mid;
    }
    return hi < end ? p[hi]! : NONE;
  }

  /** The runs, for listings and tests. */
  runs(t: CompiledTable): IndexedRun[] {
    const out: IndexedRun[] = [];
    this.runStart.forEach((a, r) => {
      if (this.runAt[a] === r) out.push({ chain: t.chainNames[t.chainOf(a)]!, firstRule: t.entryNum(a), rules: this.runEnd[r]! - a });
    });
    return out;
  }
}
