/** RFC 6298 estimator with Linux's bounds (rto.ts). */
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

  it('follows RFC 6298 2.2-2.3 with the variance term floored at TCP_RTO_MIN', () => {
    const r = new RtoEstimator(DEFAULT_TCP_PARAMS);
    r.sample(100 * MS);
    expect(r.srttNs).toBe(100 * MS);
    expect(r.rttvarNs).toBe(50 * MS);
    expect(r.rtoNs).toBe(100 * MS + 200 * MS); // 4 * 50 ms = 200 ms
    r.sample(20 * MS);
    expect(r.rttvarNs).toBe(0.75 * 50 * MS + 0.25 * 80 * MS);
    expect(r.srttNs).toBe(0.875 * 100 * MS + 0.125 * 20 * MS);
    expect(r.rtoNs).toBe(r.srttNs + 4 * r.rttvarNs);
    const lan = new RtoEstimator(DEFAULT_TCP_PARAMS);
    for (let i = 0; i < 20; i++) lan.sample(1 * MS);
    expect(lan.rtoNs).toBe(201 * MS); // a LAN's RTO is SRTT + 200 ms on Linux
  });

  it('falls back to 3 s only without a sample (RFC 6298 5.7)', () => {
    const r = new RtoEstimator(DEFAULT_TCP_PARAMS);
    r.fallback();
    expect(r.timeoutNs).toBe(3e9);
    r.sample(10 * MS);
    r.fallback();
    expect(r.timeoutNs).toBe(210 * MS);
  });
});
