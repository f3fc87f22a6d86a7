/**
 * The piscina worker: one task = one sweep point. Loaded from the compiled
 * dist/scenarios/sweep/worker.js (see pool.ts, workerFile).
 */
import type { Results } from '../run.js';
import { type PointTask, runPoint } from './run-point.js';

export default function (task: PointTask): Results {
  return runPoint(task);
}
