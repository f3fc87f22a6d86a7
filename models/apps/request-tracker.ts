import type { FlowStats } from '../stats/flow-stats.js';

/** sentAt of an answered request (simulated time is never negative). */
const ANSWERED = -1;

/**
 * Matches answers to numbered requests for a flow: records the round trip of
 * the first answer to each, counts later copies as duplicates and answers
 * slower than the timeout as late (ping's and the UDP client's bookkeeping).
 */
export class RequestTracker {
  /**
   * When each request was sent, or ANSWERED once its first answer came: one
   * array, not a second one of flags, since every send and answer of a large
   * run finds the tracker out of cache.
   */
  private readonly sentAt: number[] = [];

  constructor(
    private readonly stats: FlowStats,
    private readonly timeoutNs: number,
  ) {}

  sent(seq: number, now: number): void {
    this.sentAt[seq] = now;
    this.stats.sent++;
  }

  isAnswered(seq: number): boolean {
    return this.sentAt[seq] === ANSWERED;
  }

  answer(seq: number, now: number): void {
    const sent = this.sentAt[seq];
    if (sent === undefined) return;
    if (sent === ANSWERED) {
      this.stats.duplicates++;
      return;
    }
    this.sentAt[seq] = ANSWERED;
    const rtt = now - sent;
    if (rtt > this.timeoutNs) this.stats.late++;
    else this.stats.record(rtt);
  }
}
