import type { TcpParams } from './params.js';

/**
 * The persist (zero-window probe) timer's intervals, as include/net/tcp.h
 * computes them. The probe timer (ICSK_TIME_PROBE0) shares icsk_backoff with
 * the retransmission timer; only one of the two is pending at a time.
 *
 *   tcp_probe0_base   max(RTO, TCP_RTO_MIN): the first probe's delay
 *                     (tcp_check_probe_timer arms it without backoff)
 *   tcp_probe0_when   base << backoff, the shift capped at
 *                     ilog2(TCP_RTO_MAX / TCP_RTO_MIN) + 1, the result at TCP_RTO_MAX
 *
 * tcp_send_probe0 raises icsk_backoff by one per probe while it is below
 * tcp_retries2, so a closed window is probed at 1, 2, 4, ... times the base
 * up to one probe per 120 s.
 */

/** tcp_probe0_base: the RTO before backoff, at least TCP_RTO_MIN (ns). */
export function probe0BaseNs(rtoNs: number, p: TcpParams): number {
  return Math.max(rtoNs, p.rtoMinNs);
}

/** tcp_probe0_when: the probe interval after `backoff` probes (ns, whole). */
export function probe0WhenNs(rtoNs: number, backoff: number, p: TcpParams): number {
  const maxShift = Math.floor(Math.log2(p.rtoMaxNs / p.rtoMinNs)) + 1;
  const shift = Math.min(backoff, maxShift);
  return Math.floor(Math.min(probe0BaseNs(rtoNs, p) * 2 ** shift, p.rtoMaxNs));
}
