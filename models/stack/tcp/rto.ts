import type { TcpParams } from './params.js';

/**
 * The retransmission timeout estimator of RFC 6298 with Linux's bounds
 * (tcp_rtt_estimator / __tcp_set_rto, net/ipv4/tcp_input.c):
 *
 *   first sample R:  SRTT = R, RTTVAR = R/2
 *   later samples:   RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, SRTT = 7/8 SRTT + 1/8 R
 *   RTO = SRTT + max(4 RTTVAR, TCP_RTO_MIN)      (Linux floors the variance term
 *                                                 at rto_min, so a LAN RTO is ~200 ms + SRTT)
 *
 * Timeouts double per expiry (icsk_backoff, RFC 6298 5.5) up to TCP_RTO_MAX.
 */
export class RtoEstimator {
  srttNs = 0;
  rttvarNs = 0;
  hasSample = false;
  /** The RTO before backoff. */
  rtoNs: number;
  /** Consecutive expiries (icsk_backoff). */
  backoff = 0;

  constructor(private readonly p: TcpParams) {
    this.rtoNs = p.rtoInitNs;
  }

  sample(rttNs: number): void {
    if (!this.hasSample) {
      this.srttNs = rttNs;
      this.rttvarNs = rttNs / 2;
      this.hasSample = true;
    } else {
      this.rttvarNs = 0.75 * this.rttvarNs + 0.25 * Math.abs(this.srttNs - rttNs);
      this.srttNs = 0.875 * this.srttNs + 0.125 * rttNs;
    }
    this.rtoNs = Math.min(this.srttNs + Math.max(4 * this.rttvarNs, this.p.rtoMinNs), this.p.rtoMaxNs);
  }

  /** RFC 6298 5.7: a handshake whose SYN was retransmitted and gave no sample leaves RTO at 3 s. */
  fallback(): void {
    if (!this.hasSample) this.rtoNs = this.p.rtoFallbackNs;
  }

  /** The timeout to arm now: RTO << backoff, at most TCP_RTO_MAX (inet_csk_rto_backoff), in whole ns (the averages are not). */
  get timeoutNs(): number {
    return Math.floor(Math.min(this.rtoNs * 2 ** this.backoff, this.p.rtoMaxNs));
  }
}
