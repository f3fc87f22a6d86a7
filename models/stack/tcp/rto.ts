import type { TcpParams } from './params.js';

/**
 * The retransmission timeout estimator as Linux runs it (tcp_rtt_estimator,
 * __tcp_set_rto and tcp_bound_rto, net/ipv4/tcp_input.c), in whole
 * microseconds as the kernel keeps them. Every ACK that newly covers data
 * never retransmitted gives a sample (tcp_ack_update_rtt):
 *
 *   first sample m:  srtt = m, mdev = m/2, rttvar = max(4 mdev, rto_min)
 *   later samples:   srtt += (m - srtt) / 8; 4 mdev += (|m - srtt| - 4 mdev) / 4, with a
 *                    gain 8 times smaller when the RTT fell (Linux's variant of Eifel);
 *                    rttvar follows the largest 4 mdev of the current window of data
 *                    (mdev_max, at least rto_min) and decays towards it by a quarter
 *                    once per window (rtt_seq)
 *   RTO = srtt + rttvar, rounded up to whole jiffies (1 ms), at most TCP_RTO_MAX
 *
 * so a LAN RTO is ~200 ms + SRTT. Timeouts double per expiry (icsk_backoff,
 * RFC 6298 5.5) up to TCP_RTO_MAX.
 */
export class RtoEstimator {
  /** srtt_us << 3 */
  private srtt8 = 0;
  /** mdev_us, mdev_max_us and rttvar_us: 4 times the mean deviation, in µs. */
  private mdevUs = 0;
  private mdevMaxUs = 0;
  private rttvarUs = 0;
  /** rtt_seq: the end of the window of data whose samples rttvar follows. */
  private rttSeq = 0;
  hasSample = false;
  /** The RTO before backoff. */
  rtoNs: number;
  /** Consecutive expiries (icsk_backoff). */
  backoff = 0;

  constructor(private readonly p: TcpParams) {
    this.rtoNs = p.rtoInitNs;
  }

  /** SRTT (srtt_us >> 3), in ns. */
  get srttNs(): number {
    return (this.srtt8 >> 3) * 1000;
  }

  /** rttvar_us, in ns. */
  get rttvarNs(): number {
    return this.rttvarUs * 1000;
  }

  /** tcp_rtt_estimator and tcp_set_rto: a sample of `rttNs`, taken when the cumulative ACK is `sndUna` and `sndNxt` was sent. */
  sample(rttNs: number, sndUna: number, sndNxt: number): void {
    let m = Math.floor(rttNs / 1000);
    const rtoMinUs = Math.floor(this.p.rtoMinNs / 1000);
    let srtt = this.srtt8;
    if (srtt !== 0) {
      m -= srtt >> 3; // the error in the estimate
      srtt += m;
      if (m < 0) {
        m = -m - (this.mdevUs >> 2);
        if (m > 0) m >>= 3;
      } else m -= this.mdevUs >> 2;
      this.mdevUs += m;
      if (this.mdevUs > this.mdevMaxUs) {
        this.mdevMaxUs = this.mdevUs;
        if (this.mdevMaxUs > this.rttvarUs) this.rttvarUs = this.mdevMaxUs;
      }
      if (sndUna > this.rttSeq) {
        if (this.mdevMaxUs < this.rttvarUs) this.rttvarUs -= (this.rttvarUs - this.mdevMaxUs) >> 2;
        this.rttSeq = sndNxt;
        this.mdevMaxUs = rtoMinUs;
      }
    } else {
      srtt = m << 3;
      this.mdevUs = m << 1; // rto = 3 rtt
      this.rttvarUs = Math.max(this.mdevUs, rtoMinUs);
      this.mdevMaxUs = this.rttvarUs;
      this.rttSeq = sndNxt;
    }
    this.srtt8 = Math.max(1, srtt);
    this.hasSample = true;
    // __tcp_set_rto: usecs_to_jiffies rounds up (HZ 1000); tcp_bound_rto.
    const rtoUs = (this.srtt8 >> 3) + this.rttvarUs;
    this.rtoNs = Math.min(Math.ceil(rtoUs / 1000) * 1e6, this.p.rtoMaxNs);
  }

  /** RFC 6298 5.7: a handshake whose SYN was retransmitted and gave no sample leaves RTO at 3 s. */
  fallback(): void {
    if (!this.hasSample) this.rtoNs = this.p.rtoFallbackNs;
  }

  /** The timeout to arm now: RTO << backoff, at most TCP_RTO_MAX (inet_csk_rto_backoff). */
  get timeoutNs(): number {
    return Math.floor(Math.min(this.rtoNs * 2 ** this.backoff, this.p.rtoMaxNs));
  }
}
