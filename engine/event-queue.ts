/**
 * The pending-event set: two binary min-heaps over parallel typed arrays, one
 * for what falls due soon and one for the rest.
 *
 * Each entry is (time, key, slot). Entries are ordered by time, then by key;
 * the key is the canonical tie-breaker (see `eventKey`), so equal-time events
 * pop in an order that does not depend on the order they were pushed. `slot`
 * is an opaque payload index owned by the caller (the simulation keeps the
 * handler and argument of each slot in side tables).
 *
 * Why two heaps: a simulation's pending set is mostly timers far ahead (a
 * ping interval, neighbour and TCP timers: 12,000 in the 100 x 30 cluster)
 * and a few dozen frames in flight, which are what nearly every push and pop
 * is about. In one heap each of those sifts through all 14 levels; kept apart
 * from the timers they sift through 5. An entry due within NEAR_NS of the last
 * one popped goes into `near`, any other into `far`, and a pop takes the
 * smaller of the two tops, so the order is exactly one heap's whatever the
 * split: the split only decides the cost.
 *
 * bench/queue.bench.ts compares it with tinyqueue (see bench/README.md).
 */

/** How far ahead of the clock an entry still counts as near: frames cross veths and wires in microseconds, timers wait milliseconds. */
export const NEAR_NS = 1_000_000;

/**
 * One binary min-heap over parallel typed arrays. Shape after mourner/flatqueue:
 * a separate length so `pop` never shrinks or allocates, sifts that move a
 * hole instead of swapping. Exported for bench/queue.bench.ts, which times it
 * alone (the engine's queue until session 13).
 */
export class BinaryHeap {
  times: Float64Array;
  keys: Float64Array;
  private slots: Uint32Array;
  length = 0;

  constructor(initialCapacity = 1024) {
    const cap = Math.max(16, initialCapacity | 0);
    this.times = new Float64Array(cap);
    this.keys = new Float64Array(cap);
    this.slots = new Uint32Array(cap);
  }

  get size(): number {
    return this.length;
  }

  /** Time of the earliest entry, or Infinity when empty. */
  peekTime(): number {
    return this.length > 0 ? this.times[0]! : Infinity;
  }

  /** Key of the earliest entry (undefined behaviour when empty). */
  peekKey(): number {
    return this.keys[0]!;
  }

  push(time: number, key: number, slot: number): void {
    if (this.length === this.times.length) this.grow();
    const times = this.times;
    const keys = this.keys;
    const slots = this.slots;
    let pos = this.length++;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      const pt = times[parent]!;
      if (pt < time || (pt === time && keys[parent]! <= key)) break;
      times[pos] = pt;
      keys[pos] = keys[parent]!;
      slots[pos] = slots[parent]!;
      pos = parent;
    }
    times[pos] = time;
    keys[pos] = key;
    slots[pos] = slot;
  }

  /** Removes the earliest entry and returns its slot. The queue must not be empty. */
  pop(): number {
    const times = this.times;
    const keys = this.keys;
    const slots = this.slots;
    const top = slots[0]!;
    const n = --this.length;
    if (n > 0) {
      const time = times[n]!;
      const key = keys[n]!;
      const slot = slots[n]!;
      const half = n >> 1;
      let pos = 0;
      while (pos < half) {
        let child = 2 * pos + 1;
        const right = child + 1;
        if (right < n) {
          const ct = times[child]!;
          const rt = times[right]!;
          if (rt < ct || (rt === ct && keys[right]! < keys[child]!)) child = right;
        }
        const ct = times[child]!;
        if (ct > time || (ct === time && keys[child]! >= key)) break;
        times[pos] = ct;
        keys[pos] = keys[child]!;
        slots[pos] = slots[child]!;
        pos = child;
      }
      times[pos] = time;
      keys[pos] = key;
      slots[pos] = slot;
    }
    return top;
  }

  clear(): void {
    this.length = 0;
  }

  private grow(): void {
    const cap = this.times.length * 2;
    const t = new Float64Array(cap);
    t.set(this.times);
    const k = new Float64Array(cap);
    k.set(this.keys);
    const s = new Uint32Array(cap);
    s.set(this.slots);
    this.times = t;
    this.keys = k;
    this.slots = s;
  }
}

export class EventQueue {
  private readonly near: BinaryHeap;
  private readonly far: BinaryHeap;
  /** Time of the entry popped last: the simulation's clock, from which "near" counts. */
  private clock = 0;

  constructor(initialCapacity = 1024) {
    this.near = new BinaryHeap(Math.min(initialCapacity, 256));
    this.far = new BinaryHeap(initialCapacity);
  }

  get size(): number {
    return this.near.length + this.far.length;
  }

  /** Time of the earliest entry, or Infinity when empty. */
  peekTime(): number {
    return this.farFirst() ? this.far.times[0]! : this.near.peekTime();
  }

  /** Key of the earliest entry (undefined behaviour when empty). */
  peekKey(): number {
    return this.farFirst() ? this.far.keys[0]! : this.near.keys[0]!;
  }

  push(time: number, key: number, slot: number): void {
    if (time - this.clock < NEAR_NS) this.near.push(time, key, slot);
    else this.far.push(time, key, slot);
  }

  /** Removes the earliest entry and returns its slot. The queue must not be empty. */
  pop(): number {
    const h = this.farFirst() ? this.far : this.near;
    this.clock = h.times[0]!;
    return h.pop();
  }

  clear(): void {
    this.near.clear();
    this.far.clear();
  }

  /** The earliest entry is far's top: (time, key) below near's, or near is empty. */
  private farFirst(): boolean {
    const far = this.far;
    if (far.length === 0) return false;
    const near = this.near;
    if (near.length === 0) return true;
    const ft = far.times[0]!;
    const nt = near.times[0]!;
    return ft < nt || (ft === nt && far.keys[0]! < near.keys[0]!);
  }
}

/** Components are numbered below 2^21 and each schedules fewer than 2^32 events. */
export const MAX_COMPONENTS = 1 << 21;
export const MAX_SEQ = 2 ** 32;

/**
 * The canonical tie-breaker for events at the same time: the scheduling
 * component's id, then that component's own event counter, packed into one
 * exactly representable double (< 2^53).
 */
export function eventKey(componentId: number, seq: number): number {
  return componentId * MAX_SEQ + seq;
}
