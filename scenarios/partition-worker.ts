/**
 * A worker thread of a partitioned run: opens its partition, steps windows in
 * lockstep with the others through the WindowBarrier, and posts back its
 * share of the results (or, for `podwire trace`, its part of the trace). See
 * scenarios/partitioned-run.ts and scenarios/trace.ts.
 */
import { parentPort } from 'node:worker_threads';
import type { PartitionStepper } from '../engine/partition-stepper.js';
import { PartitionAborted, WindowBarrier } from '../engine/window-barrier.js';
import type { RemoteWires } from '../models/devices/remote-wire.js';
import { tracePart, type TracePart } from '../models/trace/trace-parts.js';
import { openPartitionJob, openTraceJob, type PartitionJob, type TraceJob } from './partition-job.js';
import type { ResultsShare } from './results.js';

interface Counts {
  windows: number;
  framesSent: number;
  framesReceived: number;
  runMs: number;
  /** Of runMs, the time spent taking frames in and running windows (the rest is waiting at barriers). */
  busyMs: number;
}

export type WorkerReport = ({ ok: true; share: ResultsShare } & Counts) | { ok: false; aborted: boolean; message: string };
export type TraceWorkerReport = ({ ok: true; trace: TracePart } & Counts) | { ok: false; aborted: boolean; message: string };

/** Steps windows until the run is over; the counts for the report. */
function step(barrier: WindowBarrier, stepper: PartitionStepper, wires: RemoteWires): Counts {
  let t0 = 0;
  let busy = 0;
  let next = stepper.initialNext();
  for (let step = 0; ; step++) {
    barrier.publishEvents(stepper.sim.executed);
    const global = barrier.exchange(step, next);
    // Timed from the first barrier: every partition has finished building by then.
    const t = performance.now();
    if (step === 0) t0 = t;
    if (!stepper.afterBarrier(step, global)) break;
    next = stepper.runWindow(step, global);
    busy += performance.now() - t;
  }
  return { windows: stepper.windows, framesSent: wires.sent, framesReceived: wires.received, runMs: performance.now() - t0, busyMs: busy };
}

function run(job: PartitionJob | TraceJob): WorkerReport | TraceWorkerReport {
  const barrier = new WindowBarrier(job.barrier!, job.parts, job.me);
  try {
    if (job.trace !== undefined) {
      const { tracer, stepper, wires } = openTraceJob(job);
      return { ok: true, ...step(barrier, stepper, wires), trace: tracePart(tracer) };
    }
    const { part, stepper, wires } = openPartitionJob(job);
    try {
      const counts = step(barrier, stepper, wires);
      return { ok: true, share: part.finish(), ...counts };
    } catch (e) {
      part.abort();
      throw e;
    }
  } catch (e) {
    barrier.abort();
    return { ok: false, aborted: e instanceof PartitionAborted, message: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
}

// The job comes as the first message, not as workerData: the thread starts
// (and loads its modules) while the main thread is still cutting the spec.
parentPort!.once('message', (job: PartitionJob | TraceJob) => parentPort!.postMessage(run(job)));
