/**
 * The sender's SACK scoreboard and the RFC 6675 queries loss recovery asks of
 * it: IsLost, the pipe estimate (SetPipe) and NextSeg. Offsets are stream
 * offsets (connection.ts), byte-exact rather than per segment.
 *
 * The scoreboard keeps the SACKed ranges above the cumulative ACK, sorted and
 * merged. IsLost (DupThresh 3) is monotone in the offset: an unSACKed byte is
 * lost when three discontiguous SACKed ranges, or more than 2 x SMSS SACKed
 * bytes, lie above it; so the lost bytes are the unSACKed ones below one
 * boundary (`lostEnd`), which SetPipe and NextSeg walk hole by hole.
 *
 * Linux keeps the same scoreboard per skb (tcp_sacktag_write_queue) but marks
 * losses with RACK since 4.18; this is RFC 6675's rule instead.
 */

/** RFC 6675 DupThresh. */
export const DUP_THRESH = 3;

interface Range {
  start: number;
  end: number;
}

/** A hole NextSeg picked: resend up to `len` bytes at `off`. */
export interface NextSegment {
  off: number;
  len: number;
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

  /** RFC 6675 Update(): marks [start, end) SACKed. Returns the bytes newly SACKed. */
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

  /**
   * The lost boundary: an unSACKed byte below it is lost (IsLost), one above
   * it is not. The start of the highest range with DupThresh ranges or more
   * than (DupThresh - 1) x SMSS SACKed bytes from it upwards; -1 when none.
   */
  lostEnd(mss: number): number {
    const q = this.ranges;
    let bytes = 0;
    for (let i = q.length - 1; i >= 0; i--) {
      bytes += q[i]!.end - q[i]!.start;
      if (q.length - i >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss) return q[i]!.start;
    }
    return -1;
  }

  /** RFC 6675 IsLost(off), for an unSACKed `off`. */
  isLost(off: number, mss: number): boolean {
    return off < this.lostEnd(mss);
  }

  /**
   * RFC 6675 SetPipe(): over the unSACKed bytes of [una, sndMax), one for
   * each that is not lost, and one more for each retransmitted (below highRxt).
   */
  pipe(una: number, sndMax: number, highRxt: number, mss: number): number {
    const lost = this.lostEnd(mss);
    return this.unsackedIn(Math.max(una, lost), sndMax) + this.unsackedIn(una, Math.min(highRxt, sndMax));
  }

  /** UnSACKed bytes in [from, to). */
  private unsackedIn(from: number, to: number): number {
    if (to <= from) return 0;
    let n = to - from;
    for (const r of this.ranges) {
      if (r.start >= to) break;
      n -= Math.max(0, Math.min(r.end, to) - Math.max(r.start, from));
    }
    return n;
  }

  /**
   * RFC 6675 NextSeg() rule (1) with `lostOnly`, else rule (3): the first
   * unSACKed bytes at or above max(una, highRxt) and below HighSACK (and, for
   * rule 1, lost), at most `mss` of them and never into a SACKed range.
   * Null when there are none.
   */
  nextHole(una: number, highRxt: number, mss: number, lostOnly: boolean): NextSegment | null {
    const limit = lostOnly ? this.lostEnd(mss) : this.highSacked;
    let off = Math.max(una, highRxt);
    for (const r of this.ranges) {
      if (off >= limit) return null;
      if (off < r.start) return { off, len: Math.min(mss, r.start - off, limit - off) };
      if (off < r.end) off = r.end;
    }
    return null;
  }
}
