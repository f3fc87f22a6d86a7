import { buildWorld } from './build.js';
import type { TopologySpec } from './topology.js';
import { Tracer, type TraceSelector } from '../models/trace/tracer.js';

/**
 * Runs a topology with a tracer in every component and no captures, and
 * returns what the selected packet(s) went through. The trace points do not
 * change what the simulation does, so the run is the one `podwire run` makes.
 */
export function traceTopology(spec: TopologySpec, selector: TraceSelector): Tracer {
  if (selector.flow !== undefined && !spec.traffic.some((t) => t.name === selector.flow)) {
    const names = spec.traffic.map((t) => `"${t.name}"`).slice(0, 10).join(', ');
    throw new Error(`no flow named "${selector.flow}" (flows: ${names}${spec.traffic.length > 10 ? ', ...' : ''})`);
  }
  const world = buildWorld(spec);
  const tracer = new Tracer(selector, () => world.sim.now);
  for (const ns of world.namespaces.values()) ns.ctx.tracer = tracer;
  world.sim.run(spec.durationNs);
  return tracer;
}
