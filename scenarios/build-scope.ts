/**
 * Which namespaces a world builds. A sequential run builds them all; a
 * partition of a partitioned run (scenarios/partition-job.ts) builds only the
 * namespaces of the components it runs, so each worker of a 2-way run builds
 * and holds about half of a large cluster, not all of it.
 *
 * What a partition must still know about the others is in the spec: component
 * ids come from the order of spec.namespaces (Simulation.component is called
 * for every one), wires are numbered from spec order (remote-wire.ts), and the
 * namespace a flow's server lives in is found from the spec's addresses here,
 * the same in every partition.
 *
 * One exception is built although it runs elsewhere: the client of a one-way
 * UDP flow whose server is local. The server measures the flow by the client's
 * source address and ephemeral port, which only that namespace's own build
 * (its routes and its random stream) decides. Such a namespace is built whole
 * but runs nothing here: its component is not local.
 */
import { parseCidr, parseIpv4 } from '../models/wire/addr.js';
import type { NamespaceSpec, TopologySpec, TrafficSpec } from './topology.js';

const LOOPBACK = 127;

/** The spec's namespaces by name, and the first namespace (in spec order) holding each address. */
export class SpecIndex {
  readonly byName = new Map<string, NamespaceSpec>();
  private readonly firstOwner = new Map<number, string>();

  constructor(spec: TopologySpec) {
    for (const ns of spec.namespaces) {
      this.byName.set(ns.name, ns);
      for (const a of addressesOf(ns)) if (a >>> 24 !== LOOPBACK && !this.firstOwner.has(a)) this.firstOwner.set(a, ns.name);
    }
  }

  /**
   * The namespace of a flow's server: `toNs` when the spec names it, else the
   * client's own namespace when the address is local there, else the first
   * namespace (in spec order) that can listen on the address (addressesOf).
   */
  serverOf(t: TrafficSpec): string | undefined {
    if (t.kind === 'ping') return undefined;
    if (t.toNs !== undefined) return t.toNs;
    const dst = parseIpv4(t.to);
    const from = this.byName.get(t.from.ns);
    if (dst >>> 24 === LOOPBACK || (from !== undefined && addressesOf(from).includes(dst))) return t.from.ns;
    return this.firstOwner.get(dst);
  }
}

/**
 * The addresses a server of the namespace can listen on: those of its bridges,
 * interfaces and tunnels. Not the Service addresses kube-proxy's IPVS mode puts
 * on the dummy kube-ipvs0: they are local to every node, but nothing listens
 * there; IPVS hands the connection to a backend.
 */
function addressesOf(ns: NamespaceSpec): number[] {
  const out: number[] = [];
  const add = (cidrs: readonly string[]): void => {
    for (const c of cidrs) out.push(parseCidr(c).addr);
  };
  for (const b of ns.bridges) add(b.addresses);
  for (const i of ns.interfaces) add(i.addresses);
  for (const t of ns.tunnels ?? []) add(t.addresses);
  return out;
}

/**
 * The names of the namespaces to build when only the components `owns`
 * accepts will run: theirs, and the clients of one-way UDP flows to servers
 * among them.
 */
export function namespacesToBuild(spec: TopologySpec, index: SpecIndex, owns: (component: string) => boolean): Set<string> {
  const out = new Set<string>();
  for (const ns of spec.namespaces) if (owns(ns.component)) out.add(ns.name);
  for (const t of spec.traffic) {
    if (t.kind !== 'udp' || t.responseSize !== 0 || out.has(t.from.ns)) continue;
    const server = index.serverOf(t);
    if (server !== undefined && owns(index.byName.get(server)?.component ?? '')) out.add(t.from.ns);
  }
  return out;
}
