/**
 * Cuts components into partitions, one per worker thread. Components are the
 * unit (a node and its pods never split); the cuts fall on the links between
 * components, all of which have a positive delay (engine/README.md).
 *
 * Balance is by weight, an estimate of each component's share of the work
 * that the caller supplies (scenarios/partition-plan.ts counts namespaces and
 * traffic). The assignment is greedy longest-processing-time first: heaviest
 * component to the lightest partition, ties by name and partition index, so
 * it is a function of the input alone.
 */
export interface PartitionInput {
  components: { name: string; weight: number }[];
  /** Links between components, with their one-way delay (ns). */
  links: { a: string; b: string; delayNs: number }[];
}

export interface PartitionPlan {
  parts: number;
  /** Component name -> partition index. */
  partOf: Map<string, number>;
  /** Weight per partition. */
  loads: number[];
  /** Smallest delay of a link between two partitions; Infinity when no link is cut. */
  lookaheadNs: number;
  /** Links cut. */
  cutLinks: number;
}

export function partition(input: PartitionInput, requested: number): PartitionPlan {
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`partitions: need a whole number >= 1, got ${requested}`);
  const parts = Math.max(1, Math.min(requested, input.components.length));
  const order = [...input.components].sort((x, y) => y.weight - x.weight || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const loads = new Array<number>(parts).fill(0);
  const partOf = new Map<string, number>();
  for (const c of order) {
    if (partOf.has(c.name)) throw new Error(`partitions: component ${c.name} listed twice`);
    let best = 0;
    for (let i = 1; i < parts; i++) if (loads[i]! < loads[best]!) best = i;
    partOf.set(c.name, best);
    loads[best]! += c.weight;
  }
  let lookaheadNs = Infinity;
  let cutLinks = 0;
  for (const l of input.links) {
    const a = partOf.get(l.a);
    const b = partOf.get(l.b);
    if (a === undefined || b === undefined) throw new Error(`partitions: link ${l.a} <-> ${l.b} names an unknown component`);
    if (a === b) continue;
    if (!(l.delayNs > 0)) throw new Error(`partitions: link ${l.a} <-> ${l.b} has no delay and cannot be cut`);
    cutLinks++;
    if (l.delayNs < lookaheadNs) lookaheadNs = l.delayNs;
  }
  return { parts, partOf, loads, lookaheadNs, cutLinks };
}
