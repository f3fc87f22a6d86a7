import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in ns; 1 hour is the most a histogram tracks. */
const HIGHEST_NS = 3_600_000_000_000;

/**
 * What one flow measured: requests sent, answers received, losses, errors by
 * kind and a latency histogram (HdrHistogram, 3 significant digits, so any
 * percentile is within 0.1% and merging partial histograms is exact).
 */
export class FlowStats {
  sent = 0;
  received = 0;
  duplicates = 0;
  late = 0;
  readonly errors = new Map<string, number>();
  /** Made on the first sample: a large run has thousands of flows, and an empty histogram is not free. */
  private hist: hdr.Histogram | null = null;
  private min = Infinity;
  private max = 0;
  private sum = 0;

  constructor(
    readonly name: string,
    readonly kind: string,
    readonly from: string,
    readonly to: string,
    /** What the latency measures: round-trip or one-way. */
    readonly latency: 'rtt' | 'one-way',
  ) {}

  record(latencyNs: number): void {
    this.received++;
    const v = Math.max(0, Math.min(HIGHEST_NS, Math.round(latencyNs)));
    if (this.hist === null) {
      this.hist = hdr.build({
        bitBucketSize: 32,
        lowestDiscernibleValue: 1,
        highestTrackableValue: HIGHEST_NS,
        numberOfSignificantValueDigits: 3,
        useWebAssembly: false,
      });
    }
    this.hist.recordValue(v);
    if (latencyNs < this.min) this.min = latencyNs;
    if (latencyNs > this.max) this.max = latencyNs;
    this.sum += latencyNs;
  }

  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  get lost(): number {
    return Math.max(0, this.sent - this.received);
  }

  /** The p-th percentile; HdrHistogram's bucket value, kept within the exact min and max. */
  percentile(p: number): number {
    if (this.hist === null) return 0;
    return Math.min(this.max, Math.max(this.min, this.hist.getValueAtPercentile(p)));
  }

  toJSON(): Record<string, unknown> {
    const n = this.received;
    return {
      name: this.name,
      kind: this.kind,
      from: this.from,
      to: this.to,
      sent: this.sent,
      received: this.received,
      lost: this.lost,
      late: this.late,
      duplicates: this.duplicates,
      errors: Object.fromEntries([...this.errors.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      latency: this.latency,
      latencyNs:
        n === 0
          ? null
          : {
              min: this.min,
              p50: this.percentile(50),
              p90: this.percentile(90),
              p99: this.percentile(99),
              p999: this.percentile(99.9),
              max: this.max,
              mean: Math.round(this.sum / n),
            },
    };
  }
}
