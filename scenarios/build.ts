import { Simulation } from '../engine/simulation.js';
import { NodeContext } from '../models/node-context.js';
import { DropCounter } from '../models/observer.js';
import { Netns } from '../models/stack/netns.js';
import { SharedRoute } from '../models/stack/route-table.js';
import { RouteGroup } from '../models/stack/route-group.js';
import { SpecIndex, type PartitionScope } from './build-scope.js';
import { flowRows } from './flow-rows.js';
import { nodeTcpSettings } from './tcp-settings.js';
import { BridgeDevice } from '../models/devices/bridge.js';
import { VethDevice } from '../models/devices/veth.js';
import { NicDevice } from '../models/devices/nic.js';
import type { NetDevice } from '../models/devices/net-device.js';
import { PingApp } from '../models/apps/ping.js';
import { UdpClient, UdpServer } from '../models/apps/udp-rr.js';
import { TcpClient, TcpServer } from '../models/apps/tcp-rr.js';
import type { FlowStats } from '../models/stats/flow-stats.js';
import { DEFAULT_USERSPACE_COSTS, DOCKER_PROXY_UDP_IDLE_NS, UserspaceProxy } from '../models/apps/userspace-proxy.js';
import { PodLifecycle } from '../models/k8s/pod-lifecycle.js';
import { parseCidr, parseIpv4, parseMac } from '../models/wire/addr.js';
import type { InterfaceSpec, LinkSpec, NamespaceSpec, RouteSpec, ShapingTbfSpec, TcpSpec, TopologySpec, TrafficSpec } from './topology.js';
import { TbfQdisc } from '../models/devices/tbf.js';
import { VxlanDevice } from '../models/devices/vxlan.js';
import { IpipDevice } from '../models/devices/ipip.js';
import { attachNetfilter } from '../models/stack/netfilter-env.js';
import { IpSetTable } from '../models/netfilter/ipset.js';
import { RuleLineCache } from '../models/netfilter/iptables/parse.js';
import { NftRuleCache } from '../models/netfilter/nft/parse.js';
import { shiftLines } from './loader.js';
import { DummyDevice } from '../models/devices/dummy.js';
import { attachIpvs } from '../models/stack/ipvs-env.js';

/** Simulated time 0 is 2026-01-01T00:00:00Z in captures and ping timestamps. */
export const DEFAULT_EPOCH_SECONDS = 1_767_225_600;

/** A topology turned into live models, ready to run. */
export interface World {
  spec: TopologySpec;
  sim: Simulation;
  /** The namespaces built: all of the spec's, or a partition's (scenarios/build-scope.ts). */
  namespaces: Map<string, Netns>;
  /** Only some namespaces were built (a partition of a partitioned run). */
  partial: boolean;
  drops: DropCounter;
  /** The statistics rows of the traffic started here (scenarios/flow-rows.ts). */
  flows: FlowStats[];
  /** Each of `flows`' row in the whole run's statistics (its index, unless this is a partition). */
  flowRows: number[];
  epochSeconds: number;
}

/** A partition's build: the components it runs, and what it knows of the rest of the spec (scenarios/build-scope.ts). */
export interface BuildPartition {
  owns: (component: string) => boolean;
  scope: PartitionScope;
}

/**
 * Builds the models of a resolved topology: one NodeContext per component,
 * namespaces with their bridges, devices, addresses and routes (in that order,
 * as `ip` would have to), the links between devices, then the traffic.
 * With `partition`, `spec` is a partition's (scenarios/build-scope.ts): every
 * namespace in it is built, only the components `owns` accepts run events,
 * and the scope numbers components and flows as the whole spec does.
 */
export function buildWorld(spec: TopologySpec, epochSeconds = DEFAULT_EPOCH_SECONDS, partition: BuildPartition | null = null): World {
  const sim = new Simulation(spec.seed, partition === null ? null : partition.owns);
  const scope = partition === null ? null : partition.scope;
  const index = scope === null ? new SpecIndex(spec) : null;
  const built = scope === null ? null : new Set(spec.namespaces.map((ns) => ns.name));
  const isBuilt = (name: string): boolean => built === null || built.has(name);
  const drops = new DropCounter();
  const contexts = new Map<string, NodeContext>();
  const namespaces = new Map<string, Netns>();

  // expandScenario shares one RouteSpec object between nodes (a host-gw route
  // appears in N-1 tables): each is parsed once (N² parses cost 13 % of a
  // 2,000-node build) into one SharedRoute that every table holds.
  const sharedRoutes = new Map<RouteSpec, SharedRoute>();
  const shared = (r: RouteSpec): SharedRoute => {
    let route = sharedRoutes.get(r);
    if (route === undefined) {
      const { addr, prefixLen } = parseCidr(r.dst);
      route = new SharedRoute(addr, prefixLen, r.via ? parseIpv4(r.via) : 0, r.src ? parseIpv4(r.src) : 0, r.metric ?? 0, r.dev);
      sharedRoutes.set(r, route);
    }
    return route;
  };
  // spec.routeGroups: built once, held by every namespace that names them.
  const routeGroups = (spec.routeGroups ?? []).map((g) => new RouteGroup(g.map(shared)));
  const onlink = new Set((spec.routeGroups ?? []).flat().filter((r) => r.onlink === true).map(shared));
  const linkOf = new Map<string, LinkSpec>();
  for (const l of spec.links) {
    for (const end of [l.a, l.b]) {
      const key = `${end.ns}/${end.ifname}`;
      if (linkOf.has(key)) throw new Error(`links: ${key} is joined by more than one link`);
      linkOf.set(key, l);
    }
  }

  // Every component, built here or not, in spec order: ids (and event keys) are the same in every partition.
  for (const c of scope === null ? spec.namespaces.map((ns) => ns.component) : scope.components) {
    if (!contexts.has(c)) contexts.set(c, new NodeContext(sim.component(c), drops));
  }
  const nodeTcp = nodeTcpSettings(spec);
  for (const [c, ctx] of contexts) {
    const tcp = nodeTcp.get(c) ?? spec.tcp;
    if (tcp !== undefined) ctx.tcpParams = tcp;
  }
  // Every node restores kube-proxy's rules: each distinct line or rule is parsed once.
  const ruleLines = new RuleLineCache();
  const nftRules = new NftRuleCache();
  for (const nsSpec of spec.namespaces) {
    const ctx = contexts.get(nsSpec.component);
    if (ctx === undefined) throw new Error(`${nsSpec.name}: component ${nsSpec.component} is not in the partition's scope`);
    if (namespaces.has(nsSpec.name)) throw new Error(`namespaces: ${nsSpec.name} defined twice`);
    const ns = new Netns(nsSpec.name, ctx);
    ns.ipForward = nsSpec.ipForward;
    ns.lo.delayNs = spec.loopbackDelayNs ?? 0;
    namespaces.set(nsSpec.name, ns);

    for (const b of nsSpec.bridges) {
      const br = new BridgeDevice(ns, b.name, parseMac(b.mac), b.mtu);
      br.ageingNs = b.ageingNs;
      ns.attach(br);
    }
    for (const i of nsSpec.interfaces) {
      const link = linkOf.get(`${nsSpec.name}/${i.name}`);
      if (link === undefined) throw new Error(`${nsSpec.name}/${i.name}: interface is not joined by any link`);
      const mac = parseMac(i.mac);
      const dev: NetDevice = link.kind === 'veth' ? new VethDevice(ns, i.name, mac, i.mtu) : new NicDevice(ns, i.name, mac, i.mtu);
      ns.attach(dev);
      if (i.master !== undefined) {
        const br = ns.devices.get(i.master);
        if (!(br instanceof BridgeDevice)) throw new Error(`${nsSpec.name}/${i.name}: master ${i.master} is not a bridge in ${nsSpec.name}`);
        br.addPort(dev, i.hairpin ?? false);
      }
      if (i.shaping !== undefined) buildShaping(ns, dev, i.shaping);
    }
    for (const b of nsSpec.bridges) for (const a of b.addresses) addAddress(ns, b.name, a);
    for (const i of nsSpec.interfaces) for (const a of i.addresses) addAddress(ns, i.name, a);
    buildTunnels(ns, nsSpec);
    if (nsSpec.iptables !== undefined) {
      const nf = attachNetfilter(ns, {
        ...(spec.netfilterCosts !== undefined ? { costs: spec.netfilterCosts } : {}),
        ...(nsSpec.conntrackMax !== undefined ? { conntrackMax: nsSpec.conntrackMax } : {}),
        ipsets: new Map((nsSpec.ipsets ?? []).map((s) => [s.name, IpSetTable.of(s.name, s.type, s.entries ?? [])])),
      });
      nf.bridgeNfCallIptables = nsSpec.bridgeNfCallIptables ?? true;
      for (const name of nsSpec.nfacct ?? []) nf.iptables.nfacct.add(name);
      nsSpec.iptables.forEach((src, k) => nf.restore(shiftLines(src.text, src.lineOffset), src.file, k > 0, ruleLines));
    }
    loadNftables(ns, nsSpec, spec, nftRules);
    buildIpvs(ns, nsSpec);
    for (const r of nsSpec.routes) ns.addSharedRoute(shared(r), r.onlink === true);
    if (nsSpec.routeGroup !== undefined) {
      const { group, except } = nsSpec.routeGroup;
      const g = routeGroups[group];
      if (g === undefined) throw new Error(`${nsSpec.name}: routeGroup ${group} does not exist`);
      ns.attachRouteGroup(g, except < 0 ? null : (g.routes[except] ?? null), (r) => onlink.has(r));
    }
  }

  for (const l of spec.links) {
    if (!isBuilt(l.a.ns) || !isBuilt(l.b.ns)) {
      // A wire to a namespace this partition does not build: its own end gets the
      // wire's parameters, and RemoteWires its far end.
      if (l.kind === 'veth') continue;
      for (const end of [l.a, l.b]) if (isBuilt(end.ns)) NicDevice.attachWire(endDevice(namespaces, end.ns, end.ifname) as NicDevice, wireParams(l));
      continue;
    }
    const a = endDevice(namespaces, l.a.ns, l.a.ifname);
    const b = endDevice(namespaces, l.b.ns, l.b.ifname);
    if (l.kind === 'veth') {
      if (a.ns.ctx !== b.ns.ctx) throw new Error(`veth ${a.path} <-> ${b.path} joins two components; use a wire`);
      VethDevice.pair(a as VethDevice, b as VethDevice, l.delayNs);
    } else {
      NicDevice.connect(a as NicDevice, b as NicDevice, wireParams(l));
    }
  }

  const { rows, rowOf } = flowRows(spec.traffic);
  const world: World = { spec, sim, namespaces, partial: scope !== null, drops, flows: rows, flowRows: rows.map((_, k) => k), epochSeconds };
  if (scope !== null) {
    // Each row's number in the whole run (the entries a row holds all have the same).
    rowOf.forEach((row, i) => (world.flowRows[row] = scope.rows[i]!));
  }
  const servers: Servers = { udp: new Map(), tcp: new Map() };
  for (const s of spec.servers ?? []) {
    if (!isBuilt(s.ns)) continue;
    const ns = namespaces.get(s.ns);
    if (ns === undefined) throw new Error(`servers: unknown namespace ${s.ns}`);
    if (s.protocol === 'tcp') servers.tcp.set(`${s.ns}:${s.port}`, new TcpServer(ns, s.port, s.requestSize ?? 64, s.responseSize));
    else servers.udp.set(`${s.ns}:${s.port}`, new UdpServer(ns, s.port, s.responseSize));
  }
  const proxies = new Map<string, UserspaceProxy>();
  for (const nsSpec of spec.namespaces) if (nsSpec.userspaceProxy !== undefined && isBuilt(nsSpec.name)) proxies.set(nsSpec.name, buildUserspaceProxy(namespaces.get(nsSpec.name)!, nsSpec.userspaceProxy));
  for (const nsSpec of spec.namespaces) if (nsSpec.lifecycle !== undefined && isBuilt(nsSpec.name)) new PodLifecycle(namespaces.get(nsSpec.name)!, nsSpec.lifecycle, proxies.get(nsSpec.name) ?? null);
  const afterTraffic: (() => void)[] = [];
  spec.traffic.forEach((t, i) => {
    const server = scope === null ? index!.serverOf(t) : scope.servers[i] || undefined;
    startTraffic(world, t, server, servers, rows[rowOf[i]!]!, afterTraffic);
  });
  // Once every server exists: flows made later may have made more.
  for (const f of afterTraffic) f();
  return world;
}

function wireParams(l: LinkSpec): { delayNs: number; bandwidthBps: number; loss: number; txQueueLen: number } {
  return { delayNs: l.delayNs, bandwidthBps: l.bandwidthBps, loss: l.loss, txQueueLen: l.txQueueLen };
}

/** The servers of a world by "<namespace>:<port>", one map per protocol (the port spaces are separate). */
interface Servers {
  udp: Map<string, UdpServer>;
  tcp: Map<string, TcpServer>;
}

/**
 * A namespace's overlay state, as flannel leaves it: the tunnel devices with
 * their addresses, the VXLAN FDB and the permanent neighbour entries for the
 * remote VTEPs. Routes through the tunnels come with the namespace's routes.
 */
/** `nft -f` of the namespace's nftables text, beside any iptables rules (netfilter attached if needed). */
function loadNftables(ns: Netns, nsSpec: NamespaceSpec, spec: TopologySpec, rules: NftRuleCache): void {
  if (nsSpec.nftables === undefined) return;
  const nf =
    ns.netfilter ??
    attachNetfilter(ns, {
      ...(spec.netfilterCosts !== undefined ? { costs: spec.netfilterCosts } : {}),
      ...(nsSpec.conntrackMax !== undefined ? { conntrackMax: nsSpec.conntrackMax } : {}),
    });
  if (nsSpec.iptables === undefined) nf.bridgeNfCallIptables = nsSpec.bridgeNfCallIptables ?? true;
  nf.loadNft(nsSpec.nftables.text, nsSpec.nftables.file, rules);
}

/**
 * kube-proxy's IPVS mode: the dummy device (kube-ipvs0) with the virtual
 * addresses as /32s, and IPVS loaded with the virtual servers. A dummy's MAC
 * is random (eth_hw_addr_random): drawn from its own stream.
 */
/** kube-proxy's userspace proxy process in a node namespace, listening on its proxy ports. */
function buildUserspaceProxy(ns: Netns, p: NonNullable<NamespaceSpec['userspaceProxy']>): UserspaceProxy {
  const ports = p.ports.map((x) => ({ ...x, backends: x.backends.map((b) => ({ ip: parseIpv4(b.ip), port: b.port })) }));
  const udpIdleNs = p.kind === 'docker-proxy' ? DOCKER_PROXY_UDP_IDLE_NS : DEFAULT_USERSPACE_COSTS.udpIdleNs;
  return new UserspaceProxy(ns, ports, { copyNs: p.copyNs, acceptNs: p.acceptNs, udpIdleNs }, p.kind);
}

function buildIpvs(ns: Netns, nsSpec: NamespaceSpec): void {
  const spec = nsSpec.ipvs;
  if (spec === undefined) return;
  const rnd = ns.component.random(`dummy/${ns.name}/${spec.device}`);
  const mac = (0x02 * 2 ** 40 + Math.floor(rnd.next() * 2 ** 40)) as number; // locally administered, unicast
  const dev = new DummyDevice(ns, spec.device, mac);
  dev.up = false; // kube-proxy never sets kube-ipvs0 up; its addresses are local regardless
  ns.attach(dev);
  for (const a of spec.addresses) addAddress(ns, spec.device, a);
  attachIpvs(ns, spec.services);
}

function buildTunnels(ns: Netns, nsSpec: NamespaceSpec): void {
  for (const t of nsSpec.tunnels ?? []) {
    const local = parseIpv4(t.local);
    if (t.kind === 'vxlan') {
      const dev = new VxlanDevice(ns, t.name, parseMac(t.mac), t.mtu, { vni: t.vni, local, port: t.port, udpCsum: t.udpCsum });
      ns.attach(dev);
      for (const f of t.fdb) dev.addFdb(parseMac(f.mac), parseIpv4(f.dst));
    } else {
      ns.attach(new IpipDevice(ns, t.name, t.mtu, { local }));
    }
    for (const a of t.addresses) addAddress(ns, t.name, a);
  }
  for (const n of nsSpec.neighbours ?? []) ns.neigh.addPermanent(ns.device(n.dev), parseIpv4(n.ip), parseMac(n.mac));
}

/**
 * The CNI bandwidth plugin's tc setup on a host veth (plugins/meta/bandwidth):
 * ingress is `tc qdisc add dev X root tbf`; egress is tc ingress on X
 * redirected to an ifb with its own root tbf, modelled as a shaper in X's
 * receive path (NetDevice.setIngressShaper). The plugin gives rates in bit/s
 * and bursts in bits; tbf takes bytes (rate/8, burst/8, as netlink.Tbf does).
 */
function buildShaping(ns: Netns, dev: NetDevice, shaping: NonNullable<InterfaceSpec['shaping']>): void {
  if (!(dev instanceof VethDevice)) throw new Error(`${dev.path}: shaping is supported on veth devices only`);
  const tbf = (t: ShapingTbfSpec): TbfQdisc =>
    new TbfQdisc(ns, { rateBytesPerSec: Math.floor(t.rateBps / 8), burstBytes: Math.floor(t.burstBits / 8), limitBytes: t.limitBytes });
  if (shaping.ingress !== undefined) dev.setQdisc(tbf(shaping.ingress));
  if (shaping.egress !== undefined) dev.setIngressShaper(tbf(shaping.egress));
}

function addAddress(ns: Netns, dev: string, cidr: string): void {
  const { addr, prefixLen } = parseCidr(cidr);
  ns.addAddress(ns.device(dev), addr, prefixLen);
}

function endDevice(namespaces: Map<string, Netns>, ns: string, ifname: string): NetDevice {
  const n = namespaces.get(ns);
  if (n === undefined) throw new Error(`links: unknown namespace ${ns}`);
  return n.device(ifname);
}

/**
 * A flow's client, and its server when the scenario has none there yet. In a
 * partition, either may be a namespace it does not build: then that side is
 * the other partition's to make.
 */
function startTraffic(world: World, t: TrafficSpec, serverName: string | undefined, allServers: Servers, stats: FlowStats, afterTraffic: (() => void)[]): void {
  const from = world.namespaces.get(t.from.ns);
  // A partition's scope was made from the whole spec, which checked the name (SpecCutter).
  if (from === undefined && !world.partial) throw new Error(`traffic ${t.name}: unknown namespace ${t.from.ns}`);
  const dst = parseIpv4(t.to);
  if (t.kind === 'ping') {
    if (from !== undefined) new PingApp(from, { name: t.name, dst, count: t.count, intervalNs: t.intervalNs, size: t.size, broadcast: t.broadcast, ident: t.ident, startNs: t.startNs, timeoutNs: t.timeoutNs, epochSeconds: world.epochSeconds }, stats);
    return;
  }
  const serverNs = serverName === undefined ? undefined : world.namespaces.get(serverName);
  if (t.kind === 'tcp') {
    startTcp(t, from, dst, serverNs, allServers.tcp, stats);
    return;
  }
  const servers = allServers.udp;
  let server: UdpServer | undefined;
  if (serverNs !== undefined) {
    const key = `${serverNs.name}:${t.port}`;
    server = servers.get(key);
    if (server === undefined && serverNs.udp.isBound(t.port)) {
      // A process of the scenario holds the port (a proxy: docker-proxy, kube-proxy's userspace mode): it answers.
    } else if (server === undefined) {
      server = new UdpServer(serverNs, t.port, t.responseSize);
      servers.set(key, server);
    } else if (server.responseSize !== t.responseSize) {
      throw new Error(`traffic ${t.name}: the server at ${key} already answers with ${server.responseSize} bytes; flows to one server must agree on responseSize`);
    }
  }
  if (from === undefined) return;
  const rng = from.component.random(`traffic/${t.name}`);
  const client = new UdpClient(from, { name: t.name, dst, port: t.port, sourcePort: t.sourcePort, count: t.count, rate: t.rate, arrivals: t.arrivals, requestSize: t.requestSize, responseSize: t.responseSize, broadcast: t.broadcast, startNs: t.startNs, timeoutNs: t.timeoutNs }, stats, rng);
  if (t.responseSize !== 0) return;
  // The servers see the client's address as the source its route picks.
  const route = from.outputRoute(dst);
  if (route === null) return;
  const src = from.sourceFor(route, dst);
  if (server !== undefined) server.measureOneWay(src, client.localPort, stats);
  else if (t.broadcast && serverName === undefined && from.isBroadcast(dst)) {
    // To a broadcast address: every server on the port that the datagrams reach measures them, the first copy of each counting.
    stats.countFirstArrivals();
    afterTraffic.push(() => {
      for (const s of servers.values()) if (s.port === t.port) s.measureOneWay(src, client.localPort, stats);
    });
  }
}

/**
 * A TCP flow: its server (made on first use; flows to one server must agree
 * on its sizes, which it cannot learn from the bytes) and its client.
 */
function startTcp(t: TcpSpec, from: Netns | undefined, dst: number, serverNs: Netns | undefined, servers: Map<string, TcpServer>, stats: FlowStats): void {
  // A bulk transfer needs a sink: a server that answers nothing.
  const requestSize = t.mode === 'bulk' ? 1 : t.requestSize;
  const responseSize = t.mode === 'bulk' ? 0 : t.responseSize;
  if (serverNs !== undefined) {
    const key = `${serverNs.name}:${t.port}`;
    const server = servers.get(key);
    if (server === undefined && serverNs.tcp.isListening(t.port)) {
      // A proxy listens there (see the UDP case).
    } else if (server === undefined) servers.set(key, new TcpServer(serverNs, t.port, requestSize, responseSize));
    else if (server.responseSize !== responseSize || (responseSize > 0 && server.requestSize !== requestSize)) {
      const has = server.responseSize === 0 ? 'is a sink (bulk)' : `answers ${server.requestSize}-byte requests with ${server.responseSize} bytes`;
      throw new Error(`traffic ${t.name}: the TCP server at ${key} already ${has}; flows to one TCP server must agree on mode and sizes`);
    }
  }
  if (from === undefined) return;
  const rng = from.component.random(`traffic/${t.name}`);
  new TcpClient(from, { name: t.name, dst, port: t.port, mode: t.mode, count: t.count, rate: t.rate, arrivals: t.arrivals, concurrency: t.concurrency, requestSize: t.requestSize, responseSize: t.responseSize, bytes: t.bytes, startNs: t.startNs, timeoutNs: t.timeoutNs, noDelay: t.noDelay }, stats, rng);
}
