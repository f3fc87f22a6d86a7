/**
 * A run cut into partitions (scenarios/partition-plan.ts), one per worker
 * thread, stepping conservative windows in lockstep (engine/README.md,
 * "Partitioned runs"). Each partition writes the captures of the capture
 * points it owns into the shared staging folder and returns its share of the
 * statistics; the shares merge into the results a sequential run writes, byte
 * for byte (test/run/partitioned.test.ts).
 *
 * `inTurn` runs every partition in this thread, one window each in turn: the
 * same protocol without threads, for tests and for looking at a partitioning
 * under a debugger.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { channelBytes } from '../engine/channel.js';
import { runPartitionsInTurn } from '../engine/partition-stepper.js';
import type { PartitionPlan } from '../engine/partition.js';
import { WindowBarrier } from '../engine/window-barrier.js';
import { DEFAULT_EPOCH_SECONDS } from './build.js';
import { workerModule } from './package-root.js';
import { type ChannelEnd, openPartitionJob, owners, type OpenJob, type PartitionJob, type PartitionWiring } from './partition-job.js';
import { planPartitions } from './partition-plan.js';
import { SpecCutter } from './build-scope.js';
import type { WorkerReport } from './partition-worker.js';
import { mergeShares } from './results.js';
import { SINGLE_CAPTURE_FILE, commitRun, runTopology, stageRun, type RunOptions, type RunResult } from './run.js';
import { PcapngWriter } from '../models/capture/pcapng-writer.js';
import { captureDescription } from '../models/capture/capture-tap.js';
import { mergeParts, partFiles } from '../models/capture/capture-parts.js';
import type { TopologySpec } from './topology.js';

/** Bytes of each half of a channel; a window sending more spills into a message (engine/channel.ts). */
const CHANNEL_HALF_BYTES = 1 << 20;

export interface PartitionedRunOptions extends RunOptions {
  /** Partitions wanted; fewer are used when the topology has fewer components. */
  workers: number;
  /** Run the partitions in this thread, in turn, instead of on worker threads. */
  inTurn?: boolean;
}

export interface PartitionedRunResult extends Omit<RunResult, 'world'> {
  plan: PartitionPlan;
  /** Per partition: windows run, frames sent to and received from other partitions, run time and the busy part of it (ms, threads only). */
  partitions: { windows: number; framesSent: number; framesReceived: number; runMs: number; busyMs: number }[];
}

/** The compiled worker (see workerModule). */
function workerFile(): string {
  return workerModule(import.meta.url, 'partition-worker.js', join('scenarios', 'partition-worker.js'), 'use --workers 1');
}

export async function runPartitioned(spec: TopologySpec, opts: PartitionedRunOptions): Promise<PartitionedRunResult> {
  const plan = planPartitions(spec, opts.workers);
  if (plan.parts === 1 || plan.lookaheadNs === Infinity) {
    // Nothing to cut (or nothing crosses a cut): a sequential run is the same run.
    const { world, ...rest } = runTopology(spec, opts);
    return { ...rest, plan, partitions: [{ windows: 1, framesSent: 0, framesReceived: 0, runMs: 0, busyMs: 0 }] };
  }
  const format = opts.format ?? 'pcapng';
  const staging = stageRun(opts.outDir);
  try {
    const jobOf = partitionJobs(spec, plan, staging, opts, !opts.inTurn);
    const durationNs = opts.durationNs ?? spec.durationNs;
    const progress = opts.onProgress;
    // The barrier's clock is the partitions' next work, which may lie past the end (Infinity once there is none).
    const onClock = progress === undefined ? undefined : (ns: number, events: number) => progress(Math.min(ns, durationNs), events);
    const reports = opts.inTurn ? runInTurn(Array.from({ length: plan.parts }, (_, me) => jobOf(me))) : await runOnThreads<Report>(plan.parts, jobOf, onClock);
    const results = mergeShares(spec, durationNs, reports.map((r) => r.share));
    if (opts.singleCapture) mergeSingleCapture(spec, join(staging, 'captures'), plan.parts, opts.epochSeconds ?? DEFAULT_EPOCH_SECONDS);
    return {
      ...commitRun(spec, staging, opts.outDir, results, format, opts.singleCapture),
      plan,
      partitions: reports.map(({ windows, framesSent, framesReceived, runMs, busyMs }) => ({ windows, framesSent, framesReceived, runMs, busyMs })),
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

type Report = Extract<WorkerReport, { ok: true }>;

/** Joins the partitions' parts into captures/all.pcapng, in the order a sequential run writes (capture-parts.ts). */
function mergeSingleCapture(spec: TopologySpec, capDir: string, parts: number, epochSeconds: number): void {
  const writer = new PcapngWriter(join(capDir, SINGLE_CAPTURE_FILE), { epochSeconds, inPlace: true });
  const files = Array.from({ length: parts }, (_, k) => partFiles(capDir, k));
  try {
    for (const point of spec.captures) writer.addInterface(point, captureDescription(point));
    mergeParts(files, writer);
    writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  }
  for (const f of files) {
    rmSync(f.capture);
    rmSync(f.keys);
  }
}

/** How often a threaded run's progress is read off the barrier. */
const PROGRESS_POLL_MS = 100;

/** Each partition's job, made when asked for (see partitionWirings). */
function partitionJobs(spec: TopologySpec, plan: PartitionPlan, staging: string, opts: PartitionedRunOptions, threads: boolean): (me: number) => PartitionJob {
  const wiring = partitionWirings(spec, plan, opts.durationNs ?? spec.durationNs, threads);
  return (me) => ({
    ...wiring(me),
    staging,
    format: opts.format ?? 'pcapng',
    epochSeconds: opts.epochSeconds ?? DEFAULT_EPOCH_SECONDS,
    singleCapture: opts.singleCapture === true,
  });
}

/**
 * The channels between every ordered pair of partitions and the barrier when
 * they run on threads, made at once; each partition's wiring, with its part of
 * the spec (scenarios/build-scope.ts), cut when asked for, so that the first
 * worker can take its job in while the next one is cut.
 */
export function partitionWirings(spec: TopologySpec, plan: PartitionPlan, durationNs: number, threads: boolean): (me: number) => PartitionWiring {
  const n = plan.parts;
  const out: (ChannelEnd | null)[][] = Array.from({ length: n }, () => new Array<ChannelEnd | null>(n).fill(null));
  const inn: (ChannelEnd | null)[][] = Array.from({ length: n }, () => new Array<ChannelEnd | null>(n).fill(null));
  for (let from = 0; from < n; from++) {
    for (let to = 0; to < n; to++) {
      if (from === to) continue;
      const buffer = new SharedArrayBuffer(channelBytes(CHANNEL_HALF_BYTES));
      const { port1, port2 } = new MessageChannel();
      out[from]![to] = { buffer, port: port1 };
      inn[to]![from] = { buffer, port: port2 };
    }
  }
  const barrier = threads ? WindowBarrier.create(n) : null;
  const partOf = [...plan.partOf.entries()];
  const cutter = new SpecCutter(spec, owners(plan.partOf));
  return (me) => ({
    ...cutter.partition(me),
    durationNs,
    parts: n,
    me,
    partOf,
    lookaheadNs: plan.lookaheadNs,
    out: out[me]!,
    in: inn[me]!,
    barrier,
  });
}

/** Every partition's wiring at once (partitionWirings). */
export function partitionWiring(spec: TopologySpec, plan: PartitionPlan, durationNs: number, threads: boolean): PartitionWiring[] {
  const wiring = partitionWirings(spec, plan, durationNs, threads);
  return Array.from({ length: plan.parts }, (_, me) => wiring(me));
}

function runInTurn(jobs: PartitionJob[]): Report[] {
  const open: OpenJob[] = [];
  try {
    for (const j of jobs) open.push(openPartitionJob(j));
    runPartitionsInTurn(open.map((o) => o.stepper));
    return open.map((o) => ({ ok: true, share: o.part.finish(), windows: o.stepper.windows, framesSent: o.wires.sent, framesReceived: o.wires.received, runMs: 0, busyMs: 0 }));
  } catch (e) {
    for (const o of open) o.part.abort();
    throw e;
  } finally {
    closePorts(jobs);
  }
}

/** Closes the channels' spill ports of partitions run in this thread. */
export function closePorts(jobs: PartitionWiring[]): void {
  for (const j of jobs) for (const e of [...j.out, ...j.in]) e?.port.close();
}

/**
 * Starts one worker per partition, then sends each its job as `jobOf` makes
 * it (a worker loads its modules meanwhile), and waits for all reports. A
 * failing partition aborts the barrier so the others stop; the first real
 * error (not an "another partition failed") is the one thrown.
 */
export async function runOnThreads<R extends { ok: true }>(
  parts: number,
  jobOf: (me: number) => PartitionWiring,
  onProgress?: (simNs: number, events: number) => void,
): Promise<R[]> {
  const file = workerFile();
  let barrier: WindowBarrier | null = null;
  const workers = Array.from({ length: parts }, () => new Worker(file));
  const reports = workers.map(
    (worker, me) =>
      new Promise<R>((resolve, reject) => {
        let report: R | { ok: false; aborted: boolean; message: string } | null = null;
        worker.once('message', (m: R | { ok: false; aborted: boolean; message: string }) => (report = m));
        worker.once('error', (e) => {
          barrier?.abort();
          reject(e);
        });
        worker.once('exit', (code) => {
          if (report === null) {
            barrier?.abort();
            reject(new Error(`partition ${me}: worker exited with code ${code} before reporting`));
          } else if (report.ok) resolve(report);
          else reject(Object.assign(new Error(`partition ${me}: ${report.message}`), { aborted: report.aborted }));
        });
      }),
  );
  try {
    for (let me = 0; me < parts; me++) {
      const job = jobOf(me);
      barrier ??= new WindowBarrier(job.barrier!, parts, -1);
      const ports = [...job.out, ...job.in].filter((e): e is ChannelEnd => e !== null).map((e) => e.port);
      workers[me]!.postMessage(job, ports);
    }
  } catch (e) {
    // A job that could not be made: the workers that have theirs would wait at the barrier for ever.
    barrier?.abort();
    await Promise.all(workers.map((w) => w.terminate()));
    await Promise.allSettled(reports);
    throw e;
  }
  // While the workers run, this thread only waits: it reads their clock and event counts off the barrier for the progress display.
  const poll = onProgress !== undefined && barrier !== null ? setInterval(() => onProgress(barrier!.clock(), barrier!.eventsRun()), PROGRESS_POLL_MS) : null;
  const settled = await Promise.allSettled(reports).finally(() => {
    if (poll !== null) clearInterval(poll);
  });
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error & { aborted?: boolean });
  if (failures.length > 0) throw failures.find((f) => f.aborted !== true) ?? failures[0]!;
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}
