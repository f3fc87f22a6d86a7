import type { ChannelReader, ChannelWriter } from '../../engine/channel.js';
import type { Mailbox } from '../../engine/partition-stepper.js';
import { Packet } from '../packet.js';
import type { NicDevice, RemoteEnd } from './nic.js';

/**
 * The wires a partitioned run cuts. A frame a local NIC puts on a wire whose
 * peer lives in another partition is written to the channel towards that
 * partition as (peer NIC index, arrival time, sender's event key, packet id,
 * birth time, trace tag, bytes); at the window edge the other side rebuilds the packet and
 * hands it to the peer NIC exactly as the peer's own `inbound` call would have
 * in a sequential run. Nothing else of the skb crosses: a frame off a wire is
 * scrubbed on arrival anyway (NicDevice.onArrive). The trace tag says whether
 * `podwire trace` watches the packet (models/trace/trace-tag.ts); 0 without a tracer.
 *
 * NICs are numbered by their position in `nics`, which every partition builds
 * in the same order from the same topology.
 */
export class RemoteWires implements Mailbox {
  private readonly inboundOf: (target: number, time: number, key: number, id: number, bornAt: number, bytes: Uint8Array, traceTag: number) => void;
  /** This partition's NICs by index (null where another partition runs the NIC): frames arrive only at these. */
  private readonly nics: (NicDevice | null)[];
  /** Frames sent to and received from other partitions. */
  sent = 0;
  received = 0;

  constructor(
    nics: readonly NicDevice[],
    /** Partition of each NIC (by index in `nics`). */
    partOfNic: (nic: NicDevice) => number,
    me: number,
    /** Channel towards each partition (null for this one). */
    private readonly writers: readonly (ChannelWriter | null)[],
    /** Channel from each partition (null for this one). */
    private readonly readers: readonly (ChannelReader | null)[],
  ) {
    // Plain loops, not callbacks: a callback would put `index` in the context
    // that inboundOf closes over, and keep every partition's NICs alive.
    const index = new Map<NicDevice, number>();
    this.nics = [];
    for (let i = 0; i < nics.length; i++) {
      index.set(nics[i]!, i);
      this.nics.push(partOfNic(nics[i]!) === me ? nics[i]! : null);
    }
    for (const nic of nics) {
      const peer = nic.peer;
      if (peer === null || partOfNic(nic) !== me) continue;
      const there = partOfNic(peer);
      if (there === me) continue;
      const writer = writers[there];
      if (writer === undefined || writer === null) throw new Error(`remote wire ${nic.path}: no channel to partition ${there}`);
      nic.remote = new RemoteNicEnd(this, writer, index.get(peer)!, nic);
      // The peer's models are the other partition's; with this last reference
      // from a local model gone, they can be collected (scenarios/partition-job.ts).
      nic.peer = null;
    }
    this.inboundOf = (target, time, key, id, bornAt, bytes, traceTag) => {
      const nic = this.nics[target];
      if (nic === undefined || nic === null) throw new Error(`remote wire: frame for NIC #${target}, which this partition does not run`);
      const pkt = Packet.alloc(bytes.length, id, bornAt);
      pkt.buf.set(bytes, pkt.off);
      this.received++;
      const tr = nic.ns.ctx.tracer;
      if (tr !== null) tr.arrived(pkt, traceTag);
      nic.inbound(pkt, time, key);
    };
  }

  flush(step: number): number {
    let min = Infinity;
    for (const w of this.writers) {
      if (w === null) continue;
      const t = w.flush(step);
      if (t < min) min = t;
    }
    return min;
  }

  ingest(step: number): void {
    for (const r of this.readers) if (r !== null) r.read(step, this.inboundOf);
  }
}

class RemoteNicEnd implements RemoteEnd {
  constructor(
    private readonly wires: RemoteWires,
    private readonly writer: ChannelWriter,
    private readonly target: number,
    private readonly nic: NicDevice,
  ) {}

  send(pkt: Packet, at: number, key: number): void {
    this.wires.sent++;
    const tr = this.nic.ns.ctx.tracer;
    this.writer.write(this.target, at, key, pkt.id, pkt.bornAt, pkt.bytes(), tr === null ? 0 : tr.tagOf(pkt));
  }
}
