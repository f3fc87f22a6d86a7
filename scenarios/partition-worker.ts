/**
 * A worker thread of a partitioned run: opens its partition, steps windows in
 * lockstep with the others through the WindowBarrier, and posts back its
 * share of the results. See scenarios/partitioned-run.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PartitionAborted, WindowBarrier } from '../engine/window-barrier.js';
import { openPartitionJob, type PartitionJob } from './partition-job.js';
import type { ResultsShare } from './results.js';

export type WorkerReport =
  | { ok: true; share: ResultsShare; windows: number; framesSent: number; framesReceived: number; runMs: number }
  | { ok: false; aborted: boolean; message: string };

const job = workerData as PartitionJob;
const barrier = new WindowBarrier(job.barrier!, job.parts, job.me);
let report: WorkerReport;
try {
  const { part, stepper, wires } = openPartitionJob(job);
  try {
    let t0 = 0;
    let next = stepper.initialNext();
    for (let step = 0; ; step++) {
      const global = barrier.exchange(step, next);
      // Timed from the first barrier: every partition has finished building by then.
      if (step === 0) t0 = performance.now();
      if (!stepper.afterBarrier(step, global)) break;
      next = stepper.runWindow(step, global);
    }
    const runMs = performance.now() - t0;
    report = { ok: true, share: part.finish(), windows: stepper.windows, framesSent: wires.sent, framesReceived: wires.received, runMs };
  } catch (e) {
    part.abort();
    throw e;
  }
} catch (e) {
  barrier.abort();
  report = { ok: false, aborted: e instanceof PartitionAborted, message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}
parentPort!.postMessage(report);
