import * as hdr from 'hdr-histogram-js';

/** Latencies are recorded in ns; 1 hour is the most a histogram tracks. */
const HIGHEST_NS = 3_600_000_000_000;

/**
 * What one flow measured: requests sent, answers received, losses, errors by
 * kind and a latency histogram (HdrHistogram, 3 significant digits, so any
 * percentile is within 0.1% and merging partial histograms is exact).
 *
 * In a partitioned run each partition keeps its own FlowStats for every flow
 * (a one-way flow's client counts `sent` in one partition and its server
 * records latencies in another); `toPartial` and `merge` join them. Every
 * field is a count, a sum of integer nanoseconds, a min/max or a histogram,
 * so the merged result is exactly the sequential one.
 */
export class FlowStats {
  sent = 0;
  duplicates = 0;
  late = 0;
  readonly errors = new Map<string, number>();
  private readonly samples = new LatencySummary();
  /** TCP flows only (see enableTcp): connections, setup times, retransmissions, transfers. */
  tcp: TcpFlowStats | null = null;
  /**
   * One-way flows to a broadcast address only (countFirstArrivals): each
   * datagram's latency to its first receiver, by packet id, until the results
   * are read. Every receiver on the link gets a copy, in whichever partition
   * it runs, so which copy came first is known only once all are merged.
   */
  private firstArrivals: Map<number, number> | null = null;

  constructor(
    readonly name: string,
    readonly kind: string,
    readonly from: string,
    readonly to: string,
    /** What the latency measures: round-trip or one-way. */
    readonly latency: 'rtt' | 'one-way',
    /** The kind of path (scenarios/flow-class.ts); '' when unknown. */
    readonly flowClass = '',
    /** Flows this row stands for (a pattern's group shares one). */
    readonly members = 1,
  ) {}

  /** Answers (or one-way arrivals) received: one per latency sample. */
  get received(): number {
    return this.samples.count + (this.firstArrivals?.size ?? 0);
  }

  record(latencyNs: number): void {
    this.samples.record(latencyNs);
  }

  /**
   * Makes this a flow whose datagrams several receivers may get (one-way to a
   * broadcast address): the first copy of each to arrive counts, later copies
   * are duplicates, as for a request several servers answer.
   */
  countFirstArrivals(): void {
    this.firstArrivals ??= new Map();
  }

  /** A one-way datagram (packet `packetId`) reached a receiver `latencyNs` after it was sent. */
  arrival(packetId: number, latencyNs: number): void {
    const first = this.firstArrivals;
    if (first === null) {
      this.record(latencyNs);
      return;
    }
    const seen = first.get(packetId);
    if (seen === undefined) first.set(packetId, latencyNs);
    else {
      this.duplicates++;
      if (latencyNs < seen) first.set(packetId, latencyNs);
    }
  }

  /** The first arrivals become latency samples: the flow's results are being read, every partition's share is in. */
  private settleArrivals(): void {
    const first = this.firstArrivals;
    if (first === null || first.size === 0) return;
    for (const latency of first.values()) this.samples.record(latency);
    first.clear();
  }

  /** Makes this a TCP flow's statistics: toJSON gains a `tcp` section. */
  enableTcp(): TcpFlowStats {
    if (this.tcp === null) this.tcp = new TcpFlowStats();
    return this.tcp;
  }

  error(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  get lost(): number {
    return Math.max(0, this.sent - this.received);
  }

  /** The p-th percentile; HdrHistogram's bucket value, kept within the exact min and max. */
  percentile(p: number): number {
    this.settleArrivals();
    return this.samples.percentile(p);
  }

  /** This partition's share, as plain data (structured-clone safe). */
  toPartial(): FlowStatsPartial {
    return {
      sent: this.sent,
      duplicates: this.duplicates,
      late: this.late,
      errors: [...this.errors.entries()],
      samples: this.samples.toPartial(),
      firstArrivals: this.firstArrivals === null ? null : [...this.firstArrivals],
      tcp: this.tcp === null ? null : this.tcp.toPartial(),
    };
  }

  /** Adds another partition's share of the same flow. */
  merge(p: FlowStatsPartial): void {
    this.sent += p.sent;
    this.duplicates += p.duplicates;
    this.late += p.late;
    for (const [k, n] of p.errors) this.errors.set(k, (this.errors.get(k) ?? 0) + n);
    this.samples.merge(p.samples);
    if (p.firstArrivals !== null) {
      this.countFirstArrivals();
      for (const [id, latency] of p.firstArrivals) this.arrival(id, latency);
    }
    if (p.tcp !== null) this.enableTcp().merge(p.tcp);
  }

  toJSON(): Record<string, unknown> {
    this.settleArrivals();
    return {
      name: this.name,
      kind: this.kind,
      from: this.from,
      to: this.to,
      ...(this.flowClass !== '' ? { class: this.flowClass } : {}),
      sent: this.sent,
      received: this.received,
      lost: this.lost,
      late: this.late,
      duplicates: this.duplicates,
      errors: Object.fromEntries([...this.errors.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
      latency: this.latency,
      latencyNs: this.samples.toJSON(),
      ...(this.tcp !== null ? { tcp: this.tcp.toJSON() } : {}),
    };
  }
}

export interface FlowStatsPartial {
  sent: number;
  duplicates: number;
  late: number;
  errors: [string, number][];
  samples: LatencyPartial;
  /** (packet id, latency) of each datagram's first arrival here, for a flow that counts first arrivals; else null. */
  firstArrivals: [number, number][] | null;
  tcp: TcpFlowStatsPartial | null;
}

export interface TcpFlowStatsPartial {
  connections: number;
  setup: LatencyPartial;
  retransmits: number;
  transfers: number;
  transferBytes: number;
  transferNs: number;
}

export interface LatencyPartial {
  count: number;
  min: number;
  max: number;
  sum: number;
  /** HdrHistogram's compressed base64 encoding; null while the samples are held as values. */
  histogram: string | null;
  /** The samples themselves, clamped to whole ns, while there are at most EXACT_SAMPLES; else null. */
  values: number[] | null;
}

/** The retransmission count of a connection (a ConnectionStats, read live). */
interface RetransmitSource {
  retransmits: number;
}

/**
 * What a TCP flow adds to FlowStats: connections opened, connection-setup
 * latency (SYN sent -> connect() returned), retransmissions summed over the
 * client's connections (`ss -ti` retrans), and bulk transfers' bytes and time.
 */
export class TcpFlowStats {
  connections = 0;
  private readonly setup = new LatencySummary();
  private closedRetransmits = 0;
  /** Connections not finished yet: their counters are read when toJSON runs. */
  private readonly live = new Set<RetransmitSource>();
  transfers = 0;
  transferBytes = 0;
  transferNs = 0;

  connectionOpened(s: RetransmitSource): void {
    this.connections++;
    this.live.add(s);
  }

  /** A connection finished (closed or failed): its count is final. */
  connectionClosed(s: RetransmitSource): void {
    if (!this.live.delete(s)) return;
    this.closedRetransmits += s.retransmits;
  }

  recordSetup(ns: number): void {
    this.setup.record(ns);
  }

  recordTransfer(bytes: number, ns: number): void {
    this.transfers++;
    this.transferBytes += bytes;
    this.transferNs += ns;
  }

  get retransmits(): number {
    let n = this.closedRetransmits;
    for (const s of this.live) n += s.retransmits;
    return n;
  }

  /** Goodput of the bulk transfers: payload bits over the time they took (0 with none). */
  get throughputBps(): number {
    return this.transferNs > 0 ? Math.round((this.transferBytes * 8 * 1e9) / this.transferNs) : 0;
  }

  toPartial(): TcpFlowStatsPartial {
    return {
      connections: this.connections,
      setup: this.setup.toPartial(),
      retransmits: this.retransmits,
      transfers: this.transfers,
      transferBytes: this.transferBytes,
      transferNs: this.transferNs,
    };
  }

  merge(p: TcpFlowStatsPartial): void {
    this.connections += p.connections;
    this.setup.merge(p.setup);
    this.closedRetransmits += p.retransmits;
    this.transfers += p.transfers;
    this.transferBytes += p.transferBytes;
    this.transferNs += p.transferNs;
  }

  toJSON(): Record<string, unknown> {
    return {
      connections: this.connections,
      connected: this.setup.count,
      retransmits: this.retransmits,
      setupNs: this.setup.toJSON(),
      ...(this.transfers > 0
        ? { transfers: this.transfers, bytes: this.transferBytes, transferNs: this.transferNs, throughputBps: this.throughputBps }
        : {}),
    };
  }
}

/**
 * Samples a summary holds as values before it makes its histogram. A histogram
 * of 1 ns to 1 h at 3 digits is 33,792 32-bit counters (132 KiB), and a scenario
 * may have thousands of flows of a few requests each: 3,000 ten-ping flows took
 * 395 MiB and half the run's speed in histograms. 1,024 values are 8 KiB.
 */
export const EXACT_SAMPLES = 1024;

const HISTOGRAM: hdr.BuildRequest = {
  bitBucketSize: 32,
  lowestDiscernibleValue: 1,
  highestTrackableValue: HIGHEST_NS,
  numberOfSignificantValueDigits: 3,
  useWebAssembly: false,
};

/** Reads the percentiles of summaries that hold values only (refilled for each; the process runs one at a time). */
let scratch: hdr.Histogram | null = null;

/**
 * A latency distribution, as one HdrHistogram of every sample reports it. Up to
 * EXACT_SAMPLES samples are kept as values and poured into a shared histogram
 * to be read; past that the summary has its own. Either way the counts per
 * bucket are the same, so the percentiles, and the merge of partials from a
 * partitioned run, do not depend on which one holds them.
 */
export class LatencySummary {
  count = 0;
  private hist: hdr.Histogram | null = null;
  /** The samples (clamped, whole ns) while there is no histogram; grows by doubling. */
  private values: Float64Array | null = null;
  private held = 0;
  private min = Infinity;
  private max = 0;
  private sum = 0;

  record(ns: number): void {
    this.count++;
    this.add(Math.max(0, Math.min(HIGHEST_NS, Math.round(ns))));
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    this.sum += ns;
  }

  percentile(p: number): number {
    const h = this.histogram();
    if (h === null) return 0;
    return this.clamp(h.getValueAtPercentile(p));
  }

  /** Bytes the samples take: the values held, or the histogram. */
  get footprintBytes(): number {
    if (this.hist !== null) return this.hist.estimatedFootprintInBytes;
    return this.values === null ? 0 : this.values.byteLength;
  }

  toPartial(): LatencyPartial {
    return {
      count: this.count,
      min: this.min,
      max: this.max,
      sum: this.sum,
      histogram: this.hist === null ? null : hdr.encodeIntoCompressedBase64(this.hist),
      values: this.values === null ? null : Array.from(this.values.subarray(0, this.held)),
    };
  }

  merge(p: LatencyPartial): void {
    if (p.count === 0) return;
    this.count += p.count;
    if (p.min < this.min) this.min = p.min;
    if (p.max > this.max) this.max = p.max;
    this.sum += p.sum;
    if (p.values !== null) for (const v of p.values) this.add(v);
    if (p.histogram !== null) this.own().add(hdr.decodeFromCompressedBase64(p.histogram, 32, false));
  }

  toJSON(): Record<string, number> | null {
    const h = this.histogram();
    if (h === null) return null;
    return {
      min: this.min,
      p50: this.clamp(h.getValueAtPercentile(50)),
      p90: this.clamp(h.getValueAtPercentile(90)),
      p99: this.clamp(h.getValueAtPercentile(99)),
      p999: this.clamp(h.getValueAtPercentile(99.9)),
      max: this.max,
      mean: Math.round(this.sum / this.count),
    };
  }

  /** A bucket's value, kept within the exact min and max. */
  private clamp(v: number): number {
    return Math.min(this.max, Math.max(this.min, v));
  }

  private add(v: number): void {
    if (this.hist !== null) {
      this.hist.recordValue(v);
      return;
    }
    let vals = this.values;
    if (vals === null || this.held === vals.length) {
      if (this.held === EXACT_SAMPLES) {
        this.own().recordValue(v);
        return;
      }
      const grown = new Float64Array(vals === null ? 16 : vals.length * 2);
      if (vals !== null) grown.set(vals);
      this.values = vals = grown;
    }
    vals[this.held++] = v;
  }

  /** This summary's own histogram, made with the values held so far. */
  private own(): hdr.Histogram {
    if (this.hist === null) {
      const h = hdr.build(HISTOGRAM);
      const vals = this.values;
      for (let k = 0; k < this.held; k++) h.recordValue(vals![k]!);
      this.hist = h;
      this.values = null;
      this.held = 0;
    }
    return this.hist;
  }

  /** A histogram of every sample to read percentiles from; null with none. */
  private histogram(): hdr.Histogram | null {
    if (this.count === 0) return null;
    if (this.hist !== null) return this.hist;
    const h = (scratch ??= hdr.build(HISTOGRAM));
    h.reset();
    const vals = this.values!;
    for (let k = 0; k < this.held; k++) h.recordValue(vals[k]!);
    return h;
  }
}
