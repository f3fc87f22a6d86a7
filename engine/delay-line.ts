import type { Component, EventHandler } from './simulation.js';

/**
 * The deliveries one component makes after one fixed positive delay (the
 * per-hop cost of its veth pairs), kept as a FIFO: they fall due in the order
 * they were made, so only the earliest waits in the event queue, as a wire's
 * frames do in NicDevice.
 *
 * A run of deliveries due at the same time under consecutive keys — a bridge
 * flooding one frame to its veth ports — is dispatched from one queue event.
 * Nothing can come between two of them in the canonical order: keys are
 * (component, counter), no event of this component has a counter in between,
 * and an event scheduled while they run gets a later counter. Each delivery
 * still runs as an event of its own (Simulation.executed and currentKey), so
 * statistics, captures and traces are those of one event per delivery, and
 * the order is exactly what scheduling each delivery would give.
 */
export class DelayLine implements EventHandler {
  private handlers: (EventHandler | null)[] = [];
  private kinds: number[] = [];
  private args: unknown[] = [];
  private times: number[] = [];
  private keys: number[] = [];
  private head = 0;
  private tail = 0;
  /** The head entry's event is in the queue (false while the line dispatches). */
  private armed = false;

  constructor(
    private readonly component: Component,
    readonly delayNs: number,
  ) {
    if (!(delayNs > 0)) throw new Error(`${component.name}: a delay line needs a positive delay, got ${delayNs}`);
  }

  /** Runs `handler.handleEvent(kind, arg)` after the line's delay, under the key this call takes. */
  push(handler: EventHandler, kind: number, arg: unknown): void {
    const c = this.component;
    const key = c.nextKey();
    if (!c.local) return;
    const t = this.tail++;
    this.handlers[t] = handler;
    this.kinds[t] = kind;
    this.args[t] = arg;
    this.times[t] = c.now + this.delayNs;
    this.keys[t] = key;
    if (t === this.head && !this.armed && !this.dispatching) this.arm();
  }

  private dispatching = false;

  handleEvent(): void {
    const sim = this.component.sim;
    const now = sim.now;
    this.armed = false;
    this.dispatching = true;
    try {
      for (;;) {
        const i = this.head++;
        const handler = this.handlers[i]!;
        const arg = this.args[i];
        const key = this.keys[i]!;
        this.handlers[i] = null;
        this.args[i] = null;
        handler.handleEvent(this.kinds[i]!, arg);
        const j = this.head;
        if (j === this.tail || this.times[j] !== now || this.keys[j] !== key + 1 || sim.stopping) break;
        // The next delivery is the next event of the whole run: run it now.
        sim.currentKey = key + 1;
        sim.executed++;
      }
    } finally {
      this.dispatching = false;
    }
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else {
      if (this.head > 1024 && this.head * 2 > this.tail) this.compact();
      this.arm();
    }
  }

  private arm(): void {
    this.armed = true;
    this.component.scheduleKeyed(this.times[this.head]!, this.keys[this.head]!, this, 0);
  }

  private compact(): void {
    const h = this.head;
    const t = this.tail;
    this.handlers = this.handlers.slice(h, t);
    this.kinds = this.kinds.slice(h, t);
    this.args = this.args.slice(h, t);
    this.times = this.times.slice(h, t);
    this.keys = this.keys.slice(h, t);
    this.head = 0;
    this.tail = t - h;
  }
}
