/**
 * Per-flow statistics: an HdrHistogram with 3 significant digits (Gil Tene's
 * HdrHistogram; hdr-histogram-js getValueAtPercentile), so a percentile is the
 * nearest-rank value (rank ceil(p/100 * n)) reported as the top of its bucket,
 * at most 1/1024 above it; min, max and mean are kept exactly; lost = sent -
 * received.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowStats } from '../../models/stats/flow-stats.js';

/** The nearest-rank percentile HdrHistogram approximates. */
function nearestRank(sorted: number[], p: number): number {
  const rank = Math.max(Math.ceil((p / 100) * sorted.length), 1);
  return sorted[rank - 1]!;
}

interface Summary {
  sent: number;
  received: number;
  lost: number;
  late: number;
  duplicates: number;
  errors: Record<string, number>;
  latency: string;
  latencyNs: { min: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number } | null;
}

describe('FlowStats', () => {
  it('reports percentiles within 0.1% above the exact nearest-rank value, and min, max, mean exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 20_000_000_000 })), { minLength: 1, maxLength: 400 }),
        (values) => {
          const s = new FlowStats('f', 'udp', 'a', 'b', 'rtt');
          for (const v of values) s.record(v);
          const sorted = [...values].sort((a, b) => a - b);
          for (const p of [50, 90, 99, 99.9, 100]) {
            const exact = nearestRank(sorted, p);
            const got = s.percentile(p);
            expect(got).toBeGreaterThanOrEqual(exact);
            expect(got).toBeLessThanOrEqual(exact + exact / 1024);
          }
          const j = s.toJSON() as unknown as Summary;
          expect(j.latencyNs!.min).toBe(sorted[0]);
          expect(j.latencyNs!.max).toBe(sorted[sorted.length - 1]);
          expect(j.latencyNs!.mean).toBe(Math.round(values.reduce((a, b) => a + b, 0) / values.length));
          expect(j.received).toBe(values.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives the exact value for a distribution of small integers', () => {
    const s = new FlowStats('f', 'ping', 'a', 'b', 'rtt');
    for (let v = 1; v <= 1000; v++) s.record(v); // below 2048 every value has its own bucket
    expect([s.percentile(50), s.percentile(90), s.percentile(99), s.percentile(99.9), s.percentile(100)]).toEqual([500, 900, 990, 999, 1000]);
  });

  it('counts sent, received, lost, late, duplicates and errors, sorted by kind', () => {
    const s = new FlowStats('ping a -> b', 'ping', 'a', '10.0.0.2', 'rtt');
    s.sent = 10;
    s.record(2_000_000);
    s.record(4_000_000);
    s.late = 3;
    s.duplicates = 1;
    s.error('destination port unreachable');
    s.error('destination host unreachable');
    s.error('destination port unreachable');
    const j = s.toJSON() as unknown as Summary & { name: string };
    expect([j.name, j.sent, j.received, j.lost, j.late, j.duplicates]).toEqual(['ping a -> b', 10, 2, 8, 3, 1]);
    expect(Object.entries(j.errors)).toEqual([
      ['destination host unreachable', 1],
      ['destination port unreachable', 2],
    ]);
    expect(j.latencyNs).toMatchObject({ min: 2_000_000, max: 4_000_000, mean: 3_000_000 });
  });

  it('has no latency summary and no negative loss before anything arrives', () => {
    const s = new FlowStats('f', 'udp', 'a', 'b', 'one-way');
    expect((s.toJSON() as unknown as Summary).latencyNs).toBeNull();
    expect(s.percentile(99)).toBe(0);
    s.record(5);
    expect(s.lost).toBe(0); // received without a matching send (a one-way flow measured at the server)
    expect((s.toJSON() as unknown as Summary).latency).toBe('one-way');
  });
});
