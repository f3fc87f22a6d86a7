import { buildWorld } from './build.js';
import type { TopologySpec } from './topology.js';
import { Tracer, type TraceSelector, type TraceStep } from '../models/trace/tracer.js';
import { mergeTraceParts, tracePart, type TracePart } from '../models/trace/trace-parts.js';
import { runPartitionsInTurn } from '../engine/partition-stepper.js';
import { openTraceJob, type OpenTraceJob, type TraceJob } from './partition-job.js';
import { planPartitions } from './partition-plan.js';
import { closePorts, partitionWirings, runOnThreads } from './partitioned-run.js';
import type { TraceWorkerReport } from './partition-worker.js';

/**
 * Runs a topology with a tracer in every component and no captures, and
 * returns what the selected packet(s) went through. The trace points do not
 * change what the simulation does, so the run is the one `podwire run` makes.
 */
export function traceTopology(spec: TopologySpec, selector: TraceSelector): Tracer {
  checkFlow(spec, selector);
  const world = buildWorld(spec);
  const tracer = new Tracer(selector, world.sim);
  for (const ns of world.namespaces.values()) ns.ctx.tracer = tracer;
  world.sim.run(spec.durationNs);
  return tracer;
}

export interface TraceOptions {
  /** Partitions wanted (1: this thread); fewer are used when the topology has fewer components. */
  workers: number;
  /** Run the partitions in this thread, in turn, instead of on worker threads. */
  inTurn?: boolean;
}

export interface TraceResult {
  steps: TraceStep[];
  /** Partitions the run was cut into (1: it ran in this thread). */
  parts: number;
}

/**
 * The trace of `traceTopology`, from a run cut into partitions as
 * `podwire run --workers N` cuts it: each partition traces what it runs and
 * the parts merge into exactly the sequential trace (models/trace/trace-parts.ts).
 */
export async function traceScenario(spec: TopologySpec, selector: TraceSelector, opts: TraceOptions): Promise<TraceResult> {
  checkFlow(spec, selector);
  const plan = planPartitions(spec, opts.workers);
  // Nothing to cut (or nothing crosses a cut): a sequential run is the same run.
  if (plan.parts === 1 || plan.lookaheadNs === Infinity) return { steps: traceTopology(spec, selector).steps, parts: 1 };
  const wiring = partitionWirings(spec, plan, spec.durationNs, !opts.inTurn);
  const jobOf = (me: number): TraceJob => ({ ...wiring(me), trace: selector });
  const parts = opts.inTurn
    ? traceInTurn(Array.from({ length: plan.parts }, (_, me) => jobOf(me)))
    : (await runOnThreads<Extract<TraceWorkerReport, { ok: true }>>(plan.parts, jobOf)).map((r) => r.trace);
  return { steps: mergeTraceParts(parts, selector), parts: plan.parts };
}

function traceInTurn(jobs: TraceJob[]): TracePart[] {
  try {
    const open: OpenTraceJob[] = jobs.map(openTraceJob);
    runPartitionsInTurn(open.map((o) => o.stepper));
    return open.map((o) => tracePart(o.tracer));
  } finally {
    closePorts(jobs);
  }
}

function checkFlow(spec: TopologySpec, selector: TraceSelector): void {
  if (selector.flow !== undefined && !spec.traffic.some((t) => t.name === selector.flow)) {
    const names = spec.traffic.map((t) => `"${t.name}"`).slice(0, 10).join(', ');
    throw new Error(`no flow named "${selector.flow}" (flows: ${names}${spec.traffic.length > 10 ? ', ...' : ''})`);
  }
}


