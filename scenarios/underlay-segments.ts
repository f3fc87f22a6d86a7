/**
 * An underlay of several L2 segments joined by a router (`underlay.segments`),
 * as racks behind a top-of-rack/aggregation router:
 *
 *   - each segment is a switch: namespace "underlay-<segment>" (kind underlay,
 *     a component of its own), bridge br0 without an address, one port per
 *     node named after it and a port "router";
 *   - namespace "router" (kind underlay, component "router", ip_forward on)
 *     has one NIC per segment, named after the segment, holding the segment's
 *     gateway (first host by default); its connected routes join the segments;
 *   - nodes get the next free addresses after their segment's gateway and a
 *     default route via it.
 *
 * host-gw across segments: a next hop must be on-link, so nodes keep host-gw
 * routes only to the nodes of their own segment; the router holds a route to
 * every node's podCIDR via that node's address, and other segments' pod CIDRs
 * are reached through the nodes' default route. That is a fabric routing the
 * pod CIDRs (Calico peering BGP with the ToR); plain flannel host-gw, which
 * writes only direct routes, needs one L2 segment. vxlan and ipip need nothing
 * from the router: their outer packets go between node addresses.
 *
 * MACs follow expand.ts' scheme: router NIC 02:42:<gateway>, the switch's
 * port to it 0e:42:<gateway>, switch br0 06:42:<gateway>.
 */
import type { PathSegment } from './errors.js';
import { type Cidr, cidrBroadcast, cidrContains, cidrNetwork, cidrsOverlap, formatCidr, formatIpv4, parseCidr, parseIpv4 } from './ipv4.js';
import { MAX_IFNAME } from './nodes.js';
import type { NodeConfig, Scenario, UnderlaySegment } from './scenario.js';
import type { LinkSpec, NamespaceSpec, RouteSpec } from './topology.js';

export interface RawUnderlaySegment {
  name: string;
  cidr: string;
  gateway?: string;
  nodes: string[];
}

/** The router namespace, and the name of its port on every segment's switch. */
export const ROUTER = 'router';

/** The switch namespace of a segment. */
export function segmentSwitch(segment: string): string {
  return `underlay-${segment}`;
}

type Fail = (path: PathSegment[], message: string, anchor?: PathSegment[]) => void;

export interface SegmentContext {
  raw: { underlay?: { cidr?: string; gateway?: string; segments?: RawUnderlaySegment[] }; scale?: unknown; externalHosts?: unknown[] };
  /** The nodes as written (explicit addresses). */
  rawNodes: readonly { name: string; address?: string }[];
  /** Checks a prefix as a network of its own (host bits, size, reserved ranges). */
  prefix: (text: string, path: PathSegment[]) => Cidr | undefined;
  cluster: Cidr | undefined;
  fail: Fail;
}

const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Checks the segments and gives every node its address (explicit, else the
 * next free one after its segment's gateway). Returns the segments, or
 * undefined without `underlay.segments`.
 */
export function normalizeSegments(nodes: NodeConfig[], ctx: SegmentContext): UnderlaySegment[] | undefined {
  const raw = ctx.raw.underlay?.segments;
  if (raw === undefined) return undefined;
  const { fail } = ctx;
  const at: PathSegment[] = ['underlay', 'segments'];
  for (const f of ['cidr', 'gateway'] as const) {
    if (ctx.raw.underlay?.[f] !== undefined) fail(['underlay', f], `give either underlay.${f} (one segment) or underlay.segments, not both (each segment has its own cidr and gateway)`);
  }
  if (ctx.raw.scale !== undefined) fail(['scale'], 'underlay.segments needs explicit nodes (each listed in one segment); scale.nodesPerRack makes the segments of a generated cluster');
  if ((ctx.raw.externalHosts ?? []).length > 0) fail(['externalHosts'], 'are not supported with underlay.segments (which segment would they join?); use one underlay cidr');

  const nodeIndex = new Map(nodes.map((n, i) => [n.name, i]));
  const segmentOf = new Map<string, number>();
  const names = new Map<string, number>();
  const cidrs: (Cidr | undefined)[] = [];
  const out: UnderlaySegment[] = [];

  raw.forEach((seg, j) => {
    const here: PathSegment[] = [...at, j];
    if (!SEGMENT_NAME.test(seg.name)) fail([...here, 'name'], `"${seg.name}" is not a usable name (letters, digits, "-", "_" and "." only; it names the router's interface)`);
    else if (seg.name.length > MAX_IFNAME) fail([...here, 'name'], `"${seg.name}" is longer than ${MAX_IFNAME} characters (it also names the router's interface)`);
    else if (seg.name === 'lo') fail([...here, 'name'], '"lo" is reserved (the router\'s loopback device)');
    else if (names.has(seg.name)) fail([...here, 'name'], `"${seg.name}" is already used by underlay.segments[${names.get(seg.name)}]`);
    names.set(seg.name, j);

    let cidr = ctx.prefix(seg.cidr, [...here, 'cidr']);
    if (cidr) {
      const prev = cidrs.findIndex((c) => c !== undefined && cidrsOverlap(c, cidr!));
      if (prev >= 0) {
        fail([...here, 'cidr'], `${seg.cidr} overlaps underlay.segments[${prev}] (${raw[prev]!.name}, ${formatCidr(cidrs[prev]!)})`);
        cidr = undefined;
      } else if (ctx.cluster && cidrsOverlap(cidr, ctx.cluster)) {
        fail([...here, 'cidr'], `${seg.cidr} overlaps clusterCIDR (${formatCidr(ctx.cluster)})`);
        cidr = undefined;
      } else {
        const k = nodes.findIndex((n) => {
          const p = parseCidr(n.podCIDR);
          return p !== undefined && cidrsOverlap(p, cidr!);
        });
        if (k >= 0) {
          fail([...here, 'cidr'], `${seg.cidr} overlaps nodes[${k}].podCIDR (${nodes[k]!.podCIDR})`);
          cidr = undefined;
        }
      }
    }
    cidrs.push(cidr);

    let gateway: number | undefined;
    if (cidr) {
      if (seg.gateway === undefined) gateway = cidrNetwork(cidr) + 1;
      else {
        const g = parseIpv4(seg.gateway)!;
        const problem = hostProblem(g, cidr, `segment ${seg.name} (${formatCidr(cidr)})`);
        if (problem !== undefined) fail([...here, 'gateway'], `${seg.gateway} ${problem}`);
        else gateway = g;
      }
    }

    seg.nodes.forEach((name, k) => {
      const i = nodeIndex.get(name);
      if (i === undefined) {
        fail([...here, 'nodes', k], `unknown node "${name}" (nodes are ${nodes.map((n) => n.name).join(', ') || 'none'})`);
        return;
      }
      const prev = segmentOf.get(name);
      if (prev !== undefined) {
        fail([...here, 'nodes', k], `node "${name}" is already in underlay.segments[${prev}] (${raw[prev]!.name}); a node has one NIC on the underlay`);
        return;
      }
      segmentOf.set(name, j);
    });
    out.push({ name: seg.name, cidr: cidr ? formatCidr(cidr) : seg.cidr, gateway: gateway !== undefined ? formatIpv4(gateway) : '', nodes: [] });
  });

  nodes.forEach((n, i) => {
    if (n.name === ROUTER) fail(['nodes', i, 'name'], `"${ROUTER}" is reserved with underlay.segments (the router, and its port on every segment's switch)`);
    else if (names.has(n.name.replace(/^underlay-/, '')) && n.name.startsWith('underlay-')) {
      fail(['nodes', i, 'name'], `"${n.name}" is reserved (the switch of segment ${n.name.slice('underlay-'.length)})`);
    }
    const j = segmentOf.get(n.name);
    if (j === undefined) fail(['nodes', i], `node "${n.name}" is in no underlay segment (list it in one of underlay.segments[].nodes)`);
    else out[j]!.nodes.push(n.name);
  });

  assignAddresses(nodes, out, cidrs, segmentOf, ctx);
  return out;
}

/** Explicit addresses first (in their segment, unique), then defaults from gateway + 1 up. */
function assignAddresses(nodes: NodeConfig[], segments: UnderlaySegment[], cidrs: (Cidr | undefined)[], segmentOf: Map<string, number>, ctx: SegmentContext): void {
  const taken = new Map<number, string>();
  for (const s of segments) if (s.gateway !== '') taken.set(parseIpv4(s.gateway)!, `the gateway of segment ${s.name}`);
  const explicit = nodes.map((n, i) => {
    const j = segmentOf.get(n.name);
    const text = ctx.rawNodes[i]?.address;
    if (j === undefined || text === undefined || !cidrs[j]) return undefined;
    const addr = parseIpv4(text)!;
    const seg = segments[j]!;
    const problem = hostProblem(addr, cidrs[j]!, `its segment ${seg.name} (${seg.cidr})`);
    const owner = taken.get(addr);
    if (problem !== undefined) ctx.fail(['nodes', i, 'address'], `${text} ${problem}`);
    else if (owner !== undefined) ctx.fail(['nodes', i, 'address'], `${text} is already used by ${owner}`);
    else {
      taken.set(addr, `nodes[${i}] (${n.name})`);
      return addr;
    }
    return undefined;
  });
  // Hosts in order from the gateway's next up, wrapping round to the first host.
  const free = segments.map((s, j) => (s.gateway !== '' && cidrs[j] ? freeHosts(cidrs[j]!, parseIpv4(s.gateway)!, taken) : undefined));
  nodes.forEach((n, i) => {
    const j = segmentOf.get(n.name);
    const hosts = j === undefined ? undefined : free[j];
    if (j === undefined || hosts === undefined) return;
    let addr = explicit[i];
    if (ctx.rawNodes[i]?.address === undefined) {
      const next = hosts.next();
      if (next.done === true) {
        ctx.fail(['nodes', i], `no address left in segment ${segments[j]!.name} (${segments[j]!.cidr}); give address`);
        return;
      }
      addr = next.value;
      taken.set(addr, `nodes[${i}] (${n.name})`);
    }
    if (addr !== undefined) n.address = formatIpv4(addr);
  });
}

function* freeHosts(c: Cidr, gateway: number, taken: Map<number, string>): Generator<number> {
  const first = cidrNetwork(c) + 1;
  const last = cidrBroadcast(c) - 1;
  for (let a = gateway + 1; a <= last; a++) if (!taken.has(a)) yield a;
  for (let a = first; a < gateway; a++) if (!taken.has(a)) yield a;
}

function hostProblem(addr: number, c: Cidr, what: string): string | undefined {
  if (!cidrContains(c, addr)) return `is outside ${what}`;
  if (addr === cidrNetwork(c)) return `is the network address of ${what}`;
  if (addr === cidrBroadcast(c)) return `is the broadcast address of ${what}`;
  return undefined;
}

/** A prefix found later (serviceCIDR) must not overlap a segment either. */
export function checkSegmentOverlap(segments: readonly UnderlaySegment[] | undefined, other: Cidr | undefined, path: PathSegment[], fail: Fail): void {
  if (segments === undefined || other === undefined) return;
  segments.forEach((s, j) => {
    const c = parseCidr(s.cidr);
    if (c !== undefined && cidrsOverlap(c, other)) fail(path, `${formatCidr(other)} overlaps underlay.segments[${j}] (${s.name}, ${s.cidr})`);
  });
}

/** Capture-point interfaces of a switch or the router; undefined for any other namespace. */
export function segmentInterfaces(ns: string, segments: readonly UnderlaySegment[]): string[] | undefined {
  if (ns === ROUTER) return [...segments.map((s) => s.name), 'lo'];
  const seg = segments.find((s) => segmentSwitch(s.name) === ns);
  return seg !== undefined ? ['br0', ...seg.nodes, ROUTER, 'lo'] : undefined;
}

export function segmentNamespaceNames(segments: readonly UnderlaySegment[]): string[] {
  return [...segments.map((s) => segmentSwitch(s.name)), ROUTER];
}

/** What expand.ts needs for node i: its NIC prefix length, its routes and the switch its wire ends at. */
export interface SegmentNode {
  len: number;
  switchNs: string;
  /** Default via the segment's gateway, then (host-gw) routes to the other nodes of the segment. */
  routes: RouteSpec[];
}

/**
 * The switches and the router (namespaces and wires, appended to the lists),
 * and per node its part. The wires carry the underlay's delay, bandwidth,
 * loss and queue, like the nodes' own.
 */
export function addSegments(
  s: Scenario,
  namespaces: NamespaceSpec[],
  links: LinkSpec[],
  mac: (prefix: string, address: string) => string,
  ageingNs: number,
): (i: number) => SegmentNode {
  const segments = s.underlay.segments!;
  const byName = new Map(s.nodes.map((n) => [n.name, n]));
  const wire = (a: LinkSpec['a'], b: LinkSpec['b']): LinkSpec => ({
    kind: 'wire',
    a,
    b,
    delayNs: s.underlay.delayNs,
    bandwidthBps: s.underlay.bandwidthBps,
    loss: s.underlay.loss,
    txQueueLen: s.underlay.txQueueLen,
  });
  const lens = segments.map((seg) => parseCidr(seg.cidr)!.len);

  segments.forEach((seg) => {
    const name = segmentSwitch(seg.name);
    namespaces.push({
      name,
      kind: 'underlay',
      component: name,
      ipForward: false,
      containers: [],
      bridges: [{ name: 'br0', mac: mac('06:42', seg.gateway), mtu: s.mtu, addresses: [], ageingNs }],
      interfaces: [
        ...seg.nodes.map((n) => ({ name: n, mac: mac('0e:42', byName.get(n)!.address), mtu: s.mtu, addresses: [], master: 'br0', hairpin: false })),
        { name: ROUTER, mac: mac('0e:42', seg.gateway), mtu: s.mtu, addresses: [], master: 'br0', hairpin: false },
      ],
      routes: [],
    });
  });
  const podRoutes: RouteSpec[] =
    s.routing === 'host-gw'
      ? segments.flatMap((seg) => seg.nodes.map((n) => ({ dst: byName.get(n)!.podCIDR, via: byName.get(n)!.address, dev: seg.name })))
      : [];
  namespaces.push({
    name: ROUTER,
    kind: 'underlay',
    component: ROUTER,
    ipForward: true,
    containers: [],
    bridges: [],
    interfaces: segments.map((seg, j) => ({ name: seg.name, mac: mac('02:42', seg.gateway), mtu: s.mtu, addresses: [`${seg.gateway}/${lens[j]}`] })),
    routes: podRoutes,
  });
  for (const seg of segments) links.push(wire({ ns: ROUTER, ifname: seg.name }, { ns: segmentSwitch(seg.name), ifname: ROUTER }));

  // host-gw routes are shared (frozen) between the nodes of a segment, as expand.ts shares them.
  const perNode = new Map<string, SegmentNode>();
  segments.forEach((seg, j) => {
    const def: RouteSpec = Object.freeze({ dst: '0.0.0.0/0', via: seg.gateway, dev: 'eth0' });
    const hostGw = s.routing === 'host-gw' ? seg.nodes.map((n) => Object.freeze({ dst: byName.get(n)!.podCIDR, via: byName.get(n)!.address, dev: 'eth0' })) : [];
    seg.nodes.forEach((n, k) => {
      perNode.set(n, { len: lens[j]!, switchNs: segmentSwitch(seg.name), routes: [def, ...hostGw.filter((_, m) => m !== k)] });
    });
  });
  return (i) => perNode.get(s.nodes[i]!.name)!;
}
