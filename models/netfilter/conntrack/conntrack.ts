/**
 * Connection tracking for one network namespace, after
 * net/netfilter/nf_conntrack_core.c (Linux 6.x) and the NAT core that lives
 * on it (nf_nat_core.c, nf_nat_proto.c).
 *
 * The stack calls, per the kernel's hook priorities (../hooks.ts):
 *   in()       at PRE_ROUTING and LOCAL_OUT, conntrack priority (-200)
 *   natHook()  at the nat hooks: PRE_ROUTING/LOCAL_OUT 'dst' (-100),
 *              POST_ROUTING/LOCAL_IN 'src' (100); it runs the nat table for a
 *              connection's first packet only, then rewrites every packet
 *   confirm()  at POST_ROUTING and LOCAL_IN, last
 * The pieces of natHook (natInitialized, setupNat, ensureNullBinding,
 * natPacket) are public too, for a caller that wires them itself.
 *
 * An NfPacket starts with ct = null and any ctState but UNTRACKED (which is
 * what the raw table's NOTRACK sets, and makes in() leave the packet alone).
 *
 * Modelling choices (see also tcp.ts, table.ts):
 * - One CPU: no concurrent lookups, so no search restarts, and a clash at
 *   confirm only arises from NAT bindings, not from racing packets.
 * - `count` and nf_conntrack_max count confirmed entries; the kernel also
 *   counts entries allocated for packets still in flight, a transient
 *   difference here.
 * - Expired entries are reaped lazily: when a lookup meets them, and all at
 *   once when the table is full, before early_drop (the kernel's gc worker
 *   does this periodically); dump() and count reap first too.
 * - Checksums are not verified on input (nf_conntrack_checksum only checks
 *   at PRE_ROUTING, and veth/loopback skbs carry CHECKSUM_PARTIAL or
 *   UNNECESSARY, which it skips), except an ICMP error's before NAT
 *   rewrites it.
 * - IP fragments are not reassembled (nf_defrag_ipv4 is not modelled): a
 *   non-first fragment is INVALID.
 * - Protocols other than TCP, UDP and ICMP use the generic tracker
 *   (addresses only, 600 s).
 * - Not modelled: expectations and helpers (so no RELATED besides ICMP
 *   errors), zones, accounting, events, the masquerade device-change cleanup.
 */
import type { RandomStream } from '../../../engine/rng.js';
import { SECOND } from '../../../engine/time.js';
import { ICMP_HEADER_LEN } from '../../wire/icmp.js';
import {
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ipv4Dst,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  ipv4Version,
} from '../../wire/ipv4.js';
import { read16 } from '../../wire/bytes.js';
import { NfVerdict } from '../hooks.js';
import { CtDir, CtState, CtStatus, type Conn, type NatRange, type NfPacket, type Tuple } from '../types.js';
import { TrackedConn, asTracked, type TupleHash } from './conn.js';
import { formatTable, summaryLine } from './dump.js';
import { NR_ICMP_TYPES, icmpIsError, icmpPacket, icmpTuple } from './icmp.js';
import { L4Verdict, type L4Context, type L4Packet } from './l4proto.js';
import { icmpReplyTranslation, manipPacket, natNeeded } from './nat-manip.js';
import { NatBinder, natInitialized, type NatManip, type NatTableAccess } from './nat.js';
import { emptyStats, type CtStats } from './stats.js';
import { CtTable, isExpired } from './table.js';
import { tcpPacket } from './tcp.js';
import { DEFAULT_TCP_CONFIG, DEFAULT_TIMEOUTS, type CtTimeouts, type TcpTrackerConfig } from './timeouts.js';
import { copyTuple, emptyTuple, invertTuple, tupleEqual } from './tuple.js';
import { udpPacket } from './udp.js';

export interface ConntrackOptions {
  /** The simulation clock, ns. */
  now: () => number;
  /** This namespace's netfilter random stream (NAT port choice, hash seed). */
  random: RandomStream;
  /** net.netfilter.nf_conntrack_max; default 262144 (the kernel-ref machine's). */
  max?: number;
  /** net.netfilter.nf_conntrack_buckets (hash table size); default 262144. */
  buckets?: number;
  /** Overrides of the nf_conntrack_*_timeout sysctls. */
  timeouts?: Partial<CtTimeouts>;
  /** nf_conntrack_tcp_loose / nf_conntrack_tcp_max_retrans. */
  tcp?: Partial<TcpTrackerConfig>;
}

const DEFAULT_MAX = 262144;

/** nf_ct_resolve_clash_harder gives a clashing entry this long. */
const CLASH_TIMEOUT = SECOND;

const NAT_DONE_MASK = CtStatus.SRC_NAT_DONE | CtStatus.DST_NAT_DONE;

export class Conntrack implements L4Context, NatTableAccess {
  readonly stats: CtStats = emptyStats();
  readonly max: number;
  readonly timeouts: CtTimeouts;
  readonly tcpConfig: TcpTrackerConfig;

  private readonly clock: () => number;
  private readonly random: RandomStream;
  private readonly table: CtTable;
  private readonly nat: NatBinder;
  private nowNs = 0;

  // Reused per packet: nothing below is allocated on the per-packet path.
  private readonly pkt: L4Packet = { buf: new Uint8Array(0), ipOff: 0, ipLen: 0, l4Off: 0, l4Len: 0 };
  private readonly tuple = emptyTuple();
  private readonly reply = emptyTuple();
  private readonly scratch = emptyTuple();

  constructor(opts: ConntrackOptions) {
    this.clock = opts.now;
    this.random = opts.random;
    this.max = opts.max ?? DEFAULT_MAX;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.tcpConfig = { ...DEFAULT_TCP_CONFIG, ...opts.tcp };
    // nf_conntrack_hash_rnd: the hash key, random per "boot".
    const seed = Math.floor(opts.random.next() * 0x1_0000_0000);
    this.table = new CtTable(opts.buckets ?? DEFAULT_MAX, seed, (ct) => {
      this.kill(ct);
    });
    this.nat = new NatBinder(this);
  }

  /** L4Context: the time of the packet being processed. */
  get now(): number {
    return this.nowNs;
  }

  /** Live entries (nf_conntrack_count, after reaping expired ones). */
  get count(): number {
    this.table.reapExpired(this.clock());
    return this.table.count;
  }

  // ---------------------------------------------------------------- nf_conntrack_in

  /**
   * nf_conntrack_in: find or create the packet's connection and set p.ct,
   * p.ctState, p.ctDir. A new connection stays unconfirmed (not in the table)
   * until confirm(). Untrackable packets get ctState INVALID and ACCEPT;
   * DROP only when the table is full and nothing can be evicted, or a closed
   * TCP connection cannot be reopened.
   */
  in(p: NfPacket): NfVerdict {
    // Already tracked (looped back) or NOTRACK: leave it.
    if (p.ct !== null || p.ctState === CtState.UNTRACKED) return NfVerdict.ACCEPT;
    this.nowNs = this.clock();
    p.ctState = CtState.INVALID;
    p.ctDir = CtDir.ORIGINAL;

    // get_l4proto
    const buf = p.pkt.buf;
    const ipOff = p.ipOff;
    const avail = p.pkt.off + p.pkt.len - ipOff;
    if (avail < 20 || ipv4Version(buf, ipOff) !== 4) return this.invalid();
    const ihl = ipv4HeaderLen(buf, ipOff);
    const ipLen = Math.min(ipv4TotalLength(buf, ipOff), avail);
    if (ihl < 20 || ihl > ipLen) return this.invalid();
    if (ipv4FragmentOffset(buf, ipOff) !== 0) return this.invalid();
    const protocol = ipv4Protocol(buf, ipOff);
    const pkt = this.pkt;
    pkt.buf = buf;
    pkt.ipOff = ipOff;
    pkt.ipLen = ipLen;
    pkt.l4Off = ipOff + ihl;
    pkt.l4Len = ipLen - ihl;

    if (protocol === IPPROTO_ICMP) {
      // nf_conntrack_icmpv4_error
      if (pkt.l4Len < ICMP_HEADER_LEN) return this.icmpErr();
      const type = buf[pkt.l4Off]!;
      if (type > NR_ICMP_TYPES) return this.icmpErr();
      if (icmpIsError(type)) return this.related(p);
    }
    return this.resolve(p, protocol);
  }

  private invalid(): NfVerdict {
    this.stats.invalid++;
    return NfVerdict.ACCEPT;
  }

  private icmpErr(): NfVerdict {
    this.stats.error++;
    return NfVerdict.ACCEPT;
  }

  /**
   * nf_conntrack_inet_error: an ICMP error is RELATED to the connection its
   * quoted datagram belongs to. The quote travelled the other way, so its
   * inverted tuple is looked up; the error's destination must be that
   * direction's destination (otherwise a forged error could reach anyone).
   */
  private related(p: NfPacket): NfVerdict {
    const pkt = this.pkt;
    const buf = pkt.buf;
    const end = pkt.ipOff + pkt.ipLen;
    const inner = pkt.l4Off + ICMP_HEADER_LEN;
    if (inner + 20 > end || ipv4Version(buf, inner) !== 4) return this.icmpErr();
    const innerIhl = ipv4HeaderLen(buf, inner);
    const innerL4 = inner + innerIhl;
    if (innerIhl < 20 || innerL4 > end || ipv4FragmentOffset(buf, inner) !== 0) return this.icmpErr();
    const t = this.tuple;
    t.src = ipv4Src(buf, inner);
    t.dst = ipv4Dst(buf, inner);
    t.protocol = ipv4Protocol(buf, inner);
    if (!this.readPorts(t, buf, innerL4, end - innerL4)) return this.icmpErr();
    if (!invertTuple(t, t)) return this.icmpErr();
    const h = this.table.findTuple(t, this.nowNs);
    if (h === null) return this.icmpErr();
    if (ipv4Dst(buf, pkt.ipOff) !== h.ct.tuple[h.dir].dst) return this.icmpErr();
    p.ct = h.ct;
    p.ctState = CtState.RELATED;
    p.ctDir = h.dir;
    return NfVerdict.ACCEPT;
  }

  /** The transport part of a tuple (nf_ct_get_tuple); false if the header is too short. */
  private readPorts(t: Tuple, buf: Uint8Array, off: number, len: number): boolean {
    switch (t.protocol) {
      case IPPROTO_TCP:
      case IPPROTO_UDP:
        if (len < 4) return false;
        t.srcPort = read16(buf, off);
        t.dstPort = read16(buf, off + 2);
        return true;
      case IPPROTO_ICMP:
        return icmpTuple(buf, off, len, t);
      default:
        t.srcPort = 0;
        t.dstPort = 0;
        return true;
    }
  }

  /** resolve_normal_ct, init_conntrack and the protocol tracker, with the -NF_REPEAT loop. */
  private resolve(p: NfPacket, protocol: number): NfVerdict {
    const pkt = this.pkt;
    const buf = pkt.buf;
    const t = this.tuple;
    for (;;) {
      t.src = ipv4Src(buf, pkt.ipOff);
      t.dst = ipv4Dst(buf, pkt.ipOff);
      t.protocol = protocol;
      if (!this.readPorts(t, buf, pkt.l4Off, pkt.l4Len)) return this.invalid();
      const hash = this.table.hashOf(t.src, t.dst, t.protocol, t.srcPort, t.dstPort);
      const h = this.table.find(hash, t.src, t.dst, t.protocol, t.srcPort, t.dstPort, this.nowNs);

      let ct: TrackedConn;
      let dir: CtDir;
      if (h !== null) {
        ct = h.ct;
        dir = h.dir;
      } else {
        // init_conntrack
        if (!invertTuple(this.reply, t)) return this.invalid();
        if (!this.makeRoom(hash)) {
          this.stats.drop++;
          this.stats.dropTableFull++;
          return NfVerdict.DROP;
        }
        ct = new TrackedConn(t);
        copyTuple(ct.tuple[1], this.reply);
        dir = CtDir.ORIGINAL;
      }

      const v = this.handlePacket(ct, dir);
      if (v === L4Verdict.REPEAT) continue; // the tracker killed the entry: a new connection
      if (v === L4Verdict.INVALID) return this.invalid();
      if (v === L4Verdict.DROP) {
        this.stats.invalid++;
        this.stats.drop++;
        return NfVerdict.DROP;
      }
      if (dir === CtDir.REPLY) ct.status |= CtStatus.SEEN_REPLY;
      p.ct = ct;
      p.ctDir = dir;
      p.ctState = dir === CtDir.REPLY || ct.status & CtStatus.SEEN_REPLY ? CtState.ESTABLISHED : CtState.NEW;
      return NfVerdict.ACCEPT;
    }
  }

  /**
   * __nf_conntrack_alloc's limit: with the table at nf_conntrack_max, reap
   * what has expired, then early_drop an unassured entry near the new one.
   */
  private makeRoom(hash: number): boolean {
    if (this.table.count + 1 <= this.max) return true;
    this.table.reapExpired(this.nowNs);
    if (this.table.count + 1 <= this.max) return true;
    const drops = this.table.earlyDrop(hash, this.nowNs);
    this.stats.earlyDrop += drops;
    return drops > 0;
  }

  /** nf_conntrack_handle_packet */
  private handlePacket(ct: TrackedConn, dir: CtDir): L4Verdict {
    switch (ct.protocol) {
      case IPPROTO_TCP:
        return tcpPacket(ct, this.pkt, dir, this);
      case IPPROTO_UDP:
        return udpPacket(ct, this.pkt, this);
      case IPPROTO_ICMP:
        return icmpPacket(ct, this.pkt, this);
      default:
        this.refresh(ct, this.timeouts.generic); // generic_packet
        return L4Verdict.ACCEPT;
    }
  }

  // ---------------------------------------------------------------- entry lifetime

  /** nf_ct_refresh: a new timeout from now (relative while unconfirmed). */
  refresh(ct: TrackedConn, timeout: number): void {
    if (ct.status & CtStatus.FIXED_TIMEOUT) return;
    ct.timeoutRel = timeout;
    ct.expiresAt = this.nowNs + timeout;
    if (ct.status & CtStatus.CONFIRMED) this.table.noteExpiry(ct.expiresAt);
  }

  /** nf_ct_kill / nf_ct_delete: mark dying and unlink. False if it already was. */
  kill(ct: TrackedConn): boolean {
    if (ct.status & CtStatus.DYING) return false;
    ct.status |= CtStatus.DYING;
    this.table.remove(ct);
    this.nat.destroyed(ct);
    return true;
  }

  isExpired(ct: TrackedConn): boolean {
    return isExpired(ct, this.nowNs);
  }

  /** NatTableAccess: nf_conntrack_tuple_taken, counting `found`. */
  tupleTaken(t: Tuple, ignored: TrackedConn): boolean {
    const taken = this.table.tupleTaken(t, ignored, this.nowNs);
    if (taken) this.stats.found++;
    return taken;
  }

  /** NatTableAccess: nf_conntrack_find_get. */
  find(t: Tuple): TupleHash | null {
    return this.table.findTuple(t, this.nowNs);
  }

  /** NatTableAccess: get_random_u16, from this namespace's stream. */
  randomU16(): number {
    return this.random.int(0, 0xffff);
  }

  // ---------------------------------------------------------------- confirm

  /**
   * nf_conntrack_confirm: insert a new connection into the table when its
   * first packet leaves (POST_ROUTING) or is delivered (LOCAL_IN). If the
   * table already holds either tuple (two bindings chose the same reply
   * tuple), the clash is resolved as the kernel does for UDP and ICMP
   * (allow_clash): the packet joins the existing entry if that is the same
   * flow or has no NAT, else the new entry is added in its reply direction
   * only for 1 s (IPS_NAT_CLASH); for TCP, or if the reply tuple clashes
   * too, the packet is dropped (insert_failed, drop).
   */
  confirm(p: NfPacket): NfVerdict {
    const ct = asTracked(p.ct);
    if (ct === null || ct.confirmed) return NfVerdict.ACCEPT;
    // A reply (e.g. REJECT's RST attached to the connection) does not confirm.
    if (p.ctDir !== CtDir.ORIGINAL) return NfVerdict.ACCEPT;
    this.nowNs = this.clock();
    if (ct.dying) {
      this.stats.insertFailed++;
      return NfVerdict.DROP;
    }
    ct.status |= CtStatus.CONFIRMED;
    const h = this.table.findTuple(ct.tuple[0], this.nowNs) ?? this.table.findTuple(ct.tuple[1], this.nowNs);
    if (h !== null) return this.resolveClash(p, ct, h);
    // The timer runs from confirmation, not from creation.
    ct.expiresAt = this.nowNs + ct.timeoutRel;
    this.table.insert(ct);
    this.nat.confirmed(ct);
    this.stats.insert++;
    return NfVerdict.ACCEPT;
  }

  /** nf_ct_resolve_clash */
  private resolveClash(p: NfPacket, loser: TrackedConn, h: TupleHash): NfVerdict {
    const allowClash = loser.protocol === IPPROTO_UDP || loser.protocol === IPPROTO_ICMP;
    if (allowClash) {
      if (this.joinWinner(p, loser, h.ct)) return NfVerdict.ACCEPT;
      // nf_ct_resolve_clash_harder: the reply direction must not clash too.
      const hr = this.table.findTuple(loser.tuple[1], this.nowNs);
      if (hr !== null) {
        if (this.joinWinner(p, loser, hr.ct)) return NfVerdict.ACCEPT;
      } else {
        // Keep the new entry for its replies only, and let it go soon.
        loser.expiresAt = this.nowNs + CLASH_TIMEOUT;
        loser.status |= CtStatus.FIXED_TIMEOUT | CtStatus.NAT_CLASH;
        this.table.insertReplyOnly(loser);
        this.stats.clashResolve++;
        return NfVerdict.ACCEPT;
      }
    }
    this.stats.drop++;
    this.stats.insertFailed++;
    return NfVerdict.DROP;
  }

  /** __nf_ct_resolve_clash: attach the packet to the entry already in the table if it is equivalent. */
  private joinWinner(p: NfPacket, loser: TrackedConn, winner: TrackedConn): boolean {
    if (winner.dying) return false;
    const same = tupleEqual(winner.tuple[0], loser.tuple[0]) && tupleEqual(winner.tuple[1], loser.tuple[1]); // nf_ct_match
    if ((winner.status & NAT_DONE_MASK) !== 0 && !same) return false;
    p.ct = winner;
    this.stats.clashResolve++;
    return true;
  }

  // ---------------------------------------------------------------- NAT

  natInitialized(ct: Conn, manip: NatManip): boolean {
    const c = asTracked(ct);
    return c !== null && natInitialized(c, manip);
  }

  /**
   * nf_nat_setup_info for p's connection (SNAT/MASQUERADE: 'src', DNAT/
   * REDIRECT: 'dst'). Chooses a unique tuple in `range` and records it as
   * the connection's reply tuple. Only acts on an unconfirmed connection;
   * DROP if this manipulation was already set up.
   */
  setupNat(p: NfPacket, manip: NatManip, range: NatRange): NfVerdict {
    const ct = asTracked(p.ct);
    if (ct === null) return NfVerdict.ACCEPT;
    this.nowNs = this.clock();
    return this.nat.setup(ct, range, manip);
  }

  /** nf_nat_alloc_null_binding: when the nat chain bound nothing for this manipulation. */
  ensureNullBinding(p: NfPacket, manip: NatManip): NfVerdict {
    const ct = asTracked(p.ct);
    if (ct === null || natInitialized(ct, manip)) return NfVerdict.ACCEPT;
    this.nowNs = this.clock();
    return this.nat.nullBinding(ct, manip);
  }

  /**
   * nf_nat_packet, plus nf_nat_icmp_reply_translation for an ICMP error
   * RELATED to a connection: rewrite p's bytes for this manipulation and
   * direction. DROP if the packet is too short or a RELATED ICMP error is
   * corrupt.
   */
  natPacket(p: NfPacket, manip: NatManip): NfVerdict {
    const ct = asTracked(p.ct);
    if (ct === null) return NfVerdict.ACCEPT;
    const buf = p.pkt.buf;
    const ipOff = p.ipOff;
    const end = ipOff + Math.min(ipv4TotalLength(buf, ipOff), p.pkt.off + p.pkt.len - ipOff);
    if (p.ctState === CtState.RELATED && ipv4Protocol(buf, ipOff) === IPPROTO_ICMP) {
      return icmpReplyTranslation(buf, ipOff, end, ct, p.ctDir, manip, this.scratch) ? NfVerdict.ACCEPT : NfVerdict.DROP;
    }
    if (!natNeeded(ct, p.ctDir, manip)) return NfVerdict.ACCEPT;
    return manipPacket(buf, ipOff, end, ct, p.ctDir, manip, this.scratch) ? NfVerdict.ACCEPT : NfVerdict.DROP;
  }

  /**
   * nf_nat_ipv4_fn / nf_nat_inet_fn, the whole nat hook: for a connection's
   * first packet (NEW, or RELATED) whose binding for `manip` is not set up,
   * run the nat table (`runNatTable`, which may call setupNat), then fall
   * back to the null binding; then rewrite the packet. Later packets never
   * see the nat table. The caller compares the destination before and after
   * to know whether to route again (nf_nat_ipv4_in / ip_route_me_harder).
   */
  natHook(p: NfPacket, manip: NatManip, runNatTable: (p: NfPacket) => NfVerdict): NfVerdict {
    const ct = asTracked(p.ct);
    if (ct === null) return NfVerdict.ACCEPT;
    if (p.ctState === CtState.RELATED && ipv4Protocol(p.pkt.buf, p.ipOff) === IPPROTO_ICMP) return this.natPacket(p, manip);
    if ((p.ctState === CtState.NEW || p.ctState === CtState.RELATED) && !natInitialized(ct, manip)) {
      const v = runNatTable(p);
      if (v !== NfVerdict.ACCEPT) return v;
      if (!natInitialized(ct, manip)) {
        const w = this.ensureNullBinding(p, manip);
        if (w !== NfVerdict.ACCEPT) return w;
      }
    }
    return this.natPacket(p, manip);
  }

  // ---------------------------------------------------------------- inspection

  /** The confirmed, live connection with this tuple in either direction. */
  lookup(t: Tuple): Conn | undefined {
    this.nowNs = this.clock();
    return this.table.findTuple(t, this.nowNs)?.ct;
  }

  /** `conntrack -L` lines, sorted as kernel-ref sorts them (dump.ts). */
  dumpLines(): string[] {
    const now = this.clock();
    this.table.reapExpired(now);
    return formatTable(this.table.entries(), now);
  }

  /** `conntrack -L`: one line per connection, each ending in a newline. */
  dump(): string {
    return this.dumpLines()
      .map((l) => `${l}\n`)
      .join('');
  }

  /**
   * The file kernel-ref keeps per namespace (<scenario>/conntrack/<ns>.conntrack-L.txt):
   * a header, then the listing with conntrack's summary line sorted in.
   */
  referenceListing(nsName: string): string {
    const lines = this.dumpLines();
    const body = lines.map((l) => `${l}\n`).join('');
    return `# conntrack -L (namespace ${nsName}), sorted\n${summaryLine(lines.length)}\n${body}`;
  }

  /**
   * `conntrack -D -p <proto> --reply-src <addr>` (what kube-proxy runs for a
   * removed UDP endpoint, so clients stop sending to it): deletes the entries
   * whose reply comes from `addr` (the DNATed destination). Returns how many.
   */
  deleteByReplySource(protocol: number, addr: number): number {
    let n = 0;
    for (const ct of [...this.table.entries()]) {
      const reply = ct.tuple[1];
      if (reply.protocol === protocol && reply.src === addr && this.kill(ct)) n++;
    }
    return n;
  }

  /** `conntrack -F`: delete every entry. */
  flush(): void {
    const all = [...this.table.entries()];
    for (const ct of all) this.kill(ct);
  }
}
