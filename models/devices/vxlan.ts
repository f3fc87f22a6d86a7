/**
 * A VXLAN device (drivers/net/vxlan/vxlan_core.c) as flannel's vxlan backend
 * creates it: `ip link add flannel.1 type vxlan id 1 local NODE_IP dev eth0
 * dstport 8472 nolearning`, unicast only, with static FDB entries (VTEP MAC ->
 * remote node IP) written by flannel for every other node.
 *
 * Transmit (vxlan_xmit -> vxlan_xmit_one): the inner Ethernet frame gets
 * VXLAN, UDP and IPv4 headers (50 bytes with the outer Ethernet header) and
 * leaves through the namespace's IPv4 output (ip_local_out: LOCAL_OUT,
 * routing to the underlay, POST_ROUTING, ARP for the remote node).
 * Receive (vxlan_rcv): the device listens on its UDP port like a socket;
 * a datagram with a valid header and this VNI loses its outer headers and
 * enters the stack again on this device.
 */
import type { Packet } from '../packet.js';
import type { Netns } from '../stack/netns.js';
import type { UdpReceiver } from '../stack/udp.js';
import { DropReason } from './drop-reason.js';
import { CaptureDirection, NetDevice } from './net-device.js';
import { innerIpv4, outerTos, pushHeaders } from './tunnel.js';
import { jhash2 } from '../netfilter/conntrack/jhash.js';
import { formatIpv4, formatMac } from '../wire/addr.js';
import { ETH_HLEN, ethDst, ethSrc } from '../wire/ethernet.js';
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  ipv4Dst,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Src,
} from '../wire/ipv4.js';
import { read32 } from '../wire/bytes.js';
import { UDP_HEADER_LEN, computeUdpChecksum, setUdpChecksum, setUdpDstPort, setUdpLength, setUdpSrcPort } from '../wire/udp.js';
import { VXLAN_HEADER_LEN, VXLAN_PORT_LINUX, emitVxlan, parseVxlan } from '../wire/vxlan.js';
import { WireError } from '../wire/errors.js';

/** Outer Ethernet + IPv4 + UDP + VXLAN: what the device's MTU leaves room for (VXLAN_HEADROOM). */
export const VXLAN_OVERHEAD = ETH_HLEN + IPV4_HEADER_LEN + UDP_HEADER_LEN + VXLAN_HEADER_LEN;

/** net.ipv4.ip_local_port_range default: the source ports vxlan_setup takes (udp_flow_src_port gives [min, max)). */
const SRC_PORT_MIN = 32768;
const SRC_PORT_MAX = 60999;

export interface VxlanConfig {
  /** VXLAN network identifier, 0..2^24-1. */
  vni: number;
  /** Local VTEP address (outer source), the node's address. */
  local: number;
  /** UDP destination port, also the port the device listens on (Linux default 8472; IANA 4789). */
  port?: number;
  /** Outer TTL; 0 (the default, "ttl auto") uses the route's hop limit (ip_default_ttl). */
  ttl?: number;
  /**
   * Compute the outer UDP checksum. The kernel does unless the device was
   * created with IFLA_VXLAN_UDP_CSUM = 0 (`ip link ... noudpcsum`, which older
   * iproute2 sends by default); flannel (vishvananda/netlink) sends no
   * attribute, so its devices checksum. Default true.
   */
  udpCsum?: boolean;
}

export class VxlanDevice extends NetDevice implements UdpReceiver {
  readonly vni: number;
  readonly local: number;
  readonly port: number;
  readonly ttl: number;
  readonly udpCsum: boolean;
  /** The FDB: inner destination MAC -> remote VTEP address (`bridge fdb append MAC dev DEV dst IP`). */
  private readonly fdb = new Map<number, number>();
  /** The flow hash's secret (hashrnd, drawn once per boot), from this device's own random stream. */
  private readonly hashSeed: number;

  constructor(ns: Netns, name: string, mac: number, mtu: number, cfg: VxlanConfig) {
    super(ns, name, mac, mtu);
    if (!Number.isInteger(cfg.vni) || cfg.vni < 0 || cfg.vni > 0xffffff) throw new Error(`${ns.name}/${name}: VNI ${cfg.vni} is not in 0..16777215`);
    this.vni = cfg.vni;
    this.local = cfg.local;
    this.port = cfg.port ?? VXLAN_PORT_LINUX;
    this.ttl = cfg.ttl ?? 0;
    this.udpCsum = cfg.udpCsum ?? true;
    this.hashSeed = Math.floor(ns.component.random(`vxlan-hash/${ns.name}/${name}`).next() * 2 ** 32);
    // vxlan_sock_add: the device's UDP socket, bound on every address.
    ns.udp.bind(this.port, this);
  }

  /** `bridge fdb append MAC dev DEV dst IP` (self, permanent). */
  addFdb(mac: number, remote: number): void {
    if (this.fdb.has(mac)) throw new Error(`${this.path}: FDB entry for ${formatMac(mac)} already exists`);
    this.fdb.set(mac, remote);
  }

  /** `bridge fdb show dev DEV` */
  fdbEntries(): { mac: string; dst: string }[] {
    return [...this.fdb].sort((a, b) => a[0] - b[0]).map(([m, ip]) => ({ mac: formatMac(m), dst: formatIpv4(ip) }));
  }

  xmit(pkt: Packet): void {
    if (!this.up) {
      this.dropTx(pkt, DropReason.DEV_READY);
      return;
    }
    const remote = this.fdb.get(ethDst(pkt.buf, pkt.off));
    if (remote === undefined) {
      // No entry and no all-zeros default (flannel adds none): vxlan_xmit drops.
      if (this.tap !== null) this.tap.capture(this, pkt, CaptureDirection.OUT);
      this.dropTx(pkt, DropReason.VXLAN_NO_REMOTE);
      return;
    }
    this.transmitted(pkt);
    const innerLen = pkt.len;
    const srcPort = this.sourcePort(pkt);
    const tos = outerTos(pkt.buf, innerIpv4(pkt.buf, pkt.off));
    pushHeaders(pkt, VXLAN_OVERHEAD);
    const b = pkt.buf;
    const udp = pkt.off + ETH_HLEN + IPV4_HEADER_LEN;
    const udpLen = UDP_HEADER_LEN + VXLAN_HEADER_LEN + innerLen;
    setUdpSrcPort(b, udp, srcPort);
    setUdpDstPort(b, udp, this.port);
    setUdpLength(b, udp, udpLen);
    setUdpChecksum(b, udp, 0);
    emitVxlan({ vni: this.vni }, b, udp + UDP_HEADER_LEN);
    // udp_tunnel_xmit_skb -> iptunnel_xmit: a new skb for the underlay (same namespace: the mark stays).
    pkt.scrub(false);
    // VXLAN_DF_UNSET (the default): the outer header never has DF, so an
    // oversized datagram is fragmented by the underlay path, not refused.
    this.ns.sendIp(pkt, IPPROTO_UDP, this.local, remote, { dontFragment: false, tos, ...(this.ttl !== 0 ? { ttl: this.ttl } : {}) }, (src) => {
      if (this.udpCsum) setUdpChecksum(b, udp, computeUdpChecksum(b, udp, src, remote));
    });
  }

  /**
   * udp_flow_src_port: the flow hash of the inner packet spread over the
   * port range. Like skb_get_hash, the key is the inner addresses, protocol
   * and (for unfragmented TCP/UDP) ports, ordered so both directions of a flow
   * hash alike (__flow_hash_consistentify), hashed with a per-device secret.
   * The kernel's hash is siphash keyed at boot; podwire uses jhash2 keyed from
   * the scenario seed, so ports differ from a real host's but every packet of
   * a flow takes the same one and runs repeat exactly.
   */
  private sourcePort(pkt: Packet): number {
    const b = pkt.buf;
    const ip = innerIpv4(b, pkt.off);
    let hash: number;
    if (ip < 0) {
      // Not IPv4: vxlan hashes the Ethernet addresses (use_eth).
      hash = jhash2([read32(b, pkt.off), read32(b, pkt.off + 4), read32(b, pkt.off + 8)], this.hashSeed);
    } else {
      const proto = ipv4Protocol(b, ip);
      let sport = 0;
      let dport = 0;
      const fragment = ipv4MoreFragments(b, ip) || ipv4FragmentOffset(b, ip) !== 0;
      if (!fragment && (proto === IPPROTO_UDP || proto === IPPROTO_TCP)) {
        const l4 = ip + ipv4HeaderLen(b, ip);
        sport = (b[l4]! << 8) | b[l4 + 1]!;
        dport = (b[l4 + 2]! << 8) | b[l4 + 3]!;
      }
      let src = ipv4Src(b, ip);
      let dst = ipv4Dst(b, ip);
      if (dst < src || (dst === src && dport < sport)) {
        [src, dst] = [dst, src];
        [sport, dport] = [dport, sport];
      }
      hash = jhash2([src, dst, ((sport << 16) | dport) >>> 0, proto], this.hashSeed);
    }
    hash = (hash ^ (hash << 16)) >>> 0;
    return Math.floor((hash * (SRC_PORT_MAX - SRC_PORT_MIN)) / 2 ** 32) + SRC_PORT_MIN;
  }

  /** vxlan_rcv: the UDP socket's encap_rcv. */
  onDatagram(pkt: Packet, _src: number, _srcPort: number, _dst: number, payloadOff: number, payloadLen: number): void {
    let vni: number;
    try {
      vni = parseVxlan(pkt.buf, payloadOff, payloadLen).vni;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.ns.dropped(null, pkt, DropReason.VXLAN_INVALID_HDR);
      return;
    }
    if (vni !== this.vni) {
      this.ns.dropped(null, pkt, DropReason.VXLAN_VNI_NOT_FOUND);
      return;
    }
    const inner = payloadOff + VXLAN_HEADER_LEN;
    const innerLen = payloadLen - VXLAN_HEADER_LEN;
    if (innerLen < ETH_HLEN) {
      this.dropRx(pkt, DropReason.PKT_TOO_SMALL);
      return;
    }
    // vxlan_set_mac: a frame with our own source MAC looped back; dropped.
    if (ethSrc(pkt.buf, inner) === this.mac) {
      this.ns.dropped(this, pkt, DropReason.NOT_SPECIFIED);
      return;
    }
    pkt.off = inner;
    pkt.len = innerLen;
    // iptunnel_pull_header -> skb_scrub_packet: same namespace, the mark stays.
    pkt.scrub(false);
    this.ns.forgetDefrag(pkt);
    // gro_cells_receive: the inner frame is received on this device from the backlog.
    this.ns.backlog.enqueue(this, pkt);
  }

  /** ICMP errors about outer datagrams: vxlan_err_lookup only matches them to the socket; nothing reaches the inner sender. */
  onIcmpError(): void {}
}
