/**
 * The receive window Linux advertises (kernel 6.x): how much of the receive
 * buffer the peer may fill, as tcp_select_initial_window, tcp_init_buffer_space,
 * __tcp_select_window / tcp_select_window (net/ipv4/tcp_output.c, tcp_input.c)
 * and tcp_win_from_space (include/net/tcp.h) compute it.
 *
 *   rcvbuf         sk_rcvbuf: tcp_rmem[1] at first, raised by DRS (tcp_rcv_space_adjust)
 *   scalingRatio   payload per byte of skb truesize, in 1/256: 128 (half) until a
 *                  full-sized segment measures it (tcp_measure_rcv_mss)
 *   windowClamp    the largest window ever offered: win_from_space(rcvbuf) less one
 *                  segment (tcp_app_win), following rcvbuf as it grows
 *   rcvSsthresh    the slowly opened window: starts at the handshake's window, grows by
 *                  about two segments per segment received (tcp_grow_window)
 *   rcvWnd         the window last advertised (bytes, from rcvWup)
 *
 * The advertised window is min(free space, rcvSsthresh), rounded up to the window
 * scale's unit, and never less than what the last advertisement still promises
 * (the right edge never moves left: tcp_shrink_window = 0).
 *
 * Not modelled: memory pressure (tcp_under_memory_pressure), pruning and
 * collapsing of the receive queue (the applications podwire runs read at once),
 * SO_RCVBUF locks, MPTCP, the truesize adjustment of paged skbs (truesize_adjust).
 * skb truesize is an estimate (skbTruesize): podwire has no skbs.
 */

/** TCP_RMEM_TO_WIN_SCALE: scalingRatio is in 1/256. */
export const TCP_RMEM_TO_WIN_SCALE = 8;
/** TCP_DEFAULT_SCALING_RATIO: half of the buffer is payload until measured. */
export const TCP_DEFAULT_SCALING_RATIO = 1 << (TCP_RMEM_TO_WIN_SCALE - 1);
/** TCP_MAX_WSCALE (RFC 7323 2.3). */
export const TCP_MAX_WSCALE = 14;
/** TCP_MSS_DEFAULT and TCP_MIN_MSS: the bounds of the first guess of the peer's MSS (tcp_initialize_rcv_mss). */
const TCP_MSS_DEFAULT = 536;
const TCP_MIN_MSS = 88;
/** sizeof(struct tcphdr) */
const TCP_HEADER_MIN = 20;

/** dataQueued's result bits. */
export const DATA_WINDOW_GREW = 1;
export const DATA_PUSHED = 2;
/** TCP_INIT_CWND: DRS's first estimate of a round trip's bytes is ten segments. */
const TCP_INIT_CWND = 10;
/** net.ipv4.tcp_app_win default: reserve 1/2^31 of the window for the application, i.e. one segment (tcp_init_buffer_space). */
const TCP_APP_WIN = 31;
/** SOCK_MIN_RCVBUF / 2: the smallest window clamp tcp_set_window_clamp sets (2 * (2048 + struct sk_buff)). */
const MIN_WINDOW_CLAMP = 2304;
/** tcp_event_data_recv grows the window only for segments of at least this many bytes. */
const GROW_MIN_LEN = 128;
/**
 * Bytes of skb truesize beyond the payload for one received segment (an estimate):
 * SKB_TRUESIZE of the sender's linear head, which holds only headers: struct sk_buff
 * (256), MAX_TCP_HEADER (320) and skb_shared_info (320), a 640-byte object of
 * skb_small_head_cache since Linux 6.3; the payload itself is in page fragments
 * (tcp_sendmsg), and a veth hands the sender's skb over unchanged. Against 6.18
 * (a 40-segment request, host-gw), the first four windows the receiver
 * advertises agree within one unit; with the 1 KiB kmalloc head of older
 * kernels (1,280) only the first did.
 */
export const SKB_TRUESIZE_OVERHEAD = 896;

/** The skb truesize podwire charges for a segment of `len` payload bytes (see SKB_TRUESIZE_OVERHEAD). */
export function skbTruesize(len: number): number {
  return len + SKB_TRUESIZE_OVERHEAD;
}

/** __tcp_win_from_space: the payload `space` bytes of buffer hold ((s64)space * ratio >> 8, floored). */
export function winFromSpace(ratio: number, space: number): number {
  return Math.floor((space * ratio) / (1 << TCP_RMEM_TO_WIN_SCALE));
}

/** __tcp_space_from_win: the buffer `win` bytes of payload need. */
export function spaceFromWin(ratio: number, win: number): number {
  return Math.floor((win * (1 << TCP_RMEM_TO_WIN_SCALE)) / ratio);
}

/** ALIGN(x, 2^shift). */
function alignUp(x: number, shift: number): number {
  const unit = 2 ** shift;
  return Math.ceil(x / unit) * unit;
}

export interface ReceiveBufferParams {
  /** net.ipv4.tcp_rmem: [min, default (the initial rcvbuf), max (DRS's cap)]. */
  rmem: readonly [number, number, number];
  /** net.core.rmem_max (enters the window scale only). */
  rmemMax: number;
  /** net.ipv4.tcp_moderate_rcvbuf: DRS on. */
  moderateRcvbuf: boolean;
}

export interface InitialWindow {
  rcvWnd: number;
  windowClamp: number;
  rcvWscale: number;
}

/**
 * tcp_select_initial_window: the window of the SYN (or SYN-ACK), the clamp and
 * the window scale. `space` is tcp_full_space, `mss` the segment size the window
 * is counted in, `windowClamp` 0 when unset.
 */
export function selectInitialWindow(
  space: number, mss: number, windowClamp: number, wscaleOk: boolean, p: ReceiveBufferParams,
): InitialWindow {
  let clamp = windowClamp === 0 ? 0xffff * 2 ** TCP_MAX_WSCALE : windowClamp;
  space = Math.min(clamp, Math.max(space, 0));
  if (space > mss) space = Math.floor(space / mss) * mss; // a multiple of the MSS
  const rcvWnd = space; // tcp_workaround_signed_windows = 0
  let rcvWscale = 0;
  if (wscaleOk) {
    // Scale for the largest window the buffer may ever reach.
    const most = Math.min(Math.max(space, p.rmem[2], p.rmemMax), clamp);
    rcvWscale = Math.min(Math.max(Math.floor(Math.log2(most)) - 15, 0), TCP_MAX_WSCALE);
  }
  clamp = Math.min(0xffff * 2 ** rcvWscale, clamp);
  return { rcvWnd, windowClamp: clamp, rcvWscale };
}

/** One connection's receive buffer and the window it advertises. */
export class ReceiveWindow {
  rcvbuf: number;
  scalingRatio = TCP_DEFAULT_SCALING_RATIO;
  windowClamp = 0;
  rcvSsthresh = 0;
  /** The window last advertised, counted from rcv_wup (tp->rcv_wnd). */
  rcvWnd = 0;
  rcvWscale = 0;
  /** icsk_ack.rcv_mss: the peer's segment size as measured (536 until a larger segment arrives). */
  rcvMss = TCP_MSS_DEFAULT;
  /** icsk_ack.last_seg_size: the last small segment's size, when it counted (tcp_measure_rcv_mss). */
  private lastSegSize = 0;
  /** sk_rmem_alloc: truesize of what is queued and not yet read (in order or out of order). */
  rmemAlloc = 0;
  /** DRS (tcp_rcv_space_adjust): bytes read in the last measured round trip, and where that round trip began. */
  private rcvqSpace = 0;
  private rcvqSeq = 0;
  private rcvqTime = 0;

  constructor(private readonly advmss: number, private readonly p: ReceiveBufferParams) {
    this.rcvbuf = p.rmem[1];
  }

  /** tcp_full_space */
  fullSpace(): number {
    return winFromSpace(this.scalingRatio, this.rcvbuf);
  }

  /** tcp_space: what the free part of the buffer holds (negative when overcommitted). */
  space(): number {
    return winFromSpace(this.scalingRatio, this.rcvbuf - this.rmemAlloc);
  }

  /**
   * The SYN's window (tcp_connect_init) or the SYN-ACK's (tcp_openreq_init_rwin,
   * tcp_create_openreq_child): `mss` is the advertised MSS less the timestamp option
   * when the passive side knows timestamps are on.
   */
  initial(mss: number, wscaleOk: boolean): void {
    const w = selectInitialWindow(this.fullSpace(), mss, this.windowClamp, wscaleOk, this.p);
    this.rcvWnd = w.rcvWnd;
    this.windowClamp = w.windowClamp;
    this.rcvWscale = w.rcvWscale;
    this.rcvSsthresh = w.rcvWnd;
  }

  /** The peer's SYN had no window scale option: none on ours either (tcp_rcv_synsent_state_process). */
  noWindowScaling(): void {
    this.rcvWscale = 0;
    this.windowClamp = Math.min(this.windowClamp, 0xffff);
  }

  /** The window field of a SYN or SYN-ACK: never scaled. */
  synWindow(): number {
    return Math.min(this.rcvWnd, 0xffff);
  }

  /**
   * tcp_initialize_rcv_mss and tcp_init_buffer_space, when the connection is
   * established: the clamp becomes the full space less one segment, and DRS
   * starts from ten segments. `now` in ns.
   */
  established(mssCache: number, copiedSeq: number, now: number): void {
    const hint = Math.min(this.advmss, mssCache, Math.floor(this.rcvWnd / 2), TCP_MSS_DEFAULT);
    this.rcvMss = Math.max(hint, TCP_MIN_MSS);
    this.rcvqTime = now;
    this.rcvqSeq = copiedSeq;
    const maxwin = this.fullSpace();
    const advmss = this.advmss;
    if (this.windowClamp >= maxwin) {
      this.windowClamp = maxwin;
      if (maxwin > 4 * advmss) this.windowClamp = Math.max(maxwin - Math.floor(maxwin / 2 ** TCP_APP_WIN), 4 * advmss);
    }
    // Force reservation of one segment.
    if (this.windowClamp > 2 * advmss && this.windowClamp + advmss > maxwin) {
      this.windowClamp = Math.max(2 * advmss, maxwin - advmss);
    }
    this.rcvSsthresh = Math.min(this.rcvSsthresh, this.windowClamp);
    this.rcvqSpace = Math.min(this.rcvSsthresh, this.rcvWnd, TCP_INIT_CWND * advmss);
  }

  /** __tcp_select_window: the window the buffer allows now (bytes, before "never shrink"). */
  private currentWindow(): number {
    let mss = this.rcvMss;
    let freeSpace = this.space();
    const allowed = this.fullSpace();
    const full = Math.min(this.windowClamp, allowed);
    if (mss > full) {
      mss = full;
      if (mss <= 0) return 0;
    }
    if (freeSpace < full >> 1) {
      freeSpace = Math.floor(freeSpace / 2 ** this.rcvWscale) * 2 ** this.rcvWscale;
      // Less than a segment or than 1/16 of the buffer: move to a zero window.
      if (freeSpace < allowed >> 4 || freeSpace < mss) return 0;
    }
    if (freeSpace > this.rcvSsthresh) freeSpace = this.rcvSsthresh;
    if (this.rcvWscale > 0) return alignUp(freeSpace, this.rcvWscale);
    // Unscaled: a multiple of the MSS, kept as it is while within one MSS of the free space.
    let window = this.rcvWnd;
    if (window <= freeSpace - mss || window > freeSpace) window = Math.floor(freeSpace / mss) * mss;
    else if (mss === full && freeSpace > window + (full >> 1)) window = freeSpace;
    return window;
  }

  /**
   * tcp_select_window: the window field of a segment other than a SYN, sent
   * when `rcvNxt` is acknowledged and the last advertisement was made at `rcvWup`.
   * The caller moves rcv_wup to rcvNxt.
   */
  selectWindow(rcvWup: number, rcvNxt: number): number {
    const curWin = Math.max(rcvWup + this.rcvWnd - rcvNxt, 0); // tcp_receive_window
    let newWin = this.currentWindow();
    // Never shrink the offered window (net.ipv4.tcp_shrink_window = 0).
    if (newWin < curWin) newWin = alignUp(curWin, this.rcvWscale);
    this.rcvWnd = newWin;
    return Math.floor(Math.min(newWin, 0xffff * 2 ** this.rcvWscale) / 2 ** this.rcvWscale);
  }

  /**
   * In-order data queued for the application (tcp_event_data_recv:
   * tcp_measure_rcv_mss, then tcp_grow_window for segments of 128 bytes or
   * more). Returns DATA_WINDOW_GREW when the window grew, which asks for a
   * quick ACK, and DATA_PUSHED for a segment below rcv_mss (ICSK_ACK_PUSHED).
   * `remnant`: it carries PSH or FIN; `headerLen`: its TCP header's length.
   */
  dataQueued(len: number, truesize: number, remnant: boolean, headerLen: number): number {
    this.rmemAlloc += truesize;
    const pushed = this.measureRcvMss(len, truesize, remnant, headerLen) ? DATA_PUSHED : 0;
    return (len >= GROW_MIN_LEN && this.growWindow(len, truesize) ? DATA_WINDOW_GREW : 0) | pushed;
  }

  /** Out-of-order data queued (tcp_data_queue_ofo: tcp_grow_window, no measurement). True when the window grew. */
  outOfOrderQueued(len: number, truesize: number): boolean {
    this.rmemAlloc += truesize;
    return this.growWindow(len, truesize);
  }

  /**
   * The application read everything in order (tcp_recvmsg): `freed` truesize
   * leaves the buffer, then DRS (tcp_rcv_space_adjust) measures what was read
   * in the last round trip, `copiedSeq` being the stream offset read up to.
   * `rttNs` is the receiver's RTT estimate (rcv-rtt.ts), 0 while there is none.
   */
  read(freed: number, copiedSeq: number, now: number, rttNs: number, oooEnd: number): void {
    this.rmemAlloc = Math.max(this.rmemAlloc - freed, 0);
    if (rttNs === 0 || now - this.rcvqTime < rttNs) return;
    const copied = copiedSeq - this.rcvqSeq; // nothing left in the queue
    if (copied > this.rcvqSpace) this.rcvbufGrow(copied, oooEnd);
    this.rcvqSeq = copiedSeq;
    this.rcvqTime = now;
  }

  /**
   * tcp_cleanup_rbuf after a read: ACK at once when the window can be opened
   * "significantly" (to at least twice what is left of the last advertisement,
   * while that is at most half the clamp), as a reader that drained a full
   * buffer must tell the sender. Not in states where no more data can come.
   */
  windowUpdateDue(rcvWup: number, rcvNxt: number): boolean {
    const now = Math.max(rcvWup + this.rcvWnd - rcvNxt, 0);
    if (2 * now > this.windowClamp) return false;
    const win = this.currentWindow();
    return win > 0 && win >= 2 * now;
  }

  /**
   * tcp_rcvbuf_grow: room for twice a round trip's bytes (DRS is one round
   * trip late) plus the sender's slow-start growth and the out-of-order data
   * (`oooEnd`, bytes beyond rcv_nxt), capped at tcp_rmem[2]; the clamp follows.
   */
  private rcvbufGrow(newval: number, oooEnd: number): void {
    const oldval = this.rcvqSpace;
    this.rcvqSpace = newval;
    if (!this.p.moderateRcvbuf) return;
    let rcvwin = newval * 2;
    rcvwin += 2 * Math.floor((rcvwin * (newval - oldval)) / oldval);
    rcvwin += oooEnd;
    const rcvbuf = Math.min(spaceFromWin(this.scalingRatio, rcvwin), this.p.rmem[2]);
    if (rcvbuf > this.rcvbuf) {
      this.rcvbuf = rcvbuf;
      this.windowClamp = winFromSpace(this.scalingRatio, rcvbuf);
    }
  }

  /**
   * tcp_measure_rcv_mss: a segment at least as large as rcv_mss and of a new
   * size measures the payload-to-truesize ratio; the clamp follows it, and
   * rcv_mss becomes its size. A smaller one becomes rcv_mss when it is the
   * second in a row of its size and counts as full-sized (536 bytes and more,
   * or 88 and more without PSH: a peer's MSS on a small-MTU link); else it is
   * "pushed", true here, which asks for an ACK when the application reads it.
   */
  private measureRcvMss(len: number, truesize: number, remnant: boolean, headerLen: number): boolean {
    const lss = this.lastSegSize;
    this.lastSegSize = 0;
    if (len < this.rcvMss) {
      const withHeader = len + headerLen;
      if (withHeader >= TCP_MSS_DEFAULT + TCP_HEADER_MIN || (withHeader >= TCP_MIN_MSS + TCP_HEADER_MIN && !remnant)) {
        this.lastSegSize = len; // less tp->tcp_header_len, the same options both ways
        if (len === lss) {
          this.rcvMss = len;
          return false;
        }
      }
      return true;
    }
    if (len !== this.rcvMss) {
      const old = this.scalingRatio;
      this.scalingRatio = Math.floor((len * (1 << TCP_RMEM_TO_WIN_SCALE)) / truesize) || 1;
      if (old !== this.scalingRatio) {
        this.setWindowClamp(winFromSpace(this.scalingRatio, this.rcvbuf));
        if (this.windowClamp < this.rcvSsthresh) this.rcvSsthresh = this.windowClamp;
      }
    }
    this.rcvMss = Math.min(len, this.advmss);
    return false;
  }

  /** tcp_set_window_clamp */
  private setWindowClamp(val: number): void {
    const old = this.windowClamp;
    const clamp = Math.max(MIN_WINDOW_CLAMP, val);
    if (clamp === old) return;
    this.windowClamp = clamp;
    if (clamp < old) this.rcvSsthresh = Math.min(this.rcvSsthresh, clamp);
    else this.rcvSsthresh = Math.max(Math.min(this.rcvWnd, clamp), this.rcvSsthresh);
  }

  /**
   * tcp_grow_window: open rcv_ssthresh by about two segments when a segment's
   * payload is a fair share of its truesize (the buffer will hold the window),
   * up to min(window clamp, free space). True when it grew.
   */
  private growWindow(len: number, truesize: number): boolean {
    const room = Math.min(this.windowClamp, this.space()) - this.rcvSsthresh;
    if (room <= 0) return false;
    let incr: number;
    if (winFromSpace(this.scalingRatio, truesize) <= len) incr = 2 * this.advmss;
    else incr = this.growIncrement(len, truesize);
    if (incr <= 0) return false;
    incr = Math.max(incr, 2 * len);
    this.rcvSsthresh += Math.min(room, incr);
    return true;
  }

  /** __tcp_grow_window: a segment with much overhead opens the window only while it is small. */
  private growIncrement(len: number, truesize: number): number {
    let ts = winFromSpace(this.scalingRatio, truesize) >> 1;
    let window = winFromSpace(this.scalingRatio, this.p.rmem[2]) >> 1;
    while (this.rcvSsthresh <= window) {
      if (ts <= len) return 2 * this.rcvMss;
      ts >>= 1;
      window >>= 1;
    }
    return 0;
  }
}
