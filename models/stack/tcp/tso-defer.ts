/**
 * tcp_tso_should_defer (net/ipv4/tcp_output.c): whether tcp_write_xmit holds
 * back a multi-segment skb at the head of the send queue, so that what the
 * next ACK frees goes out with it in one larger burst. A pure function of the
 * connection's state, so that each rule can be tested on its own.
 */

/** What the decision reads of the connection, at the moment a burst could go. */
export interface DeferInput {
  now: number;
  /** tcp_wstamp_ns: when the last segment went out. */
  lastXmitAt: number;
  /** icsk_ca_state >= TCP_CA_Recovery. */
  inRecovery: boolean;
  mss: number;
  /** Congestion window and segments in flight (tcp_packets_in_flight). */
  cwnd: number;
  inFlightSegs: number;
  /** The peer's window, and how much of it is left from the send head (tcp_wnd_end - seq). */
  sndWnd: number;
  sendWin: number;
  /** The head skb's length, and whether it is the last one (a write may still add to it). */
  skbLen: number;
  isTail: boolean;
  /** The FIN rides on the head skb: it will get no more data. */
  skbHasFin: boolean;
  /** tcp_tso_segs: the most segments one burst carries. */
  maxSegs: number;
  /** Send time of the oldest unACKed segment (the rtx queue head), or -1 when none is. */
  headSentAt: number;
  srttNs: number;
}

/** The verdict, and for a deferral whether cwnd or the peer's window is what limits. */
export type DeferVerdict = 'send' | 'defer' | 'defer-cwnd-limited' | 'defer-rwnd-limited';

/** net.ipv4.tcp_tso_win_divisor */
const TSO_WIN_DIVISOR = 3;
const MS = 1e6;

export function tsoShouldDefer(s: DeferInput): DeferVerdict {
  if (s.inRecovery) return 'send';
  // Defer only if the last write was recent (1 ms): it avoids bursts after idle.
  if (s.now - s.lastXmitAt > MS) return 'send';
  const congWin = (s.cwnd - s.inFlightSegs) * s.mss;
  const limit = Math.min(s.sendWin, congWin);
  // A full-sized burst can go.
  if (limit >= s.maxSegs * s.mss) return 'send';
  // An skb in the middle of the queue gets no more data, and all of it can go.
  if (!s.isTail && limit >= s.skbLen) return 'send';
  // At least a third of the window can go.
  if (limit >= Math.floor(Math.min(s.sndWnd, s.cwnd * s.mss) / TSO_WIN_DIVISOR)) return 'send';
  if (s.headSentAt < 0) return 'send';
  // The next ACK comes too late: in more than min(srtt / 2, 1 ms).
  const howFarIsTheAck = s.headSentAt + s.srttNs - s.now;
  if (howFarIsTheAck - Math.min(s.srttNs / 2, MS) > 0) return 'send';
  if (congWin < s.sendWin) {
    if (congWin <= s.skbLen) return 'defer-cwnd-limited';
  } else if (s.sendWin <= s.skbLen) {
    return 'defer-rwnd-limited';
  }
  // Application-limited: this skb waits for more data, unless it will get none.
  if (s.skbHasFin) return 'send';
  return 'defer';
}
