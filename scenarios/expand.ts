/**
 * Scenario -> TopologySpec: every namespace, interface, MAC, route, link,
 * capture point and flow, by the rules of the scenario format (v1):
 *
 *   MAC = 2-byte prefix + the four bytes of an address ("hexip"):
 *     underlay br0 02:42:<gateway>, its port for a node 0e:42:<node address>;
 *     node eth0 02:42:<node address>;
 *     node bridge 0a:58:<pod gateway> (docker 02:42:), host veth 0e:58:<pod ip> (docker 0e:42:);
 *     pod eth0 0a:58:<pod ip> (docker 02:42:).
 *   Namespaces: underlay, then each node followed by its pods, then external hosts.
 *   With underlay.segments, a switch "underlay-<segment>" per segment and the
 *   "router" take the underlay's place (scenarios/underlay-segments.ts).
 *   Routes: connected routes are left to the simulator (as the kernel derives
 *   them from addresses); nodes get a default route via the underlay gateway
 *   and, with host-gw, one route per other node; pods a default via their gateway.
 *   With vxlan or ipip routing, flannel's tunnel device, neighbours and routes
 *   instead (scenarios/overlay.ts), and the pod network gets `podMtu`.
 *
 * Cost: linear in nodes and pods, except host-gw routes, which are N*(N-1)
 * by nature. Their route objects are built once per node and shared (frozen)
 * between all node route lists, so the quadratic part is only the arrays of
 * references: 8 bytes per entry, about 200 MB for 5,000 nodes.
 */
import { SECOND } from '../engine/time.js';
import { type Destination, EndpointIndex, type EndpointRef, parseSelector } from './endpoints.js';
import { ScenarioError, type ScenarioIssue } from './errors.js';
import { cidrNetwork, formatIpv4, hexIp, parseCidr, parseIpv4 } from './ipv4.js';
import { uniqueName } from './traffic-items.js';
import { patternPairs } from './patterns.js';
import type { IptablesSource, Scenario, TrafficItem } from './scenario.js';
import { kubeProxyIpvsConfig, kubeProxyNftSource, kubeProxySources, kubeProxyUserspaceConfig } from './services.js';
import { KUBE_IPVS_DEVICE } from '../models/k8s/kube-proxy/ipvs.js';
import { overlayPlan } from './overlay.js';
import { applyCniNode, applyCniPod, applyExtraNetworkNode, applyExtraNetworkPod, cniResults } from './cni/topology-parts.js';
import { nodeLifecycle, podLifecycle } from './pod-deletion.js';
import { flowClass, flowClassContext, serviceSizeMismatch, strayNodePort } from './flow-class.js';
import { addExternalHosts } from './external-hosts.js';
import { addSegments } from './underlay-segments.js';
import { dockerIptables, dockerProxyName, type PublishedPort } from '../models/docker/docker-iptables.js';
import { DEFAULT_USERSPACE_COSTS } from '../models/apps/userspace-proxy.js';
import type {
  LinkSpec,
  NamespaceSpec,
  PingSpec,
  RouteSpec,
  TcpSpec,
  TopologySpec,
  TrafficEndpoint,
  TrafficSpec,
  UdpSpec,
} from './topology.js';

/** Linux bridge FDB ageing default (br_dev_setup: BR_DEFAULT_AGEING_TIME, 300 s). */
export const BRIDGE_AGEING_NS = 300 * SECOND;

/** Default txqueuelen of a veth, as `ip link add type veth` gives it. */
export const VETH_TXQUEUELEN = 1000;

interface MacScheme {
  bridge: string;
  hostVeth: string;
  podEth: string;
}

const MAC_SCHEMES: Record<Scenario['runtime'], MacScheme> = {
  // The CNI bridge plugin derives MACs from the IP with prefix 0a:58 (hwaddr.GenerateHardwareAddr4).
  cni: { bridge: '0a:58', hostVeth: '0e:58', podEth: '0a:58' },
  // Docker's default bridge: 02:42 followed by the container IP.
  docker: { bridge: '02:42', hostVeth: '0e:42', podEth: '02:42' },
};

const DEFAULT_DST = '0.0.0.0/0';

function mac(prefix: string, address: string): string {
  return `${prefix}:${hexIp(parseIpv4(address)!)}`;
}

function prefixLen(cidr: string): number {
  return parseCidr(cidr)!.len;
}

/** The pod gateway: first host of the node's pod CIDR. */
function firstHost(cidr: string): string {
  return formatIpv4(cidrNetwork(parseCidr(cidr)!) + 1);
}

export function expandScenario(s: Scenario): TopologySpec {
  const scheme = MAC_SCHEMES[s.runtime];
  // The underlay (node NICs, br0) has `mtu`; the pod network (bridges, veths, pods) `podMtu`.
  const { mtu, podMtu } = s;
  const segmented = s.underlay.segments !== undefined;
  const underlayLen = segmented ? 0 : prefixLen(s.underlay.cidr);
  const gateway = s.underlay.gateway;
  const namespaces: NamespaceSpec[] = [];
  const links: LinkSpec[] = [];

  // Several segments: switches and a router instead of the one underlay (scenarios/underlay-segments.ts).
  const segmentOf = segmented ? addSegments(s, namespaces, links, mac, BRIDGE_AGEING_NS) : undefined;
  if (!segmented) namespaces.push({
    name: 'underlay',
    kind: 'underlay',
    component: 'underlay',
    ipForward: false,
    containers: [],
    bridges: [
      {
        name: 'br0',
        mac: mac('02:42', gateway),
        mtu,
        addresses: [`${gateway}/${underlayLen}`],
        ageingNs: BRIDGE_AGEING_NS,
      },
    ],
    interfaces: s.nodes.map((n) => ({
      name: n.name,
      mac: mac('0e:42', n.address),
      mtu,
      addresses: [],
      master: 'br0',
      hairpin: false,
    })),
    routes: [],
  });

  const nodeDefault: RouteSpec = Object.freeze({ dst: DEFAULT_DST, via: gateway, dev: 'eth0' });
  const hostGw: RouteSpec[] =
    s.routing === 'host-gw' ? s.nodes.map((n) => Object.freeze({ dst: n.podCIDR, via: n.address, dev: 'eth0' })) : [];
  const overlay = overlayPlan(s);

  s.nodes.forEach((node, i) => {
    const podLen = prefixLen(node.podCIDR);
    const podGw = firstHost(node.podCIDR);
    const tunnels = overlay?.(i);
    const seg = segmentOf?.(i);
    namespaces.push({
      name: node.name,
      kind: 'node',
      component: node.name,
      ipForward: true,
      containers: [],
      ...nodeIptables(s, node),
      ...nodeNftables(s, node),
      ...(node.bridgeNfCallIptables === false ? { bridgeNfCallIptables: false } : {}),
      ...(node.conntrackMax !== undefined ? { conntrackMax: node.conntrackMax } : {}),
      ...(node.tcp !== undefined ? { tcp: node.tcp } : {}),
      ...nodeIpsets(s, node),
      ...nodeIpvs(s, node),
      ...nodeUserspace(s, node),
      ...(node.nfacct !== undefined ? { nfacct: node.nfacct } : {}),
      bridges: [
        {
          name: node.bridge,
          mac: mac(scheme.bridge, podGw),
          mtu: podMtu,
          addresses: [`${podGw}/${podLen}`],
          ageingNs: BRIDGE_AGEING_NS,
        },
      ],
      interfaces: [
        { name: 'eth0', mac: mac('02:42', node.address), mtu, addresses: [`${node.address}/${seg?.len ?? underlayLen}`] },
        ...node.pods.map((pod) => ({
          name: pod.hostVeth,
          mac: mac(scheme.hostVeth, pod.ip),
          mtu: podMtu,
          addresses: [],
          master: node.bridge,
          hairpin: pod.hairpin,
        })),
      ],
      ...(tunnels !== undefined ? { tunnels: tunnels.tunnels, neighbours: tunnels.neighbours } : {}),
      routes: tunnels !== undefined ? [seg?.routes[0] ?? nodeDefault, ...tunnels.routes] : seg !== undefined ? seg.routes : [nodeDefault],
      // host-gw: a route to every other node's pod range, held once for all nodes.
      ...(tunnels === undefined && seg === undefined && hostGw.length > 0 ? { routeGroup: { group: 0, except: i } } : {}),
    });
    if (node.cniNetwork !== undefined) applyCniNode(namespaces[namespaces.length - 1]!, node.cniNetwork);
    const nodeEvents = nodeLifecycle(s, node);
    if (nodeEvents.length > 0) namespaces[namespaces.length - 1]!.lifecycle = nodeEvents;
    for (const extra of node.extraNetworks ?? []) applyExtraNetworkNode(namespaces[namespaces.length - 1]!, extra.net);
    links.push({
      kind: 'wire',
      a: { ns: node.name, ifname: 'eth0' },
      b: { ns: seg?.switchNs ?? 'underlay', ifname: node.name },
      delayNs: s.underlay.delayNs,
      bandwidthBps: s.underlay.bandwidthBps,
      loss: s.underlay.loss,
      txQueueLen: s.underlay.txQueueLen,
    });

    const podDefault: RouteSpec = Object.freeze({ dst: DEFAULT_DST, via: podGw, dev: 'eth0' });
    for (const pod of node.pods) {
      const ns = `${node.name}/${pod.name}`;
      namespaces.push({
        name: ns,
        kind: 'pod',
        component: node.name,
        ipForward: false,
        containers: [...pod.containers],
        bridges: [],
        interfaces: [{ name: 'eth0', mac: mac(scheme.podEth, pod.ip), mtu: podMtu, addresses: [`${pod.ip}/${podLen}`] }],
        routes: [podDefault],
      });
      if (node.cniNetwork !== undefined) applyCniPod(namespaces[namespaces.length - 1]!, node.cniNetwork, pod.name);
      const podEvents = podLifecycle(node, pod.name);
      if (podEvents.length > 0) namespaces[namespaces.length - 1]!.lifecycle = podEvents;
      for (const extra of node.extraNetworks ?? []) {
        const joined = applyExtraNetworkPod(namespaces[namespaces.length - 1]!, extra.net, pod.name);
        if (joined !== undefined) {
          links.push({ kind: 'veth', a: { ns: node.name, ifname: joined.hostVeth }, b: { ns, ifname: joined.podIf }, delayNs: s.vethDelayNs, bandwidthBps: 0, loss: 0, txQueueLen: VETH_TXQUEUELEN });
        }
      }
      links.push({
        kind: 'veth',
        a: { ns: node.name, ifname: pod.hostVeth },
        b: { ns, ifname: 'eth0' },
        delayNs: s.vethDelayNs,
        bandwidthBps: 0,
        loss: 0,
        txQueueLen: VETH_TXQUEUELEN,
      });
    }
  });

  addExternalHosts(s, namespaces[0]!, namespaces, links, mac);

  return {
    name: s.name,
    ...(s.description !== undefined ? { description: s.description } : {}),
    seed: s.seed,
    durationNs: s.durationNs,
    loopbackDelayNs: s.loopbackDelayNs,
    netfilterCosts: s.netfilterCosts,
    ...(s.tcp !== undefined ? { tcp: s.tcp } : {}),
    namespaces,
    ...(namespaces.some((n) => n.routeGroup !== undefined) ? { routeGroups: [hostGw] } : {}),
    links,
    captures: captures(s.capture, namespaces),
    traffic: classified(s, namespaces, expandTraffic(s)),
    ...(s.servers.length > 0 ? { servers: s.servers.map((x) => ({ ...x })) } : {}),
    ...cniResults(s),
  };
}

/**
 * The node's rules in load order: the file's (inline, then iptablesFile), then
 * kube-proxy's for the scenario's Services (scenarios/services.ts); build.ts
 * restores every source after the first with --noflush.
 */
function nodeIptables(s: Scenario, node: Scenario['nodes'][number]): { iptables?: IptablesSource[] } {
  const docker = dockerPublished(s, node);
  const dockerRules: IptablesSource[] =
    docker.length > 0 ? [{ text: dockerIptables({ bridge: node.bridge, subnet: node.podCIDR }, docker), file: `docker (${node.name})`, lineOffset: 0 }] : [];
  const all = [...(node.iptablesRules ?? []), ...dockerRules, ...kubeProxySources(s, node)];
  return all.length > 0 ? { iptables: all } : {};
}

/** The node's ip sets: the file's, then kube-proxy's in ipvs mode (which must not reuse a name). */
function nodeIpsets(s: Scenario, node: Scenario['nodes'][number]): { ipsets?: NonNullable<NamespaceSpec['ipsets']> } {
  const own = node.ipsets ?? [];
  const kp = kubeProxyIpvsConfig(s, node)?.ipsets ?? [];
  for (const k of kp) {
    if (own.some((o) => o.name === k.name)) throw new Error(`nodes: ${node.name}: ipset ${k.name} is kube-proxy's (ipvs mode); give yours another name`);
  }
  const all = [...own, ...kp.map((k) => ({ name: k.name, type: k.type, entries: k.entries }))];
  return all.length > 0 ? { ipsets: all } : {};
}

/** kube-ipvs0 and the IPVS virtual servers of the node, in ipvs mode. */
function nodeIpvs(s: Scenario, node: Scenario['nodes'][number]): { ipvs?: NonNullable<NamespaceSpec['ipvs']> } {
  const c = kubeProxyIpvsConfig(s, node);
  return c !== undefined ? { ipvs: { device: KUBE_IPVS_DEVICE, addresses: c.dummyAddresses, services: c.virtualServers } } : {};
}

/** Runtime docker: the ports the node's containers publish (`docker run -p`, the file's hostPorts). */
function dockerPublished(s: Scenario, node: Scenario['nodes'][number]): PublishedPort[] {
  if (s.runtime !== 'docker') return [];
  return node.pods.flatMap((p) =>
    (p.hostPorts ?? []).map((h) => ({ containerIP: p.ip, containerPort: h.containerPort, hostPort: h.hostPort, protocol: h.protocol ?? 'tcp' })),
  );
}

/**
 * The node's user-space proxies: kube-proxy's in userspace mode, or with
 * runtime docker one docker-proxy per published port (Docker's default
 * userland-proxy), which serves what the host itself sends to the port.
 */
function nodeUserspace(s: Scenario, node: Scenario['nodes'][number]): { userspaceProxy?: NonNullable<NamespaceSpec['userspaceProxy']> } {
  const docker = dockerPublished(s, node);
  if (docker.length > 0) {
    const ports = docker.map((p) => ({
      name: dockerProxyName(p),
      protocol: p.protocol === 'tcp' ? ('TCP' as const) : ('UDP' as const),
      proxyPort: p.hostPort,
      backends: [{ ip: p.containerIP, port: p.containerPort }],
      affinity: 'None' as const,
    }));
    return { userspaceProxy: { kind: 'docker-proxy', copyNs: DEFAULT_USERSPACE_COSTS.copyNs, acceptNs: DEFAULT_USERSPACE_COSTS.acceptNs, ports } };
  }
  const c = kubeProxyUserspaceConfig(s, node);
  if (c === undefined || s.kubeProxy.mode !== 'userspace') return {};
  return { userspaceProxy: { kind: 'kube-proxy', copyNs: s.kubeProxy.userspace.copyNs, acceptNs: s.kubeProxy.userspace.acceptNs, ports: c.ports } };
}

/** kube-proxy's nftables ruleset for the node, in nftables mode. */
function nodeNftables(s: Scenario, node: Scenario['nodes'][number]): { nftables?: { text: string; file: string } } {
  const src = kubeProxyNftSource(s, node);
  return src !== undefined ? { nftables: src } : {};
}

/** [default, host-gw routes of every other node in node order]; the route objects are shared. */

/** The traffic with each flow's class (scenarios/flow-class.ts). */
function classified(s: Scenario, namespaces: NamespaceSpec[], traffic: TrafficSpec[]): TrafficSpec[] {
  const ctx = flowClassContext(s, namespaces);
  const stray: ScenarioIssue[] = [];
  for (const t of traffic) {
    t.class = flowClass(t, ctx);
    for (const problem of [strayNodePort(t, ctx), serviceSizeMismatch(t, ctx)]) if (problem !== null) stray.push({ path: `traffic "${t.name}"`, message: problem });
  }
  if (stray.length > 0) throw new ScenarioError(stray);
  return traffic;
}

/** "all": bridges then interfaces of every namespace, in namespace order (lo is never implied). */
function captures(capture: Scenario['capture'], namespaces: NamespaceSpec[]): string[] {
  if (capture === 'none') return [];
  if (capture !== 'all') return [...capture];
  const out: string[] = [];
  for (const ns of namespaces) {
    for (const b of ns.bridges) out.push(`${ns.name}/${b.name}`);
    for (const i of ns.interfaces) out.push(`${ns.name}/${i.name}`);
    // flannel.1 carries Ethernet; an ipip device's frames have no link layer of their own (see models/devices/ipip.ts).
    for (const t of ns.tunnels ?? []) if (t.kind === 'vxlan') out.push(`${ns.name}/${t.name}`);
  }
  return out;
}

// ---- traffic --------------------------------------------------------------------

function expandTraffic(s: Scenario): TrafficSpec[] {
  const index = new EndpointIndex(s.nodes, s.underlay.gateway, s.externalHosts);
  for (const svc of s.services) index.services.set(svc.name, svc.clusterIP);
  // Names written for (or defaulted on) single flows win; generated ones yield.
  const names = new Set<string>();
  for (const item of s.traffic) if (item.kind === 'ping' || item.kind === 'udp' || item.kind === 'tcp') names.add(item.name);

  const out: TrafficSpec[] = [];
  s.traffic.forEach((item, i) => {
    if (item.kind === 'ping' || item.kind === 'udp' || item.kind === 'tcp') {
      out.push(...singleFlows(item, i, index, names));
      return;
    }
    const pairs = patternPairs(item.pattern, s.nodes, item.nodeStride);
    const flows = pairs.length;
    // A closed-loop tcpAll has no period to spread over: its flows start together.
    const periodNs = item.kind === 'pingAll' ? item.intervalNs : item.rate > 0 ? SECOND / item.rate : 0;
    const kind = item.kind === 'pingAll' ? 'ping' : item.kind === 'udpAll' ? 'udp' : 'tcp';
    const group = uniqueName(`${item.kind} ${item.pattern}`, names);
    pairs.forEach(([fromNode, fromPod, toNode, toPod], k) => {
      const fromNs = `${fromNode.name}/${fromPod.name}`;
      const toNs = `${toNode.name}/${toPod.name}`;
      const common = {
        name: uniqueName(`${kind} ${fromNs} -> ${toNs}`, names),
        from: { ns: fromNs },
        to: toPod.ip,
        toNs,
        startNs: item.stagger ? Math.round(item.startNs + (k * periodNs) / flows) : item.startNs,
        group,
      };
      out.push(item.kind === 'pingAll' ? pingSpec(item, common) : item.kind === 'udpAll' ? udpSpec(item, common) : tcpSpec(item, common));
    });
  });
  return out;
}

interface FlowCommon {
  name: string;
  from: TrafficEndpoint;
  to: string;
  toNs?: string;
  startNs: number;
  group?: string;
}

type SingleFlow = Extract<TrafficItem, { kind: 'ping' | 'udp' | 'tcp' }>;

/**
 * A ping/udp/tcp item: one flow, or with a label selector as `from` or `to`
 * one flow per selected pod (per pair when both are selectors), sharing the
 * item's name as their group, so they make one row of statistics.
 */
function singleFlows(item: SingleFlow, i: number, index: EndpointIndex, names: Set<string>): TrafficSpec[] {
  const at = `traffic[${i}].${item.kind}`;
  const fail = (field: string, message: string): never => {
    throw new ScenarioError([{ path: `${at}.${field}`, message }]);
  };
  const pick = (text: string, field: string): EndpointRef[] => {
    const r = parseSelector(text) !== undefined ? index.select(text) : index.source(text);
    return typeof r === 'string' ? fail(field, r) : Array.isArray(r) ? r : [r];
  };
  const srcs = pick(item.from, 'from');
  const toSelected = parseSelector(item.to) !== undefined ? pick(item.to, 'to') : null;
  const flows: TrafficSpec[] = [];
  for (const src of srcs) {
    let k = 0;
    const dsts: { dst: Destination; label: string }[] =
      toSelected !== null
        ? toSelected.map((d) => ({ dst: { address: d.pod!.ip, ns: d.ns }, label: d.ns }))
        : [{ dst: orFail(index.destination(item.to, src), (m) => fail('to', m)), label: item.to }];
    for (const { dst, label } of dsts) {
      if (toSelected !== null && dst.ns === src.ns) continue; // a pod selected on both sides does not talk to itself
      const many = srcs.length > 1 || dsts.length > 1;
      const common: FlowCommon = {
        name: many ? uniqueName(`${item.name} (${src.ns} -> ${label})`, names) : item.name,
        from: endpoint(src),
        to: dst.address,
        ...(dst.ns !== undefined ? { toNs: dst.ns } : {}),
        startNs: item.startNs,
        ...(many ? { group: item.name } : {}),
      };
      // Pings from one namespace need their own ICMP identifiers (ping's socket ids), 256 apart.
      if (item.kind === 'ping') flows.push({ ...pingSpec(item, common), ident: (item.ident + 0x100 * k++) & 0xffff });
      else flows.push(item.kind === 'udp' ? udpSpec(item, common) : tcpSpec(item, common));
    }
  }
  return flows;
}

function orFail<T>(r: T | string, fail: (message: string) => never): T {
  return typeof r === 'string' ? fail(r) : r;
}

function endpoint(ref: EndpointRef): TrafficEndpoint {
  return ref.container !== undefined ? { ns: ref.ns, container: ref.container } : { ns: ref.ns };
}

function pingSpec(p: Extract<TrafficItem, { kind: 'ping' | 'pingAll' }>, common: FlowCommon): PingSpec {
  return {
    kind: 'ping',
    ...common,
    count: p.count,
    intervalNs: p.intervalNs,
    size: p.size,
    ident: p.ident,
    timeoutNs: p.timeoutNs,
    broadcast: p.kind === 'ping' && p.broadcast,
  };
}

function udpSpec(u: Extract<TrafficItem, { kind: 'udp' | 'udpAll' }>, common: FlowCommon): UdpSpec {
  return {
    kind: 'udp',
    ...common,
    port: u.port,
    sourcePort: u.sourcePort,
    count: u.count,
    rate: u.rate,
    arrivals: u.arrivals,
    requestSize: u.requestSize,
    responseSize: u.responseSize,
    timeoutNs: u.timeoutNs,
    broadcast: u.kind === 'udp' && u.broadcast,
  };
}

function tcpSpec(t: Extract<TrafficItem, { kind: 'tcp' | 'tcpAll' }>, common: FlowCommon): TcpSpec {
  return {
    kind: 'tcp',
    ...common,
    port: t.port,
    mode: t.mode,
    count: t.count,
    rate: t.rate,
    arrivals: t.arrivals,
    concurrency: t.concurrency,
    requestSize: t.requestSize,
    responseSize: t.responseSize,
    bytes: t.bytes,
    noDelay: t.noDelay,
    timeoutNs: t.timeoutNs,
  };
}
