/**
 * NAT bindings: choosing the tuple a connection is rewritten to
 * (net/netfilter/nf_nat_core.c, Linux 6.x): nf_nat_setup_info,
 * get_unique_tuple, find_appropriate_src, find_best_ips_proto,
 * nf_nat_l4proto_unique_tuple, nf_nat_used_tuple(_harder) and
 * __nf_nat_alloc_null_binding.
 *
 * A binding is made once, for a connection's first packet, while the entry
 * is unconfirmed; it is stored as the entry's reply tuple (what replies will
 * look like), and every later packet is rewritten from the two tuples
 * (nat-manip.ts).
 *
 * NatRange (../types.ts) to kernel flags: an address range other than
 * 0.0.0.0-0.0.0.0 is NF_NAT_RANGE_MAP_IPS; a port range other than 0-0 is
 * NF_NAT_RANGE_PROTO_SPECIFIED; `random`/`randomFully` are
 * NF_NAT_RANGE_PROTO_RANDOM(_FULLY); `persistent` is NF_NAT_RANGE_PERSISTENT.
 * NF_NAT_RANGE_PROTO_OFFSET (nft only) is not modelled.
 */
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../../wire/ipv4.js';
import { NfVerdict } from '../hooks.js';
import { CtStatus, type NatRange, type Tuple } from '../types.js';
import type { TrackedConn, TupleHash } from './conn.js';
import { jhash2, leWord } from './jhash.js';
import { TcpCt } from './tcp.js';
import { copyTuple, emptyTuple, invertTuple, reciprocalScale, tupleEqual } from './tuple.js';

export type NatManip = 'src' | 'dst';

/** NF_NAT_MAX_ATTEMPTS and NF_NAT_HARDER_THRESH */
const MAX_ATTEMPTS = 128;
const HARDER_THRESH = MAX_ATTEMPTS / 4;

/** What the binding logic needs from the connection table. */
export interface NatTableAccess {
  /** nf_conntrack_tuple_taken (counts `found`). */
  tupleTaken(t: Tuple, ignored: TrackedConn): boolean;
  /** nf_conntrack_find_get */
  find(t: Tuple): TupleHash | null;
  /** nf_ct_kill */
  kill(ct: TrackedConn): boolean;
  isExpired(ct: TrackedConn): boolean;
  /** get_random_u16 */
  randomU16(): number;
}

export function natInitialized(ct: TrackedConn, manip: NatManip): boolean {
  return (ct.status & (manip === 'src' ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE)) !== 0;
}

function mapsIps(r: NatRange): boolean {
  return r.minAddr !== 0 || r.maxAddr !== 0;
}
function protoSpecified(r: NatRange): boolean {
  return r.minPort !== 0 || r.maxPort !== 0;
}
function randomAll(r: NatRange): boolean {
  return r.random || r.randomFully;
}

/** nf_nat_inet_in_range */
function addrInRange(addr: number, r: NatRange): boolean {
  return addr >= r.minAddr && addr <= r.maxAddr;
}

/** l4proto_in_range: is the manipulable part of the tuple within the range? */
function l4protoInRange(t: Tuple, manip: NatManip, min: number, max: number): boolean {
  switch (t.protocol) {
    case IPPROTO_ICMP:
      return t.srcPort >= min && t.srcPort <= max;
    case IPPROTO_TCP:
    case IPPROTO_UDP: {
      const port = manip === 'src' ? t.srcPort : t.dstPort;
      return port >= min && port <= max;
    }
    default:
      return true;
  }
}

/** in_range: would source-mapping to this tuple meet the range? */
function inRange(t: Tuple, r: NatRange): boolean {
  if (mapsIps(r) && !addrInRange(t.src, r)) return false;
  if (!protoSpecified(r)) return true;
  return l4protoInRange(t, 'src', r.minPort, r.maxPort);
}

/**
 * The chain of a source in BySource: a small integer (a Smi, not a heap number;
 * this is on every new connection's path), the same for a source every time.
 * Two sources may share one.
 */
export function bySourceKey(src: number, port: number, protocol: number): number {
  const p = protocol === IPPROTO_TCP ? 0 : protocol === IPPROTO_UDP ? 1 : protocol === IPPROTO_ICMP ? 2 : 3;
  return (Math.imul(src, 0x9e3779b1) >>> 2) ^ ((port << 2) | p);
}

/**
 * nf_nat_bysource: confirmed entries with a source binding, chained by a hash
 * of (original source address, port, protocol), so a client's address:port
 * keeps its mapping across destinations (find_appropriate_src). As in the
 * kernel's table, a chain may hold other sources too: its readers compare
 * the source (same_src).
 */
class BySource {
  private readonly heads = new Map<number, TrackedConn>();

  private static key(src: number, port: number, protocol: number): number {
    return bySourceKey(src, port, protocol);
  }

  first(t: Tuple): TrackedConn | null {
    return this.heads.get(BySource.key(t.src, t.srcPort, t.protocol)) ?? null;
  }

  add(ct: TrackedConn): void {
    const o = ct.tuple[0];
    const key = BySource.key(o.src, o.srcPort, o.protocol);
    ct.natNext = this.heads.get(key) ?? null;
    ct.natHashed = true;
    this.heads.set(key, ct);
  }

  remove(ct: TrackedConn): void {
    if (!ct.natHashed) return;
    const o = ct.tuple[0];
    const key = BySource.key(o.src, o.srcPort, o.protocol);
    let cur = this.heads.get(key) ?? null;
    let prev: TrackedConn | null = null;
    while (cur !== null && cur !== ct) {
      prev = cur;
      cur = cur.natNext;
    }
    if (cur !== null) {
      if (prev === null) {
        if (ct.natNext === null) this.heads.delete(key);
        else this.heads.set(key, ct.natNext);
      } else {
        prev.natNext = ct.natNext;
      }
    }
    ct.natNext = null;
    ct.natHashed = false;
  }
}

export class NatBinder {
  private readonly bySource = new BySource();
  private readonly curr = emptyTuple();
  private readonly next = emptyTuple();
  private readonly inv = emptyTuple();
  private readonly words = new Uint32Array(4);
  private readonly nullRange: NatRange = {
    minAddr: 0,
    maxAddr: 0,
    minPort: 0,
    maxPort: 0,
    random: false,
    randomFully: false,
    persistent: false,
  };

  constructor(private readonly table: NatTableAccess) {}

  /**
   * nf_nat_setup_info: bind `ct` (unconfirmed) to `range` for `manip`. The
   * chosen tuple becomes the inverse of the reply tuple; SRC_NAT/DST_NAT is
   * set if it differs from the packet's, *_NAT_DONE in any case.
   */
  setup(ct: TrackedConn, range: NatRange, manip: NatManip): NfVerdict {
    if (ct.confirmed) return NfVerdict.ACCEPT; // can't set up NAT for a confirmed entry
    if (natInitialized(ct, manip)) return NfVerdict.DROP; // the kernel WARNs: a second binding
    // What we have looks like the inverse of the reply tuple (earlier manips included).
    invertTuple(this.curr, ct.tuple[1]);
    this.uniqueTuple(this.next, this.curr, range, ct, manip);
    if (!tupleEqual(this.next, this.curr)) {
      invertTuple(ct.tuple[1], this.next); // nf_conntrack_alter_reply
      ct.status |= manip === 'src' ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
    }
    ct.status |= manip === 'src' ? CtStatus.SRC_NAT_DONE : CtStatus.DST_NAT_DONE;
    return NfVerdict.ACCEPT;
  }

  /**
   * __nf_nat_alloc_null_binding: the identity binding for a first packet the
   * nat chain left alone, so its tuple is still checked for uniqueness (a
   * clash makes the source port change even without an SNAT rule).
   */
  nullBinding(ct: TrackedConn, manip: NatManip): NfVerdict {
    const r = ct.tuple[1];
    const ip = manip === 'src' ? r.dst : r.src;
    this.nullRange.minAddr = ip;
    this.nullRange.maxAddr = ip;
    return this.setup(ct, this.nullRange, manip);
  }

  /** Called when an entry is confirmed / destroyed: maintain the by-source chains. */
  confirmed(ct: TrackedConn): void {
    if (ct.status & CtStatus.SRC_NAT_DONE) this.bySource.add(ct);
  }
  destroyed(ct: TrackedConn): void {
    this.bySource.remove(ct);
  }

  /** get_unique_tuple */
  private uniqueTuple(tuple: Tuple, orig: Tuple, range: NatRange, ct: TrackedConn, manip: NatManip): void {
    // 1) For a source mapping, keep the packet's tuple or this source's
    //    current mapping if it is in range and unused.
    if (manip === 'src' && !randomAll(range)) {
      if (inRange(orig, range)) {
        if (!this.usedTuple(orig, ct)) {
          copyTuple(tuple, orig);
          return;
        }
      } else if (this.findAppropriateSrc(orig, tuple, range)) {
        if (!this.usedTuple(tuple, ct)) return;
      }
    }
    // 2) Pick the address for this source/destination pair.
    copyTuple(tuple, orig);
    this.findBestIps(tuple, range, manip);
    // 3) Keep the port if it is in range and the tuple unique; else search.
    if (!randomAll(range)) {
      if (protoSpecified(range)) {
        if (
          l4protoInRange(tuple, manip, range.minPort, range.maxPort) &&
          (range.minPort === range.maxPort || !this.usedTuple(tuple, ct))
        ) {
          return;
        }
      } else if (!this.usedTuple(tuple, ct)) {
        return;
      }
    }
    this.l4protoUniqueTuple(tuple, range, manip, ct);
  }

  /** find_appropriate_src: reuse the mapping an entry with the same original source already has. */
  private findAppropriateSrc(orig: Tuple, result: Tuple, range: NatRange): boolean {
    for (let ct = this.bySource.first(orig); ct !== null; ct = ct.natNext) {
      const o = ct.tuple[0];
      if (o.protocol !== orig.protocol || o.src !== orig.src || o.srcPort !== orig.srcPort) continue; // same_src
      if (this.table.isExpired(ct)) continue;
      invertTuple(result, ct.tuple[1]);
      result.dst = orig.dst;
      result.dstPort = orig.dstPort;
      result.protocol = orig.protocol;
      if (inRange(result, range)) return true;
    }
    return false;
  }

  /**
   * find_best_ips_proto: one address from the range, chosen by jhash2 of the
   * source (and, unless --persistent, the destination) address, as the
   * kernel computes it, so a client keeps the same address.
   */
  private findBestIps(tuple: Tuple, range: NatRange, manip: NatManip): void {
    if (!mapsIps(range)) return;
    let addr = range.minAddr;
    if (range.minAddr !== range.maxAddr) {
      // jhash2 over the 16-byte union nf_inet_addr (IPv4 in the first word), zone 0.
      const w = this.words;
      w[0] = leWord(tuple.src);
      w[1] = w[2] = w[3] = 0;
      const j = jhash2(w, range.persistent ? 0 : leWord(tuple.dst));
      const dist = (range.maxAddr - range.minAddr + 1) >>> 0;
      addr = (range.minAddr + reciprocalScale(j, dist)) >>> 0;
    }
    if (manip === 'src') tuple.src = addr;
    else tuple.dst = addr;
  }

  /** nf_nat_used_tuple: would this binding's reply tuple clash with an entry? */
  private usedTuple(t: Tuple, ct: TrackedConn): boolean {
    if (!invertTuple(this.inv, t)) return true;
    return this.table.tupleTaken(this.inv, ct);
  }

  /**
   * nf_nat_used_tuple_harder: in the last 32 attempts of a TCP SYN's source
   * port search, evict a colliding SNAT entry that is closing (TIME_WAIT or
   * CLOSE, SYN_SENT2) if the new connection's sequence number is past the old one's.
   */
  private usedTupleHarder(t: Tuple, ct: TrackedConn, attemptsLeft: number): boolean {
    if (attemptsLeft > HARDER_THRESH || t.protocol !== IPPROTO_TCP || ct.tcpStateNum !== TcpCt.SYN_SENT) {
      return this.usedTuple(t, ct);
    }
    if (!invertTuple(this.inv, t)) return true;
    const h = this.table.find(this.inv);
    if (h === null) return false;
    const old = h.ct;
    if (h.dir === 0 || old === ct) return true;
    const flags = old.status;
    const mayKill = // nf_nat_may_kill
      old.tcpStateNum >= TcpCt.TIME_WAIT &&
      (flags & (CtStatus.FIXED_TIMEOUT | CtStatus.DYING)) === 0 &&
      (flags & CtStatus.SRC_NAT) !== 0;
    if (!mayKill) return true;
    if (((ct.tuple[0].tdEnd - old.tuple[0].tdEnd) | 0) <= 0) return true; // nf_seq_has_advanced
    return !this.table.kill(old);
  }

  /**
   * nf_nat_l4proto_unique_tuple: search the port (or ICMP id) range for a
   * free tuple, from a random offset (offset 0 for a destination mapping
   * without --random), 128 attempts then ever smaller rounds from new random
   * offsets. If nothing is free the last candidate stays, and confirm drops
   * the packet.
   */
  private l4protoUniqueTuple(tuple: Tuple, range: NatRange, manip: NatManip, ct: TrackedConn): void {
    let min: number;
    let rangeSize: number;
    let keyIsSrc: boolean;
    switch (tuple.protocol) {
      case IPPROTO_ICMP:
        keyIsSrc = true; // the id is the same field in both directions
        if (!protoSpecified(range)) {
          min = 0;
          rangeSize = 65536;
        } else {
          min = range.minPort;
          rangeSize = range.maxPort - range.minPort + 1;
        }
        break;
      case IPPROTO_TCP:
      case IPPROTO_UDP:
        keyIsSrc = manip === 'src';
        if (!protoSpecified(range)) {
          if (manip === 'dst') return; // a destination rewrite can't change the port
          const port = tuple.srcPort;
          if (port < 1024) {
            // Loose convention: below 512 is credential passing.
            if (port < 512) {
              min = 1;
              rangeSize = 511;
            } else {
              min = 600;
              rangeSize = 1023 - 600 + 1;
            }
          } else {
            min = 1024;
            rangeSize = 65535 - 1024 + 1;
          }
        } else {
          let lo = range.minPort;
          let hi = range.maxPort;
          if (hi < lo) [lo, hi] = [hi, lo];
          min = lo;
          rangeSize = hi - lo + 1;
        }
        break;
      default:
        return;
    }

    let off = randomAll(range) || manip !== 'dst' ? this.table.randomU16() : 0;
    let attempts = Math.min(rangeSize, MAX_ATTEMPTS);
    for (;;) {
      for (let i = 0; i < attempts; i++, off = (off + 1) & 0xffff) {
        const port = min + (off % rangeSize);
        if (keyIsSrc) tuple.srcPort = port;
        else tuple.dstPort = port;
        if (!this.usedTupleHarder(tuple, ct, attempts - i)) return;
      }
      if (attempts >= rangeSize || attempts < 16) return;
      attempts >>>= 1;
      off = this.table.randomU16();
    }
  }
}
