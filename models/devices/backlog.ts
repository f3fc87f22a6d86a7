import type { Packet } from '../packet.js';

/** What a backlog entry is handed to: a device's receive (or the stack's, for a looped broadcast). */
export interface BacklogTarget {
  receive(pkt: Packet): void;
}

/**
 * The per-CPU receive backlog of one component (a node and its pods): veth and
 * loopback transmit with netif_rx, which only queues the frame; the queue is
 * drained once the current call chain returns (process_backlog in the NET_RX
 * softirq). This gives the kernel's order — a bridge finishes flooding before any
 * port's receiver runs — and keeps the stack shallow however long a zero-delay
 * path is. Reused arrays: no allocation per frame.
 */
export class Backlog {
  private devs: (BacklogTarget | null)[] = new Array(64).fill(null);
  private pkts: (Packet | null)[] = new Array(64).fill(null);
  private head = 0;
  private tail = 0;
  private draining = false;
  /** Nesting of hold()/release(): local_bh_disable depth of process-context senders. */
  private held = 0;
  /** Frames processed, for statistics. */
  processed = 0;

  enqueue(dev: BacklogTarget, pkt: Packet): void {
    if (this.tail === this.devs.length) this.grow();
    this.devs[this.tail] = dev;
    this.pkts[this.tail++] = pkt;
    if (!this.draining && this.held === 0) this.drain();
  }

  /**
   * A process-context send (an application's sendmsg, a timer) runs with bottom
   * halves disabled: frames it makes ready are processed only when the outermost
   * sender returns (local_bh_enable in __dev_queue_xmit runs the softirq), so a
   * bridge flood completes before any port's receiver runs.
   */
  hold(): void {
    this.held++;
  }

  release(): void {
    if (--this.held === 0 && !this.draining && this.head < this.tail) this.drain();
  }

  private drain(): void {
    this.draining = true;
    try {
      while (this.head < this.tail) {
        const i = this.head++;
        const dev = this.devs[i]!;
        const pkt = this.pkts[i]!;
        this.devs[i] = null;
        this.pkts[i] = null;
        this.processed++;
        dev.receive(pkt);
      }
    } finally {
      // Entries left by a throwing receive are dropped with it.
      for (let i = this.head; i < this.tail; i++) {
        this.devs[i] = null;
        this.pkts[i] = null;
      }
      this.head = 0;
      this.tail = 0;
      this.draining = false;
    }
  }

  private grow(): void {
    const n = this.devs.length * 2;
    const devs: (BacklogTarget | null)[] = new Array(n).fill(null);
    const pkts: (Packet | null)[] = new Array(n).fill(null);
    for (let i = this.head; i < this.tail; i++) {
      devs[i - this.head] = this.devs[i]!;
      pkts[i - this.head] = this.pkts[i]!;
    }
    this.tail -= this.head;
    this.head = 0;
    this.devs = devs;
    this.pkts = pkts;
  }
}
