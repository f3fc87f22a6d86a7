/** Linux's RTT estimator and RTO (rto.ts: tcp_rtt_estimator, __tcp_set_rto). */
import { describe, expect, it } from 'vitest';
import { RtoEstimator } from '../../../models/stack/tcp/rto.js';
import { DEFAULT_TCP_PARAMS } from '../../../models/stack/tcp/params.js';

const MS = 1e6;

describe('RtoEstimator', () => {
  it('starts at 1 s and doubles per backoff up to 120 s', () => {
    const r = new RtoEstimator(DEFAULT_TCP_PARAMS);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      seen.push(r.timeoutNs / 1e9);
      r.backoff++;
    }
    expect(seen).toEqual([1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
  });

  it("follows tcp_rtt_estimator: RFC 6298's averages in whole µs, rttvar floored at rto_min, RTO in whole ms", () => {
    const r = new RtoEstimator(DEFAULT_TCP_PARAMS);
    r.sample(100 * MS, 1, 1001);
    expect(r.srttNs).toBe(100 * MS);
    expect(r.rttvarNs).toBe(200 * MS); // max(4 x 50 ms, rto_min)
    expect(r.rtoNs).toBe(300 * MS);
    // The RTT fell: srtt += (20 - 100) / 8; 4 mdev moves by (80 - 50) / 4 / 8 (the smaller gain): 203.75 ms.
    r.sample(20 * MS, 1001, 2001);
    expect(r.srttNs).toBe(90 * MS);
    expect(r.rttvarNs).toBe(203.75 * MS);
    expect(r.rtoNs).toBe(294 * MS); // 293.75 ms, rounded up to a jiffy
    const lan = new RtoEstimator(DEFAULT_TCP_PARAMS);
    for (let i = 0; i < 20; i++) lan.sample(1 * MS, 1 + 1000 * i, 1001 + 1000 * i);
    expect(lan.rtoNs).toBe(201 * MS); // a LAN's RTO is SRTT + 200 ms on Linux
  });

  it('rttvar keeps the largest deviation of a window of data, then decays a quarter of the way towards the next window’s', () => {
    const r = new RtoEstimator(DEFAULT_TCP_PARAMS);
    r.sample(100 * MS, 1, 1001);
    r.sample(400 * MS, 1001, 2001); // a spike: 4 mdev = 200 + (300 - 50) = 450 ms
    expect(r.rttvarNs).toBe(450 * MS);
    expect(r.rtoNs).toBe(588 * MS); // 137.5 + 450
    r.sample(100 * MS, 2001, 3001); // a new window: rttvar stays at the window's largest
    expect(r.rttvarNs).toBe(450 * MS);
    r.sample(100 * MS, 4001, 5001); // past the window: 450 - (450 - 314.062) / 4
    expect(r.rttvarNs).toBe(416_016_000);
    expect(r.srttNs).toBe(128_711_000);
    expect(r.rtoNs).toBe(545 * MS);
  });

  it('falls back to 3 s only without a sample (RFC 6298 5.7)', () => {
    const r = new RtoEstimator(DEFAULT_TCP_PARAMS);
    r.fallback();
    expect(r.timeoutNs).toBe(3e9);
    r.sample(10 * MS, 1, 1001);
    r.fallback();
    expect(r.timeoutNs).toBe(210 * MS);
  });
});
