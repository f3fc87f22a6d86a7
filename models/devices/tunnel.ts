/**
 * What the IPv4 tunnel devices (vxlan.ts, ipip.ts) share: pushing outer
 * headers in front of a frame, and the ECN rule of RFC 6040 that
 * ip_tunnel_ecn_encap applies to the outer TOS.
 */
import { HEADROOM, type Packet } from '../packet.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ethType } from '../wire/ethernet.js';
import { ipv4DscpEcn } from '../wire/ipv4.js';

const ECN_MASK = 3;
const ECN_ECT_0 = 2;
const ECN_CE = 3;

/**
 * skb_cow_head + __skb_push: makes `n` bytes in front of the frame. The bytes
 * move only when the headroom is short (a packet that has crossed several
 * tunnels), as the kernel reallocates only then.
 */
export function pushHeaders(pkt: Packet, n: number): void {
  // skb_cow_head: a frame whose bytes a flood shares gets its own first.
  pkt.unshare();
  if (pkt.off >= n) {
    pkt.off -= n;
    pkt.len += n;
    return;
  }
  const buf = new Uint8Array(HEADROOM + n + pkt.len);
  buf.set(pkt.buf.subarray(pkt.off, pkt.off + pkt.len), HEADROOM + n);
  pkt.buf = buf;
  pkt.off = HEADROOM;
  pkt.len += n;
}

/**
 * ip_tunnel_ecn_encap with a configured TOS of 0 (flannel's devices): the
 * outer header copies the inner ECN field, except CE, which becomes ECT(0)
 * (INET_ECN_encapsulate). `ip` is the inner IPv4 header, or -1 when the inner
 * frame is not IPv4.
 */
export function outerTos(buf: Uint8Array, ip: number): number {
  if (ip < 0) return 0;
  const ecn = ipv4DscpEcn(buf, ip) & ECN_MASK;
  return ecn === ECN_CE ? ECN_ECT_0 : ecn;
}

/** The offset of the IPv4 header of an Ethernet frame at `off`, or -1 for another ethertype. */
export function innerIpv4(buf: Uint8Array, off: number): number {
  return ethType(buf, off) === ETHERTYPE_IPV4 ? off + ETH_HLEN : -1;
}
