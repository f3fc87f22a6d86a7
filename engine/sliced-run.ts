import { performance } from 'node:perf_hooks';
import type { Simulation } from './simulation.js';
import type { Nanos } from './time.js';

/** Wall time one slice aims at: often enough for a progress display, rarely enough to cost nothing. */
const SLICE_WALL_MS = 100;

/**
 * Runs `sim` to `until` as `sim.run(until)` would, in slices of simulated time,
 * calling `report(now, executed)` after each, so a caller blocked in a long
 * run can show how far it is. Slicing changes nothing in the run: between two
 * slices no event runs, and the first event of the next slice is the one the
 * whole run would have taken next. Slices start at 1/1000 of the span and
 * double or halve to take about SLICE_WALL_MS each, so an early burst (an ARP
 * storm) and a quiet tail are both reported at a steady pace.
 */
export function runSliced(sim: Simulation, until: Nanos, report: (now: Nanos, executed: number) => void): void {
  if (!Number.isFinite(until)) throw new Error(`runSliced: needs a finite end time, got ${until}`);
  let slice = Math.max(1, Math.floor((until - sim.now) / 1000));
  while (sim.now < until || sim.nextEventTime() <= until) {
    const t0 = performance.now();
    sim.run(Math.min(until, sim.now + slice));
    report(sim.now, sim.executed);
    if (sim.stopping) return;
    const took = performance.now() - t0;
    if (took < SLICE_WALL_MS / 2) slice *= 2;
    else if (took > SLICE_WALL_MS * 2) slice = Math.max(1, Math.floor(slice / 2));
  }
}
