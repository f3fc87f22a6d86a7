/**
 * What a partition of a partitioned run is given to build (scenarios/partition-job.ts).
 * A sequential run builds every namespace of the spec; a partition is sent a
 * spec of its own that holds only what it builds, so that neither the main
 * thread's copy of the whole spec into each worker nor the worker's heap grows
 * with the other partitions' share of a large cluster:
 *
 * - its components' namespaces;
 * - the links that touch them, and every wire (wires are numbered in spec order);
 * - the traffic it takes part in: flows whose client or server it builds.
 *
 * What it must still know about the rest comes with it as a PartitionScope,
 * computed here from the whole spec: every component in spec order (component
 * ids, hence event keys, must agree everywhere), every wire end, and for each
 * flow it is sent, the namespace of its server and its row in the run's
 * statistics.
 *
 * One exception is built although it runs elsewhere: the client of a one-way
 * UDP flow whose server is local. The server measures the flow by the client's
 * source address and ephemeral port, which only that namespace's own build
 * (its routes and its random stream) decides. Such a namespace is built whole
 * but runs nothing here: its component is not local.
 */
import { parseCidr, parseIpv4 } from '../models/wire/addr.js';
import type { LinkSpec, NamespaceSpec, TopologySpec, TrafficSpec } from './topology.js';
import { flowRows } from './flow-rows.js';

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

/** One end of a wire, in spec order (namespaces, then their interfaces joined by a wire, as buildWorld makes the NICs). */
export interface SpecWireEnd {
  ns: string;
  ifname: string;
  /** The partition that runs it. */
  part: number;
  /** The index of the wire's other end. */
  peer: number;
}

/** What a partition knows of the whole spec beyond the part it is sent (see the top of this file). */
export interface PartitionScope {
  /** Every component of the whole spec, in order of first appearance. */
  components: string[];
  /** Every wire end of the whole spec. */
  wireEnds: SpecWireEnd[];
  /** For each traffic entry of the partition's spec: its server's namespace (SpecIndex.serverOf over the whole spec), '' for none. */
  servers: string[];
  /** For each traffic entry of the partition's spec: its row in the whole run's flow statistics (scenarios/flow-rows.ts). */
  rows: number[];
}

/** Every wire end of the spec, numbered as each partition numbers them. */
function specWireEnds(spec: TopologySpec, partOf: (component: string) => number): SpecWireEnd[] {
  const index = new Map<string, number>();
  const ends: { ns: string; ifname: string; part: number }[] = [];
  const wireOf = new Map<string, LinkSpec>();
  for (const l of spec.links) if (l.kind !== 'veth') for (const e of [l.a, l.b]) wireOf.set(`${e.ns}/${e.ifname}`, l);
  for (const ns of spec.namespaces) {
    for (const i of ns.interfaces) {
      const key = `${ns.name}/${i.name}`;
      if (!wireOf.has(key)) continue;
      index.set(key, ends.length);
      ends.push({ ns: ns.name, ifname: i.name, part: partOf(ns.component) });
    }
  }
  return ends.map((e) => {
    const l = wireOf.get(`${e.ns}/${e.ifname}`)!;
    const far = l.a.ns === e.ns && l.a.ifname === e.ifname ? l.b : l.a;
    const peer = index.get(`${far.ns}/${far.ifname}`);
    if (peer === undefined) throw new Error(`links: ${far.ns}/${far.ifname} is not an interface of the topology`);
    return { ...e, peer };
  });
}

/**
 * Cuts a spec into the specs and scopes of its partitions. What every scope
 * shares is worked out once from the whole spec: the components in order,
 * the wire ends, and each flow's server and statistics row.
 */
export class SpecCutter {
  private readonly components: string[] = [];
  private readonly wireEnds: SpecWireEnd[];
  /** Per traffic entry of the whole spec: its server's namespace ('' for none), and its row. */
  private readonly servers: string[];
  private readonly rowOf: number[];
  /** Each namespace's partition. */
  private readonly partOfNs = new Map<string, number>();

  constructor(
    private readonly spec: TopologySpec,
    partOf: (component: string) => number,
  ) {
    const index = new SpecIndex(spec);
    const seen = new Set<string>();
    for (const ns of spec.namespaces) {
      this.partOfNs.set(ns.name, partOf(ns.component));
      if (seen.has(ns.component)) continue;
      seen.add(ns.component);
      this.components.push(ns.component);
    }
    this.wireEnds = specWireEnds(spec, partOf);
    this.servers = spec.traffic.map((t) => {
      // As buildWorld checks for the whole spec: a flow from nowhere is an error wherever it runs.
      if (!index.byName.has(t.from.ns)) throw new Error(`traffic ${t.name}: unknown namespace ${t.from.ns}`);
      return index.serverOf(t) ?? '';
    });
    this.rowOf = flowRows(spec.traffic).rowOf;
  }

  /** The spec and scope of partition `me`. */
  partition(me: number): { spec: TopologySpec; scope: PartitionScope } {
    const spec = this.spec;
    const built = this.namespacesToBuild(me);
    const traffic: TrafficSpec[] = [];
    const servers: string[] = [];
    const rows: number[] = [];
    spec.traffic.forEach((t, i) => {
      const server = this.servers[i]!;
      if (!built.has(t.from.ns) && !built.has(server)) return;
      traffic.push(t);
      servers.push(server);
      rows.push(this.rowOf[i]!);
    });
    return {
      spec: {
        ...spec,
        namespaces: spec.namespaces.filter((ns) => built.has(ns.name)),
        links: spec.links.filter((l) => l.kind !== 'veth' || built.has(l.a.ns) || built.has(l.b.ns)),
        traffic,
      },
      scope: { components: this.components, wireEnds: this.wireEnds, servers, rows },
    };
  }

  /**
   * The namespaces of partition `me`'s components, and the clients of one-way
   * UDP flows to servers among them: to a broadcast address (no one server),
   * every partition's, since its servers may be among the receivers.
   */
  private namespacesToBuild(me: number): Set<string> {
    const spec = this.spec;
    const out = new Set<string>();
    for (const [name, part] of this.partOfNs) if (part === me) out.add(name);
    spec.traffic.forEach((t, i) => {
      if (t.kind !== 'udp' || t.responseSize !== 0 || out.has(t.from.ns)) return;
      const server = this.servers[i]!;
      if (server === '' ? t.broadcast : this.partOfNs.get(server) === me) out.add(t.from.ns);
    });
    return out;
  }
}
