import type { BenchResult } from './benchmark.js';
import type { MachineFacts } from './machine.js';

/** The shape of bench/baseline.json and bench/results/latest.json. */
export interface ResultsFile {
  date: string;
  machine: MachineFacts;
  results: BenchResult[];
}

export interface Comparison {
  result: BenchResult;
  /** The baseline value with the same id and unit, if there is one. */
  baseline: number | undefined;
  /** (value - baseline) / baseline; undefined without a baseline. */
  change: number | undefined;
  /** Worse than the baseline by more than the tolerance, in the result's own direction. */
  regression: boolean;
  /** Better than the baseline by more than the tolerance. */
  improvement: boolean;
}

/** `tolerance` is a fraction: 0.15 flags anything more than 15% worse than the baseline. */
export function compareWithBaseline(results: BenchResult[], baseline: BenchResult[], tolerance: number): Comparison[] {
  const byId = new Map(baseline.map((b) => [b.id, b]));
  return results.map((result) => {
    const b = byId.get(result.id);
    if (b === undefined || b.unit !== result.unit || !(b.value > 0)) {
      return { result, baseline: undefined, change: undefined, regression: false, improvement: false };
    }
    const change = (result.value - b.value) / b.value;
    const gain = result.higherIsBetter ? change : -change;
    return { result, baseline: b.value, change, regression: gain < -tolerance, improvement: gain > tolerance };
  });
}

/**
 * The baseline after `--update-baseline`: this run's figures replace those with
 * the same id; figures of benchmarks not selected this time are kept.
 */
export function mergeBaseline(old: BenchResult[], fresh: BenchResult[]): BenchResult[] {
  const freshIds = new Set(fresh.map((r) => r.id));
  return [...old.filter((r) => !freshIds.has(r.id)), ...fresh];
}

/**
 * The baseline after `--add-to-baseline`: this run's figures that the baseline
 * has no figure for are added (a new benchmark's); the others stay as they were.
 */
export function addToBaseline(old: BenchResult[], fresh: BenchResult[]): BenchResult[] {
  const oldIds = new Set(old.map((r) => r.id));
  return [...old, ...fresh.filter((r) => !oldIds.has(r.id))];
}
