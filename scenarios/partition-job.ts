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
import type { TopologySpec } from './topology.js';

/** One end of a channel: the shared buffer and this side's spill port. */
export interface ChannelEnd {
  buffer: SharedArrayBuffer;
  port: MessagePort;
}

/** Everything a partition needs; plain data plus shared buffers and ports, so it can be a worker's workerData. */
export interface PartitionJob {
  spec: TopologySpec;
  staging: string;
  format: 'pcapng' | 'pcap';
  epochSeconds: number;
  durationNs: number;
  /** One capture file: this partition writes its part (models/capture/capture-parts.ts). */
  singleCapture: boolean;
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

export interface OpenJob {
  part: OpenPartition;
  stepper: PartitionStepper;
  wires: RemoteWires;
}

export function openPartitionJob(job: PartitionJob): OpenJob {
  const partOf = new Map(job.partOf);
  const owner = (component: string): number => {
    const p = partOf.get(component);
    if (p === undefined) throw new Error(`partitioned run: component ${component} has no partition`);
    return p;
  };
  const part = new OpenPartition(job.spec, job.staging, job.format, job.epochSeconds, (c) => owner(c) === job.me, job.singleCapture ? { part: job.me } : null);
  try {
    const nics: NicDevice[] = [];
    for (const ns of part.world.namespaces.values()) for (const dev of ns.devices.values()) if (dev instanceof NicDevice) nics.push(dev);
    const writers = job.out.map((e) => (e === null ? null : new ChannelWriter(e.buffer, e.port)));
    const readers = job.in.map((e) => (e === null ? null : new ChannelReader(e.buffer, e.port)));
    const wires = new RemoteWires(nics, (nic) => owner(nic.ns.component.name), job.me, writers, readers);
    const stepper = new PartitionStepper(part.world.sim, wires, job.lookaheadNs, job.durationNs);
    return { part, stepper, wires };
  } catch (e) {
    part.abort();
    throw e;
  }
}
