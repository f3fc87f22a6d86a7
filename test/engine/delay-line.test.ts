import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulation, type Component, type EventHandler } from '../../engine/simulation.js';

// A DelayLine must be indistinguishable from scheduling each delivery with
// Component.schedule(delay): same events, same order, same keys, same count.

const DELAY = 2;

/** One step of a random program: at an event, schedule `fanout` deliveries, some through the line. */
interface Step {
  fanout: number;
  viaLine: boolean[];
  /** Extra plain events at these delays (0 = now, DELAY = same time as the line's). */
  plain: number[];
}

const step: fc.Arbitrary<Step> = fc
  .record({ fanout: fc.integer({ min: 0, max: 5 }), plain: fc.array(fc.constantFrom(0, 1, DELAY, 3), { maxLength: 2 }) })
  .chain((s) => fc.record({ fanout: fc.constant(s.fanout), plain: fc.constant(s.plain), viaLine: fc.array(fc.boolean(), { minLength: s.fanout, maxLength: s.fanout }) }));

/** Runs the program on `components` components; `useLine` false replaces every line push by schedule(DELAY). */
function runProgram(steps: Step[], components: number, useLine: boolean, stopAt = Infinity): string[] {
  const sim = new Simulation(1);
  const comps: Component[] = Array.from({ length: components }, (_, i) => sim.component(`c${i}`));
  const log: string[] = [];
  let next = 0;
  const handler: EventHandler = {
    handleEvent(kind: number, arg: unknown): void {
      const c = comps[kind]!;
      log.push(`${sim.now} ${sim.currentKey} ${sim.executed} ${String(arg)}`);
      if (log.length === stopAt) sim.stop();
      const s = steps[next++];
      if (s === undefined) return;
      s.viaLine.forEach((line, k) => {
        const label = `${String(arg)}.${k}`;
        if (line && useLine) c.delayLine(DELAY).push(handler, kind, label);
        else c.schedule(DELAY, handler, kind, label);
      });
      // Another component's event (a wire would carry it) at a later time.
      s.plain.forEach((d, k) => comps[(kind + 1) % components]!.schedule(d + 1, handler, (kind + 1) % components, `${String(arg)}.p${k}`));
    },
  };
  comps.forEach((c, i) => c.schedule(0, handler, i, `root${i}`));
  sim.run();
  log.push(`end ${sim.now} ${sim.executed}`);
  return log;
}

describe('DelayLine', () => {
  it('runs exactly what scheduling each delivery would run, in the same order and under the same keys', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 1, max: 3 }), (steps, components) => {
        expect(runProgram(steps, components, true)).toEqual(runProgram(steps, components, false));
      }),
      { numRuns: 300 },
    );
  });

  it('stops between two deliveries of one batch when a handler calls stop()', () => {
    // A flood: 6 deliveries at the same time under consecutive keys; stop at the 3rd event.
    const flood: Step[] = [{ fanout: 6, viaLine: [true, true, true, true, true, true], plain: [] }];
    const withLine = runProgram(flood, 1, true, 3);
    expect(withLine).toEqual(runProgram(flood, 1, false, 3));
    expect(withLine).toHaveLength(4);
  });

  it('dispatches a flood from one queue event', () => {
    const sim = new Simulation(1);
    const c = sim.component('n');
    const seen: number[] = [];
    const h: EventHandler = { handleEvent: (_k, arg) => seen.push(arg as number) };
    for (let i = 0; i < 5; i++) c.delayLine(DELAY).push(h, 0, i);
    expect(sim.pending).toBe(1);
    sim.run();
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(sim.executed).toBe(5);
  });

  it('keeps its order while it never drains (the FIFO compacts and grows)', () => {
    const run = (useLine: boolean): string[] => {
      const sim = new Simulation(1);
      const c = sim.component('n');
      const log: string[] = [];
      let made = 0;
      const h: EventHandler = {
        handleEvent: (_k, arg) => {
          log.push(`${sim.now} ${sim.currentKey} ${String(arg)}`);
          // Each delivery makes one more until 6,000: about 2,000 stay pending throughout.
          if (made < 6000) {
            const label = made++;
            if (useLine) c.delayLine(DELAY).push(h, 0, label);
            else c.schedule(DELAY, h, 0, label);
          }
        },
      };
      for (let i = 0; i < 2000; i++) {
        const label = made++;
        if (useLine) c.delayLine(DELAY).push(h, 0, label);
        else c.schedule(DELAY, h, 0, label);
      }
      sim.run();
      log.push(`end ${sim.now} ${sim.executed}`);
      return log;
    };
    const withLine = run(true);
    expect(withLine).toHaveLength(6001);
    expect(withLine).toEqual(run(false));
  });

  it('stays as small as what it holds while it never drains (a busy node\'s line moves along)', () => {
    const sim = new Simulation(1);
    const c = sim.component('n');
    const line = c.delayLine(DELAY);
    let left = 100_000;
    const seen: number[] = [];
    // Three deliveries always pending, 100,000 in all: the line never empties.
    const h: EventHandler = {
      handleEvent: (_k, arg) => {
        seen.push(arg as number);
        if (left-- > 0) line.push(h, 0, (arg as number) + 3);
      },
    };
    for (let i = 0; i < 3; i++) line.push(h, 0, i);
    sim.run();
    expect(seen).toEqual(Array.from({ length: 100_003 }, (_, i) => i));
    // Its arrays are those it started with: spent entries were reclaimed, not grown past.
    expect((line as unknown as { kinds: Int32Array }).kinds.length).toBe(32);
  });

  it('refuses a delay that is not positive', () => {
    const c = new Simulation(1).component('n');
    expect(() => c.delayLine(0)).toThrow(/positive delay/);
  });
});
