/** LazyTimer: re-arming without an event per re-arm, stale events ignored. */
import { describe, expect, it } from 'vitest';
import { Simulation, type EventHandler } from '../../../engine/simulation.js';
import { LazyTimer } from '../../../models/stack/tcp/timer.js';

class Probe implements EventHandler {
  fired: number[] = [];
  timer: LazyTimer;
  constructor(readonly sim: Simulation) {
    this.timer = new LazyTimer(sim.component('t'), this, 0);
  }
  handleEvent(): void {
    if (this.timer.expired()) this.fired.push(this.sim.now);
  }
}

describe('LazyTimer', () => {
  it('fires once at the last due time, whether moved later, earlier or cancelled', () => {
    const sim = new Simulation(1);
    const p = new Probe(sim);
    p.timer.arm(100);
    const before = sim.pending;
    for (let i = 1; i <= 50; i++) p.timer.arm(100 + i); // later: no new events
    expect(sim.pending).toBe(before);
    sim.run();
    expect(p.fired).toEqual([150]);

    p.timer.arm(1000); // at 1150
    p.timer.arm(10); // earlier: at 160
    sim.run();
    expect(p.fired).toEqual([150, 160]);

    p.timer.arm(5);
    p.timer.cancel();
    sim.run();
    expect(p.fired).toEqual([150, 160]);
    expect(p.timer.armed).toBe(false);
  });
});
