/**
 * An IPv4-in-IPv4 tunnel device (net/ipv4/ipip.c, ip_tunnel.c) as flannel's
 * ipip backend creates it: `ip link add flannel.ipip type ipip local NODE_IP`
 * (remote any, ttl inherit, tos 0, pmtudisc), with routes `POD_CIDR via
 * REMOTE_NODE_IP dev flannel.ipip onlink`.
 *
 * The device has no link-layer header and resolves no neighbours (IFF_NOARP):
 * ip_tunnel_xmit takes the outer destination from the route's gateway,
 * prepends a 20-byte IPv4 header (protocol 4) and sends it through the
 * namespace's output path. Inbound, protocol 4 delivered to the node
 * (tunnel4_rcv -> ipip_rcv) is matched on the local address, stripped and
 * received again on this device.
 *
 * Frames are kept with a 14-byte Ethernet header of zeros inside podwire
 * (like lo's), so a capture on this device shows Ethernet where the kernel's
 * would be raw IP (ARPHRD_TUNNEL).
 */
import type { Packet } from '../packet.js';
import type { Netns } from '../stack/netns.js';
import { DropReason } from './drop-reason.js';
import { CaptureDirection, NetDevice } from './net-device.js';
import { outerTos, pushHeaders } from './tunnel.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ethType, setEthDst, setEthSrc, setEthType } from '../wire/ethernet.js';
import { IPV4_HEADER_LEN, ipv4DontFragment, ipv4Dst, ipv4HeaderLen, ipv4TotalLength, ipv4Ttl } from '../wire/ipv4.js';
import { ICMP_DEST_UNREACH } from '../wire/icmp.js';

/** IPPROTO_IPIP (include/uapi/linux/in.h). */
export const IPPROTO_IPIP = 4;
/** What the tunnel adds on the underlay: the outer IPv4 header. */
export const IPIP_OVERHEAD = IPV4_HEADER_LEN;
const ICMP_PORT_UNREACH = 3;

export interface IpipConfig {
  /** Local endpoint (outer source; inbound packets must be addressed to it), the node's address. */
  local: number;
  /** Outer TTL; 0 (the default, "inherit") copies the inner TTL. */
  ttl?: number;
  /** pmtudisc: set DF on the outer header (the default for `ip link add type ipip`). */
  pmtudisc?: boolean;
}

export class IpipDevice extends NetDevice {
  readonly local: number;
  readonly ttl: number;
  readonly pmtudisc: boolean;

  constructor(ns: Netns, name: string, mtu: number, cfg: IpipConfig) {
    super(ns, name, 0, mtu);
    this.local = cfg.local;
    this.ttl = cfg.ttl ?? 0;
    this.pmtudisc = cfg.pmtudisc ?? true;
    ns.addProtocol(IPPROTO_IPIP, (dev, pkt) => this.rcv(dev, pkt));
  }

  override get noArp(): boolean {
    return true;
  }

  xmit(pkt: Packet): void {
    const route = pkt.route;
    pkt.route = null;
    const b = pkt.buf;
    // The neighbour layer (NOARP) left a zeroed header with ethertype IPv4 (skb->protocol).
    if (!this.up || ethType(b, pkt.off) !== ETHERTYPE_IPV4) {
      if (this.tap !== null) this.tap.capture(this, pkt, CaptureDirection.OUT);
      this.dropTx(pkt, this.up ? DropReason.UNHANDLED_PROTO : DropReason.DEV_READY);
      return;
    }
    const inner = pkt.off + ETH_HLEN;
    // ip_tunnel_xmit with remote any: the next hop of the route, else the inner destination.
    const dst = route !== null && route.via !== 0 ? route.via : ipv4Dst(b, inner);
    this.transmitted(pkt);
    const ttl = this.ttl !== 0 ? this.ttl : ipv4Ttl(b, inner);
    const tos = outerTos(b, inner);
    const df = this.pmtudisc || ipv4DontFragment(b, inner);
    pushHeaders(pkt, IPIP_OVERHEAD);
    pkt.scrub(false);
    this.ns.sendIp(pkt, IPPROTO_IPIP, this.local, dst, { dontFragment: df, ttl, tos });
  }

  /** ipip_rcv: a tunnel whose local address is the outer destination takes the packet. */
  private rcv(dev: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const outer = pkt.off + ETH_HLEN;
    if (!this.up || ipv4Dst(b, outer) !== this.local) {
      // tunnel4_rcv: no tunnel for it.
      this.ns.icmp.sendError(pkt, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
      dev.dropRx(pkt, DropReason.NOT_SPECIFIED);
      return;
    }
    const hl = ipv4HeaderLen(b, outer);
    const inner = outer + hl;
    const innerLen = ipv4TotalLength(b, outer) - hl;
    if (innerLen < IPV4_HEADER_LEN) {
      dev.dropRx(pkt, DropReason.PKT_TOO_SMALL);
      return;
    }
    pkt.off = inner - ETH_HLEN;
    pkt.len = innerLen + ETH_HLEN;
    setEthDst(b, pkt.off, 0);
    setEthSrc(b, pkt.off, 0);
    setEthType(b, pkt.off, ETHERTYPE_IPV4);
    pkt.scrub(false);
    this.ns.forgetDefrag(pkt);
    this.ns.backlog.enqueue(this, pkt);
  }
}
