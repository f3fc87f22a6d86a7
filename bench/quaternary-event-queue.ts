/**
 * A candidate alternative to engine/event-queue.ts, kept in bench/ so the
 * benchmark can measure it: the same flat (time, key, slot) heap but 4-ary.
 *
 * A d-ary heap halves the depth for d = 4, so a sift-down visits half the
 * levels, at the price of three comparisons per level instead of one; the
 * four children of a node are adjacent (32 bytes of `times`), so for large
 * heaps one cache line serves the whole level (LaMarca & Ladner, "The
 * Influence of Caches on the Performance of Heaps", 1996). Same API and the
 * same (time, key) order as EventQueue.
 */
export class QuaternaryEventQueue {
  private times: Float64Array;
  private keys: Float64Array;
  private slots: Uint32Array;
  private length = 0;

  constructor(initialCapacity = 1024) {
    const cap = Math.max(16, initialCapacity | 0);
    this.times = new Float64Array(cap);
    this.keys = new Float64Array(cap);
    this.slots = new Uint32Array(cap);
  }

  get size(): number {
    return this.length;
  }

  peekTime(): number {
    return this.length > 0 ? this.times[0]! : Infinity;
  }

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
      const parent = (pos - 1) >> 2;
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
      let pos = 0;
      for (;;) {
        const first = 4 * pos + 1;
        if (first >= n) break;
        // The least of the (up to) four children.
        let child = first;
        let ct = times[first]!;
        let ck = keys[first]!;
        const end = first + 4 < n ? first + 4 : n;
        for (let c = first + 1; c < end; c++) {
          const t = times[c]!;
          if (t < ct || (t === ct && keys[c]! < ck)) {
            child = c;
            ct = t;
            ck = keys[c]!;
          }
        }
        if (ct > time || (ct === time && ck >= key)) break;
        times[pos] = ct;
        keys[pos] = ck;
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
