/**
 * tcp_tso_should_defer, rule by rule (net/ipv4/tcp_output.c, Linux 6.x):
 * from a state where Linux holds the head skb back, each case changes one
 * thing that makes it send now.
 */
import { describe, expect, it } from 'vitest';
import { tsoShouldDefer, type DeferInput } from '../../../models/stack/tcp/tso-defer.js';

const MSS = 1448;
const MS = 1e6;

/** cwnd 20 with 18 in flight (two segments free), the peer's window wide open, the oldest segment's ACK due now. */
const HELD: DeferInput = {
  now: 100 * MS,
  lastXmitAt: 100 * MS - 20_000,
  inRecovery: false,
  mss: MSS,
  cwnd: 20,
  inFlightSegs: 18,
  sndWnd: 1 << 20,
  sendWin: 1 << 20,
  skbLen: 10 * MSS,
  isTail: true,
  skbHasFin: false,
  maxSegs: 45,
  headSentAt: 100 * MS - 2 * MS,
  srttNs: 2 * MS,
};

describe('tcp_tso_should_defer', () => {
  it('holds two free segments of cwnd 20 when the next ACK is due now', () => {
    expect(tsoShouldDefer(HELD)).toBe('defer-cwnd-limited');
  });

  it('never holds in recovery', () => {
    expect(tsoShouldDefer({ ...HELD, inRecovery: true })).toBe('send');
  });

  it('does not hold after more than 1 ms without sending', () => {
    expect(tsoShouldDefer({ ...HELD, lastXmitAt: HELD.now - 1.001 * MS })).toBe('send');
    expect(tsoShouldDefer({ ...HELD, lastXmitAt: HELD.now - 1 * MS })).toBe('defer-cwnd-limited');
  });

  it('sends a full-sized burst', () => {
    expect(tsoShouldDefer({ ...HELD, maxSegs: 2 })).toBe('send');
  });

  it('sends all of an skb that is not the last one when it fits', () => {
    expect(tsoShouldDefer({ ...HELD, isTail: false, skbLen: 2 * MSS })).toBe('send');
    expect(tsoShouldDefer({ ...HELD, isTail: true, skbLen: 2 * MSS })).toBe('defer-cwnd-limited');
  });

  it('sends once a third of the window is free', () => {
    // cwnd 20: a third is 9,653 bytes, 6.67 segments.
    expect(tsoShouldDefer({ ...HELD, inFlightSegs: 14 })).toBe('defer-cwnd-limited');
    expect(tsoShouldDefer({ ...HELD, inFlightSegs: 13 })).toBe('send');
  });

  it('sends when nothing is in flight to bring an ACK', () => {
    expect(tsoShouldDefer({ ...HELD, headSentAt: -1 })).toBe('send');
  });

  it('sends when the next ACK is more than min(srtt / 2, 1 ms) away', () => {
    expect(tsoShouldDefer({ ...HELD, headSentAt: HELD.now - 1 * MS })).toBe('defer-cwnd-limited');
    expect(tsoShouldDefer({ ...HELD, headSentAt: HELD.now - 0.9 * MS })).toBe('send');
    // srtt 20 ms: the allowance is 1 ms, not 10.
    expect(tsoShouldDefer({ ...HELD, srttNs: 20 * MS, headSentAt: HELD.now - 18.5 * MS })).toBe('send');
    expect(tsoShouldDefer({ ...HELD, srttNs: 20 * MS, headSentAt: HELD.now - 19 * MS })).toBe('defer-cwnd-limited');
  });

  it('tells a wait for the peer\'s window from a wait for more data', () => {
    expect(tsoShouldDefer({ ...HELD, inFlightSegs: 0, sendWin: 2 * MSS })).toBe('defer-rwnd-limited');
    // Both windows admit the whole skb: the skb waits for the application to add to it...
    expect(tsoShouldDefer({ ...HELD, inFlightSegs: 18, skbLen: MSS + 100 })).toBe('defer');
    // ...unless it carries the FIN.
    expect(tsoShouldDefer({ ...HELD, inFlightSegs: 18, skbLen: MSS + 100, skbHasFin: true })).toBe('send');
  });
});
