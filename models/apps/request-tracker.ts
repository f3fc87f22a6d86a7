import type { FlowStats } from '../stats/flow-stats.js';

/**
 * Matches answers to numbered requests for a flow: records the round trip of
 * the first answer to each, counts later copies as duplicates and answers
 * slower than the timeout as late (ping's and the UDP client's bookkeeping).
 */
export class RequestTracker {
  private readonly sentAt: number[] = [];
  private readonly answered: boolean[] = [];

  constructor(
    private readonly stats: FlowStats,
    private readonly timeoutNs: number,
  ) {}

  sent(seq: number, now: number): void {
    this.sentAt[seq] = now;
    this.answered[seq] = false;
    this.stats.sent++;
  }

  isAnswered(seq: number): boolean {
    return this.answered[seq] === true;
  }

  answer(seq: number, now: number): void {
    const sent = this.sentAt[seq];
    if (sent === undefined) return;
    if (this.answered[seq]) {
      this.stats.duplicates++;
      return;
    }
    this.answered[seq] = true;
    const rtt = now - sent;
    if (rtt > this.timeoutNs) this.stats.late++;
    else this.stats.record(rtt);
  }
}
