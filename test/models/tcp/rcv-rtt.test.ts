/**
 * The receiver's RTT estimate for receive-buffer autotuning (rcv-rtt.ts:
 * tcp_rcv_rtt_update, tcp_rcv_rtt_measure, tcp_rcv_rtt_measure_ts), and what
 * it is for: a receiver that sends no data has no srtt beyond its handshake,
 * so DRS (tcp_rcv_space_adjust) must measure its rounds with this estimate.
 */
import { describe, expect, it } from 'vitest';
import { RcvRttEstimator } from '../../../models/stack/tcp/rcv-rtt.js';
import { MS, SECOND } from '../helpers.js';
import { DEFAULT_RMEM, tbfBulk } from './tbf-bulk.js';

describe('RcvRttEstimator', () => {
  it('takes a smaller sample at once, and averages a larger one in only when everything was read', () => {
    const r = new RcvRttEstimator();
    expect(r.rttNs).toBe(0);
    r.measureTs(1000, 1010, 1448, 1448, true); // 10 ms
    expect(r.rttNs).toBe(10 * MS);
    r.measureTs(1000, 1030, 1448, 1448, true); // the same echo again: no sample
    expect(r.rttNs).toBe(10 * MS);
    r.measureTs(1005, 1030, 1448, 1448, false); // 25 ms with data still unread: dropped
    expect(r.rttNs).toBe(10 * MS);
    r.measureTs(1006, 1030, 1448, 1448, true); // 24 ms: 7/8 x 10 + 24/8 = 11.75 ms
    expect(r.rttNs).toBe(11.75 * MS);
    r.measureTs(1007, 1013, 1448, 1448, false); // 6 ms, smaller: taken even unread
    expect(r.rttNs).toBe(6 * MS);
    r.measureTs(1008, 1008, 1448, 1448, true); // 0 ms on the millisecond clock: no sample
    r.measureTs(1009, 1020, 500, 1448, true); // a segment below rcv_mss: no sample
    expect(r.rttNs).toBe(6 * MS);
  });

  it('without timestamps, times a window of data', () => {
    const r = new RcvRttEstimator();
    r.measure(1001, 10_000, 0, false); // starts a measurement: rcv_nxt + rcv_wnd = 11001
    r.measure(6001, 10_000, 3 * MS, false);
    expect(r.rttNs).toBe(0);
    r.measure(11001, 10_000, 4 * MS, false);
    expect(r.rttNs).toBe(4 * MS);
  });
});

describe('receive-buffer autotuning with the receiver RTT', () => {
  it("a bulk receiver's window grows while the RTT is the sender's queue (the kernel's grew to about 235 KB)", () => {
    // tbf-bulk.ts's path with the default tcp_rmem: the RTT is nearly all the tbf's queue.
    const { doneAt, maxWindow: maxWnd } = tbfBulk(false, DEFAULT_RMEM);
    expect(doneAt).toBeGreaterThan(0);
    // The initial window is 64 KB; with the handshake's RTT as its round, DRS never grew it past 80 KB.
    expect(maxWnd).toBeGreaterThan(200_000);
    // At the line rate: serialisation alone is 2.4 s.
    expect(doneAt / SECOND).toBeLessThan(2.6);
  });
});
