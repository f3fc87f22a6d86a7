/**
 * Connection-tracking timeouts and the tracker sysctls podwire honours, with
 * the defaults of Linux 6.x (the kernel-ref machine, 6.18, reports the same
 * values in kernel-ref/<scenario>/topology.json). All times in ns.
 *
 * Sources:
 * - tcp_timeouts[] in net/netfilter/nf_conntrack_proto_tcp.c: SYN_SENT 2 min,
 *   SYN_RECV 60 s, ESTABLISHED 5 days, FIN_WAIT 2 min, CLOSE_WAIT 60 s,
 *   LAST_ACK 30 s, TIME_WAIT 2 min, CLOSE 10 s, SYN_SENT2 2 min, RETRANS 5 min,
 *   UNACK 5 min; tcp_loose 1, tcp_be_liberal 0, tcp_max_retrans 3
 *   (nf_conntrack_tcp_init_net).
 * - udp_timeouts[] in nf_conntrack_proto_udp.c: UNREPLIED 30 s, REPLIED
 *   ("stream") 120 s (it was 180 s before 5.x).
 * - nf_ct_icmp_timeout = 30 s (nf_conntrack_proto_icmp.c).
 * - nf_ct_generic_timeout = 600 s (nf_conntrack_proto_generic.c).
 */
import { SECOND } from '../../../engine/time.js';

const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

export interface CtTimeouts {
  /** net.netfilter.nf_conntrack_tcp_timeout_syn_sent */
  tcpSynSent: number;
  tcpSynRecv: number;
  /** nf_conntrack_tcp_timeout_established */
  tcpEstablished: number;
  tcpFinWait: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  tcpTimeWait: number;
  tcpClose: number;
  /** SYN_SENT2 (simultaneous open) */
  tcpSynSent2: number;
  /** nf_conntrack_tcp_timeout_max_retrans */
  tcpRetrans: number;
  /** nf_conntrack_tcp_timeout_unacknowledged */
  tcpUnack: number;
  /** nf_conntrack_udp_timeout */
  udp: number;
  /** nf_conntrack_udp_timeout_stream */
  udpStream: number;
  /** nf_conntrack_icmp_timeout */
  icmp: number;
  /** nf_conntrack_generic_timeout */
  generic: number;
}

export const DEFAULT_TIMEOUTS: Readonly<CtTimeouts> = {
  tcpSynSent: 2 * MINUTE,
  tcpSynRecv: 60 * SECOND,
  tcpEstablished: 5 * DAY,
  tcpFinWait: 2 * MINUTE,
  tcpCloseWait: 60 * SECOND,
  tcpLastAck: 30 * SECOND,
  tcpTimeWait: 2 * MINUTE,
  tcpClose: 10 * SECOND,
  tcpSynSent2: 2 * MINUTE,
  tcpRetrans: 5 * MINUTE,
  tcpUnack: 5 * MINUTE,
  udp: 30 * SECOND,
  udpStream: 120 * SECOND,
  icmp: 30 * SECOND,
  generic: 600 * SECOND,
};

/** TCP tracker switches (nf_tcp_net). */
export interface TcpTrackerConfig {
  /** nf_conntrack_tcp_loose: pick up connections from their middle (an ACK with no entry). */
  loose: boolean;
  /** nf_conntrack_tcp_max_retrans */
  maxRetrans: number;
}

export const DEFAULT_TCP_CONFIG: Readonly<TcpTrackerConfig> = { loose: true, maxRetrans: 3 };
