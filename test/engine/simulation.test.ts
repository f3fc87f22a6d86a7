import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulation, type Component, type EventHandler } from '../../engine/simulation.js';

/** What a recorded event looked like when it ran. */
interface Fired {
  time: number;
  component: number;
  /** The per-component scheduling counter, as the test numbers it. */
  seq: number;
}

/** A handler that records every event it receives; `arg` carries (component, seq). */
class Recorder implements EventHandler {
  fired: Fired[] = [];
  constructor(private readonly sim: Simulation) {}
  handleEvent(_kind: number, arg: unknown): void {
    const { component, seq } = arg as { component: number; seq: number };
    this.fired.push({ time: this.sim.now, component, seq });
  }
}

/**
 * Per-component lists of event times, plus a random merge of those lists: the
 * order in which the test schedules them across components.
 */
const schedulePlan = fc
  .array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 12 }), { minLength: 1, maxLength: 6 })
  .chain((perComponent) => {
    const owners = perComponent.flatMap((times, c) => times.map(() => c));
    return fc.tuple(fc.constant(perComponent), fc.shuffledSubarray(owners, { minLength: owners.length, maxLength: owners.length }));
  });

/** Schedules `perComponent` in the cross-component order `owners` and returns what ran. */
function runPlan(perComponent: number[][], owners: number[]): Fired[] {
  const sim = new Simulation(1);
  const rec = new Recorder(sim);
  const components = perComponent.map((_, c) => sim.component(`c${c}`));
  const next = perComponent.map(() => 0);
  for (const c of owners) {
    const seq = next[c]!++;
    components[c]!.scheduleAt(perComponent[c]![seq]!, rec, 0, { component: components[c]!.id, seq });
  }
  sim.run();
  return rec.fired;
}

describe('Simulation event order', () => {
  it('runs events in (time, component id, per-component counter) order, whatever the scheduling interleaving', () => {
    fc.assert(
      fc.property(schedulePlan, ([perComponent, owners]) => {
        const fired = runPlan(perComponent, owners);
        const expected: Fired[] = perComponent
          .flatMap((times, component) => times.map((time, seq) => ({ time, component, seq })))
          .sort((a, b) => a.time - b.time || a.component - b.component || a.seq - b.seq);
        expect(fired).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same run for two different interleavings of the same per-component schedules', () => {
    fc.assert(
      fc.property(
        schedulePlan.chain(([perComponent, owners]) =>
          fc.tuple(fc.constant(perComponent), fc.constant(owners), fc.shuffledSubarray(owners, { minLength: owners.length, maxLength: owners.length })),
        ),
        ([perComponent, a, b]) => {
          expect(runPlan(perComponent, b)).toEqual(runPlan(perComponent, a));
        },
      ),
    );
  });

  it('sets now to the event time and never goes back, with handlers scheduling more events', () => {
    const sim = new Simulation(7);
    const comps = [sim.component('a'), sim.component('b'), sim.component('c')];
    const delays = comps.map((c) => c.random('delay'));
    const seen: number[] = [];
    const handler: EventHandler = {
      handleEvent(kind: number, arg: unknown) {
        seen.push(sim.now);
        expect(sim.now).toBe(arg);
        if (sim.executed < 500) {
          // Zero delays half the time: same-time events scheduled from a handler.
          const delay = delays[kind % 3]!.int(0, 3) * (sim.executed % 2);
          comps[kind % 3]!.schedule(delay, handler, kind + 1, sim.now + delay);
        }
      },
    };
    for (const c of comps) c.schedule(1, handler, c.id, 1);
    sim.run();
    expect(seen.length).toBe(sim.executed);
    expect(sim.executed).toBeGreaterThan(500);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
  });

  it('returns the same Component for the same name, with ids in creation order', () => {
    const sim = new Simulation(1);
    const a = sim.component('a');
    const b = sim.component('b');
    expect(sim.component('a')).toBe(a);
    expect([a.id, b.id]).toEqual([0, 1]);
  });
});

describe('Simulation.run(until)', () => {
  function simWithEventsAt(times: number[]): { sim: Simulation; ran: number[] } {
    const sim = new Simulation(1);
    const c = sim.component('c');
    const ran: number[] = [];
    const h: EventHandler = { handleEvent: () => ran.push(sim.now) };
    for (const t of times) c.scheduleAt(t, h, 0);
    return { sim, ran };
  }

  it('runs events at or before until, leaves later ones pending and sets now to until', () => {
    const { sim, ran } = simWithEventsAt([10, 20, 20, 30, 40]);
    sim.run(20);
    expect(ran).toEqual([10, 20, 20]);
    expect(sim.now).toBe(20);
    expect(sim.pending).toBe(2);
    sim.run(35);
    expect(ran).toEqual([10, 20, 20, 30]);
    expect(sim.now).toBe(35);
    expect(sim.executed).toBe(4);
    sim.run();
    expect(ran).toEqual([10, 20, 20, 30, 40]);
    expect(sim.now).toBe(40);
    expect(sim.pending).toBe(0);
  });

  it('advances now to until with nothing to run', () => {
    const { sim, ran } = simWithEventsAt([]);
    sim.run(1_000);
    expect(ran).toEqual([]);
    expect(sim.now).toBe(1_000);
  });

  it('stop() from a handler halts at that event; run() resumes with the rest', () => {
    const sim = new Simulation(1);
    const c = sim.component('c');
    const ran: number[] = [];
    const h: EventHandler = {
      handleEvent(kind) {
        ran.push(sim.now);
        if (kind === 1) sim.stop();
      },
    };
    c.scheduleAt(5, h, 0);
    c.scheduleAt(6, h, 1);
    c.scheduleAt(9, h, 0);
    sim.run(100);
    expect(ran).toEqual([5, 6]);
    expect(sim.now).toBe(6);
    sim.run(100);
    expect(ran).toEqual([5, 6, 9]);
    expect(sim.now).toBe(100);
  });
});

describe('scheduling in the past', () => {
  it('throws, and leaves the queue unchanged', () => {
    const sim = new Simulation(1);
    const c = sim.component('late');
    const h: EventHandler = { handleEvent: () => {} };
    sim.run(100);
    expect(() => c.scheduleAt(99, h, 0)).toThrow(/in the past/);
    expect(() => c.schedule(-1, h, 0)).toThrow(/in the past/);
    expect(() => c.scheduleAt(Number.NaN, h, 0)).toThrow(/in the past/);
    expect(sim.pending).toBe(0);
    c.scheduleAt(100, h, 0); // now itself is not the past
    c.schedule(0, h, 0);
    expect(sim.pending).toBe(2);
  });
});

describe('two Simulations in one process', () => {
  /**
   * A self-sustaining model: each event draws from its component's stream and
   * schedules the next one on a component chosen by the draw.
   */
  function model(seed: number): { sim: Simulation; trace: string[] } {
    const sim = new Simulation(seed);
    const comps = ['x', 'y', 'z'].map((n) => sim.component(n));
    const streams = comps.map((c) => c.random('hop'));
    const trace: string[] = [];
    const h: EventHandler = {
      handleEvent(kind) {
        trace.push(`${sim.now}:${kind}`);
        const next = streams[kind]!.int(0, comps.length - 1);
        comps[kind]!.schedule(Math.round(streams[kind]!.exponential(100)), h, next);
      },
    };
    comps.forEach((c, i) => c.schedule(i, h, i));
    return { sim, trace };
  }

  it('run interleaved, each gives exactly what it gives alone', () => {
    const aloneA = model(11);
    aloneA.sim.run(50_000);
    const aloneB = model(12);
    aloneB.sim.run(50_000);
    expect(aloneA.trace.length).toBeGreaterThan(100);
    expect(aloneA.trace).not.toEqual(aloneB.trace);

    const a = model(11);
    const b = model(12);
    for (let t = 1_000; t <= 50_000; t += 1_000) {
      a.sim.run(t);
      b.sim.run(t - 500);
      b.sim.run(t);
    }
    expect(a.trace).toEqual(aloneA.trace);
    expect(b.trace).toEqual(aloneB.trace);
    expect([a.sim.now, b.sim.now]).toEqual([50_000, 50_000]);
  });
});

describe('Component.random(purpose)', () => {
  const draws = (c: Component, purpose: string, n = 16): number[] => {
    const r = c.random(purpose);
    return Array.from({ length: n }, () => r.next());
  };

  it('is reproducible from (seed, component name, purpose), whatever the component id', () => {
    const s1 = new Simulation(42);
    const s2 = new Simulation(42);
    // Different creation order, so "link" gets id 0 in one and id 2 in the other.
    const l1 = s1.component('link');
    s2.component('a');
    s2.component('b');
    const l2 = s2.component('link');
    expect(l1.id).not.toBe(l2.id);
    expect(draws(l2, 'loss')).toEqual(draws(l1, 'loss'));
  });

  it("is independent of other components' and other purposes' draws", () => {
    const s1 = new Simulation(42);
    const alone = draws(s1.component('link'), 'loss');

    const s2 = new Simulation(42);
    const other = s2.component('other').random('loss');
    const samePurposeElsewhere = s2.component('link').random('jitter');
    const link = s2.component('link').random('loss');
    const interleaved: number[] = [];
    for (let i = 0; i < 16; i++) {
      other.next();
      samePurposeElsewhere.exponential(5);
      interleaved.push(link.next());
      other.int(0, 9);
    }
    expect(interleaved).toEqual(alone);
  });

  it('differs between seeds, names and purposes', () => {
    const base = draws(new Simulation(42).component('link'), 'loss');
    expect(draws(new Simulation(43).component('link'), 'loss')).not.toEqual(base);
    expect(draws(new Simulation(42).component('link2'), 'loss')).not.toEqual(base);
    expect(draws(new Simulation(42).component('link'), 'jitter')).not.toEqual(base);
  });

  it('draws within the documented ranges', () => {
    const r = new Simulation(3).component('c').random('ranges');
    for (let i = 0; i < 2_000; i++) {
      const u = r.next();
      expect(u >= 0 && u < 1).toBe(true);
      const k = r.int(-2, 2);
      expect(Number.isInteger(k) && k >= -2 && k <= 2).toBe(true);
      const e = r.exponential(10);
      expect(Number.isFinite(e) && e >= 0).toBe(true);
    }
  });
});

describe('keys taken by one component, events run by another (a wire hand-over)', () => {
  it('an event scheduled under a key taken from component A sorts among A\'s own events at the same time', () => {
    const sim = new Simulation(1);
    const a = sim.component('a');
    const b = sim.component('b');
    const order: string[] = [];
    const h = { handleEvent: (_k: number, arg: unknown) => void order.push(arg as string) };
    a.schedule(10, h, 0, 'a-first');
    const key = a.nextKey(); // taken second
    a.schedule(10, h, 0, 'a-third');
    b.schedule(10, h, 0, 'b-own');
    b.scheduleKeyed(10, key, h, 0, 'delivered-with-a-key');
    sim.run();
    expect(order).toEqual(['a-first', 'delivered-with-a-key', 'a-third', 'b-own']);
  });

  it('refuses a keyed event in the past', () => {
    const sim = new Simulation(1);
    const a = sim.component('a');
    a.schedule(5, { handleEvent: () => {} }, 0);
    sim.run();
    expect(() => a.scheduleKeyed(1, a.nextKey(), { handleEvent: () => {} }, 0)).toThrow(/in the past/);
  });
});
