/**
 * The sender's SACK scoreboard: the SACKed ranges above the cumulative ACK,
 * sorted and merged, byte-exact. Offsets are stream offsets (connection.ts).
 * Linux keeps the same facts per skb (TCPCB_SACKED_ACKED, tcp_sacktag_write_queue);
 * the retransmit queue (rtx-queue.ts) holds that per-segment view for RACK.
 */

/** The duplicate ACKs NewReno's fast retransmit waits for (RFC 5681 3.2; tp->reordering = 3). */
export const DUP_THRESH = 3;

interface Range {
  start: number;
  end: number;
}

export class SackScoreboard {
  /** SACKed ranges above the cumulative ACK, ascending, disjoint and not touching. */
  private readonly ranges: Range[] = [];
  /** Bytes SACKed in total (the sum over ranges). */
  sacked = 0;

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** HighSACK: the end of the highest SACKed range, or -1. */
  get highSacked(): number {
    const r = this.ranges;
    return r.length === 0 ? -1 : r[r.length - 1]!.end;
  }

  /** The SACKed ranges as [start, end) pairs, ascending (for tests and tracing). */
  blocks(): [number, number][] {
    return this.ranges.map((r) => [r.start, r.end]);
  }

  /** Marks [start, end) SACKed (RFC 6675 Update()). Returns the bytes newly SACKed. */
  add(start: number, end: number): number {
    if (end <= start) return 0;
    const q = this.ranges;
    let i = 0;
    while (i < q.length && q[i]!.end < start) i++;
    let j = i;
    let covered = 0;
    let s = start;
    let e = end;
    while (j < q.length && q[j]!.start <= end) {
      const r = q[j]!;
      covered += Math.max(0, Math.min(r.end, end) - Math.max(r.start, start));
      s = Math.min(s, r.start);
      e = Math.max(e, r.end);
      j++;
    }
    let before = 0;
    for (let k = i; k < j; k++) before += q[k]!.end - q[k]!.start;
    q.splice(i, j - i, { start: s, end: e });
    this.sacked += e - s - before;
    return end - start - covered;
  }

  /** The cumulative ACK moved to `una`: forget what lies below it. */
  advance(una: number): void {
    const q = this.ranges;
    let n = 0;
    while (n < q.length && q[n]!.end <= una) {
      this.sacked -= q[n]!.end - q[n]!.start;
      n++;
    }
    if (n > 0) q.splice(0, n);
    const first = q[0];
    if (first !== undefined && first.start < una) {
      this.sacked -= una - first.start;
      first.start = una;
    }
  }

  clear(): void {
    this.ranges.length = 0;
    this.sacked = 0;
  }

  /** SACKed bytes below `off`. */
  sackedBelow(off: number): number {
    let n = 0;
    for (const r of this.ranges) {
      if (r.start >= off) break;
      n += Math.min(r.end, off) - r.start;
    }
    return n;
  }

  /** `off` if it is not SACKed, else the end of the SACKed range holding it. */
  skipSacked(off: number): number {
    for (const r of this.ranges) {
      if (r.start > off) break;
      if (off < r.end) return r.end;
    }
    return off;
  }
}
