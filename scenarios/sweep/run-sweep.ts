/**
 * `podwire sweep`: plans the grid, runs this shard's points on a piscina pool
 * (one point per task) or in-process, and writes the table. Results are put
 * in point order whatever order the workers finish in.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import type { Results } from '../run.js';
import { workerModule } from '../package-root.js';
import { loadSweepFile } from './grid.js';
import { type PointTask, runPoint } from './run-point.js';
import { type Shard, inShard } from './shard.js';
import { SWEEP_FORMAT, type SweepTable, writeSweepTable } from './table.js';

export interface SweepOptions {
  /** Folder for sweep.json, sweep.csv (and points/<k>/ when the scenario asks for captures). */
  outDir: string;
  /** Worker threads; 0 runs the points one after another in this thread. Default: min(points, cores). */
  workers?: number;
  shard?: Shard | null;
  /** Overrides every point's duration. */
  durationNs?: number | null;
  /** Told how many of this run's points are done (a progress display): once with 0 before any runs, then as each finishes. */
  onPointDone?: (done: number, total: number) => void;
}

export interface SweepRun {
  table: SweepTable;
  files: { json: string; csv: string };
}

/** The compiled sweep worker (see workerModule). */
export function workerFile(): string {
  return workerModule(import.meta.url, 'worker.js', join('scenarios', 'sweep', 'worker.js'), 'use --workers 0');
}

export async function runSweep(scenarioFile: string, opts: SweepOptions): Promise<SweepRun> {
  const plan = loadSweepFile(scenarioFile);
  const shard = opts.shard ?? null;
  const durationNs = opts.durationNs ?? null;
  const mine = plan.points.filter((p) => inShard(p.index, shard));
  const tasks: PointTask[] = mine.map((p) => ({ scenario: p.scenario, durationNs, outDir: p.captures ? join(opts.outDir, 'points', String(p.index)) : null }));
  const workers = opts.workers ?? Math.min(tasks.length, availableParallelism());
  let done = 0;
  opts.onPointDone?.(0, tasks.length);
  const finished = (r: Results): Results => {
    opts.onPointDone?.(++done, tasks.length);
    return r;
  };
  let results: Results[];
  if (workers === 0 || tasks.length === 0) {
    results = tasks.map((t) => finished(runPoint(t)));
  } else {
    const pool = new Piscina({ filename: workerFile(), minThreads: workers, maxThreads: workers });
    try {
      results = await Promise.all(tasks.map((t) => (pool.run(t) as Promise<Results>).then(finished)));
    } finally {
      await pool.destroy();
    }
  }
  const table: SweepTable = {
    format: SWEEP_FORMAT,
    scenario: plan.scenario,
    scenarioSha256: plan.scenarioSha256,
    durationNs,
    parameters: plan.parameters,
    pointCount: plan.points.length,
    shard,
    points: mine.map((p, i) => ({ index: p.index, values: p.values, results: results[i]! })),
  };
  return { table, files: writeSweepTable(opts.outDir, table) };
}
