/**
 * Why a frame was dropped. Names follow the kernel's SKB_DROP_REASON_* list
 * (include/net/dropreason-core.h) so a drop in podwire reads like the
 * corresponding `kfree_skb` tracepoint; the few reasons without a kernel
 * counterpart are marked.
 */
export const DropReason = {
  NOT_SPECIFIED: 'NOT_SPECIFIED',
  /** Device administratively down (no carrier). */
  DEV_READY: 'DEV_READY',
  /** Transmit queue full (txqueuelen). */
  QDISC_DROP: 'QDISC_DROP',
  /** Frame larger than the device MTU. */
  PKT_TOO_BIG: 'PKT_TOO_BIG',
  PKT_TOO_SMALL: 'PKT_TOO_SMALL',
  /** Frame not addressed to this host (pkt_type OTHERHOST at ip_rcv). */
  OTHERHOST: 'OTHERHOST',
  IP_CSUM: 'IP_CSUM',
  IP_INHDR: 'IP_INHDR',
  /** No route to the destination on input (forwarding). */
  IP_INNOROUTES: 'IP_INNOROUTES',
  /** Packet for another host arrived where forwarding is off. */
  IP_INADDRERRORS: 'IP_INADDRERRORS',
  /** No route for a locally generated packet. */
  IP_OUTNOROUTES: 'IP_OUTNOROUTES',
  IP_NOPROTO: 'IP_NOPROTO',
  /** TTL expired in forwarding (ICMP time exceeded sent). */
  IP_TTL_EXPIRED: 'IP_TTL_EXPIRED',
  NO_SOCKET: 'NO_SOCKET',
  /** A netfilter hook returned NF_DROP (DROP or REJECT). */
  NETFILTER_DROP: 'NETFILTER_DROP',
  /** No protocol handler for the frame's ethertype. */
  UNHANDLED_PROTO: 'UNHANDLED_PROTO',
  ICMP_CSUM: 'ICMP_CSUM',
  UDP_CSUM: 'UDP_CSUM',
  TCP_CSUM: 'TCP_CSUM',
  /** ICMP error suppressed by icmp_ratelimit (not a packet drop of the original). */
  ICMP_RATELIMIT: 'ICMP_RATELIMIT',
  /** Neighbour resolution failed (ICMP host unreachable sent). */
  NEIGH_FAILED: 'NEIGH_FAILED',
  /** Too many packets waiting for neighbour resolution. */
  NEIGH_QUEUEFULL: 'NEIGH_QUEUEFULL',
  /** Bridge: ingress port not forwarding / frame would go back out its port. */
  BRIDGE_NO_EGRESS: 'BRIDGE_NO_EGRESS',
  /** Lost on the wire (podwire's seeded loss model; no kernel counterpart). */
  LINK_LOSS: 'LINK_LOSS',
  /** Allocation failed; for fragments: the reassembly queues hold more than ipfrag_high_thresh. */
  NOMEM: 'NOMEM',
  /** A fragment whose queue did not complete within ipfrag_time (ip_expire). */
  FRAG_REASM_TIMEOUT: 'FRAG_REASM_TIMEOUT',
  /** A fragment whose bytes were all queued already (inet_frag_queue_insert: IPFRAG_DUP). */
  DUP_FRAG: 'DUP_FRAG',
  /** A fragment overlapping queued data: the whole queue is discarded (RFC 5722; podwire's name, the kernel counts IpReasmOverlaps). */
  IP_FRAG_OVERLAP: 'IP_FRAG_OVERLAP',
  /** A fragment inconsistent with its queue: empty, or an end that contradicts the known length (ip_frag_queue discard_qp; podwire's name). */
  IP_FRAG_INVALID: 'IP_FRAG_INVALID',
  /** VXLAN: no FDB entry names a remote VTEP for the inner destination MAC (vxlan_xmit). */
  VXLAN_NO_REMOTE: 'VXLAN_NO_REMOTE',
  /** VXLAN: flags or reserved bits other than I set, or a truncated header (vxlan_rcv). */
  VXLAN_INVALID_HDR: 'VXLAN_INVALID_HDR',
  /** VXLAN: no device on the socket has the packet's VNI (vxlan_rcv). */
  VXLAN_VNI_NOT_FOUND: 'VXLAN_VNI_NOT_FOUND',
  /** Not modelled by podwire yet (named in the drop so it is never silent). */
  UNSUPPORTED: 'UNSUPPORTED',
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];
