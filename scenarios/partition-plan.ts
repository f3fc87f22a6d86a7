/**
 * How a topology is cut for a partitioned run: its components weighed by the
 * work they are expected to do, then engine/partition.ts's balanced assignment.
 *
 * The weights are an estimate, not a measurement: a namespace costs 1 (its
 * timers and ARP), each traffic endpoint (client, and server when the
 * scenario knows it) 4 (the hops a request and its answer take through the
 * pod, its veth, the bridge and the node), and a flow between two components
 * UNDERLAY_WEIGHT for every underlay segment (the switch forwards the request
 * and the answer once each, far cheaper than a node's routing and netfilter).
 * On the 100-node cluster this puts the underlay with about 47 nodes and the
 * other 53 nodes on the second worker.
 */
import { partition, type PartitionPlan } from '../engine/partition.js';
import type { TopologySpec } from './topology.js';

/**
 * What a flow between two components adds to an underlay segment, against 4
 * per endpoint: a switch only forwards, and on the 100 x 30 cluster with UDP
 * request/response a run balanced with 2 per flow left the side with the
 * switch idle 40% of the time (bench/parallel.bench.ts; 0.5 evens it out).
 */
const UNDERLAY_WEIGHT = 0.5;

/**
 * About how many events a window of `lookaheadNs` holds, from the traffic's
 * request rates: a request and its answer across the cluster are a dozen
 * events or so (measured: ~13 for a cross-node ping, ~10 per UDP exchange).
 * Closed-loop TCP has no rate and counts as dense. A rough figure, for telling
 * the user when threads will not pay (bench/README.md, "parallel").
 */
export function eventsPerWindow(spec: TopologySpec, lookaheadNs: number): number {
  if (!Number.isFinite(lookaheadNs)) return Infinity;
  let perSecond = 0;
  for (const t of spec.traffic) {
    if (t.kind === 'ping') perSecond += 1e9 / t.intervalNs;
    else if (t.rate > 0) perSecond += t.rate;
    else return Infinity;
  }
  return (perSecond * 12 * lookaheadNs) / 1e9;
}

/** Below this many events a window, partitioned runs were slower than one thread (bench/README.md, "parallel": ~8 events a window ran at 0.44-0.6x, ~1,100 at 1.5-1.8x). */
export const SPARSE_EVENTS_PER_WINDOW = 100;

/**
 * Whether `spec`'s traffic is too sparse for threads to pay: its estimated
 * events per window (eventsPerWindow) and the window, or null when dense. The
 * window is `lookaheadNs` (a plan's), by default the smallest wire delay,
 * which is what any cut of a homogeneous underlay gives.
 */
export function sparseLoad(spec: TopologySpec, lookaheadNs?: number): { perWindow: number; windowNs: number } | null {
  let windowNs = lookaheadNs ?? Infinity;
  if (lookaheadNs === undefined) for (const l of spec.links) if (l.kind === 'wire' && l.delayNs < windowNs) windowNs = l.delayNs;
  const perWindow = eventsPerWindow(spec, windowNs);
  return perWindow < SPARSE_EVENTS_PER_WINDOW ? { perWindow, windowNs } : null;
}

export function planPartitions(spec: TopologySpec, workers: number): PartitionPlan {
  const componentOf = new Map<string, string>();
  const weight = new Map<string, number>();
  const underlays = new Set<string>();
  for (const ns of spec.namespaces) {
    componentOf.set(ns.name, ns.component);
    weight.set(ns.component, (weight.get(ns.component) ?? 0) + 1);
    if (ns.kind === 'underlay') underlays.add(ns.component);
  }
  const add = (c: string | undefined, w: number): void => {
    if (c !== undefined) weight.set(c, weight.get(c)! + w);
  };
  for (const t of spec.traffic) {
    const from = componentOf.get(t.from.ns);
    const to = t.toNs === undefined ? undefined : componentOf.get(t.toNs);
    add(from, 4);
    add(to, 4);
    if (to !== from) for (const u of underlays) add(u, UNDERLAY_WEIGHT);
  }
  const links = spec.links
    .filter((l) => componentOf.get(l.a.ns) !== componentOf.get(l.b.ns))
    .map((l) => ({ a: componentOf.get(l.a.ns)!, b: componentOf.get(l.b.ns)!, delayNs: l.delayNs }));
  const components = [...weight.entries()].map(([name, w]) => ({ name, weight: w }));
  return partition({ components, links }, workers);
}
