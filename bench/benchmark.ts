/**
 * The contract between bench/run.ts and a benchmark module: a name to select
 * it by (`npm run bench -- queue`) and a run() that returns its figures.
 */
export interface BenchResult {
  /** Stable identifier, compared against bench/baseline.json, e.g. "queue/event-queue/n=1k". */
  id: string;
  value: number;
  /** e.g. "Mops/s", "ms". */
  unit: string;
  /** Whether a larger value is an improvement (throughput) or a regression (latency). */
  higherIsBetter: boolean;
}

export interface Benchmark {
  name: string;
  run(): Promise<BenchResult[]>;
}
