import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Simulation, type EventHandler } from '../../engine/simulation.js';
import { runSliced } from '../../engine/sliced-run.js';

/**
 * A program of timers on a few components: each event logs itself and
 * schedules the next delays of its script. Returns the log and the clock.
 */
function program(delays: number[][], until: number, sliced: boolean, stopAt = Infinity) {
  const sim = new Simulation(7);
  const comps = delays.map((_, i) => sim.component(`c${i}`));
  const log: string[] = [];
  const reports: number[] = [];
  const step = delays.map(() => 0);
  const handler: EventHandler = {
    handleEvent(kind: number): void {
      log.push(`${sim.now} ${sim.currentKey} ${kind}`);
      if (log.length === stopAt) sim.stop();
      const d = delays[kind]![step[kind]!++];
      if (d !== undefined) comps[kind]!.schedule(d, handler, kind);
    },
  };
  comps.forEach((c, i) => c.schedule(0, handler, i));
  if (sliced) runSliced(sim, until, (now) => reports.push(now));
  else sim.run(until);
  return { log, now: sim.now, executed: sim.executed, pending: sim.pending, reports };
}

describe('runSliced', () => {
  it('runs exactly what one run(until) runs, and reports a clock that only grows, up to the end', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 40 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 60_000 }),
        (delays, until) => {
          const whole = program(delays, until, false);
          const sliced = program(delays, until, true);
          expect({ ...sliced, reports: undefined }).toEqual({ ...whole, reports: undefined });
          expect(sliced.reports.length).toBeGreaterThan(0);
          for (let i = 1; i < sliced.reports.length; i++) expect(sliced.reports[i]!).toBeGreaterThanOrEqual(sliced.reports[i - 1]!);
          expect(sliced.reports.at(-1)).toBe(until);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stops where a handler calls stop(), as run() does', () => {
    const delays = [[10, 10, 10, 10, 10], [7, 7, 7, 7, 7]];
    const whole = program(delays, 1_000, false, 5);
    const sliced = program(delays, 1_000, true, 5);
    expect({ ...sliced, reports: undefined }).toEqual({ ...whole, reports: undefined });
    expect(sliced.log).toHaveLength(5);
    expect(sliced.now).toBeLessThan(1_000);
  });

  it('refuses an end time that is not finite', () => {
    expect(() => runSliced(new Simulation(1), Infinity, () => {})).toThrow(/finite end time/);
  });
});
