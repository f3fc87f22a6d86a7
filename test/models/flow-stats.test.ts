/**
 * Per-flow statistics: an HdrHistogram with 3 significant digits (Gil Tene's
 * HdrHistogram; hdr-histogram-js getValueAtPercentile), so a percentile is the
 * nearest-rank value (rank ceil(p/100 * n)) reported as the top of its bucket,
 * at most 1/1024 above it; min, max and mean are kept exactly; lost = sent -
 * received.
 */
import fc from 'fast-check';
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { EXACT_SAMPLES, FlowStats, LatencySummary } from '../../models/stats/flow-stats.js';

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

/** What one HdrHistogram of every sample (the summary's documented model) reports, kept within the exact min and max. */
function histogramPercentiles(values: number[]): number[] {
  const h = hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
  for (const v of values) h.recordValue(Math.round(v));
  const min = Math.min(...values);
  const max = Math.max(...values);
  return [50, 90, 99, 99.9, 100].map((p) => Math.min(max, Math.max(min, h.getValueAtPercentile(p))));
}

/** Latencies from 1 ns to 20 s, some repeated, so buckets hold several samples. */
const latencies = (maxLength: number) =>
  fc.array(fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 20_000_000_000 }), fc.constant(84_000)), { minLength: 1, maxLength });

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

  it('reports what one HdrHistogram of every sample reports, below and above the samples it holds as values', () => {
    fc.assert(
      fc.property(latencies(3 * EXACT_SAMPLES), (values) => {
        const s = new FlowStats('f', 'udp', 'a', 'b', 'rtt');
        for (const v of values) s.record(v);
        expect([50, 90, 99, 99.9, 100].map((p) => s.percentile(p))).toEqual(histogramPercentiles(values));
        const j = (s.toJSON() as unknown as Summary).latencyNs!;
        expect([j.p50, j.p90, j.p99, j.p999, j.max]).toEqual(histogramPercentiles(values).map((v, k) => (k === 4 ? Math.max(...values) : v)));
      }),
      { numRuns: 60 },
    );
  });

  it('holds a short flow in a few hundred bytes, and a histogram only past EXACT_SAMPLES samples', () => {
    const short = new LatencySummary();
    for (let k = 1; k <= 10; k++) short.record(k * 1000);
    expect(short.footprintBytes).toBeLessThan(1024);
    const long = new LatencySummary();
    for (let k = 1; k <= EXACT_SAMPLES; k++) long.record(k * 1000);
    expect(long.footprintBytes).toBeLessThanOrEqual(8 * EXACT_SAMPLES);
    long.record(5);
    // HdrHistogram's counts for 1 ns .. 1 h at 3 digits: 33,792 32-bit counters.
    expect(long.footprintBytes).toBeGreaterThan(130_000);
  });

  it('merges partials split anywhere into the summary of the whole, as a partitioned run does', () => {
    fc.assert(
      fc.property(latencies(2 * EXACT_SAMPLES + 50), fc.array(fc.nat(), { maxLength: 4 }), (values, cuts) => {
        const whole = new FlowStats('f', 'udp', 'a', 'b', 'rtt');
        for (const v of values) whole.record(v);
        const bounds = [0, ...cuts.map((c) => c % (values.length + 1)).sort((a, b) => a - b), values.length];
        const merged = new FlowStats('f', 'udp', 'a', 'b', 'rtt');
        for (let k = 0; k + 1 < bounds.length; k++) {
          const part = new FlowStats('f', 'udp', 'a', 'b', 'rtt');
          for (const v of values.slice(bounds[k], bounds[k + 1])) part.record(v);
          merged.merge(JSON.parse(JSON.stringify(part.toPartial())));
        }
        expect(merged.toJSON()).toEqual(whole.toJSON());
      }),
      { numRuns: 60 },
    );
  });

  it('counts first arrivals: each packet once at its earliest copy, the rest duplicates, however the receivers are split', () => {
    // Arrivals of packets 0..9 at receivers: (packet, latency, receiver).
    const arrivals = fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 3 })), { maxLength: 60 });
    fc.assert(
      fc.property(arrivals, (list) => {
        const byPacket = new Map<number, number>();
        for (const [id, ns] of list) byPacket.set(id, Math.min(ns, byPacket.get(id) ?? Infinity));
        const expected = new FlowStats('f', 'udp', 'a', 'b', 'one-way');
        for (const ns of byPacket.values()) expected.record(ns);
        expected.duplicates = list.length - byPacket.size;
        // Each receiver in a partition of its own, merged as a partitioned run does.
        const merged = new FlowStats('f', 'udp', 'a', 'b', 'one-way');
        merged.countFirstArrivals();
        for (let r = 0; r < 4; r++) {
          const part = new FlowStats('f', 'udp', 'a', 'b', 'one-way');
          part.countFirstArrivals();
          for (const [id, ns, at] of list) if (at === r) part.arrival(id, ns);
          merged.merge(JSON.parse(JSON.stringify(part.toPartial())));
        }
        expect(merged.received).toBe(byPacket.size);
        expect(merged.toJSON()).toEqual(expected.toJSON());
      }),
      { numRuns: 100 },
    );
  });
});
