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
  /** Entry k: handler and argument at [2k, 2k+1] of `refs`, due time and key at [2k, 2k+1] of `due`, kind at [k] of `kinds`. */
  private refs: unknown[] = [];
  private due = new Float64Array(64);
  private kinds = new Int32Array(32);
  private head = 0;
  private tail = 0;
  /** The head entry's event is in the queue. */
  private armed = false;
  /** Entries are being dispatched: pushes must not arm (the dispatch arms the new head when it ends). */
  private dispatching = false;

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
    if (this.tail === this.kinds.length) this.makeRoom();
    const t = this.tail++;
    this.refs[2 * t] = handler;
    this.refs[2 * t + 1] = arg;
    this.due[2 * t] = c.now + this.delayNs;
    this.due[2 * t + 1] = key;
    this.kinds[t] = kind;
    if (t === this.head && !this.armed && !this.dispatching) this.arm();
  }

  handleEvent(): void {
    const sim = this.component.sim;
    const now = sim.now;
    const refs = this.refs;
    this.armed = false;
    this.dispatching = true;
    for (;;) {
      const i = this.head++;
      const handler = refs[2 * i] as EventHandler;
      const arg = refs[2 * i + 1];
      const key = this.due[2 * i + 1]!;
      refs[2 * i] = null;
      refs[2 * i + 1] = null;
      handler.handleEvent(this.kinds[i]!, arg);
      const j = this.head;
      // `due` is read again: a push from the handler may have grown it.
      if (j === this.tail || this.due[2 * j] !== now || this.due[2 * j + 1] !== key + 1 || sim.stopping) break;
      // The next delivery is the next event of the whole run: run it now.
      sim.currentKey = key + 1;
      sim.executed++;
    }
    this.dispatching = false;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
    } else {
      this.arm();
    }
  }

  private arm(): void {
    this.armed = true;
    const h = this.head;
    this.component.scheduleKeyed(this.due[2 * h]!, this.due[2 * h + 1]!, this, 0);
  }

  /**
   * The line is full up to its end. A line that never empties (a busy node)
   * only moves along: when at least half of it is spent, the live entries
   * move to the front instead of the arrays growing, so a line holds about
   * what is in flight. In place, and growing keeps `refs`: a dispatch in
   * progress holds `refs` and reads `head` and `due` afresh after each delivery.
   */
  private makeRoom(): void {
    if (this.head * 2 >= this.tail) this.compact();
    else this.grow();
  }

  private grow(): void {
    const due = new Float64Array(this.due.length * 2);
    due.set(this.due);
    this.due = due;
    const kinds = new Int32Array(this.kinds.length * 2);
    kinds.set(this.kinds);
    this.kinds = kinds;
  }

  private compact(): void {
    const h = this.head;
    const n = this.tail - h;
    this.refs.copyWithin(0, 2 * h, 2 * this.tail);
    this.refs.fill(null, 2 * n, 2 * this.tail);
    this.due.copyWithin(0, 2 * h, 2 * this.tail);
    this.kinds.copyWithin(0, h, this.tail);
    this.head = 0;
    this.tail = n;
  }
}
