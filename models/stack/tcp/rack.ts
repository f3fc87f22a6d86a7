/**
 * RACK loss detection (RFC 8985 6, as net/ipv4/tcp_recovery.c runs it with
 * net.ipv4.tcp_recovery = 1): a segment is lost when a segment sent after it
 * has been delivered (ACKed or SACKed) and more than the delivered one's RTT
 * plus a reordering window has passed since it was sent.
 *
 * - tcp_rack_advance: each newly delivered segment updates the RTT and, when it
 *   was sent later than the one remembered (by time, then by end sequence), the
 *   remembered send time and end. A retransmitted segment delivered sooner than
 *   min_rtt after its last send is ambiguous (the original may have arrived) and
 *   is ignored.
 * - tcp_rack_reo_wnd: 0 while no reordering was seen, in recovery or once
 *   `reordering` segments are SACKed; else min_rtt / 4 (times reo_wnd_steps, 1
 *   here: growing it on D-SACKs is not modelled), at most SRTT.
 * - tcp_rack_detect_loss: every segment sent before the remembered one whose
 *   time is up is lost; the longest time still to wait arms the reordering timer.
 */
import { EVER_RETRANS, type DeliveryListener, type RetransmitQueue } from './rtx-queue.js';

/** net.ipv4.tcp_reordering: the initial reordering degree, in segments. */
export const TCP_REORDERING = 3;
/** net.ipv4.tcp_max_reordering */
export const TCP_MAX_REORDERING = 300;

/** tcp_skb_sent_after: sent at t1 with end seq1 went after t2, seq2. */
export function sentAfter(t1: number, t2: number, seq1: number, seq2: number): boolean {
  return t1 > t2 || (t1 === t2 && seq1 > seq2);
}

export class Rack implements DeliveryListener {
  /** rack.mstamp: send time of the most recently sent segment delivered, or -1. */
  sentAt = -1;
  /** rack.end_seq */
  endSeq = 0;
  /** rack.rtt_us, in ns. */
  rttNs = 0;
  /** rack.advanced: a delivery since the last loss detection. */
  advanced = false;
  /** tp->reord_seen: SACKs or ACKs showed reordering. */
  reordSeen = false;
  /** tp->reordering, in segments. */
  reordering = TCP_REORDERING;
  /** The clock and tcp_min_rtt, set before each ACK's deliveries. */
  private now = 0;
  private minRttNs = Infinity;

  /** Sets the clock and min_rtt that the deliveries of one ACK are judged by. */
  at(now: number, minRttNs: number): void {
    this.now = now;
    this.minRttNs = minRttNs;
  }

  /** tcp_rack_advance */
  delivered(flags: number, end: number, sentAt: number): void {
    const rtt = this.now - sentAt;
    if (rtt < this.minRttNs && (flags & EVER_RETRANS) !== 0) return;
    this.advanced = true;
    this.rttNs = rtt;
    if (sentAfter(sentAt, this.sentAt, end, this.endSeq)) {
      this.sentAt = sentAt;
      this.endSeq = end;
    }
  }

  /**
   * tcp_check_sack_reordering: a segment never retransmitted was delivered at
   * `low`, below the highest SACKed byte `fack`: reordering, of degree
   * (fack - low) / mss segments when that exceeds the current degree.
   */
  reorderingSeen(low: number, fack: number, mss: number): void {
    if (low >= fack) return;
    const metric = fack - low;
    if (metric > this.reordering * mss) this.reordering = Math.min(Math.ceil(metric / mss), TCP_MAX_REORDERING);
    this.reordSeen = true;
  }

  /** tcp_rack_reo_wnd, in ns. */
  reoWnd(inRecovery: boolean, sackedOut: number, srttNs: number): number {
    if (!this.reordSeen && (inRecovery || sackedOut >= this.reordering)) return 0;
    return Math.min(Math.floor(this.minRttNs / 4), srttNs);
  }

  /**
   * tcp_rack_detect_loss over `q` at `now`: marks lost what RACK finds lost and
   * returns the longest wait left (ns) for the others, 0 when none waits.
   */
  detectLoss(q: RetransmitQueue, now: number, reoWndNs: number): number {
    const mstamp = this.sentAt;
    const endSeq = this.endSeq;
    const rtt = this.rttNs;
    return q.detectLost((sentAt, end) => (sentAfter(mstamp, sentAt, endSeq, end) ? rtt + reoWndNs - (now - sentAt) : NaN));
  }
}
