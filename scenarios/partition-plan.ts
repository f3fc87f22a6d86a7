/**
 * How a topology is cut for a partitioned run: its components weighed by the
 * work they are expected to do, then engine/partition.ts's balanced assignment.
 *
 * The weights are an estimate, not a measurement: a namespace costs 1 (its
 * timers and ARP), each traffic endpoint (client, and server when the
 * scenario knows it) 4 (the hops a request and its answer take through the
 * pod, its veth, the bridge and the node), and a flow between two components
 * 2 for every underlay segment (the switch forwards the request and the
 * answer once each). On the 100-node cluster this puts the underlay with
 * about 40 nodes and the other 60 nodes on the second worker.
 */
import { partition, type PartitionPlan } from '../engine/partition.js';
import type { TopologySpec } from './topology.js';

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
    if (to !== from) for (const u of underlays) add(u, 2);
  }
  const links = spec.links
    .filter((l) => componentOf.get(l.a.ns) !== componentOf.get(l.b.ns))
    .map((l) => ({ a: componentOf.get(l.a.ns)!, b: componentOf.get(l.b.ns)!, delayNs: l.delayNs }));
  const components = [...weight.entries()].map(([name, w]) => ({ name, weight: w }));
  return partition({ components, links }, workers);
}
