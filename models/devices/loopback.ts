import type { EventHandler } from '../../engine/simulation.js';
import type { Packet } from '../packet.js';
import { NetDevice, CaptureDirection } from './net-device.js';
import type { Netns } from '../stack/netns.js';

/**
 * `lo` (drivers/net/loopback.c): every frame transmitted is received again in
 * the same namespace, after `delayNs` when a hop cost is set. A capture on lo sees each frame once, inbound (checked on
 * this kernel: tcpdump -Q out on lo sees nothing).
 */
export class LoopbackDevice extends NetDevice implements EventHandler {
  /** Per-frame cost of the loopback hop (the softirq round trip), 0 = a plain call. */
  delayNs = 0;

  constructor(ns: Netns) {
    super(ns, 'lo', 0, 65536);
  }

  xmit(pkt: Packet): void {
    pkt.orphan(); // loopback_xmit
    this.counters.txPackets++;
    this.counters.txBytes += pkt.len;
    if (this.delayNs === 0) this.ns.backlog.enqueue(this, pkt);
    else this.ns.component.schedule(this.delayNs, this, 0, pkt);
  }

  handleEvent(_kind: number, arg: unknown): void {
    this.ns.backlog.enqueue(this, arg as Packet);
  }

  override receive(pkt: Packet): void {
    this.counters.rxPackets++;
    this.counters.rxBytes += pkt.len;
    if (this.tap !== null) this.tap.capture(this, pkt, CaptureDirection.IN);
    this.traceFrame(pkt, 'rx');
    pkt.pktType = 0; // PACKET_HOST: everything on lo is for this host
    this.ns.netifReceive(this, pkt);
  }
}
