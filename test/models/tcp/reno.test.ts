/** Reno in segments (congestion.ts), RFC 5681 / RFC 6582. */
import { describe, expect, it } from 'vitest';
import { Reno } from '../../../models/stack/tcp/congestion.js';

describe('Reno', () => {
  it('doubles per round in slow start and adds one per round in congestion avoidance', () => {
    const r = new Reno(10);
    r.onAck(10, true);
    expect(r.cwnd).toBe(20);
    r.onAck(5, false); // not cwnd-limited: no growth (tcp_is_cwnd_limited)
    expect(r.cwnd).toBe(20);
    r.ssthresh = 24;
    r.onAck(20, true); // 4 to reach ssthresh, 16 count towards the next increment
    expect(r.cwnd).toBe(24);
    r.onAck(8, true); // 16 + 8 = 24 = cwnd: +1
    expect(r.cwnd).toBe(25);
    for (let i = 0; i < 24; i++) r.onAck(1, true);
    expect(r.cwnd).toBe(25);
    r.onAck(1, true);
    expect(r.cwnd).toBe(26);
  });

  it('halves on fast retransmit, inflates per duplicate, deflates at the end; RTO collapses to 1', () => {
    const r = new Reno(10);
    r.cwnd = 41;
    r.enterRecovery();
    expect(r.ssthresh).toBe(20);
    expect(r.cwnd).toBe(23);
    r.inflate();
    expect(r.cwnd).toBe(24);
    r.partialAck(5);
    expect(r.cwnd).toBe(20);
    r.exitRecovery();
    expect(r.cwnd).toBe(20);
    r.cwnd = 3;
    r.onRto();
    expect(r.ssthresh).toBe(2);
    expect(r.cwnd).toBe(1);
    expect(r.inSlowStart).toBe(true);
  });
});
