import { EventQueue, MAX_COMPONENTS, MAX_SEQ, eventKey } from './event-queue.js';
import { randomStream, type RandomStream } from './rng.js';
import { DelayLine } from './delay-line.js';
import type { Nanos } from './time.js';

/**
 * Something that receives events. `kind` says which of its events fired and
 * `arg` is whatever was passed to `schedule` (a frame, a timer generation...).
 * One method, so handlers live in a side table and no closure is made per event.
 */
export interface EventHandler {
  handleEvent(kind: number, arg: unknown): void;
}

/**
 * A component is the unit of ownership and, later, of partitioning: a node with
 * its pods, or an underlay segment. It owns a counter that numbers the events it
 * schedules; (time, component id, counter) is the canonical event order, so the
 * order does not depend on how components are spread over worker threads.
 * See engine/README.md for the contract models must keep.
 */
export class Component {
  private seq = 0;
  /**
   * False when another partition runs this component (engine/README.md,
   * "Partitioned runs"): the models exist, so the build is the same everywhere,
   * but their events are dropped here and run there.
   */
  local = true;
  private lines: DelayLine[] = [];

  constructor(
    readonly sim: Simulation,
    readonly id: number,
    readonly name: string,
  ) {}

  get now(): Nanos {
    return this.sim.now;
  }

  /** Schedules `handler.handleEvent(kind, arg)` after `delay` ns (>= 0). */
  schedule(delay: Nanos, handler: EventHandler, kind: number, arg: unknown = null): void {
    this.scheduleAt(this.sim.now + delay, handler, kind, arg);
  }

  scheduleAt(time: Nanos, handler: EventHandler, kind: number, arg: unknown = null): void {
    if (!(time >= this.sim.now)) throw new Error(`${this.name}: event scheduled in the past (${time} < ${this.sim.now})`);
    const seq = this.seq++;
    if (seq >= MAX_SEQ) throw new Error(`${this.name}: more than 2^32 events scheduled by one component`);
    if (this.local) this.sim.enqueue(time, eventKey(this.id, seq), handler, kind, arg);
  }

  /**
   * Takes this component's next event key without scheduling anything: a frame
   * sent over a wire is stamped with it at transmission, and its arrival runs
   * under that key in the receiving component. The key is the same however the
   * components are partitioned, since only the sender's history decides it.
   */
  nextKey(): number {
    const seq = this.seq++;
    if (seq >= MAX_SEQ) throw new Error(`${this.name}: more than 2^32 events scheduled by one component`);
    return eventKey(this.id, seq);
  }

  /** Schedules an event under a key taken elsewhere (a frame's arrival under its sender's key). */
  scheduleKeyed(time: Nanos, key: number, handler: EventHandler, kind: number, arg: unknown = null): void {
    if (!(time >= this.sim.now)) throw new Error(`${this.name}: event scheduled in the past (${time} < ${this.sim.now})`);
    if (this.local) this.sim.enqueue(time, key, handler, kind, arg);
  }

  /** The component's FIFO of deliveries after `delayNs` (engine/delay-line.ts), one per distinct delay. */
  delayLine(delayNs: Nanos): DelayLine {
    let line = this.lines.find((l) => l.delayNs === delayNs);
    if (line === undefined) {
      line = new DelayLine(this, delayNs);
      this.lines.push(line);
    }
    return line;
  }

  /** A random stream private to this component and purpose. */
  random(purpose: string): RandomStream {
    return randomStream(this.sim.seed, `${this.name}/${purpose}`);
  }
}

/**
 * One simulation: a clock, an event queue and the components that schedule on
 * it. There is no global instance; several simulations can run in one process.
 */
export class Simulation {
  now: Nanos = 0;
  /** Events executed so far. */
  executed = 0;
  /** Key of the event running now (its place in the canonical order; a merged capture sorts by it). */
  currentKey = 0;
  private readonly queue = new EventQueue(4096);
  private handlers: (EventHandler | null)[] = [];
  private kinds: number[] = [];
  private args: unknown[] = [];
  private freeSlots: number[] = [];
  private readonly components: Component[] = [];
  private readonly componentsByName = new Map<string, Component>();
  private stopped = false;

  /**
   * `owns` says which components this simulation runs (a partition of a
   * partitioned run); the others are built but their events are dropped.
   */
  constructor(
    readonly seed: number,
    private readonly owns: ((component: string) => boolean) | null = null,
  ) {}

  component(name: string): Component {
    let c = this.componentsByName.get(name);
    if (c === undefined) {
      if (this.components.length >= MAX_COMPONENTS) throw new Error('too many components');
      c = new Component(this, this.components.length, name);
      if (this.owns !== null) c.local = this.owns(name);
      this.components.push(c);
      this.componentsByName.set(name, c);
    }
    return c;
  }

  /** stop() was called during the current run. */
  get stopping(): boolean {
    return this.stopped;
  }

  get pending(): number {
    return this.queue.size;
  }

  /** Time of the earliest pending event; Infinity when none. */
  nextEventTime(): Nanos {
    return this.queue.peekTime();
  }

  /** Used by Component; models schedule through their component. */
  enqueue(time: Nanos, key: number, handler: EventHandler, kind: number, arg: unknown): void {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.handlers.length;
      this.handlers.push(handler);
      this.kinds.push(kind);
      this.args.push(arg);
    } else {
      this.handlers[slot] = handler;
      this.kinds[slot] = kind;
      this.args[slot] = arg;
    }
    this.queue.push(time, key, slot);
  }

  /** Runs events with time <= `until`; the clock ends at `until` (or where stop() was called). */
  run(until: Nanos = Infinity): void {
    this.stopped = false;
    const queue = this.queue;
    const handlers = this.handlers;
    const kinds = this.kinds;
    const args = this.args;
    while (!this.stopped && queue.size > 0 && queue.peekTime() <= until) {
      this.now = queue.peekTime();
      this.currentKey = queue.peekKey();
      const slot = queue.pop();
      const handler = handlers[slot]!;
      const arg = args[slot];
      handlers[slot] = null;
      args[slot] = null;
      this.freeSlots.push(slot);
      this.executed++;
      handler.handleEvent(kinds[slot]!, arg);
    }
    if (!this.stopped && until !== Infinity && this.now < until) this.now = until;
  }

  /** Moves the clock forward to `t` with nothing run (the end of a partitioned run). */
  advanceTo(t: Nanos): void {
    if (t > this.now) this.now = t;
  }

  stop(): void {
    this.stopped = true;
  }
}
