import type { ChannelReader, ChannelWriter } from '../../engine/channel.js';
import type { Mailbox } from '../../engine/partition-stepper.js';
import { Packet } from '../packet.js';
import type { NicDevice, RemoteEnd } from './nic.js';

/** One end of a wire, numbered in spec order (scenarios/partition-job.ts, `wireEnds`), which every partition reads alike whatever it builds. */
export interface WireEnd {
  /** This end's NIC where this partition built it, else null. */
  nic: NicDevice | null;
  /** The partition that runs it. */
  part: number;
  /** The index of the wire's other end. */
  peer: number;
}

/**
 * The wires a partitioned run cuts. A frame a local NIC puts on a wire whose
 * peer lives in another partition is written to the channel towards that
 * partition as (peer NIC index, arrival time, sender's event key, packet id,
 * birth time, trace tag, bytes); at the window edge the other side rebuilds the packet and
 * hands it to the peer NIC exactly as the peer's own `inbound` call would have
 * in a sequential run. Nothing else of the skb crosses: a frame off a wire is
 * scrubbed on arrival anyway (NicDevice.onArrive). The trace tag says whether
 * `podwire trace` watches the packet (models/trace/trace-tag.ts); 0 without a tracer.
 */
export class RemoteWires implements Mailbox {
  private readonly inboundOf: (target: number, time: number, key: number, id: number, bornAt: number, bytes: Uint8Array, traceTag: number) => void;
  /** This partition's NICs by index (null where another partition runs the NIC): frames arrive only at these. */
  private readonly nics: (NicDevice | null)[];
  /** Frames sent to and received from other partitions. */
  sent = 0;
  received = 0;
  /** The last frame received and its arrival time: the copies of one flood come as a run of records. */
  private last: Packet | null = null;
  private lastTime = -1;
  private lastTag = 0;

  constructor(
    ends: readonly WireEnd[],
    me: number,
    /** Channel towards each partition (null for this one). */
    private readonly writers: readonly (ChannelWriter | null)[],
    /** Channel from each partition (null for this one). */
    private readonly readers: readonly (ChannelReader | null)[],
  ) {
    this.nics = ends.map((e) => (e.part === me ? e.nic : null));
    for (const e of ends) {
      const nic = e.nic;
      if (nic === null || e.part !== me) continue;
      const there = ends[e.peer]!.part;
      if (there === me) continue;
      const writer = writers[there];
      if (writer === undefined || writer === null) throw new Error(`remote wire ${nic.path}: no channel to partition ${there}`);
      nic.remote = new RemoteNicEnd(this, writer, e.peer, nic);
      // The peer, where this partition built it (a namespace it builds but does
      // not run), is the other partition's: with this last reference from a
      // local model gone, it can be collected (scenarios/partition-job.ts).
      nic.peer = null;
    }
    this.inboundOf = (target, time, key, id, bornAt, bytes, traceTag) => {
      const nic = this.nics[target];
      if (nic === undefined || nic === null) throw new Error(`remote wire: frame for NIC #${target}, which this partition does not run`);
      let pkt = this.last;
      if (pkt !== null && time === this.lastTime && traceTag === this.lastTag && id === pkt.id && bornAt === pkt.bornAt && sameBytes(pkt, bytes)) {
        // Another copy of a flood sent across (the same frame, arriving at the
        // same time): its NICs share one packet, as they would have shared the
        // sender's copy, and each takes its own on arrival (Packet.take).
        pkt.holders++;
      } else {
        pkt = Packet.alloc(bytes.length, id, bornAt);
        pkt.buf.set(bytes, pkt.off);
        this.last = pkt;
      }
      this.lastTime = time;
      this.lastTag = traceTag;
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
    this.last = null;
  }
}

function sameBytes(pkt: Packet, bytes: Uint8Array): boolean {
  if (pkt.len !== bytes.length) return false;
  const b = pkt.buf;
  const o = pkt.off;
  for (let i = 0; i < bytes.length; i++) if (b[o + i] !== bytes[i]) return false;
  return true;
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
