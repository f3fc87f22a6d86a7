import type { EventHandler } from '../../../engine/simulation.js';

/**
 * An event handler that passes events on to another until it is detached.
 *
 * A TCP connection's timers are cancelled lazily (LazyTimer): their events
 * stay queued after the connection is done, for up to the 1 s initial RTO.
 * Addressed to the connection itself, they would keep it (a few KiB with its
 * queues and estimators) alive that long, so a run of short connections would
 * copy every one of them through the young generation's collections. Addressed
 * to this, only this small object waits for them.
 */
export class DetachableHandler implements EventHandler {
  constructor(private target: EventHandler | null) {}

  handleEvent(kind: number, arg: unknown): void {
    if (this.target !== null) this.target.handleEvent(kind, arg);
  }

  /** From now on events are dropped: the caller knows that each would do nothing. */
  detach(): void {
    this.target = null;
  }
}
