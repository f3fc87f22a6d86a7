/**
 * One partition of a partitioned run, as a worker thread (or a test running
 * every partition in one thread) sets it up: it builds the namespaces of its
 * own components (scenarios/build-scope.ts) and numbers components, wires and
 * flows from the spec, as every partition does alike; only its own components
 * run events, and the wires to other partitions go through the channels
 * (models/devices/remote-wire.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import { ChannelReader, ChannelWriter } from '../engine/channel.js';
import { PartitionStepper } from '../engine/partition-stepper.js';
import { NicDevice } from '../models/devices/nic.js';
import { RemoteWires, type WireEnd } from '../models/devices/remote-wire.js';
import { OpenPartition } from './run.js';
import { buildWorld, type World } from './build.js';
import type { LinkSpec, TopologySpec } from './topology.js';
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

/**
 * Every wire end of the topology in spec order (namespaces, then their
 * interfaces joined by a wire, as buildWorld makes the NICs), with the NIC
 * where this world built it, its partition and its peer's index.
 */
function wireEnds(world: World, owner: (component: string) => number): WireEnd[] {
  const spec = world.spec;
  const index = new Map<string, number>();
  const ends: { ns: string; ifname: string; part: number }[] = [];
  const wireOf = new Map<string, LinkSpec>();
  for (const l of spec.links) if (l.kind !== 'veth') for (const e of [l.a, l.b]) wireOf.set(`${e.ns}/${e.ifname}`, l);
  for (const ns of spec.namespaces) {
    for (const i of ns.interfaces) {
      const key = `${ns.name}/${i.name}`;
      if (!wireOf.has(key)) continue;
      index.set(key, ends.length);
      ends.push({ ns: ns.name, ifname: i.name, part: owner(ns.component) });
    }
  }
  return ends.map((e) => {
    const l = wireOf.get(`${e.ns}/${e.ifname}`)!;
    const far = l.a.ns === e.ns && l.a.ifname === e.ifname ? l.b : l.a;
    const dev = world.namespaces.get(e.ns)?.devices.get(e.ifname);
    return { nic: dev instanceof NicDevice ? dev : null, part: e.part, peer: index.get(`${far.ns}/${far.ifname}`)! };
  });
}

/** Sends the wires to other partitions through the channels and makes the stepper. */
function connect(world: World, job: PartitionWiring, owner: (component: string) => number): { stepper: PartitionStepper; wires: RemoteWires } {
  const writers = job.out.map((e) => (e === null ? null : new ChannelWriter(e.buffer, e.port)));
  const readers = job.in.map((e) => (e === null ? null : new ChannelReader(e.buffer, e.port)));
  const wires = new RemoteWires(wireEnds(world, owner), job.me, writers, readers);
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
