/**
 * One partition of a partitioned run, as a worker thread (or a test running
 * every partition in one thread) sets it up: the whole topology is built, so
 * every partition numbers components, NICs and flows alike, but only the
 * partition's own components run events; the wires to other partitions go
 * through the channels (models/devices/remote-wire.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import { ChannelReader, ChannelWriter } from '../engine/channel.js';
import { PartitionStepper } from '../engine/partition-stepper.js';
import { NicDevice } from '../models/devices/nic.js';
import { RemoteWires } from '../models/devices/remote-wire.js';
import { OpenPartition } from './run.js';
import { buildWorld, type World } from './build.js';
import type { TopologySpec } from './topology.js';
import { Tracer, type TraceSelector } from '../models/trace/tracer.js';

/** One end of a channel: the shared buffer and this side's spill port. */
export interface ChannelEnd {
  buffer: SharedArrayBuffer;
  port: MessagePort;
}

/** What every partition needs to run its share of the scenario in lockstep with the others. */
export interface PartitionWiring {
  spec: TopologySpec;
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
function owners(job: PartitionWiring): (component: string) => number {
  const partOf = new Map(job.partOf);
  return (component) => {
    const p = partOf.get(component);
    if (p === undefined) throw new Error(`partitioned run: component ${component} has no partition`);
    return p;
  };
}

/** Sends the wires to other partitions through the channels and makes the stepper. */
function connect(world: World, job: PartitionWiring, owner: (component: string) => number): { stepper: PartitionStepper; wires: RemoteWires } {
  const nics: NicDevice[] = [];
  for (const ns of world.namespaces.values()) for (const dev of ns.devices.values()) if (dev instanceof NicDevice) nics.push(dev);
  const writers = job.out.map((e) => (e === null ? null : new ChannelWriter(e.buffer, e.port)));
  const readers = job.in.map((e) => (e === null ? null : new ChannelReader(e.buffer, e.port)));
  const wires = new RemoteWires(nics, (nic) => owner(nic.ns.component.name), job.me, writers, readers);
  dropOtherPartitions(world);
  const stepper = new PartitionStepper(world.sim, wires, job.lookaheadNs, job.durationNs);
  return { stepper, wires };
}

/**
 * Forgets the namespaces other partitions run. Every partition builds the
 * whole topology (so components, NICs and flows are numbered alike), but
 * keeping the rest alive would double the memory of a 2-way run and make each
 * partition pay for the whole heap in garbage collection and cache misses: a
 * 50-node cluster runs about 1.4x as many events per second as a 100-node one.
 * Once RemoteWires has cut the wires between partitions, nothing local refers
 * to the others' models (their events were never queued here), so they go
 * with the next full collection.
 */
function dropOtherPartitions(world: World): void {
  for (const [name, ns] of world.namespaces) if (!ns.component.local) world.namespaces.delete(name);
}

export function openPartitionJob(job: PartitionJob): OpenJob {
  const owner = owners(job);
  const part = new OpenPartition(job.spec, job.staging, job.format, job.epochSeconds, (c) => owner(c) === job.me, job.singleCapture ? { part: job.me } : null);
  try {
    return { part, ...connect(part.world, job, owner) };
  } catch (e) {
    part.abort();
    throw e;
  }
}

/** A partition of a trace: built as traceTopology builds the whole run, with a tracer of its own. */
export function openTraceJob(job: TraceJob): OpenTraceJob {
  const owner = owners(job);
  const world = buildWorld(job.spec, undefined, (c) => owner(c) === job.me);
  const tracer = new Tracer(job.trace, world.sim);
  for (const ns of world.namespaces.values()) ns.ctx.tracer = tracer;
  return { tracer, ...connect(world, job, owner) };
}
