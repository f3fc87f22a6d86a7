/**
 * The socket's send queue as Linux 6.x accounts it (sk_write_queue and
 * tcp_rtx_queue against sk_sndbuf): the application's bytes in skbs of up to
 * size_goal bytes, each charged to sk_wmem_queued for its bytes plus a fixed
 * overhead, and the PSH marks tcp_sendmsg puts on them (tcp_mark_push).
 *
 * The constants are Linux 6.18's on x86_64, measured with `ss -tmi` in two
 * namespaces over a veth without TSO or GSO, the peer dropping the data so
 * that nothing is ACKed:
 * - MSS 1448 gives tb46080 (2 x 10 x 2304);
 * - a write of 57,920 bytes is taken up to 46,336 bytes, with w48832: three
 *   skbs (the first, and the two bursts of the initial window cut off it) of
 *   832 bytes each besides the data. With MTUs of 1600 to 1800, two writes
 *   leave five skbs and 4,160 bytes besides the data;
 * - sk_sndbuf doubles between MSS clamps of 1520 and 1540, which puts
 *   MAX_TCP_HEADER + sizeof(skb_shared_info) at 512.
 */

/** SKB_TRUESIZE of an skb from tcp_stream_alloc_skb before any data (the small-head cache): its head, struct sk_buff and skb_shared_info. */
export const SKB_EMPTY_TRUESIZE = 832;
/** MAX_TCP_HEADER (L1_CACHE_ALIGN(128 + MAX_HEADER)). */
const MAX_TCP_HEADER = 192;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)). */
const SHINFO_SIZE = 320;
/** SKB_DATA_ALIGN(sizeof(struct sk_buff)). */
const SKB_SIZE = 256;
/** sk_gso_max_size: a device's GSO_LEGACY_MAX_SIZE less MAX_TCP_HEADER + 1 (sk_dst_gso_max_size). */
export const GSO_MAX_SIZE = 65536 - (MAX_TCP_HEADER + 1);
/** TCP_INIT_CWND. */
const TCP_INIT_CWND = 10;
/** tp->reordering: net.ipv4.tcp_reordering. */
const TCP_REORDERING = 3;

/** sk_wmem_queued against sk_sndbuf, and the skbs that make it up. */
export class SendBuffer {
  /** sk_sndbuf: tcp_wmem[1] until tcp_init_buffer_space expands it. */
  sndbuf: number;
  /** sk_wmem_queued: every skb not yet ACKed, sent or not, at its truesize. */
  wmemQueued = 0;
  /** End offset of each skb, oldest first from `head`; skb i spans [i === head ? headStart : ends[i - 1], ends[i]). */
  private ends: number[] = [];
  /** TCPHDR_PSH in the skb's control block. */
  private marks: boolean[] = [];
  private head = 0;
  /** Where the oldest skb starts now: partial ACKs of a multi-segment skb trim it (tcp_trim_head). */
  private headStart: number;

  constructor(
    /** net.ipv4.tcp_wmem. */
    private readonly wmem: readonly [number, number, number],
    /** Stream offset of the first data byte. */
    start: number,
  ) {
    this.sndbuf = wmem[1];
    this.headStart = start;
  }

  /** The end of the last skb: the application's write_seq. */
  get end(): number {
    return this.ends.length > this.head ? this.ends[this.ends.length - 1]! : this.headStart;
  }

  /**
   * tcp_sndbuf_expand: room for two windows of `cwnd` (at least TCP_INIT_CWND)
   * full-sized skbs, each rounded up to a power of two and its struct sk_buff.
   * It only grows, up to tcp_wmem[2].
   */
  expand(cwnd: number, mss: number, mssClamp: number): void {
    const perMss = roundUpPow2(Math.max(mssClamp, mss) + MAX_TCP_HEADER + SHINFO_SIZE) + SKB_SIZE;
    const segs = Math.max(TCP_INIT_CWND, cwnd, TCP_REORDERING + 1);
    const sndmem = 2 * segs * perMss;
    if (this.sndbuf < sndmem) this.sndbuf = Math.min(sndmem, this.wmem[2]);
  }

  /** sk_stream_memory_free (tcp_notsent_lowat being unset): a new skb may be queued. */
  memoryFree(): boolean {
    return this.wmemQueued < this.sndbuf;
  }

  /** __sk_stream_is_writeable: what wakes a writer waiting for memory (a third of the buffer free). */
  writable(): boolean {
    return this.sndbuf - this.wmemQueued >= this.wmemQueued >> 1 && this.memoryFree();
  }

  /** The last skb exists and none of it was sent: a write may append to it. */
  tailUnsent(sndMax: number): boolean {
    const n = this.ends.length;
    if (n === this.head) return false;
    const start = n - 1 === this.head ? this.headStart : this.ends[n - 2]!;
    return start >= sndMax;
  }

  tailLength(): number {
    const n = this.ends.length;
    if (n === this.head) return 0;
    return this.ends[n - 1]! - (n - 1 === this.head ? this.headStart : this.ends[n - 2]!);
  }

  /** tcp_stream_alloc_skb + tcp_skb_entail: an empty skb at the tail. */
  newSkb(): void {
    this.ends.push(this.end);
    this.marks.push(false);
    this.wmemQueued += SKB_EMPTY_TRUESIZE;
  }

  /** skb_copy_to_page_nocache: `n` bytes appended to the tail skb. */
  grow(n: number): void {
    this.ends[this.ends.length - 1]! += n;
    this.wmemQueued += n;
  }

  /** tcp_mark_push on the tail skb, or (a new sendmsg's first copy) the mark cleared. */
  markTail(on: boolean): void {
    if (this.ends.length > this.head) this.marks[this.marks.length - 1] = on;
  }

  /** The end of the skb that holds offset `off` (the skb starting there when `off` is a boundary). */
  skbEndAfter(off: number): number {
    const i = this.indexAfter(off);
    return i < this.ends.length ? this.ends[i]! : off;
  }

  /** `off` ends an skb marked PSH. */
  isMarkedEnd(off: number): boolean {
    const i = this.indexAfter(off - 1);
    return i < this.ends.length && this.ends[i] === off && this.marks[i]!;
  }

  /**
   * tso_fragment / tcp_fragment: the skb that holds `off` is cut there, the
   * second part a new skb (charged one more overhead) that keeps the PSH mark.
   * Nothing happens when `off` is already a boundary.
   */
  splitAt(off: number): void {
    const i = this.indexAfter(off);
    if (i >= this.ends.length) return;
    const start = i === this.head ? this.headStart : this.ends[i - 1]!;
    if (off <= start || off >= this.ends[i]!) return;
    this.ends.splice(i, 0, off);
    this.marks.splice(i, 0, false);
    this.wmemQueued += SKB_EMPTY_TRUESIZE;
  }

  /**
   * tcp_clean_rtx_queue: skbs wholly below `una` are freed; the oldest one,
   * when it holds more than one segment of `mss`, gives back the bytes ACKed of it.
   */
  ack(una: number, mss: number): void {
    while (this.head < this.ends.length && this.ends[this.head]! <= una) {
      this.wmemQueued -= SKB_EMPTY_TRUESIZE + (this.ends[this.head]! - this.headStart);
      this.headStart = this.ends[this.head]!;
      this.head++;
    }
    if (this.head < this.ends.length && una > this.headStart && this.ends[this.head]! - this.headStart > mss) {
      this.wmemQueued -= una - this.headStart;
      this.headStart = una;
    }
    if (this.head > 64 && this.head * 2 > this.ends.length) {
      this.ends.splice(0, this.head);
      this.marks.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Everything is gone (the connection closed): nothing is charged any more. */
  clear(): void {
    this.ends.length = 0;
    this.marks.length = 0;
    this.head = 0;
    this.wmemQueued = 0;
  }

  /** Index of the first skb whose end is above `off`. */
  private indexAfter(off: number): number {
    let lo = this.head;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! <= off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
