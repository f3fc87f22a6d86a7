/**
 * One partition of a partitioned run, as a worker thread (or a test running
 * every partition in one thread) sets it up: it builds the part of the spec it
 * was sent and numbers components, wires and flows from its scope, as every
 * partition does alike (scenarios/build-scope.ts); only its own components
 * run events, and the wires to other partitions go through the channels
 * (models/devices/remote-wire.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import { ChannelReader, ChannelWriter } from '../engine/channel.js';
import { PartitionStepper } from '../engine/partition-stepper.js';
import { NicDevice } from '../models/devices/nic.js';
import { RemoteWires, type WireEnd } from '../models/devices/remote-wire.js';
import { OpenPartition } from './run.js';
import { buildWorld, type BuildPartition, type World } from './build.js';
import type { PartitionScope } from './build-scope.js';
import type { TopologySpec } from './topology.js';
import { Tracer, type TraceSelector } from '../models/trace/tracer.js';

/** One end of a channel: the shared buffer and this side's spill port. */
export interface ChannelEnd {
  buffer: SharedArrayBuffer;
  port: MessagePort;
}

/** What every partition needs to run its share of the scenario in lockstep with the others. */
export interface PartitionWiring {
  /** The partition's own part of the spec, and what it knows of the rest (scenarios/build-scope.ts). */
  spec: TopologySpec;
  scope: PartitionScope;
  durationNs: number;
  parts: number;
  me: number;
  /** Component name -> partition. */
  partOf: [string, number][];
  lookaheadNs: number;
  /** Channel towards each partition (null for this one). */
  out: (ChannelEnd | null)[];
  /** Channel from each partition (null for this one). */
  in: (ChannelEnd | null)[];
  /** The WindowBarrier's buffer (threads only). */
  barrier: SharedArrayBuffer | null;
}

/** Everything a partition of `podwire run` needs; plain data plus shared buffers and ports, so it can be a worker's workerData. */
export interface PartitionJob extends PartitionWiring {
  staging: string;
  format: 'pcapng' | 'pcap';
  epochSeconds: number;
  /** One capture file: this partition writes its part (models/capture/capture-parts.ts). */
  singleCapture: boolean;
  trace?: undefined;
}

/** A partition of `podwire trace`: no captures or statistics, a tracer in every namespace (scenarios/trace.ts). */
export interface TraceJob extends PartitionWiring {
  trace: TraceSelector;
}

export interface OpenJob {
  part: OpenPartition;
  stepper: PartitionStepper;
  wires: RemoteWires;
}

export interface OpenTraceJob {
  tracer: Tracer;
  stepper: PartitionStepper;
  wires: RemoteWires;
}

/** Component name -> partition, failing loudly on a component the plan missed. */
export function owners(entries: Iterable<[string, number]>): (component: string) => number {
  const partOf = new Map(entries);
  return (component) => {
    const p = partOf.get(component);
    if (p === undefined) throw new Error(`partitioned run: component ${component} has no partition`);
    return p;
  };
}

/** The wire ends of the scope, with the NIC where this partition built it. */
function wireEnds(world: World, scope: PartitionScope): WireEnd[] {
  return scope.wireEnds.map((e) => {
    const dev = world.namespaces.get(e.ns)?.devices.get(e.ifname);
    return { nic: dev instanceof NicDevice ? dev : null, part: e.part, peer: e.peer };
  });
}

/** Sends the wires to other partitions through the channels and makes the stepper. */
function connect(world: World, job: PartitionWiring): { stepper: PartitionStepper; wires: RemoteWires } {
  const writers = job.out.map((e) => (e === null ? null : new ChannelWriter(e.buffer, e.port)));
  const readers = job.in.map((e) => (e === null ? null : new ChannelReader(e.buffer, e.port)));
  const wires = new RemoteWires(wireEnds(world, job.scope), job.me, writers, readers);
  dropOtherPartitions(world);
  const stepper = new PartitionStepper(world.sim, wires, job.lookaheadNs, job.durationNs);
  return { stepper, wires };
}

/**
 * Forgets the namespaces built here that other partitions run: the clients of
 * one-way flows to local servers (scenarios/build-scope.ts), needed only while
 * building. Once RemoteWires has cut the wires between partitions, nothing
 * local refers to them (their events were never queued here), so they go with
 * the next full collection.
 */
function dropOtherPartitions(world: World): void {
  for (const [name, ns] of world.namespaces) if (!ns.component.local) world.namespaces.delete(name);
}

/** What buildWorld needs to build the job's partition. */
function buildPartition(job: PartitionWiring): BuildPartition {
  const owner = owners(job.partOf);
  return { owns: (c) => owner(c) === job.me, scope: job.scope };
}

export function openPartitionJob(job: PartitionJob): OpenJob {
  const part = new OpenPartition(job.spec, job.staging, job.format, job.epochSeconds, buildPartition(job), job.singleCapture ? { part: job.me } : null);
  try {
    return { part, ...connect(part.world, job) };
  } catch (e) {
    part.abort();
    throw e;
  }
}

/** A partition of a trace: built as traceTopology builds the whole run, with a tracer of its own. */
export function openTraceJob(job: TraceJob): OpenTraceJob {
  const world = buildWorld(job.spec, undefined, buildPartition(job));
  const tracer = new Tracer(job.trace, world.sim);
  for (const ns of world.namespaces.values()) ns.ctx.tracer = tracer;
  return { tracer, ...connect(world, job) };
}
