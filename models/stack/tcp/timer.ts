import type { Component, EventHandler } from '../../../engine/simulation.js';

/**
 * A re-armable timer over the event queue with lazy cancellation: the due
 * time is stored, events that fire early re-schedule themselves for it and
 * events left over from a cancelled or moved timer find nothing due
 * (as NeighbourTable's timerAt does). Re-arming later, which TCP does on
 * every ACK (tcp_rearm_rto), costs no event; only arming earlier than the
 * pending event schedules a new one.
 */
export class LazyTimer {
  /** When the timer is due, or -1 when not armed. */
  due = -1;
  /** The earliest event known to be pending for this timer. */
  private pendingAt = Infinity;

  constructor(
    private readonly component: Component,
    private readonly handler: EventHandler,
    private readonly kind: number,
  ) {}

  get armed(): boolean {
    return this.due >= 0;
  }

  arm(delayNs: number): void {
    this.due = this.component.now + delayNs;
    if (this.due < this.pendingAt) {
      this.pendingAt = this.due;
      this.component.scheduleAt(this.due, this.handler, this.kind);
    }
  }

  cancel(): void {
    this.due = -1;
  }

  /** Call from handleEvent: true when the timer really expired (it is then disarmed). */
  expired(): boolean {
    const now = this.component.now;
    if (now === this.pendingAt) this.pendingAt = Infinity;
    if (this.due < 0) return false;
    if (now >= this.due) {
      this.due = -1;
      return true;
    }
    if (this.due < this.pendingAt) {
      this.pendingAt = this.due;
      this.component.scheduleAt(this.due, this.handler, this.kind);
    }
    return false;
  }
}
