import type { Packet } from '../packet.js';
import type { NetDevice } from './net-device.js';

/**
 * The per-CPU receive backlog of one component (a node and its pods): veth and
 * loopback transmit with netif_rx, which only queues the frame; the queue is
 * drained once the current call chain returns (process_backlog in the NET_RX
 * softirq). This gives the kernel's order — a bridge finishes flooding before any
 * port's receiver runs — and keeps the stack shallow however long a zero-delay
 * path is. Reused arrays: no allocation per frame.
 */
export class Backlog {
  private devs: (NetDevice | null)[] = [];
  private pkts: (Packet | null)[] = [];
  private head = 0;
  private draining = false;
  /** Frames processed, for statistics. */
  processed = 0;

  enqueue(dev: NetDevice, pkt: Packet): void {
    this.devs.push(dev);
    this.pkts.push(pkt);
    if (!this.draining) this.drain();
  }

  private drain(): void {
    this.draining = true;
    try {
      while (this.head < this.devs.length) {
        const i = this.head++;
        const dev = this.devs[i]!;
        const pkt = this.pkts[i]!;
        this.devs[i] = null;
        this.pkts[i] = null;
        this.processed++;
        dev.receive(pkt);
      }
    } finally {
      this.devs.length = 0;
      this.pkts.length = 0;
      this.head = 0;
      this.draining = false;
    }
  }
}
