import type { Simulation } from './simulation.js';
import type { Nanos } from './time.js';

/**
 * What a partition exchanges with the others at window edges: messages its
 * components sent to components elsewhere (frames on cut wires) and those it
 * received. See engine/README.md, "Partitioned runs".
 */
export interface Mailbox {
  /** Ends window `step`: publishes what was sent during it; returns the earliest delivery time sent (Infinity if none). */
  flush(step: number): Nanos;
  /** Takes in what the other partitions sent during window `step`, scheduling it locally. */
  ingest(step: number): void;
}

/**
 * One partition's side of the conservative window protocol. Between barriers
 * a partition runs every local event earlier than `start + lookahead`, where
 * `start` is the earliest pending event anywhere: nothing another partition
 * does in the window can reach it sooner, since a message crossing a cut
 * arrives at least `lookahead` after it was sent. The driver (threads, or one
 * thread stepping every partition in turn) calls, per step:
 *   global = min over partitions of localNext  (the barrier)
 *   afterBarrier(step, global) -> whether to go on
 *   localNext = runWindow(step, global)
 */
export class PartitionStepper {
  /** Windows run so far. */
  windows = 0;

  constructor(
    readonly sim: Simulation,
    private readonly mailbox: Mailbox,
    /** Smallest delay of any message crossing between partitions; Infinity when none does. */
    readonly lookahead: Nanos,
    /** Inclusive end of the run (events at `end` run, as in Simulation.run). */
    readonly end: Nanos,
  ) {
    if (!(lookahead > 0)) throw new Error(`partitioned run: lookahead must be positive, got ${lookahead}`);
  }

  /** The earliest pending local event before the first barrier. */
  initialNext(): Nanos {
    return this.sim.nextEventTime();
  }

  /**
   * After barrier `step` (whose global minimum is `global`): takes in the
   * previous window's messages; false when the run is over.
   */
  afterBarrier(step: number, global: Nanos): boolean {
    if (step > 0) this.mailbox.ingest(step - 1);
    if (global > this.end) {
      this.sim.advanceTo(this.end);
      return false;
    }
    return true;
  }

  /** Runs window `step` from `global`; returns this partition's earliest pending time, counting what it sent. */
  runWindow(step: number, global: Nanos): Nanos {
    const until = Math.min(global + this.lookahead - 1, this.end);
    this.sim.run(until);
    this.windows++;
    const sent = this.mailbox.flush(step);
    return Math.min(this.sim.nextEventTime(), sent);
  }
}

/**
 * Runs several partitions of one process in turn (tests, and a check of the
 * protocol without threads): the same steps the threaded driver takes.
 */
export function runPartitionsInTurn(steppers: PartitionStepper[]): void {
  const next = steppers.map((s) => s.initialNext());
  for (let step = 0; ; step++) {
    const global = Math.min(...next);
    let go = true;
    for (const s of steppers) go = s.afterBarrier(step, global) && go;
    if (!go) return;
    steppers.forEach((s, i) => (next[i] = s.runWindow(step, global)));
  }
}
