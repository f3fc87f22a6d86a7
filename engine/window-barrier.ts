/**
 * The meeting point of partitions between windows: each publishes the time of
 * its earliest pending work, waits until every partition has arrived, and
 * leaves with the global minimum, from which all compute the same next window.
 *
 * A sense-reversing central barrier over a SharedArrayBuffer: an arrival
 * counter and a generation number (Int32, for Atomics.wait), an abort flag,
 * then the published times, double-buffered by step parity. A partition reuses
 * slot `step & 1` only at step + 2, after barrier step + 1, by which time every
 * partition has read the slot's step values.
 *
 * Waiting spins (a window on the other core usually ends within
 * microseconds) and then sleeps in Atomics.wait. A partition that fails sets
 * the abort flag and wakes everyone, so the others stop instead of waiting
 * forever.
 */
const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;
const HEADER_BYTES = 16;
/**
 * Spins before sleeping: about 0.1 ms. A partition waiting longer than that
 * waits for a GC pause or a long window, and sleeping then costs little;
 * sleeping sooner cost the sparse 100 x 30 ping load ~1,000 futex wake-ups.
 */
const SPINS = 100_000;

export class PartitionAborted extends Error {
  constructor() {
    super('another partition failed');
  }
}

export class WindowBarrier {
  private readonly ctrl: Int32Array;
  private readonly times: Float64Array;
  private readonly events: Float64Array;

  static create(parts: number): SharedArrayBuffer {
    // Header, the published times (two slots), then each partition's event count.
    return new SharedArrayBuffer(HEADER_BYTES + 3 * parts * 8);
  }

  constructor(
    buffer: SharedArrayBuffer,
    private readonly parts: number,
    private readonly me: number,
  ) {
    this.ctrl = new Int32Array(buffer, 0, 3);
    this.times = new Float64Array(buffer, HEADER_BYTES, 2 * parts);
    this.events = new Float64Array(buffer, HEADER_BYTES + 2 * parts * 8, parts);
  }

  /** Makes this partition's count of events run so far visible to an onlooker (one store, not synchronised). */
  publishEvents(executed: number): void {
    this.events[this.me] = executed;
  }

  /** The partitions' events run so far, as last published. */
  eventsRun(): number {
    let n = 0;
    for (let i = 0; i < this.parts; i++) n += this.events[i]!;
    return n;
  }

  /** Publishes `localNext` for barrier `step`, waits for all partitions, returns the minimum of all. */
  exchange(step: number, localNext: number): number {
    const base = (step & 1) * this.parts;
    this.times[base + this.me] = localNext;
    this.arrive();
    let min = Infinity;
    for (let i = 0; i < this.parts; i++) {
      const t = this.times[base + i]!;
      if (t < min) min = t;
    }
    return min;
  }

  /**
   * Where the run is, for a progress display from a thread that takes no part
   * (the caller waiting for the workers): the later of the two latest steps'
   * minimum published time. No window has started before it, so it is a lower
   * bound of every partition's clock; Infinity once all have run out of work.
   * Read without synchronisation: a value from a step ago is good enough.
   */
  clock(): number {
    let best = 0;
    for (let slot = 0; slot < 2; slot++) {
      let min = Infinity;
      for (let i = 0; i < this.parts; i++) min = Math.min(min, this.times[slot * this.parts + i]!);
      if (min > best) best = min;
    }
    return best;
  }

  /** Makes every partition's current and next wait throw PartitionAborted. */
  abort(): void {
    Atomics.store(this.ctrl, ABORT, 1);
    Atomics.add(this.ctrl, GENERATION, 1);
    Atomics.notify(this.ctrl, GENERATION);
  }

  private arrive(): void {
    const ctrl = this.ctrl;
    const gen = Atomics.load(ctrl, GENERATION);
    if (Atomics.load(ctrl, ABORT) !== 0) throw new PartitionAborted();
    if (Atomics.add(ctrl, COUNT, 1) === this.parts - 1) {
      Atomics.store(ctrl, COUNT, 0);
      Atomics.add(ctrl, GENERATION, 1);
      Atomics.notify(ctrl, GENERATION);
    } else {
      let spins = 0;
      while (Atomics.load(ctrl, GENERATION) === gen) {
        if (++spins > SPINS) Atomics.wait(ctrl, GENERATION, gen, 50);
      }
    }
    if (Atomics.load(ctrl, ABORT) !== 0) throw new PartitionAborted();
  }
}
