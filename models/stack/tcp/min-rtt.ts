/**
 * tcp_min_rtt: the smallest RTT seen in the last net.ipv4.tcp_min_rtt_wlen
 * (300 s), kept as lib/minmax.c keeps a windowed running minimum (Kathleen
 * Nichols' algorithm): the best sample, and the best ones from the later
 * quarter and half of the window, so that when the best one ages out a
 * nearly as good one from within the window takes its place.
 */

/** net.ipv4.tcp_min_rtt_wlen */
export const MIN_RTT_WINDOW_NS = 300e9;

export class MinRtt {
  /** The three samples (time, value): the minimum, the 2nd and the 3rd choice. */
  private readonly t = [0, 0, 0];
  private readonly v = [Infinity, Infinity, Infinity];

  constructor(private readonly winNs = MIN_RTT_WINDOW_NS) {}

  /** The minimum, or Infinity before any sample (Linux's ~0U). */
  get valueNs(): number {
    return this.v[0]!;
  }

  /** minmax_running_min: a sample `rttNs` taken at `now`. */
  update(now: number, rttNs: number): void {
    const { t, v } = this;
    // A new minimum, or nothing left in the window: forget the earlier samples.
    if (rttNs <= v[0]! || now - t[2]! > this.winNs) {
      t[0] = t[1] = t[2] = now;
      v[0] = v[1] = v[2] = rttNs;
      return;
    }
    if (rttNs <= v[1]!) {
      t[1] = t[2] = now;
      v[1] = v[2] = rttNs;
    } else if (rttNs <= v[2]!) {
      t[2] = now;
      v[2] = rttNs;
    }
    this.subwindowUpdate(now, rttNs);
  }

  /** minmax_subwin_update */
  private subwindowUpdate(now: number, rttNs: number): void {
    const { t, v } = this;
    const dt = now - t[0]!;
    if (dt > this.winNs) {
      // The whole window passed without a new minimum: the 2nd choice moves up, and
      // the 3rd; the 2nd may be out of the window too.
      this.shift(now, rttNs);
      if (now - t[0]! > this.winNs) this.shift(now, rttNs);
    } else if (t[1] === t[0] && dt > this.winNs / 4) {
      // A quarter of the window without a new sample: take a 2nd choice from the second quarter.
      t[1] = t[2] = now;
      v[1] = v[2] = rttNs;
    } else if (t[2] === t[1] && dt > this.winNs / 2) {
      // Half the window: a 3rd choice from the last half.
      t[2] = now;
      v[2] = rttNs;
    }
  }

  private shift(now: number, rttNs: number): void {
    const { t, v } = this;
    t[0] = t[1]!;
    v[0] = v[1]!;
    t[1] = t[2]!;
    v[1] = v[2]!;
    t[2] = now;
    v[2] = rttNs;
  }
}
