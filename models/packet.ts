/**
 * A frame in flight: real bytes in `buf[off, off + len)`, starting with the
 * Ethernet header. Locally built packets leave headroom in front of the frame
 * (like skb headroom) so an encapsulation can later push headers without a copy.
 *
 * Besides the bytes, a packet carries the few pieces of skb metadata the models
 * need: the packet type assigned at reception (eth_type_trans) and an id that
 * follows the packet through the topology for tracing and per-hop statistics.
 */
import type { Conn } from './netfilter/types.js';
import type { NetDevice } from './devices/net-device.js';
import type { Route } from './stack/route-table.js';

export const HEADROOM = 64;

/**
 * Packet bytes are carved out of shared slabs: one ArrayBuffer serves many
 * packets, so a packet costs a typed-array view, not a backing store of its own
 * (measured: allocation and GC were the largest costs of a ping-heavy run).
 * A slab lives as long as any packet cut from it.
 */
const SLAB_BYTES = 256 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function allocBytes(n: number): Uint8Array {
  if (n > SLAB_BYTES / 8) return new Uint8Array(n);
  // Keep views 8-byte aligned.
  const size = (n + 7) & ~7;
  if (slabUsed + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = new Uint8Array(slab, slabUsed, n);
  slabUsed += size;
  return view;
}

/** include/uapi/linux/if_packet.h */
export const enum PacketType {
  HOST = 0,
  BROADCAST = 1,
  MULTICAST = 2,
  OTHERHOST = 3,
  OUTGOING = 4,
}

/** The bits of `Packet.flags`. */
const enum PacketFlag {
  SHARED = 1,
  TRACE_FOLLOW = 2,
  IGNORE_DF = 4,
  BRNF_PREROUTED = 8,
  /** PacketType, 0..4. */
  PKT_TYPE_SHIFT = 4,
  PKT_TYPE_MASK = 7 << 4,
  /** CtState, one of its bits 1..16. */
  CT_STATE_SHIFT = 7,
  CT_STATE_MASK = 31 << 7,
  CT_DIR = 1 << 12,
  IPVS_PROPERTY = 1 << 13,
}

/** br_netfilter's hold on a packet: where it resumes after a simulated cost or a neighbour resolution. */
export interface BridgeNfState {
  nextDev: NetDevice | null;
  dnatPort: NetDevice | null;
  srcMac: number;
}

/** A socket that is charged for the packets it sends until they leave the host (skb->sk with sock_wfree / tcp_wfree). */
export interface TxOwner {
  /** `truesize` bytes of its packets left the host or were dropped. */
  txFreed(truesize: number): void;
}

export class Packet {
  /**
   * The socket this packet is charged to (sk_wmem_alloc), and by how much;
   * null once it is orphaned: when a veth or lo forwards it, a NIC takes it
   * from its queue, or it is dropped. Copies are never charged (skb_clone).
   */
  owner: TxOwner | null = null;
  truesize = 0;
  /** skb->mark, for the netfilter model. */
  mark = 0;
  /** skb->_nfct: the connection this packet belongs to, once conntrack has seen it. */
  ct: Conn | null = null;
  /** skb->dev on the receive path: the device the packet arrived on. */
  inDev: NetDevice | null = null;
  /** skb_dst: the route chosen for the packet on its way out. */
  route: Route | null = null;
  /** br_netfilter's state while it holds this packet back; null on almost every packet. */
  brnf: BridgeNfState | null = null;
  /**
   * The small skb fields, packed (PacketFlag): pktType, ctinfo and the boolean
   * bits. A bridge flood makes a million packets a second, and each field is
   * 8 bytes of every one (measured: eight fields more cost a 1,000-pod LAN's
   * warm run ~10 %).
   */
  flags = 0;
  /**
   * How many ports hold this very object: a bridge floods one copy to all its
   * NIC ports (and, for ARP, its veth ports), which only read it until it
   * arrives; each receiver then takes a packet of its own (`take`), or reads
   * this one in place when its receive path only reads (NetDevice.receive). A
   * flood on a large underlay has thousands of copies in flight for the
   * wire's delay; made on arrival, they die young instead of surviving into
   * the old generation, and read in place they are not made at all.
   */
  holders = 1;

  /** Set on reception relative to the receiving device's MAC. */
  get pktType(): PacketType {
    return (this.flags & PacketFlag.PKT_TYPE_MASK) >>> PacketFlag.PKT_TYPE_SHIFT;
  }
  set pktType(t: PacketType) {
    this.flags = (this.flags & ~PacketFlag.PKT_TYPE_MASK) | (t << PacketFlag.PKT_TYPE_SHIFT);
  }

  /** ctinfo: the packet's state in `ct` (a CtState bit, 0 before conntrack saw it). */
  get ctState(): number {
    return (this.flags & PacketFlag.CT_STATE_MASK) >>> PacketFlag.CT_STATE_SHIFT;
  }
  set ctState(state: number) {
    this.flags = (this.flags & ~PacketFlag.CT_STATE_MASK) | ((state << PacketFlag.CT_STATE_SHIFT) & PacketFlag.CT_STATE_MASK);
  }

  /** ... and its direction (CtDir). */
  get ctDir(): number {
    return (this.flags & PacketFlag.CT_DIR) !== 0 ? 1 : 0;
  }
  set ctDir(dir: number) {
    this.setFlag(PacketFlag.CT_DIR, dir !== 0);
  }

  /** br_netfilter: the packet already went through iptables PREROUTING at a bridge port (ip_sabotage_in). */
  get brnfPrerouted(): boolean {
    return (this.flags & PacketFlag.BRNF_PREROUTED) !== 0;
  }
  set brnfPrerouted(on: boolean) {
    this.setFlag(PacketFlag.BRNF_PREROUTED, on);
  }

  /**
   * skb->ipvs_property: IPVS has handled this packet, and its hooks leave it
   * alone from then on. Copied to clones; cleared when the packet crosses
   * into another namespace (skb_scrub_packet with xnet -> ipvs_reset).
   */
  get ipvsProperty(): boolean {
    return (this.flags & PacketFlag.IPVS_PROPERTY) !== 0;
  }
  set ipvsProperty(on: boolean) {
    this.setFlag(PacketFlag.IPVS_PROPERTY, on);
  }

  /**
   * skb->ignore_df: a datagram of a socket that is not IP_PMTUDISC_DO may be
   * fragmented on this host even with DF set (it was set for the first route;
   * NAT may send it out a smaller MTU). Cleared when it leaves the host.
   */
  get ignoreDf(): boolean {
    return (this.flags & PacketFlag.IGNORE_DF) !== 0;
  }
  set ignoreDf(on: boolean) {
    this.setFlag(PacketFlag.IGNORE_DF, on);
  }

  /**
   * The tracer follows this packet: the iptables TRACE target marked it (or
   * the packet it was copied from), as it sets skb->nf_trace on one skb, or
   * it is a flow's packet the trace watches (models/trace/tracer.ts).
   */
  get traceFollow(): boolean {
    return (this.flags & PacketFlag.TRACE_FOLLOW) !== 0;
  }
  set traceFollow(on: boolean) {
    this.setFlag(PacketFlag.TRACE_FOLLOW, on);
  }

  /**
   * The bytes are shared with another packet (a bridge flood's copies, as
   * skb_clone shares data): whoever writes into them first takes a copy of
   * its own (`unshare`).
   */
  get shared(): boolean {
    return (this.flags & PacketFlag.SHARED) !== 0;
  }
  set shared(on: boolean) {
    this.setFlag(PacketFlag.SHARED, on);
  }

  /** Where a transmit deferred by a simulated cost goes (bridge egress after br_netfilter). */
  get nextDev(): NetDevice | null {
    return this.brnf === null ? null : this.brnf.nextDev;
  }
  set nextDev(dev: NetDevice | null) {
    if (dev !== null) this.bridgeNf().nextDev = dev;
    else if (this.brnf !== null) this.brnf.nextDev = null;
  }

  /** br_netfilter bridged DNAT: the ingress port to resume bridging from once the neighbour layer resolved the new MAC. */
  get brnfDnatPort(): NetDevice | null {
    return this.brnf === null ? null : this.brnf.dnatPort;
  }
  set brnfDnatPort(dev: NetDevice | null) {
    if (dev !== null) this.bridgeNf().dnatPort = dev;
    else if (this.brnf !== null) this.brnf.dnatPort = null;
  }

  /** ... and the frame's source MAC, which the neighbour output overwrites. */
  get brnfSrcMac(): number {
    return this.brnf === null ? 0 : this.brnf.srcMac;
  }
  set brnfSrcMac(mac: number) {
    this.bridgeNf().srcMac = mac;
  }

  private setFlag(flag: PacketFlag, on: boolean): void {
    this.flags = on ? this.flags | flag : this.flags & ~flag;
  }

  private bridgeNf(): BridgeNfState {
    return (this.brnf ??= { nextDev: null, dnatPort: null, srcMac: 0 });
  }

  constructor(
    public buf: Uint8Array,
    public off: number,
    public len: number,
    /** Trace id: unique within a simulation, stable across runs. */
    public id: number,
    /** Simulated time the packet (or the packet it was cloned from) was created. */
    public bornAt: number,
  ) {}

  /** Allocates an empty packet with room for `len` bytes of frame after the headroom. */
  static alloc(len: number, id: number, now: number): Packet {
    return new Packet(allocBytes(HEADROOM + len), HEADROOM, len, id, now);
  }

  /** A deep copy: bytes of its own (skb_copy; a bridge flood shares bytes instead, see `share`). */
  clone(): Packet {
    const buf = allocBytes(this.len + HEADROOM);
    buf.set(this.buf.subarray(this.off, this.off + this.len), HEADROOM);
    const p = new Packet(buf, HEADROOM, this.len, this.id, this.bornAt);
    p.copyMetadata(this);
    return p;
  }

  /**
   * skb_clone: another packet over the same bytes. A bridge floods with it: a
   * copy that is only read where it lands (an ARP request or a frame for
   * another host, most of a flood) never pays for copying the bytes. Every
   * path that may write into a received frame calls `unshare` first:
   * NetDevice.receiveShaped and the bridge's passUp (the stack), br_netfilter
   * at the bridge, and the tunnels' pushHeaders (skb_cow_head).
   */
  share(): Packet {
    const p = new Packet(this.buf, this.off, this.len, this.id, this.bornAt);
    p.copyMetadata(this);
    p.shared = true;
    this.shared = true;
    return p;
  }

  /** skb_orphan: the owning socket is no longer charged for this packet. */
  orphan(): void {
    const o = this.owner;
    if (o === null) return;
    this.owner = null;
    o.txFreed(this.truesize);
  }

  /** A holder's own packet: this object for the last holder, else a `share` of it. */
  take(): Packet {
    if (this.holders <= 1) return this;
    this.holders--;
    return this.share();
  }

  /** A holder lets go without taking (its copy was dropped or left for another partition). */
  release(): void {
    if (this.holders > 1) this.holders--;
  }

  /** skb_unshare: the bytes become this packet's own (a copy when they are shared). */
  unshare(): void {
    if (!this.shared) return;
    const buf = allocBytes(this.len + HEADROOM);
    buf.set(this.buf.subarray(this.off, this.off + this.len), HEADROOM);
    this.buf = buf;
    this.off = HEADROOM;
    this.shared = false;
  }

  /** ip_copy_metadata / skb_clone: the skb state a copy or fragment inherits. */
  copyMetadata(from: Packet): void {
    this.mark = from.mark;
    this.ct = from.ct;
    this.inDev = from.inDev;
    // Every bit but SHARED, which says whether these bytes are this packet's own.
    this.flags = (this.flags & PacketFlag.SHARED) | (from.flags & ~PacketFlag.SHARED);
  }

  /** skb_scrub_packet: forget connection tracking and routing state; with `xnet` also the mark and ipvs_property. */
  scrub(xnet: boolean): void {
    this.ct = null;
    this.flags &= ~(PacketFlag.CT_STATE_MASK | PacketFlag.CT_DIR | PacketFlag.BRNF_PREROUTED | PacketFlag.IGNORE_DF);
    this.inDev = null;
    this.route = null;
    this.brnf = null;
    if (xnet) {
      // ipvs_reset: the other namespace's IPVS must see the packet afresh.
      this.flags &= ~PacketFlag.IPVS_PROPERTY;
      this.mark = 0;
    }
  }

  /** The frame bytes (a view, no copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(this.off, this.off + this.len);
  }
}
