import type { EventHandler } from '../../engine/simulation.js';
import type { RandomStream } from '../../engine/rng.js';
import type { Packet } from '../packet.js';
import { DropReason } from './drop-reason.js';
import { NetDevice } from './net-device.js';
import type { Netns } from '../stack/netns.js';

const EV_TX_READY = 0;
const EV_ARRIVE = 1;

/** Physical properties of one direction of a wire. */
export interface WireParams {
  /** One-way propagation delay, > 0 (the lookahead of a partitioned run). */
  delayNs: number;
  /** Bits per second; 0 = no serialisation delay. */
  bandwidthBps: number;
  /** Per-frame loss probability in [0, 1). */
  loss: number;
  /** Transmit queue limit in frames (txqueuelen). */
  txQueueLen: number;
}

/**
 * A NIC on a point-to-point wire: a drop-tail transmit queue (pfifo_fast with
 * txqueuelen), serialisation at the line rate, then propagation to the peer NIC.
 *
 * Events are kept few: while the wire is busy a single TX_READY event stands for
 * the end of the current serialisation, and frames in flight wait in the
 * receiving NIC's FIFO of which only the head has an ARRIVE event in the global
 * queue (a wire delivers in order). The arrival is an event of the receiving
 * component under the key the sender stamped the frame with at transmission
 * (Component.nextKey), so it orders the same however components are partitioned,
 * and it comes at least `delayNs` after the transmission (the lookahead).
 *
 * The capture tap sees a frame when its serialisation starts (after the queue),
 * as tcpdump sees it at dev_hard_start_xmit; a frame dropped by the queue is not
 * captured.
 */
/** Where frames go when the peer NIC runs in another partition (models/devices/remote-wire.ts). */
export interface RemoteEnd {
  send(pkt: Packet, at: number, key: number): void;
}

export class NicDevice extends NetDevice implements EventHandler {
  peer: NicDevice | null = null;
  /**
   * Set when the peer belongs to another partition: frames leave through it
   * instead of peer.inbound, and `peer` is cleared so that the other
   * partition's models can be collected (models/devices/remote-wire.ts).
   */
  remote: RemoteEnd | null = null;
  params: WireParams = { delayNs: 1, bandwidthBps: 0, loss: 0, txQueueLen: 1000 };
  private lossRng: RandomStream | null = null;

  // transmit queue (ring of packets)
  private txq: (Packet | null)[] = [];
  private txqHead = 0;
  private txqLen = 0;
  private busyUntil = 0;
  private txReadyScheduled = false;

  // frames on the wire towards this NIC, in arrival order, each with the event
  // key its sender stamped it with (receiver-owned, so an arrival is an event
  // of the receiving component)
  private flight: (Packet | null)[] = [];
  private flightAt: number[] = [];
  private flightKey: number[] = [];
  private flightHead = 0;
  private flightTail = 0;

  /** Highest transmit-queue occupancy seen. */
  maxQueueLen = 0;

  constructor(ns: Netns, name: string, mac: number, mtu: number) {
    super(ns, name, mac, mtu);
  }

  /** Joins two NICs with a wire; each direction gets the same parameters. */
  static connect(a: NicDevice, b: NicDevice, params: WireParams): void {
    if (!(params.delayNs > 0)) throw new Error(`wire ${a.path} <-> ${b.path}: delay must be positive`);
    NicDevice.attachWire(a, params);
    NicDevice.attachWire(b, params);
    a.peer = b;
    b.peer = a;
  }

  /**
   * One end of a wire, without its peer: the far end is in a namespace this
   * partition does not build, and RemoteWires gives the NIC its `remote`.
   */
  static attachWire(end: NicDevice, params: WireParams): void {
    if (!(params.delayNs > 0)) throw new Error(`wire ${end.path}: delay must be positive`);
    end.params = { ...params };
    if (params.loss > 0) end.lossRng = end.ns.component.random(`wire-loss/${end.path}`);
  }

  get queueLength(): number {
    return this.txqLen;
  }

  xmit(pkt: Packet): void {
    if (!this.up || (this.peer === null && this.remote === null)) {
      this.drop(pkt, DropReason.DEV_READY);
      return;
    }
    if (pkt.len - 14 > this.mtu) {
      this.drop(pkt, DropReason.PKT_TOO_BIG);
      return;
    }
    const now = this.ns.component.now;
    if (this.txqLen === 0 && now >= this.busyUntil) {
      this.startTransmit(pkt, now);
      return;
    }
    if (this.txqLen >= this.params.txQueueLen) {
      this.drop(pkt, DropReason.QDISC_DROP);
      return;
    }
    const cap = this.txq.length;
    if (this.txqLen === cap) this.growTxq();
    this.txq[(this.txqHead + this.txqLen) % this.txq.length] = pkt;
    this.txqLen++;
    if (this.txqLen > this.maxQueueLen) this.maxQueueLen = this.txqLen;
    if (!this.txReadyScheduled) {
      this.txReadyScheduled = true;
      this.ns.component.scheduleAt(this.busyUntil, this, EV_TX_READY);
    }
  }

  handleEvent(kind: number): void {
    if (kind === EV_TX_READY) this.onTxReady();
    else this.onArrive();
  }

  private startTransmit(pkt: Packet, now: number): void {
    this.transmitted(pkt);
    // Out of the queue: the sending socket is no longer charged (TX completion, tcp_wfree).
    pkt.orphan();
    const bw = this.params.bandwidthBps;
    // Serialisation of the frame plus preamble, SFD and inter-frame gap (20 bytes)
    // and FCS (4 bytes) on Ethernet; short frames are padded to 60 bytes first.
    const wireBytes = Math.max(pkt.len, 60) + 24;
    const serialise = bw > 0 ? Math.round((wireBytes * 8 * 1e9) / bw) : 0;
    this.busyUntil = now + serialise;
    if (this.lossRng !== null && this.lossRng.next() < this.params.loss) {
      this.drop(pkt, DropReason.LINK_LOSS);
      return;
    }
    // The one cross-component write the contract allows (engine/README.md):
    // the frame, its arrival time and the sender's event key go onto the wire.
    const at = this.busyUntil + this.params.delayNs;
    if (this.remote !== null) {
      this.remote.send(pkt, at, this.ns.component.nextKey());
      pkt.release();
    } else this.peer!.inbound(pkt, at, this.ns.component.nextKey());
  }

  /** A frame this NIC will not send: counted, and let go if a flood's copy is shared (Packet.take). */
  private drop(pkt: Packet, reason: DropReason): void {
    this.dropTx(pkt, reason);
    pkt.release();
  }

  /**
   * A frame put on the wire by the peer arrives at `at`; only the earliest one
   * waits as an event. Called by the peer, or at a window edge with a frame
   * from another partition.
   */
  inbound(pkt: Packet, at: number, key: number): void {
    // Slots are reused once the FIFO drains. A wire that never drains (a frame
    // always in flight) only moves along its arrays: once they are full and
    // half spent, the frames in flight move to the front instead of the arrays
    // growing, so the FIFO holds about what is on the wire.
    if (this.flightTail === this.flight.length && this.flightHead > 0 && this.flightHead * 2 >= this.flightTail) this.compactFlight();
    const t = this.flightTail++;
    this.flight[t] = pkt;
    this.flightAt[t] = at;
    this.flightKey[t] = key;
    if (t === this.flightHead) this.ns.component.scheduleKeyed(at, key, this, EV_ARRIVE);
  }

  private onTxReady(): void {
    this.txReadyScheduled = false;
    const now = this.ns.component.now;
    const pkt = this.txq[this.txqHead]!;
    this.txq[this.txqHead] = null;
    this.txqHead = (this.txqHead + 1) % this.txq.length;
    this.txqLen--;
    this.startTransmit(pkt, now);
    if (this.txqLen > 0) {
      this.txReadyScheduled = true;
      this.ns.component.scheduleAt(this.busyUntil, this, EV_TX_READY);
    }
  }

  private onArrive(): void {
    // A bridge's flood shares one copy between its NIC ports: `receive` takes
    // this receiver's own packet, or reads the shared one in place.
    const pkt = this.flight[this.flightHead]!;
    this.flight[this.flightHead] = null;
    this.flightHead++;
    if (this.flightHead === this.flightTail) {
      this.flightHead = 0;
      this.flightTail = 0;
    } else {
      const h = this.flightHead;
      this.ns.component.scheduleKeyed(this.flightAt[h]!, this.flightKey[h]!, this, EV_ARRIVE);
    }
    // A frame off the wire is a new skb on this host.
    pkt.scrub(true);
    this.ns.backlog.enqueue(this, pkt);
  }

  private growTxq(): void {
    const old = this.txq;
    const n = Math.max(16, old.length * 2);
    const q: (Packet | null)[] = new Array(n).fill(null);
    for (let i = 0; i < this.txqLen; i++) q[i] = old[(this.txqHead + i) % old.length]!;
    this.txq = q;
    this.txqHead = 0;
  }

  /** In place: the spent slots' packets are let go, the arrays keep their length. */
  private compactFlight(): void {
    const h = this.flightHead;
    const t = this.flightTail;
    this.flight.copyWithin(0, h, t);
    this.flight.fill(null, t - h, t);
    this.flightAt.copyWithin(0, h, t);
    this.flightKey.copyWithin(0, h, t);
    this.flightTail = t - h;
    this.flightHead = 0;
  }
}
