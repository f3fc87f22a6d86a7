import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QuaternaryEventQueue } from '../../bench/quaternary-event-queue.js';
import { BinaryHeap, EventQueue, MAX_COMPONENTS, MAX_SEQ, NEAR_NS, eventKey } from '../../engine/event-queue.js';

/**
 * Oracle tests: every queue is driven by random interleavings of push, pop and
 * clear and compared with the obvious model, an array kept stably sorted by
 * (time, key). The 4-ary candidate from bench/ runs the same tests, so a
 * benchmark figure is never one for a wrong heap.
 */

interface Queue {
  readonly size: number;
  peekTime(): number;
  peekKey(): number;
  push(time: number, key: number, slot: number): void;
  pop(): number;
  clear(): void;
}

interface Entry {
  time: number;
  key: number;
  slot: number;
}

type Op = { kind: 'push'; time: number; key: number } | { kind: 'pop' } | { kind: 'clear' };

/** The model: a plain array, stably sorted by time then key. */
class SortedModel {
  entries: Entry[] = [];
  push(e: Entry): void {
    this.entries.push(e);
    // Array.prototype.sort is stable (ES2019), so equal (time, key) keep push order.
    this.entries.sort((a, b) => a.time - b.time || a.key - b.key);
  }
  pop(): Entry {
    return this.entries.shift()!;
  }
}

/** Times drawn from a few values (many ties) or from the whole safe range. */
const narrowTime = fc.integer({ min: 0, max: 7 });
const wideTime = fc.oneof(narrowTime, fc.maxSafeNat(), fc.double({ min: 0, max: 1e18, noNaN: true }));
/** Keys as the simulation makes them: eventKey(component, counter), up to 2^53 - 1. */
const key = fc.oneof(
  fc.integer({ min: 0, max: 15 }),
  fc.tuple(fc.integer({ min: 0, max: MAX_COMPONENTS - 1 }), fc.integer({ min: 0, max: MAX_SEQ - 1 })).map(([c, s]) => eventKey(c, s)),
);

function ops(time: fc.Arbitrary<number>, withClear: boolean, maxLength: number): fc.Arbitrary<Op[]> {
  const push = fc.record({ kind: fc.constant('push' as const), time, key });
  const pop = fc.constant({ kind: 'pop' as const });
  const clear = fc.constant({ kind: 'clear' as const });
  return fc.array(
    fc.oneof({ weight: 6, arbitrary: push }, { weight: 4, arbitrary: pop }, { weight: withClear ? 1 : 0, arbitrary: clear }),
    { maxLength },
  );
}

/**
 * Applies `script` to the queue and the model and checks they agree after
 * every step. With `distinctKeys`, a push whose key was already used is
 * skipped, so the order is total and popped slots must match exactly;
 * otherwise only the popped (time, key) sequence is compared.
 */
function checkAgainstModel(q: Queue, script: Op[], distinctKeys: boolean): void {
  const model = new SortedModel();
  const used = new Set<number>();
  let nextSlot = 0;
  for (const op of script) {
    if (op.kind === 'push') {
      if (distinctKeys) {
        if (used.has(op.key)) continue;
        used.add(op.key);
      }
      const slot = nextSlot++;
      q.push(op.time, op.key, slot);
      model.push({ time: op.time, key: op.key, slot });
    } else if (op.kind === 'pop') {
      if (model.entries.length === 0) continue;
      const want = model.entries[0]!;
      expect(q.peekTime()).toBe(want.time);
      expect(q.peekKey()).toBe(want.key);
      const slot = q.pop();
      const got = model.pop();
      if (distinctKeys) {
        expect(slot).toBe(got.slot);
      } else {
        // Equal (time, key) may pop in any order; the popped slot must be one of them.
        const twins = [got, ...model.entries].filter((e) => e.time === got.time && e.key === got.key);
        const i = twins.findIndex((e) => e.slot === slot);
        expect(i).toBeGreaterThanOrEqual(0);
        // Keep the model in step: take the popped twin out instead of the first.
        if (twins[i] !== got) {
          model.entries.splice(model.entries.indexOf(twins[i]!), 1, got);
        }
      }
    } else {
      q.clear();
      model.entries = [];
    }
    expect(q.size).toBe(model.entries.length);
    expect(q.peekTime()).toBe(model.entries.length > 0 ? model.entries[0]!.time : Infinity);
  }
  // Drain: the rest comes out in model order too.
  while (model.entries.length > 0) {
    const want = model.pop();
    const slot = q.pop();
    if (distinctKeys) expect(slot).toBe(want.slot);
  }
  expect(q.size).toBe(0);
  expect(q.peekTime()).toBe(Infinity);
}

const QUEUES: [string, (capacity?: number) => Queue][] = [
  ['EventQueue', (c) => new EventQueue(c)],
  ['BinaryHeap (one heap of the two)', (c) => new BinaryHeap(c)],
  ['QuaternaryEventQueue (bench candidate)', (c) => new QuaternaryEventQueue(c)],
];

describe.each(QUEUES)('%s', (_name, make) => {
  it('is empty when new: size 0, peekTime Infinity', () => {
    const q = make();
    expect(q.size).toBe(0);
    expect(q.peekTime()).toBe(Infinity);
  });

  it('matches a sorted array under random push/pop/clear, many equal times, distinct keys', () => {
    fc.assert(
      fc.property(ops(narrowTime, true, 400), (script) => checkAgainstModel(make(16), script, true)),
      { numRuns: 300 },
    );
  });

  it('matches a sorted array over the whole time and key range', () => {
    fc.assert(
      fc.property(ops(wideTime, true, 400), (script) => checkAgainstModel(make(16), script, true)),
      { numRuns: 200 },
    );
  });

  it('pops duplicate (time, key) entries together, in some order', () => {
    const dupKey = fc.integer({ min: 0, max: 3 });
    const script = fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.record({ kind: fc.constant('push' as const), time: narrowTime, key: dupKey }) },
        { weight: 4, arbitrary: fc.constant({ kind: 'pop' as const }) },
      ),
      { maxLength: 300 },
    );
    fc.assert(fc.property(script, (s) => checkAgainstModel(make(16), s, false)), { numRuns: 200 });
  });

  it('pops equal-time entries by key whatever the push order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.maxSafeNat(), { minLength: 1, maxLength: 200 }), (keys) => {
        const q = make(16);
        keys.forEach((k, slot) => q.push(42, k, slot));
        const popped: number[] = [];
        while (q.size > 0) popped.push(keys[q.pop()]!);
        expect(popped).toEqual([...keys].sort((a, b) => a - b));
      }),
    );
  });

  it('grows past its initial capacity without losing or reordering entries', () => {
    const q = make(16);
    const n = 10_000;
    // Descending times: every push sifts to the root, the worst case for a grow mid-sift.
    for (let i = 0; i < n; i++) q.push(n - i, i, i);
    expect(q.size).toBe(n);
    for (let i = n - 1; i >= 0; i--) {
      expect(q.peekTime()).toBe(n - i);
      expect(q.pop()).toBe(i);
    }
    expect(q.peekTime()).toBe(Infinity);
  });

  it('carries the full Uint32 slot range', () => {
    const q = make();
    q.push(2, 0, 2 ** 32 - 1);
    q.push(1, 0, 0);
    expect(q.pop()).toBe(0);
    expect(q.pop()).toBe(2 ** 32 - 1);
  });

  it('clear() empties it and it is reusable afterwards', () => {
    const q = make(16);
    for (let i = 0; i < 100; i++) q.push(i % 7, i, i);
    q.clear();
    expect(q.size).toBe(0);
    expect(q.peekTime()).toBe(Infinity);
    q.push(5, 1, 77);
    q.push(3, 9, 88);
    expect(q.size).toBe(2);
    expect(q.pop()).toBe(88);
    expect(q.pop()).toBe(77);
    expect(q.size).toBe(0);
  });
});

describe('eventKey', () => {
  it('orders by component, then counter, and stays an exact integer up to the limits', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_COMPONENTS - 1 }),
        fc.integer({ min: 0, max: MAX_SEQ - 1 }),
        fc.integer({ min: 0, max: MAX_COMPONENTS - 1 }),
        fc.integer({ min: 0, max: MAX_SEQ - 1 }),
        (c1, s1, c2, s2) => {
          const k1 = eventKey(c1, s1);
          const k2 = eventKey(c2, s2);
          expect(Number.isSafeInteger(k1)).toBe(true);
          expect(Math.sign(k1 - k2)).toBe(Math.sign(c1 - c2 || s1 - s2));
        },
      ),
    );
    expect(eventKey(MAX_COMPONENTS - 1, MAX_SEQ - 1)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('EventQueue: near and far entries', () => {
  // Pushed as a simulation pushes, relative to the time popped last: around
  // NEAR_NS an entry lands in one heap or the other, and entries of one time
  // can sit in both (pushed far ahead first, then again once the clock came
  // near). The order must be the sorted array's all the same.
  const delta = fc.constantFrom(0, 1, NEAR_NS - 1, NEAR_NS, NEAR_NS + 1, 2 * NEAR_NS, 3 * NEAR_NS - 1);
  const step = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('push' as const), delta, key: fc.integer({ min: 0, max: 2 ** 40 }) }) },
    { weight: 4, arbitrary: fc.constant({ kind: 'pop' as const }) },
  );

  it('pops in (time, key) order whichever heap holds an entry', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
        const q = new EventQueue(16);
        const model = new SortedModel();
        const used = new Set<number>();
        let clock = 0;
        let slot = 0;
        for (const s of steps) {
          if (s.kind === 'push') {
            if (used.has(s.key)) continue;
            used.add(s.key);
            q.push(clock + s.delta, s.key, slot);
            model.push({ time: clock + s.delta, key: s.key, slot: slot++ });
          } else if (model.entries.length > 0) {
            const want = model.pop();
            expect([q.peekTime(), q.peekKey()]).toEqual([want.time, want.key]);
            expect(q.pop()).toBe(want.slot);
            clock = want.time;
          }
        }
        while (model.entries.length > 0) expect(q.pop()).toBe(model.pop().slot);
        expect(q.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('takes an entry of the same time from the near heap first when its key is smaller', () => {
    const q = new EventQueue(16);
    q.push(5 * NEAR_NS, 20, 1); // far from clock 0
    q.push(4.5 * NEAR_NS, 0, 0);
    expect(q.pop()).toBe(0); // clock 4.5 ms: the next push at 5 ms is near
    q.push(5 * NEAR_NS, 10, 2);
    q.push(5 * NEAR_NS, 30, 3);
    expect([q.pop(), q.pop(), q.pop()]).toEqual([2, 1, 3]);
  });
});
