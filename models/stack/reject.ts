import type { Netns } from './netns.js';
import { ctAttach } from './ct-attach.js';
import type { NfPacket, RejectKind } from '../netfilter/types.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { IPPROTO_TCP, IPV4_HEADER_LEN, ipv4Dst, ipv4HeaderLen, ipv4Src, ipv4TotalLength } from '../wire/ipv4.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, emitTcp, tcpAck, tcpDstPort, tcpFlags, tcpHeaderLen, tcpSeq, tcpSrcPort } from '../wire/tcp.js';

/** ICMP destination-unreachable codes of --reject-with (ipt_REJECT.c reject_tg). */
const REJECT_CODES: Record<Exclude<RejectKind, 'tcp-reset'>, number> = {
  'icmp-net-unreachable': 0,
  'icmp-host-unreachable': 1,
  'icmp-proto-unreachable': 2,
  'icmp-port-unreachable': 3,
  'icmp-net-prohibited': 9,
  'icmp-host-prohibited': 10,
  'icmp-admin-prohibited': 13,
};

/**
 * The REJECT target's answer (net/ipv4/netfilter/ipt_REJECT.c): an ICMP
 * destination unreachable through icmp_send (nf_send_unreach), or a TCP reset
 * (nf_send_reset) built from the offending segment.
 */
export function sendReject(ns: Netns, p: NfPacket, kind: RejectKind): void {
  if (kind !== 'tcp-reset') {
    ns.icmp.sendError(p.pkt, 3, REJECT_CODES[kind], 0, p);
    return;
  }
  sendTcpReset(ns, p);
}

/**
 * nf_send_reset (net/ipv4/netfilter/nf_reject_ipv4.c): never in answer to a
 * reset; to a segment with ACK, a RST with seq = its ack; otherwise a RST|ACK
 * acknowledging everything it carried (SYN and FIN count one each). Sent from
 * the segment's destination to its source, TTL from the route, no DF.
 */
function sendTcpReset(ns: Netns, p: NfPacket): void {
  const b = p.pkt.buf;
  const ip = p.ipOff;
  if (b[ip + 9] !== IPPROTO_TCP) return;
  const tcp = ip + ipv4HeaderLen(b, ip);
  const flags = tcpFlags(b, tcp);
  if (flags & TCP_RST) return;
  const payload = ipv4TotalLength(b, ip) - ipv4HeaderLen(b, ip) - tcpHeaderLen(b, tcp);
  const hasAck = (flags & TCP_ACK) !== 0;
  const seq = hasAck ? tcpAck(b, tcp) : 0;
  const ack = hasAck ? 0 : (tcpSeq(b, tcp) + payload + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0)) >>> 0;
  const src = ipv4Dst(b, ip);
  const dst = ipv4Src(b, ip);
  const rst = ns.newPacket(IPV4_HEADER_LEN + 20);
  const t = rst.off + ETH_HLEN + IPV4_HEADER_LEN;
  const srcPort = tcpDstPort(b, tcp);
  const dstPort = tcpSrcPort(b, tcp);
  // nf_send_reset: nf_ct_attach(nskb, oldskb), so NAT translates the RST like a reply.
  ctAttach(rst, p);
  ns.sendIp(rst, IPPROTO_TCP, src, dst, { dontFragment: false }, (s) =>
    emitTcp(
      { srcPort, dstPort, seq, ack, flags: hasAck ? TCP_RST : TCP_RST | TCP_ACK, window: 0, urgent: 0, options: {} },
      rst.buf,
      t,
      s,
      dst,
      0,
    ),
  );
}
