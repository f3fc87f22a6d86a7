/**
 * TCP constants and sysctls with Linux defaults (include/net/tcp.h,
 * Documentation/networking/ip-sysctl.rst). Times are in ns.
 */
export interface TcpParams {
  /** TCP_TIMEOUT_INIT: the RTO before any RTT sample (RFC 6298 2.1). */
  rtoInitNs: number;
  /** TCP_RTO_MIN (Linux: 200 ms, not RFC 6298's 1 s). */
  rtoMinNs: number;
  /** TCP_RTO_MAX */
  rtoMaxNs: number;
  /** TCP_TIMEOUT_FALLBACK: RTO after a handshake with a retransmitted SYN and no RTT sample (RFC 6298 5.7). */
  rtoFallbackNs: number;
  /** net.ipv4.tcp_syn_retries */
  synRetries: number;
  /** net.ipv4.tcp_synack_retries */
  synackRetries: number;
  /**
   * net.ipv4.tcp_retries2 (counted as retransmissions, not converted to a time as tcp_retransmit_timer does);
   * also the number of unanswered window probes after which tcp_probe_timer gives up.
   */
  retries2: number;
  /** net.ipv4.tcp_invalid_ratelimit: the least time between ACKs answering out-of-window pure segments (tcp_oow_rate_limited). */
  invalidRatelimitNs: number;
  /** TCP_DELACK_MIN / TCP_ATO_MIN: the delayed-ACK timeout. */
  delackNs: number;
  /** TCP_MAX_QUICKACKS: segments ACKed at once when quick-ack mode starts. */
  maxQuickacks: number;
  /** TCP_TIMEWAIT_LEN */
  timewaitNs: number;
  /** TCP_INIT_CWND (RFC 6928), in segments. */
  initCwnd: number;
  /**
   * net.ipv4.tcp_rmem [min, default, max]: the receive buffer starts at the default and
   * DRS raises it up to max; max (or rmemMax) also sets the window scale this side
   * offers (tcp_select_initial_window: 6 MiB gives 7). See receive-window.ts.
   */
  rmem: readonly [number, number, number];
  /** net.core.rmem_max (4 MiB on the kernel 6.18 the kernel tests compare with; only enters the window scale). */
  rmemMax: number;
  /**
   * net.ipv4.tcp_wmem [min, default, max]: the send buffer starts at the default, and
   * tcp_sndbuf_expand raises it to two windows of full-sized skbs, up to max. A write
   * that finds it full waits (send-buffer.ts).
   */
  wmem: readonly [number, number, number];
  /** net.ipv4.tcp_moderate_rcvbuf: receive-buffer autotuning (DRS). */
  moderateRcvbuf: boolean;
  /** net.ipv4.tcp_timestamps */
  timestamps: boolean;
  /** net.ipv4.tcp_sack: offer SACK in the SYN; when both sides did, send SACK blocks and recover with them (RACK, rack.ts). */
  sack: boolean;
  /** net.ipv4.tcp_dsack: report duplicate segments with a D-SACK block (RFC 2883) when SACK is on. */
  dsack: boolean;
  /**
   * net.ipv4.tcp_early_retrans: 3 (the default) or 4 enable the tail loss probe (RFC 8985 7,
   * tcp_schedule_loss_probe), which Linux sends only on connections that agreed SACK; 0 turns it off.
   */
  earlyRetrans: number;
  /**
   * net.ipv4.tcp_limit_output_bytes (4 MiB in Linux 6.18): the most a socket without pacing may
   * have in qdiscs and device queues of this host (TCP small queues), whatever its rate.
   */
  limitOutputBytes: number;
  /** TCP_TIMEOUT_MIN (2 jiffies, 2 ms at HZ 1000): the loss probe's allowance when more than one segment is in flight. */
  timeoutMinNs: number;
  /**
   * net.ipv4.tcp_congestion_control: 'reno' (congestion.ts) or 'cubic' with HyStart
   * (cubic.ts, Linux's default). Reno stays the default until CUBIC is checked against
   * the kernel under loss: at 5 % random loss and a 2 ms RTT it took twice Reno's
   * timeouts (test/models/tcp/loss-recovery-bulk.test.ts with 'cubic').
   */
  congestionControl: 'reno' | 'cubic';
  /** net.ipv4.ip_local_port_range */
  ephemeralLow: number;
  ephemeralHigh: number;
}

export const DEFAULT_TCP_PARAMS: TcpParams = {
  rtoInitNs: 1e9,
  rtoMinNs: 200e6,
  rtoMaxNs: 120e9,
  rtoFallbackNs: 3e9,
  synRetries: 6,
  synackRetries: 5,
  retries2: 15,
  invalidRatelimitNs: 500e6,
  delackNs: 40e6,
  maxQuickacks: 16,
  timewaitNs: 60e9,
  initCwnd: 10,
  rmem: [4096, 131072, 6291456],
  rmemMax: 4194304,
  wmem: [4096, 16384, 4194304],
  moderateRcvbuf: true,
  timestamps: true,
  sack: true,
  dsack: true,
  earlyRetrans: 3,
  limitOutputBytes: 4 * 1024 * 1024,
  timeoutMinNs: 2e6,
  congestionControl: 'reno',
  ephemeralLow: 32768,
  ephemeralHigh: 60999,
};

/** IPv4 (20) + TCP (20) header bytes: MSS = route MTU - 40 (tcp_mtu_to_mss). */
export const TCP_IPV4_OVERHEAD = 40;
/** TCPOLEN_TSTAMP_ALIGNED: bytes of the timestamp option on every segment once negotiated. */
export const TS_OPTION_LEN = 12;
