/**
 * The retransmit queue: one record per segment sent and not yet cumulatively
 * ACKed, as Linux keeps an skb per segment run in tcp_rtx_queue with its
 * TCP_SKB_CB(skb)->sacked bits and its send time (skb->skb_mstamp_ns). Offsets
 * are stream offsets (connection.ts); a record covers [start, end), its FIN
 * included. Records are created in sequence order as new data goes out and
 * keep their bounds; a retransmission updates the send time of every record it
 * overlaps.
 *
 * The queue keeps Linux's lost_out and retrans_out, in bytes, so that
 * tcp_packets_in_flight (packets_out - sacked_out - lost_out + retrans_out) is
 * one subtraction away.
 */

/** TCPCB_EVER_RETRANS: sent more than once. */
export const EVER_RETRANS = 1;
/** TCPCB_SACKED_RETRANS: a retransmission of it is in flight (counted in retransOut). */
export const RETRANS_OUT = 2;
/** TCPCB_LOST: marked lost and not SACKed since (counted in lostOut). */
export const LOST = 4;
/** TCPCB_SACKED_ACKED: the peer SACKed all of it. */
export const SACKED = 8;

/** Who hears about each record a cumulative ACK or a SACK newly delivers (tcp_rack_advance). */
export interface DeliveryListener {
  delivered(flags: number, end: number, sentAt: number): void;
}

export class RetransmitQueue {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly sentAt: number[] = [];
  private readonly flags: number[] = [];
  private head = 0;
  /** lost_out, in bytes: records marked lost and neither SACKed nor ACKed. */
  lostOut = 0;
  /** retrans_out, in bytes: records whose retransmission is in flight. */
  retransOut = 0;
  /** Records SACKed (sacked_out, in segments). */
  sackedOut = 0;
  /** Records delivered (ACKed without an earlier SACK, or SACKed) so far, for tcp_newly_delivered. */
  delivered = 0;
  /** Records marked lost so far (tp->lost), for the losses one ACK found. */
  markedLost = 0;

  // What the last ackTo() removed, for the RTT samples (tcp_clean_rtx_queue).
  /** first_ackt and last_ackt: send times of the oldest and newest removed records never resent nor SACKed, or -1. */
  ackedFirstAt = -1;
  ackedLastAt = -1;
  /** first_sackt and last_sackt: the same for records SACKed since startAck(), or -1. */
  sackedFirstAt = -1;
  sackedLastAt = -1;
  /** Some removed record was sent more than once (FLAG_RETRANS_DATA_ACKED). */
  ackedRetrans = false;
  /** The lowest start of a removed record neither SACKed nor ever retransmitted, or Infinity (reordering). */
  ackedOriginalLow = Infinity;

  get size(): number {
    return this.ends.length - this.head;
  }

  /** Send time of the first record (tcp_rtx_queue_head's skb_mstamp_ns), or -1 when the queue is empty. */
  get headSentAt(): number {
    return this.head < this.ends.length ? this.sentAt[this.head]! : -1;
  }

  /** New data [start, end) went out at `now` (tcp_event_new_data_sent). */
  push(start: number, end: number, now: number): void {
    this.starts.push(start);
    this.ends.push(end);
    this.sentAt.push(now);
    this.flags.push(0);
  }

  /**
   * tcp_clean_rtx_queue: forget what lies below `una`. A record only partly
   * below it is trimmed. Sets ackedFirstAt, ackedLastAt, ackedRetrans and ackedOriginalLow,
   * and tells `listener` of each record delivered that was not SACKed before.
   */
  ackTo(una: number, listener: DeliveryListener | null): void {
    let i = this.head;
    this.ackedFirstAt = -1;
    this.ackedLastAt = -1;
    this.ackedRetrans = false;
    this.ackedOriginalLow = Infinity;
    const ends = this.ends;
    while (i < ends.length && ends[i]! <= una) {
      const f = this.flags[i]!;
      this.dropCounts(i, f, ends[i]! - this.starts[i]!);
      if ((f & EVER_RETRANS) !== 0) this.ackedRetrans = true;
      else if ((f & SACKED) === 0) {
        if (this.ackedOriginalLow === Infinity) this.ackedOriginalLow = this.starts[i]!;
        if (this.ackedFirstAt < 0) this.ackedFirstAt = this.sentAt[i]!;
        this.ackedLastAt = this.sentAt[i]!;
      }
      if ((f & SACKED) === 0) {
        this.delivered++;
        if (listener !== null) listener.delivered(f, ends[i]!, this.sentAt[i]!);
      }
      i++;
    }
    this.head = i;
    if (i < ends.length && this.starts[i]! < una) {
      const f = this.flags[i]!;
      const cut = una - this.starts[i]!;
      if ((f & LOST) !== 0) this.lostOut -= cut;
      if ((f & RETRANS_OUT) !== 0) this.retransOut -= cut;
      this.starts[i] = una;
    }
    if (i > 1024 && i * 2 > ends.length) {
      this.starts.splice(0, i);
      this.ends.splice(0, i);
      this.sentAt.splice(0, i);
      this.flags.splice(0, i);
      this.head = 0;
    }
  }

  private dropCounts(i: number, f: number, len: number): void {
    if ((f & LOST) !== 0) this.lostOut -= len;
    if ((f & RETRANS_OUT) !== 0) this.retransOut -= len;
    if ((f & SACKED) !== 0) this.sackedOut--;
    this.flags[i] = 0;
  }

  /** An ACK begins: forget the SACK send times of the previous one. */
  startAck(): void {
    this.sackedFirstAt = -1;
    this.sackedLastAt = -1;
  }

  /** The first record ending after `off` (binary search), or the queue's length. */
  private indexAfter(off: number): number {
    let lo = this.head;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * [off, end) went out again at `now` (tcp_retransmit_skb): every record it
   * overlaps is retransmitted (EVER_RETRANS), has a retransmission in flight
   * (RETRANS_OUT) and takes the new send time.
   */
  retransmitted(off: number, end: number, now: number): void {
    for (let i = this.indexAfter(off); i < this.ends.length && this.starts[i]! < end; i++) {
      const f = this.flags[i]!;
      if ((f & RETRANS_OUT) === 0) this.retransOut += this.ends[i]! - this.starts[i]!;
      this.flags[i] = f | EVER_RETRANS | RETRANS_OUT;
      this.sentAt[i] = now;
    }
  }

  /**
   * tcp_sacktag_one for the records that `covered(start, end)` now says the peer
   * SACKed in full, within [from, to): SACKED set, LOST and RETRANS_OUT cleared.
   * Tells `listener` of each. Returns the lowest start of those never
   * retransmitted and below `priorHighSacked` (reordering), or Infinity.
   */
  markSacked(from: number, to: number, covered: (start: number, end: number) => boolean, priorHighSacked: number, listener: DeliveryListener | null): number {
    let reord = Infinity;
    for (let i = this.indexAfter(from); i < this.ends.length && this.starts[i]! < to; i++) {
      const f = this.flags[i]!;
      if ((f & SACKED) !== 0) continue;
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (!covered(s, e)) continue;
      if (listener !== null) listener.delivered(f, e, this.sentAt[i]!);
      if ((f & EVER_RETRANS) === 0) {
        if (s < priorHighSacked && s < reord) reord = s;
        if (this.sackedFirstAt < 0) this.sackedFirstAt = this.sentAt[i]!;
        this.sackedLastAt = this.sentAt[i]!;
      }
      if ((f & LOST) !== 0) this.lostOut -= e - s;
      if ((f & RETRANS_OUT) !== 0) this.retransOut -= e - s;
      this.flags[i] = (f & ~(LOST | RETRANS_OUT)) | SACKED;
      this.sackedOut++;
      this.delivered++;
    }
    return reord;
  }

  /**
   * tcp_mark_skb_lost for record i: a record not yet lost becomes LOST (a
   * retransmission of it in flight stays counted); one already lost whose
   * retransmission is in flight has lost that retransmission too.
   */
  private markLostAt(i: number): void {
    const f = this.flags[i]!;
    if ((f & SACKED) !== 0) return;
    const len = this.ends[i]! - this.starts[i]!;
    if ((f & LOST) !== 0) {
      if ((f & RETRANS_OUT) !== 0) {
        this.flags[i] = f & ~RETRANS_OUT;
        this.retransOut -= len;
      }
    } else {
      this.flags[i] = f | LOST;
      this.lostOut += len;
      this.markedLost++;
    }
  }

  /**
   * tcp_rack_detect_loss's walk: for each record neither SACKED nor lost and
   * waiting for its retransmission, `judge(sentAt, end)` returns how long it
   * may still wait (ns); at 0 or less it is marked lost (tcp_mark_skb_lost).
   * Returns the longest wait left among the rest, or 0. `judge` is called in
   * sequence order; NaN means "not sent before the latest delivery", skipped.
   */
  detectLost(judge: (sentAt: number, end: number) => number): number {
    let wait = 0;
    for (let i = this.head; i < this.ends.length; i++) {
      const f = this.flags[i]!;
      if ((f & SACKED) !== 0 || (f & (LOST | RETRANS_OUT)) === LOST) continue;
      const left = judge(this.sentAt[i]!, this.ends[i]!);
      if (left <= 0) this.markLostAt(i);
      else if (left > wait) wait = left;
    }
    return wait;
  }

  /**
   * tcp_timeout_mark_lost: after a retransmission timeout, the head and every
   * record sent at least `rackRttNs` before `now` is lost; one sent more
   * recently may still be on its way. A SACKed head means the receiver reneged:
   * every SACK mark is forgotten first (the caller clears its scoreboard).
   * Returns whether it reneged.
   */
  timeoutMarkLost(now: number, rackRttNs: number): boolean {
    const reneged = this.head < this.ends.length && (this.flags[this.head]! & SACKED) !== 0;
    if (reneged) {
      for (let i = this.head; i < this.flags.length; i++) this.flags[i] = this.flags[i]! & ~SACKED;
      this.sackedOut = 0;
    }
    for (let i = this.head; i < this.ends.length; i++) {
      if (i !== this.head && !reneged && rackRttNs - (now - this.sentAt[i]!) > 0) continue;
      this.markLostAt(i);
    }
    return reneged;
  }

  /** Marks lost every record overlapping [from, to) (tcp_simple_retransmit). */
  markLost(from: number, to: number): void {
    for (let i = this.indexAfter(from); i < this.ends.length && this.starts[i]! < to; i++) this.markLostAt(i);
  }

  /**
   * The first record marked lost and not yet retransmitted (tcp_xmit_retransmit_queue's
   * next candidate), as [start, end), or null.
   */
  nextLost(): [number, number] | null {
    for (let i = this.head; i < this.ends.length; i++) {
      if ((this.flags[i]! & (LOST | RETRANS_OUT | SACKED)) === LOST) return [this.starts[i]!, this.ends[i]!];
    }
    return null;
  }

  /** The records from the head, as [start, end) pairs (for tcp_simple_retransmit and tests). */
  records(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.head; i < this.ends.length; i++) out.push([this.starts[i]!, this.ends[i]!]);
    return out;
  }

  /** The flags of the record holding `off`, or -1 (tests). */
  flagsAt(off: number): number {
    const i = this.indexAfter(off);
    return i < this.ends.length && this.starts[i]! <= off ? this.flags[i]! : -1;
  }
}
