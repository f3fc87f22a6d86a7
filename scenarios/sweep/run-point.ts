/**
 * One sweep point, start to end: expand, run, return the statistics. Shared
 * by the pool's worker (scenarios/sweep/worker.ts) and in-process runs
 * (`--workers 0`), so both give the same numbers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandScenario } from '../expand.js';
import { runTopology, type Results } from '../run.js';
import type { Scenario } from '../scenario.js';

export interface PointTask {
  scenario: Scenario;
  /** --duration, overriding the scenario's. */
  durationNs: number | null;
  /** Where the point's captures and results.json go when the scenario asks for captures; null: nowhere. */
  outDir: string | null;
}

export function runPoint(task: PointTask): Results {
  const spec = expandScenario(task.scenario);
  if (task.durationNs !== null) spec.durationNs = task.durationNs;
  // runTopology always writes results.json (and netfilter state); without captures that goes to a scratch folder.
  const dir = task.outDir ?? mkdtempSync(join(tmpdir(), 'podwire-point-'));
  try {
    // A plain-data copy: what crosses the worker boundary, the same in-process.
    return JSON.parse(JSON.stringify(runTopology(spec, { outDir: dir }).results)) as Results;
  } finally {
    if (task.outDir === null) rmSync(dir, { recursive: true, force: true });
  }
}
