/**
 * The receiver's round-trip estimate that receive-buffer autotuning (DRS,
 * tcp_rcv_space_adjust) measures its rounds by: tp->rcv_rtt_est, as
 * tcp_rcv_rtt_update, tcp_rcv_rtt_measure and tcp_rcv_rtt_measure_ts keep it
 * (net/ipv4/tcp_input.c). A receiver that sends no data has no other RTT:
 * its srtt comes only from the handshake.
 *
 * - From timestamps: a segment of at least rcv_mss whose echo (TSecr) is new
 *   gives now - TSecr, in whole milliseconds of the timestamp clock (0 gives
 *   no sample).
 * - Per window: the time from when a window's worth of data (rcv_nxt +
 *   rcv_wnd) was expected until it had arrived.
 *
 * A smaller sample replaces the estimate; a larger one is averaged in (7/8
 * old + new) only when the application has read everything, else dropped.
 */
export class RcvRttEstimator {
  /** rcv_rtt_est.rtt_us << 3; 0 until a sample. */
  private rtt8 = 0;
  /** rcv_rtt_est.seq and .time (ns; -1: no measurement running). */
  private seq = 0;
  private time = -1;
  /** rcv_rtt_last_tsecr */
  private lastTsecr = 0;

  /** The estimate (rcv_rtt_est.rtt_us >> 3), in ns; 0 while there is none. */
  get rttNs(): number {
    return (this.rtt8 >> 3) * 1000;
  }

  /** tcp_rcv_rtt_update: `sampleUs`, with everything read (`drained`) or not. */
  private update(sampleUs: number, drained: boolean): void {
    const m = sampleUs << 3;
    const old = this.rtt8;
    if (old === 0 || m < old) this.rtt8 = m;
    else if (drained) this.rtt8 = old - (old >> 3) + sampleUs;
  }

  /** tcp_rcv_rtt_measure (tcp_event_data_recv): in-order data arrived, rcv_nxt is now `rcvNxt`. */
  measure(rcvNxt: number, rcvWnd: number, now: number, drained: boolean): void {
    if (this.time >= 0) {
      if (rcvNxt < this.seq) return;
      this.update(Math.max(Math.floor((now - this.time) / 1000), 1), drained);
    }
    this.seq = rcvNxt + rcvWnd;
    this.time = now;
  }

  /** tcp_rcv_rtt_measure_ts: a segment of `len` bytes echoing `tsecr`; `tsNow` is our timestamp clock (ms). */
  measureTs(tsecr: number, tsNow: number, len: number, rcvMss: number, drained: boolean): void {
    if (tsecr === this.lastTsecr) return;
    this.lastTsecr = tsecr;
    if (len < rcvMss) return;
    const deltaMs = (tsNow - tsecr) >>> 0;
    if (deltaMs > 0 && deltaMs < 0x7fffffff / 1000) this.update(deltaMs * 1000, drained);
  }
}
