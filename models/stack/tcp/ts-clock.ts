/**
 * The TCP timestamp clock (RFC 7323): tcp_clock_ms plus the connection's
 * random offset (secure_tcp_ts_off), a 32-bit value. Full sockets and
 * timewait sockets stamp their segments with it.
 */
export function tsvalAt(tsOffset: number, nowNs: number): number {
  return (tsOffset + Math.floor(nowNs / 1e6)) >>> 0;
}
