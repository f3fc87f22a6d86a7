/**
 * From schema-valid data to a Scenario: applies every default (addresses, pod
 * IPs, veth names, traffic fields, flow names) and checks what a schema cannot
 * (overlapping ranges, addresses outside their prefix, duplicates, capacity,
 * endpoints and capture points that do not exist). Problems are collected, not
 * thrown; the loader attaches file positions.
 */
import { parseDuration } from '../engine/time.js';
import { IpSetTable } from '../models/netfilter/ipset.js';
import { parseBandwidth } from './bandwidth.js';
import { EndpointIndex, parseSelector } from './endpoints.js';
import { checkSegmentOverlap, normalizeSegments, type RawUnderlaySegment, segmentInterfaces, segmentNamespaceNames } from './underlay-segments.js';
import { type PathSegment, formatPath, listNames } from './errors.js';
import {
  type Cidr,
  cidrBroadcast,
  cidrContains,
  cidrNetwork,
  cidrsOverlap,
  cidrWithin,
  formatCidr,
  formatIpv4,
  hasHostBits,
  parseCidr,
  parseIpv4,
} from './ipv4.js';
import {
  MAX_IFNAME,
  NODE_CIDR_LEN,
  defaultBridge,
  defaultHostVeth,
  defaultNodeAddress,
  defaultPodCIDR,
  generateScaleNodes,
  hostCount,
  lastPodAddress,
  nodeCidrCapacity,
  podCapacity,
  podGateway,
} from './nodes.js';
import type {
  Arrivals,
  CniSource,
  NodeConfig,
  PodConfig,
  Routing,
  Runtime,
  IpSetConfig,
  Scenario,
  ServerConfig,
  TcpMode,
  TrafficItem,
  TrafficPattern,
  UnderlaySegment,
  VxlanConfig,
} from './scenario.js';
import { patternPairs } from './patterns.js';
import { VXLAN_OVERHEAD } from '../models/devices/vxlan.js';
import { IPIP_OVERHEAD } from '../models/devices/ipip.js';
import { overlayDevice } from './overlay.js';
import type { Issue } from './schema-check.js';
import { checkServiceLoad } from './service-load.js';
import { type RawExternalHost, normalizeExternalHosts } from './external-hosts.js';
import { type KubeProxyMode, type RawService, kubeProxyConfig, resolveServices, serviceCidr, serviceServers } from './services.js';

/* The data as the schema admits it (before defaults). */
type DurationText = string | number;
interface RawPing {
  from?: string;
  to?: string;
  name?: string;
  pattern?: TrafficPattern;
  stagger?: boolean;
  count?: number;
  interval?: DurationText;
  size?: number;
  start?: DurationText;
  timeout?: DurationText;
  ident?: number;
}
interface RawUdp {
  from?: string;
  to?: string;
  name?: string;
  pattern?: TrafficPattern;
  stagger?: boolean;
  port?: number;
  sourcePort?: number;
  count?: number;
  rate?: number;
  arrivals?: Arrivals;
  requestSize?: number;
  responseSize?: number;
  start?: DurationText;
  timeout?: DurationText;
}
interface RawTcp {
  from?: string;
  to?: string;
  name?: string;
  pattern?: TrafficPattern;
  stagger?: boolean;
  port?: number;
  mode?: TcpMode;
  count?: number;
  rate?: number;
  arrivals?: Arrivals;
  concurrency?: number;
  requestSize?: number;
  responseSize?: number;
  bytes?: number;
  noDelay?: boolean;
  start?: DurationText;
  timeout?: DurationText;
}
type RawTrafficItem =
  | { ping: RawPing }
  | { udp: RawUdp }
  | { tcp: RawTcp }
  | { pingAll: RawPing }
  | { udpAll: RawUdp }
  | { tcpAll: RawTcp };
interface RawPod {
  name: string;
  ip?: string;
  containers?: string[];
  hairpin?: boolean;
  hostVeth?: string;
  labels?: Record<string, string>;
  hostPorts?: { hostPort: number; containerPort: number; protocol?: 'tcp' | 'udp' }[];
  networks?: string[];
  deleteAt?: DurationText;
}
interface RawNode {
  name: string;
  address?: string;
  podCIDR?: string;
  bridge?: string;
  pods?: RawPod[];
  iptables?: string;
  iptablesFile?: string;
  bridgeNfCallIptables?: boolean;
  conntrackMax?: number;
  ipsets?: IpSetConfig[];
  nfacct?: string[];
  cni?: RawCni;
}
type RawCni = { conflist: string } | { config: unknown };
export interface RawScenario {
  networks?: { name: string; cni: RawCni }[];
  name: string;
  description?: string;
  seed?: number;
  duration?: DurationText;
  runtime?: Runtime;
  vethDelay?: DurationText;
  loopbackDelay?: DurationText;
  mtu?: number;
  clusterCIDR?: string;
  routing?: Routing;
  vxlan?: { vni?: number; port?: number; udpChecksum?: boolean };
  podMtu?: number;
  underlay?: {
    cidr?: string;
    gateway?: string;
    segments?: RawUnderlaySegment[];
    bandwidth?: string | number;
    delay?: DurationText;
    loss?: number;
    txqueuelen?: number;
  };
  nodes?: RawNode[];
  cni?: RawCni;
  scale?: { nodes: number; podsPerNode?: number };
  externalHosts?: RawExternalHost[];
  traffic?: RawTrafficItem[];
  servers?: { on: string; port: number; protocol?: 'udp' | 'tcp'; requestSize?: number; responseSize?: number }[];
  capture?: 'all' | 'none' | string[];
  serviceCIDR?: string;
  kubeProxy?: { mode?: KubeProxyMode; ipvs?: { scheduler?: 'rr' | 'lc' }; userspace?: { copyCost?: string; acceptCost?: string }; syncDelay?: string };
  services?: RawService[];
  serviceLoad?: { services: number; endpointsPerService?: number };
  /** Read by the loader (scenarios/manifests/), which adds their pods and services before normalizing. */
  manifests?: string[];
  netfilter?: { ruleCost?: DurationText; conntrackCost?: DurationText; natSetupCost?: DurationText };
  /** Read only by `podwire sweep` (scenarios/sweep/grid.ts); a single run ignores it. */
  sweep?: Record<string, unknown[]>;
}

/** Ranges no node, pod or underlay prefix may overlap. */
const RESERVED: { cidr: Cidr; what: string; cniOnly?: boolean }[] = [
  { cidr: parseCidr('0.0.0.0/8')!, what: 'the "this network" range 0.0.0.0/8 (RFC 1122)' },
  { cidr: parseCidr('127.0.0.0/8')!, what: 'the loopback range 127.0.0.0/8' },
  { cidr: parseCidr('169.254.0.0/16')!, what: 'the link-local range 169.254.0.0/16' },
  { cidr: parseCidr('224.0.0.0/4')!, what: 'the multicast range 224.0.0.0/4' },
  { cidr: parseCidr('240.0.0.0/4')!, what: 'the reserved range 240.0.0.0/4' },
  {
    cidr: parseCidr('10.96.0.0/12')!,
    what: 'the Kubernetes service range 10.96.0.0/12 (the default --service-cluster-ip-range)',
    cniOnly: true,
  },
];

export const DEFAULTS = {
  seed: 1,
  duration: '10s',
  runtime: 'cni' as Runtime,
  vethDelay: '2us',
  loopbackDelay: '2us',
  // Calibrated on the kernel reference machine: bench/calibrate/README.md.
  netfilter: { ruleCost: '15ns', conntrackCost: '340ns', natSetupCost: '1250ns' },
  mtu: 1500,
  clusterCIDR: '10.244.0.0/16',
  routing: 'host-gw' as Routing,
  /** flannel's vxlan backend: VNI 1, the Linux port 8472, UDP checksums on (netlink sends no IFLA_VXLAN_UDP_CSUM). */
  vxlan: { vni: 1, port: 8472, udpChecksum: true },
  underlay: { cidr: '192.168.49.0/24', bandwidth: '10Gbit', delay: '20us', loss: 0, txqueuelen: 1000 },
  ping: { count: 3, interval: '1s', size: 56, start: 0, timeout: '1s' },
  udp: {
    port: 9000,
    sourcePort: 0,
    count: 1,
    rate: 1,
    arrivals: 'constant' as Arrivals,
    requestSize: 64,
    responseSize: 64,
    start: 0,
    timeout: '1s',
  },
  /** netperf TCP_RR's defaults: 1-byte request and response, one transaction in flight; closed loop unless a rate is given. */
  tcp: {
    port: 9000,
    mode: 'rr' as TcpMode,
    count: 1,
    arrivals: 'constant' as Arrivals,
    concurrency: 1,
    requestSize: 1,
    responseSize: 1,
    bytes: 1_000_000,
    noDelay: false,
    timeout: '1s',
  },
  stagger: true,
  podsPerNode: 1,
  capture: 'all' as const,
  /** iputils' habit of a recognisable identifier; the item index keeps flows apart. */
  identBase: 0x1234,
};

export interface Normalized {
  scenario: Scenario;
  issues: Issue[];
}

export function normalizeScenario(raw: RawScenario): Normalized {
  return new Normalizer(raw).run();
}

class Normalizer {
  private readonly issues: Issue[] = [];
  private segments: UnderlaySegment[] | undefined;

  constructor(private readonly raw: RawScenario) {}

  private fail(path: PathSegment[], message: string, anchor?: PathSegment[]): void {
    this.issues.push(anchor ? { path, message, anchor: { path: anchor } } : { path, message });
  }

  private duration(value: DurationText | undefined, fallback: DurationText, path: PathSegment[]): number {
    try {
      return parseDuration(value ?? fallback);
    } catch (e) {
      this.fail(path, (e as Error).message);
      return 0;
    }
  }

  run(): Normalized {
    const raw = this.raw;
    const runtime = raw.runtime ?? DEFAULTS.runtime;
    const durationNs = this.duration(raw.duration, DEFAULTS.duration, ['duration']);
    if (raw.duration !== undefined && durationNs === 0) this.fail(['duration'], 'must be positive');

    const underlay = this.underlay(runtime);
    const cluster = this.clusterCidr(runtime, underlay.cidr);

    let nodes: NodeConfig[] = [];
    if (raw.nodes && raw.scale) {
      this.fail(['scale'], 'give either nodes or scale, not both');
    } else if (raw.nodes) {
      nodes = this.explicitNodes(raw.nodes, runtime, underlay, cluster);
    } else if (raw.scale) {
      nodes = this.scaleNodes(raw.scale, runtime, underlay, cluster);
    } else {
      this.fail(['nodes'], 'is required (or scale, to generate nodes)', []);
    }
    this.cniSources(nodes);
    const segments = normalizeSegments(nodes, {
      raw,
      rawNodes: raw.nodes ?? [],
      prefix: (text, path) => this.networkPrefix(text, path, runtime),
      cluster,
      fail: (p, m, a) => this.fail(p, m, a),
    });
    this.segments = segments;

    const externalHosts = normalizeExternalHosts(raw.externalHosts, nodes, underlay, (p, m, a) => this.fail(p, m, a));
    const index = new EndpointIndex(nodes, underlay.gateway ? formatIpv4(underlay.gateway) : '', externalHosts);
    const fail = (path: PathSegment[], message: string) => this.fail(path, message);
    // Services first: traffic may name them ("svc:<name>").
    const svcCidr = serviceCidr(raw.serviceCIDR, { ...(underlay.cidr ? { underlay: underlay.cidr } : {}), ...(cluster ? { cluster } : {}), nodes }, fail);
    checkSegmentOverlap(segments, svcCidr, ['serviceCIDR'], fail);
    const kubeProxy = kubeProxyConfig(raw.kubeProxy, fail);
    const services = resolveServices(raw.services ?? [], svcCidr, nodes, fail);
    for (const svc of services) index.services.set(svc.name, svc.clusterIP);
    const traffic = this.traffic(index, nodes, durationNs);
    const capture = this.capture(nodes, index);
    const explicitServers = this.servers(index);
    if (raw.serviceLoad !== undefined) {
      checkServiceLoad({ serviceLoad: { services: raw.serviceLoad.services, endpointsPerService: raw.serviceLoad.endpointsPerService ?? 2 }, serviceCIDR: svcCidr ? formatCidr(svcCidr) : '', services, nodes }, fail);
    }
    const taken = new Set(explicitServers.map((x) => `${x.protocol ?? 'udp'}:${x.ns}:${x.port}`));
    const servers = [...explicitServers, ...serviceServers(services, taken)];

    const scenario: Scenario = {
      name: raw.name,
      ...(raw.description !== undefined ? { description: raw.description } : {}),
      seed: raw.seed ?? DEFAULTS.seed,
      durationNs,
      runtime,
      vethDelayNs: this.duration(raw.vethDelay, DEFAULTS.vethDelay, ['vethDelay']),
      loopbackDelayNs: this.duration(raw.loopbackDelay, DEFAULTS.loopbackDelay, ['loopbackDelay']),
      netfilterCosts: {
        ruleNs: this.duration(raw.netfilter?.ruleCost, DEFAULTS.netfilter.ruleCost, ['netfilter', 'ruleCost']),
        conntrackNs: this.duration(raw.netfilter?.conntrackCost, DEFAULTS.netfilter.conntrackCost, ['netfilter', 'conntrackCost']),
        natSetupNs: this.duration(raw.netfilter?.natSetupCost, DEFAULTS.netfilter.natSetupCost, ['netfilter', 'natSetupCost']),
      },
      mtu: raw.mtu ?? DEFAULTS.mtu,
      ...(cluster ? { clusterCIDR: formatCidr(cluster) } : {}),
      routing: raw.routing ?? DEFAULTS.routing,
      ...this.overlay(),
      underlay: {
        cidr: underlay.cidr ? formatCidr(underlay.cidr) : '',
        gateway: underlay.gateway !== undefined ? formatIpv4(underlay.gateway) : '',
        bandwidthBps: underlay.bandwidthBps,
        delayNs: underlay.delayNs,
        loss: underlay.loss,
        txQueueLen: underlay.txQueueLen,
        ...(segments !== undefined ? { segments } : {}),
      },
      nodes,
      ...(raw.scale && !raw.nodes
        ? { scale: { nodes: raw.scale.nodes, podsPerNode: raw.scale.podsPerNode ?? DEFAULTS.podsPerNode } }
        : {}),
      ...(externalHosts.length > 0 ? { externalHosts } : {}),
      traffic,
      servers,
      serviceCIDR: svcCidr ? formatCidr(svcCidr) : (raw.serviceCIDR ?? ''),
      kubeProxy,
      ...(raw.networks !== undefined ? { networks: this.networks(raw.networks) } : {}),
      services,
      ...(raw.serviceLoad !== undefined ? { serviceLoad: { services: raw.serviceLoad.services, endpointsPerService: raw.serviceLoad.endpointsPerService ?? 2 } } : {}),
      capture,
    };
    return { scenario, issues: this.issues };
  }

  /**
   * Overlay options: `vxlan` only with routing vxlan; the pod MTU defaults to
   * the underlay's minus the encapsulation (flannel's FLANNEL_MTU) and may not
   * exceed the underlay's.
   */
  private overlay(): { vxlan?: VxlanConfig; podMtu: number } {
    const raw = this.raw;
    const routing = raw.routing ?? DEFAULTS.routing;
    const mtu = raw.mtu ?? DEFAULTS.mtu;
    if (raw.vxlan !== undefined && routing !== 'vxlan') this.fail(['vxlan'], `applies only to routing: vxlan (routing is ${routing})`);
    const overhead = routing === 'vxlan' ? VXLAN_OVERHEAD : routing === 'ipip' ? IPIP_OVERHEAD : 0;
    const podMtu = raw.podMtu ?? mtu - overhead;
    if (podMtu > mtu) this.fail(['podMtu'], `${podMtu} exceeds the underlay mtu (${mtu})`);
    if (podMtu < 68) this.fail(['mtu'], `${mtu} leaves a pod MTU of ${podMtu} after ${overhead} bytes of ${routing} overhead (at least 68 needed)`);
    if (routing !== 'vxlan') return { podMtu };
    const vxlan: VxlanConfig = {
      vni: raw.vxlan?.vni ?? DEFAULTS.vxlan.vni,
      port: raw.vxlan?.port ?? DEFAULTS.vxlan.port,
      udpChecksum: raw.vxlan?.udpChecksum ?? DEFAULTS.vxlan.udpChecksum,
    };
    return { vxlan, podMtu };
  }

  /** ip sets: unique names, every element valid for its set type. */
  private ipsets(sets: IpSetConfig[], at: PathSegment[]): IpSetConfig[] {
    const names = new Map<string, number>();
    sets.forEach((set, j) => {
      const prev = names.get(set.name);
      if (prev !== undefined) this.fail([...at, 'ipsets', j, 'name'], `"${set.name}" is already used by ipsets[${prev}]`);
      names.set(set.name, j);
      const table = new IpSetTable(set.name, set.type);
      (set.entries ?? []).forEach((e, k) => {
        try {
          table.add(e);
        } catch (err) {
          this.fail([...at, 'ipsets', j, 'entries', k], `${(err as Error).message} (in a ${set.type} set)`);
        }
      });
    });
    return sets.map((s) => ({ name: s.name, type: s.type, entries: s.entries ?? [] }));
  }

  /** Servers: resolved endpoints, one per (namespace, port). */
  private servers(index: EndpointIndex): ServerConfig[] {
    const out: ServerConfig[] = [];
    const seen = new Map<string, number>();
    (this.raw.servers ?? []).forEach((raw, i) => {
      const ref = index.source(raw.on);
      if (typeof ref === 'string') {
        this.fail(['servers', i, 'on'], ref);
        return;
      }
      const protocol = raw.protocol ?? 'udp';
      const key = `${protocol}:${ref.ns}:${raw.port}`;
      const prev = seen.get(key);
      if (prev !== undefined) {
        this.fail(['servers', i, 'port'], `${raw.port} in ${ref.ns} is already served by servers[${prev}]`);
        return;
      }
      seen.set(key, i);
      if (protocol === 'udp' && raw.requestSize !== undefined) {
        this.fail(['servers', i, 'requestSize'], 'applies to tcp servers only (a UDP request is one datagram)');
      }
      out.push({
        ns: ref.ns,
        port: raw.port,
        responseSize: raw.responseSize ?? 64,
        ...(protocol === 'tcp' ? { protocol, requestSize: raw.requestSize ?? 64 } : {}),
      });
    });
    return out;
  }

  // ---- prefixes -------------------------------------------------------------

  /**
   * A prefix used as a network of its own: no host bits, room for a gateway and
   * at least one more host, clear of the reserved ranges. Returns it when usable.
   */
  private networkPrefix(text: string, path: PathSegment[], runtime: Runtime, anchor?: PathSegment[]): Cidr | undefined {
    const c = parseCidr(text)!;
    if (hasHostBits(c)) {
      const network = formatCidr({ base: cidrNetwork(c), len: c.len });
      this.fail(path, `${text} has host bits set (the prefix is ${network})`, anchor);
      return undefined;
    }
    if (c.len > 30) {
      this.fail(path, `${text} is too small (at least a /30 is needed: network, gateway, one host, broadcast)`, anchor);
      return undefined;
    }
    for (const r of RESERVED) {
      if (r.cniOnly && runtime !== 'cni') continue;
      if (cidrsOverlap(c, r.cidr)) {
        this.fail(path, `${text} overlaps ${r.what}`, anchor);
        return undefined;
      }
    }
    return c;
  }

  private underlay(runtime: Runtime): {
    cidr?: Cidr;
    gateway?: number;
    bandwidthBps: number;
    delayNs: number;
    loss: number;
    txQueueLen: number;
  } {
    const u = this.raw.underlay ?? {};
    const d = DEFAULTS.underlay;
    // Segments bring their own prefixes (scenarios/underlay-segments.ts).
    const cidr = u.segments !== undefined ? undefined : this.networkPrefix(u.cidr ?? d.cidr, ['underlay', 'cidr'], runtime);
    let gateway: number | undefined;
    if (cidr) {
      if (u.gateway === undefined) {
        gateway = cidrNetwork(cidr) + 1;
      } else {
        const g = parseIpv4(u.gateway)!;
        const problem = this.addressProblem(g, cidr, `the underlay cidr ${formatCidr(cidr)}`);
        if (problem) this.fail(['underlay', 'gateway'], `${u.gateway} ${problem}`);
        else gateway = g;
      }
    }
    const delayNs = this.duration(u.delay, d.delay, ['underlay', 'delay']);
    if (delayNs === 0) {
      this.fail(['underlay', 'delay'], 'must be positive (node links are where a partitioned run cuts the topology)');
    }
    return {
      ...(cidr ? { cidr } : {}),
      ...(gateway !== undefined ? { gateway } : {}),
      bandwidthBps: parseBandwidth(u.bandwidth ?? d.bandwidth),
      delayNs,
      loss: u.loss ?? d.loss,
      txQueueLen: u.txqueuelen ?? d.txqueuelen,
    };
  }

  /** Why `addr` cannot be a host of `c` ("is outside ..."), or undefined when it can. */
  private addressProblem(addr: number, c: Cidr, what: string): string | undefined {
    if (!cidrContains(c, addr)) return `is outside ${what}`;
    if (addr === cidrNetwork(c)) return `is the network address of ${what}`;
    if (addr === cidrBroadcast(c)) return `is the broadcast address of ${what}`;
    return undefined;
  }

  private clusterCidr(runtime: Runtime, underlay: Cidr | undefined): Cidr | undefined {
    const text = this.raw.clusterCIDR ?? (runtime === 'cni' ? DEFAULTS.clusterCIDR : undefined);
    if (text === undefined) return undefined;
    const c = this.networkPrefix(text, ['clusterCIDR'], runtime);
    if (c && underlay && cidrsOverlap(c, underlay)) {
      this.fail(['clusterCIDR'], `${text} overlaps underlay.cidr (${formatCidr(underlay)})`);
      return undefined;
    }
    return c;
  }

  // ---- nodes ------------------------------------------------------------------

  private explicitNodes(
    rawNodes: RawNode[],
    runtime: Runtime,
    underlay: { cidr?: Cidr; gateway?: number },
    cluster: Cidr | undefined,
  ): NodeConfig[] {
    const names = new Map<string, number>();
    const addresses = new Map<number, number>();
    const podCidrs: { cidr: Cidr; index: number }[] = [];
    const podIps = new Map<number, string>();
    const nodes: NodeConfig[] = [];

    rawNodes.forEach((rn, i) => {
      const at: PathSegment[] = ['nodes', i];
      this.nodeName(rn.name, [...at, 'name'], names, i);

      // Address on the underlay.
      let address = '';
      if (underlay.cidr) {
        const explicit = rn.address !== undefined;
        const addr = explicit ? parseIpv4(rn.address!)! : defaultNodeAddress(underlay.cidr, i);
        const shown = explicit ? rn.address! : `${formatIpv4(addr)} (the default, underlay host ${i + 2})`;
        const path = [...at, 'address'];
        const anchor = explicit ? undefined : at;
        const what = `the underlay cidr ${formatCidr(underlay.cidr)}`;
        const problem = this.addressProblem(addr, underlay.cidr, what);
        if (problem) this.fail(path, `${shown} ${problem}`, anchor);
        else if (addr === underlay.gateway) this.fail(path, `${shown} is the underlay gateway`, anchor);
        else if (addresses.has(addr)) this.fail(path, `${shown} is already used by nodes[${addresses.get(addr)}]`, anchor);
        else addresses.set(addr, i);
        address = formatIpv4(addr);
      }

      // Pod CIDR.
      let podCidr: Cidr | undefined;
      if (rn.podCIDR !== undefined) {
        const path = [...at, 'podCIDR'];
        podCidr = this.networkPrefix(rn.podCIDR, path, runtime);
        if (podCidr && cluster && !cidrWithin(podCidr, cluster)) {
          this.fail(path, `${rn.podCIDR} is outside clusterCIDR ${formatCidr(cluster)}`);
          podCidr = undefined;
        } else if (podCidr && underlay.cidr && cidrsOverlap(podCidr, underlay.cidr)) {
          this.fail(path, `${rn.podCIDR} overlaps underlay.cidr (${formatCidr(underlay.cidr)})`);
          podCidr = undefined;
        }
      } else if (cluster) {
        podCidr = defaultPodCIDR(cluster, i);
        if (!podCidr) {
          this.fail(
            at,
            `no default podCIDR left: clusterCIDR ${formatCidr(cluster)} holds ${nodeCidrCapacity(cluster)} node ranges ` +
              `of /${NODE_CIDR_LEN}; give podCIDR or a wider clusterCIDR`,
          );
        }
      } else if (this.raw.clusterCIDR === undefined) {
        this.fail([...at, 'podCIDR'], 'is required with runtime docker (or give clusterCIDR)', at);
      }
      if (podCidr) podCidrs.push({ cidr: podCidr, index: i });

      const bridge = rn.bridge ?? defaultBridge(runtime);
      if (bridge === 'eth0' || bridge === 'lo') {
        this.fail([...at, 'bridge'], `"${bridge}" is already an interface of every node`);
      }

      const pods = this.pods(rn, at, runtime, bridge, podCidr, podIps);
      nodes.push({
        name: rn.name,
        address,
        podCIDR: podCidr ? formatCidr(podCidr) : (rn.podCIDR ?? ''),
        bridge,
        pods,
        ...(rn.iptables !== undefined ? { iptables: rn.iptables } : {}),
        ...(rn.iptablesFile !== undefined ? { iptablesFile: rn.iptablesFile } : {}),
        bridgeNfCallIptables: rn.bridgeNfCallIptables ?? true,
        ...(rn.conntrackMax !== undefined ? { conntrackMax: rn.conntrackMax } : {}),
        ...(rn.ipsets !== undefined && rn.ipsets.length > 0 ? { ipsets: this.ipsets(rn.ipsets, at) } : {}),
        ...(rn.nfacct !== undefined && rn.nfacct.length > 0 ? { nfacct: [...new Set(rn.nfacct)] } : {}),
      });
    });

    this.podCidrOverlaps(podCidrs);
    return nodes;
  }

  /**
   * Each node's `cni` (its own, else the cluster's), which the loader executes
   * (scenarios/cni/); with it pod IPs come from host-local. hostPorts are the
   * runtime's portMappings, served only by the CNI portmap plugin.
   */
  private cniSources(nodes: NodeConfig[]): void {
    nodes.forEach((node, i) => {
      const rn = this.raw.nodes?.[i];
      const src: CniSource | undefined =
        rn?.cni !== undefined ? { ...rn.cni, at: ['nodes', i, 'cni'] } : this.raw.cni !== undefined ? { ...this.raw.cni, at: ['cni'] } : undefined;
      if (src !== undefined) node.cni = src;
      rn?.pods?.forEach((rp, j) => {
        const at: PathSegment[] = ['nodes', i, 'pods', j];
        if (src !== undefined && rp.ip !== undefined) this.fail([...at, 'ip'], "is given by the CNI configuration's IPAM (host-local) when the node has cni; remove it");
        if (rp.networks !== undefined) this.podNetworks(rp.networks, at, node.pods[j]);
        if (rp.hostPorts === undefined) return;
        if (src === undefined && this.raw.runtime !== 'docker') this.fail([...at, 'hostPorts'], 'needs cni (a CNI configuration with the portmap plugin maps host ports) or runtime docker (docker run -p)');
        if (this.raw.runtime === 'docker' && (rn.iptables !== undefined || rn.iptablesFile !== undefined)) {
          this.fail([...at, 'hostPorts'], "with runtime docker, Docker writes the node's rules for its published ports; remove the node's hand-written iptables or the hostPorts");
        }
        const pod = node.pods[j];
        if (pod !== undefined) pod.hostPorts = rp.hostPorts.map((h) => ({ hostPort: h.hostPort, containerPort: h.containerPort, protocol: h.protocol ?? 'tcp' }));
      });
    });
  }

  /** A pod's deleteAt (scenarios/pod-deletion.ts says what deletion does). */
  private podDeletion(rp: RawPod, path: PathSegment[], runtime: Runtime): number {
    const at = this.duration(rp.deleteAt, 0, [...path, 'deleteAt']);
    if (runtime !== 'cni') this.fail([...path, 'deleteAt'], 'applies to runtime cni (Kubernetes pods); a docker container is not deleted mid-run');
    return at;
  }

  /** The scenario's additional networks: unique names. */
  private networks(raw: { name: string; cni: RawCni }[]): NonNullable<Scenario['networks']> {
    const seen = new Set<string>();
    return raw.map((n, i) => {
      if (seen.has(n.name)) this.fail(['networks', i, 'name'], `"${n.name}" is defined twice`);
      seen.add(n.name);
      return { name: n.name, cni: { ...n.cni, at: ['networks', i, 'cni'] } };
    });
  }

  /** A pod's `networks`: names from the scenario's `networks`, each once. */
  private podNetworks(names: string[], at: PathSegment[], pod: PodConfig | undefined): void {
    const known = (this.raw.networks ?? []).map((n) => n.name);
    const seen = new Set<string>();
    names.forEach((name, k) => {
      if (!known.includes(name)) this.fail([...at, 'networks', k], `unknown network "${name}" (${known.length > 0 ? `networks are ${known.join(', ')}` : 'the scenario has no networks'})`);
      else if (seen.has(name)) this.fail([...at, 'networks', k], `"${name}" is listed twice`);
      seen.add(name);
    });
    if (pod !== undefined) pod.networks = [...names];
  }

  private nodeName(name: string, path: PathSegment[], seen: Map<string, number>, index: number): void {
    if (name === 'underlay') this.fail(path, '"underlay" is reserved (the underlay namespace)');
    else if (name === 'localhost') this.fail(path, '"localhost" is reserved (it means 127.0.0.1 in traffic destinations)');
    else if (name === 'br0' || name === 'lo') {
      this.fail(path, `"${name}" is reserved (node names also name their ports on the underlay, which has ${name})`);
    } else if (name.length > MAX_IFNAME) {
      this.fail(
        path,
        `"${name}" is longer than ${MAX_IFNAME} characters (it also names the node's port on the underlay bridge)`,
      );
    }
    const prev = seen.get(name);
    if (prev !== undefined) this.fail(path, `"${name}" is already used by nodes[${prev}]`);
    else seen.set(name, index);
  }

  /**
   * Overlapping node podCIDRs, found by a sweep over the prefixes sorted by
   * network address (O(n log n), so 5,000 nodes cost nothing). Each overlap is
   * reported on the later node, naming the earlier one.
   */
  private podCidrOverlaps(list: { cidr: Cidr; index: number }[]): void {
    const sorted = [...list].sort((a, b) => a.cidr.base - b.cidr.base || a.cidr.len - b.cidr.len || a.index - b.index);
    let open: { cidr: Cidr; index: number; end: number } | undefined;
    for (const cur of sorted) {
      const end = cidrBroadcast(cur.cidr);
      if (open && cur.cidr.base <= open.end) {
        const [later, earlier] = cur.index > open.index ? [cur, open] : [open, cur];
        const defaulted = this.raw.nodes?.[later.index]?.podCIDR === undefined;
        this.fail(
          ['nodes', later.index, 'podCIDR'],
          `${formatCidr(later.cidr)}${defaulted ? ' (the default)' : ''} overlaps ` +
            `nodes[${earlier.index}].podCIDR (${formatCidr(earlier.cidr)})`,
          defaulted ? ['nodes', later.index] : undefined,
        );
      }
      if (!open || end > open.end) open = { ...cur, end };
    }
  }

  private pods(
    rn: RawNode,
    at: PathSegment[],
    runtime: Runtime,
    bridge: string,
    podCidr: Cidr | undefined,
    podIps: Map<number, string>,
  ): PodConfig[] {
    const rawPods = rn.pods ?? [];
    if (podCidr && rawPods.length > podCapacity(podCidr)) {
      this.fail(
        [...at, 'pods'],
        `${rawPods.length} pods do not fit podCIDR ${formatCidr(podCidr)} ` +
          `(${plural(podCapacity(podCidr), 'address', 'addresses')} after the gateway)`,
      );
      podCidr = undefined;
    }
    const names = new Map<string, number>();
    // Interface names of the node: explicit host veths claim theirs first.
    const ifnames = new Map<string, string>([
      ['eth0', 'the node NIC'],
      ['lo', 'the loopback device'],
      [bridge, 'the node bridge'],
    ]);
    const pods: PodConfig[] = rawPods.map((rp, j) => {
      const path = [...at, 'pods', j];
      const prev = names.get(rp.name);
      if (prev !== undefined) this.fail([...path, 'name'], `"${rp.name}" is already used by ${formatPath([...at, 'pods', prev])}`);
      else names.set(rp.name, j);

      const containers = rp.containers ?? [runtime === 'docker' ? rp.name : 'main'];
      const seen = new Map<string, number>();
      containers.forEach((c, k) => {
        const first = seen.get(c);
        if (first !== undefined) this.fail([...path, 'containers', k], `"${c}" is already used by containers[${first}]`);
        else seen.set(c, k);
      });
      if (runtime === 'docker' && containers.length > 1) {
        this.fail([...path, 'containers'], 'runtime docker runs one container per network namespace; list one');
      }

      let ip = '';
      if (rp.ip !== undefined) {
        ip = rp.ip;
        const addr = parseIpv4(rp.ip)!;
        const where = formatPath(path);
        const owner = podIps.get(addr);
        if (podCidr) {
          const what = `the node's podCIDR ${formatCidr(podCidr)}`;
          const problem = this.addressProblem(addr, podCidr, what);
          if (problem) this.fail([...path, 'ip'], `${rp.ip} ${problem}`);
          else if (addr === podGateway(podCidr)) {
            this.fail([...path, 'ip'], `${rp.ip} is the gateway address of podCIDR ${formatCidr(podCidr)}`);
          } else if (owner !== undefined) this.fail([...path, 'ip'], `${rp.ip} is already used by ${owner}`);
          else podIps.set(addr, where);
        } else if (owner !== undefined) this.fail([...path, 'ip'], `${rp.ip} is already used by ${owner}`);
        else podIps.set(addr, where);
      }

      if (rp.hostVeth !== undefined) {
        const taken = ifnames.get(rp.hostVeth);
        if (taken !== undefined) this.fail([...path, 'hostVeth'], `"${rp.hostVeth}" is already used by ${taken}`);
        else ifnames.set(rp.hostVeth, formatPath(path));
      }
      return {
        name: rp.name,
        ip,
        containers,
        hairpin: rp.hairpin ?? false,
        hostVeth: rp.hostVeth ?? '',
        ...(rp.labels !== undefined ? { labels: { ...rp.labels } } : {}),
        ...(rp.deleteAt !== undefined ? { deleteAtNs: this.podDeletion(rp, path, runtime) } : {}),
      };
    });

    // Defaults, in pod order: veth names around the explicit ones, addresses
    // from the gateway's next host up, skipping those given explicitly.
    const used = new Set(ifnames.keys());
    for (const pod of pods) if (pod.hostVeth === '') pod.hostVeth = defaultHostVeth(pod.name, used);
    if (podCidr) {
      let next = podGateway(podCidr) + 1;
      const last = lastPodAddress(podCidr);
      pods.forEach((pod, j) => {
        if (pod.ip !== '') return;
        while (next <= last && podIps.has(next)) next++;
        if (next > last) {
          this.fail([...at, 'pods', j], `no address left in podCIDR ${formatCidr(podCidr)}`);
          return;
        }
        podIps.set(next, formatPath([...at, 'pods', j]));
        pod.ip = formatIpv4(next++);
      });
    }
    return pods;
  }

  private scaleNodes(
    scale: { nodes: number; podsPerNode?: number },
    runtime: Runtime,
    underlay: { cidr?: Cidr; gateway?: number },
    cluster: Cidr | undefined,
  ): NodeConfig[] {
    const n = scale.nodes;
    const p = scale.podsPerNode ?? DEFAULTS.podsPerNode;
    let ok = true;
    if (!cluster) {
      if (this.raw.clusterCIDR === undefined) {
        this.fail(['scale'], `runtime ${runtime} needs clusterCIDR to carve node podCIDRs from`);
      }
      ok = false;
    } else if (n > nodeCidrCapacity(cluster)) {
      this.fail(
        ['scale', 'nodes'],
        `${n} nodes do not fit clusterCIDR ${formatCidr(cluster)} (${nodeCidrCapacity(cluster)} node ranges of /${NODE_CIDR_LEN})`,
      );
      ok = false;
    }
    if (!underlay.cidr || underlay.gateway === undefined) {
      ok = false;
    } else {
      const hosts = hostCount(underlay.cidr);
      const gatewayHost = underlay.gateway - cidrNetwork(underlay.cidr);
      if (n + 1 > hosts) {
        this.fail(
          ['scale', 'nodes'],
          `${n} nodes do not fit underlay cidr ${formatCidr(underlay.cidr)} ` +
            `(node addresses are hosts 2..${n + 1}; it has ${hosts})`,
        );
        ok = false;
      } else if (gatewayHost >= 2 && gatewayHost <= n + 1) {
        this.fail(['underlay', 'gateway'], `${formatIpv4(underlay.gateway)} is the default address of node-${gatewayHost - 1}`);
        ok = false;
      }
    }
    const perNode = podCapacity({ base: 0, len: NODE_CIDR_LEN });
    if (p > perNode) {
      this.fail(['scale', 'podsPerNode'], `${p} pods do not fit a /${NODE_CIDR_LEN} podCIDR (${perNode} addresses after the gateway)`);
      ok = false;
    }
    if (!ok || !cluster || !underlay.cidr) return [];
    return generateScaleNodes({ nodes: n, podsPerNode: p, runtime, underlay: underlay.cidr, cluster });
  }

  // ---- traffic ----------------------------------------------------------------

  private traffic(index: EndpointIndex, nodes: NodeConfig[], durationNs: number): TrafficItem[] {
    const rawItems = this.raw.traffic ?? [];
    const durationText = String(this.raw.duration ?? DEFAULTS.duration);
    const explicitNames = new Map<string, string>();
    for (const [i, item] of rawItems.entries()) {
      const [kind, body] = Object.entries(item)[0] as [string, RawPing & RawUdp & RawTcp];
      if (body.name === undefined) continue;
      const path = ['traffic', i, kind, 'name'];
      const prev = explicitNames.get(body.name);
      if (prev !== undefined) this.fail(path, `duplicate flow name ${JSON.stringify(body.name)} (also ${prev})`);
      else explicitNames.set(body.name, formatPath(path));
    }
    const names = new Set(explicitNames.keys());

    return rawItems.map((item, i): TrafficItem => {
      const [kind, body] = Object.entries(item)[0] as ['ping' | 'udp' | 'tcp' | 'pingAll' | 'udpAll' | 'tcpAll', RawPing & RawUdp & RawTcp];
      const at: PathSegment[] = ['traffic', i, kind];
      const startNs = this.duration(body.start, 0, [...at, 'start']);
      if (body.start !== undefined && durationNs > 0 && startNs >= durationNs) {
        this.fail([...at, 'start'], `${body.start} is not before the end of the run (duration ${durationText})`);
      }
      const ping = () => {
        const d = DEFAULTS.ping;
        return {
          count: body.count ?? d.count,
          intervalNs: this.duration(body.interval, d.interval, [...at, 'interval']),
          size: body.size ?? d.size,
          startNs,
          timeoutNs: this.duration(body.timeout, d.timeout, [...at, 'timeout']),
          ident: body.ident ?? (DEFAULTS.identBase + i) & 0xffff,
        };
      };
      // What UDP and TCP request/response flows share, with their protocol's defaults.
      const requests = (d: typeof DEFAULTS.udp | typeof DEFAULTS.tcp) => ({
        port: body.port ?? d.port,
        count: body.count ?? d.count,
        arrivals: body.arrivals ?? d.arrivals,
        requestSize: body.requestSize ?? d.requestSize,
        responseSize: body.responseSize ?? d.responseSize,
        startNs,
        timeoutNs: this.duration(body.timeout, d.timeout, [...at, 'timeout']),
      });
      const udp = () => {
        const d = DEFAULTS.udp;
        return { ...requests(d), sourcePort: body.sourcePort ?? d.sourcePort, rate: body.rate ?? d.rate };
      };
      const tcp = () => {
        const d = DEFAULTS.tcp;
        const mode = body.mode ?? d.mode;
        if (mode !== 'bulk' && body.responseSize === 0) {
          this.fail([...at, 'responseSize'], `must be at least 1 in mode ${mode} (every request is answered; use mode bulk for one-way data)`);
        }
        if (mode !== 'bulk' && body.requestSize === 0) this.fail([...at, 'requestSize'], `must be at least 1 in mode ${mode}`);
        if (mode === 'bulk' && body.bytes === 0) this.fail([...at, 'bytes'], 'must be at least 1');
        if (body.rate !== undefined && body.concurrency !== undefined) {
          this.fail([...at, 'concurrency'], 'applies to closed-loop flows only (give rate or concurrency, not both)');
        }
        return {
          ...requests(d),
          mode,
          rate: body.rate ?? 0,
          concurrency: body.concurrency ?? d.concurrency,
          bytes: body.bytes ?? d.bytes,
          noDelay: body.noDelay ?? d.noDelay,
        };
      };
      if (kind === 'ping' || kind === 'udp' || kind === 'tcp') {
        const from = body.from!;
        const to = body.to!;
        const srcs = parseSelector(from) !== undefined ? index.select(from) : index.source(from);
        if (typeof srcs === 'string') this.fail([...at, 'from'], srcs);
        else {
          const src = Array.isArray(srcs) ? srcs[0]! : srcs;
          const dsts = parseSelector(to) !== undefined ? index.select(to) : index.destination(to, src);
          if (typeof dsts === 'string') this.fail([...at, 'to'], dsts);
          const many = (Array.isArray(srcs) ? srcs.length : 1) * (Array.isArray(dsts) ? dsts.length : 1) > 1;
          if (many && kind !== 'ping' && (body.sourcePort ?? 0) !== 0 && !(Array.isArray(srcs) && !Array.isArray(dsts))) {
            this.fail([...at, 'sourcePort'], 'one client would bind it once per destination the selector picks; leave it out (ephemeral ports)');
          }
        }
        const name = body.name ?? uniqueName(`${kind} ${from} -> ${to}`, names);
        if (kind === 'tcp') return { kind, name, from, to, ...tcp() };
        return kind === 'ping' ? { kind, name, from, to, ...ping() } : { kind, name, from, to, ...udp() };
      }
      const pattern = body.pattern!;
      this.patternFeasible(pattern, nodes, [...at, 'pattern']);
      const stagger = body.stagger ?? DEFAULTS.stagger;
      if (kind === 'tcpAll') return { kind, pattern, stagger, ...tcp() };
      return kind === 'pingAll' ? { kind, pattern, stagger, ...ping() } : { kind, pattern, stagger, ...udp() };
    });
  }

  /** A pattern that yields no flow at all is a mistake, not a quiet no-op. */
  private patternFeasible(pattern: TrafficPattern, nodes: NodeConfig[], path: PathSegment[]): void {
    if (nodes.length === 0 || patternPairs(pattern, nodes).length > 0) return;
    const need = {
      ring: 'at least 2 pods',
      'same-node': 'a node with at least 2 pods',
      'cross-node': 'at least 2 nodes with pods',
    }[pattern];
    this.fail(path, `${pattern} yields no flows here (it needs ${need})`);
  }

  // ---- capture ----------------------------------------------------------------

  private capture(nodes: NodeConfig[], index: EndpointIndex): Scenario['capture'] {
    const capture = this.raw.capture ?? DEFAULTS.capture;
    if (!Array.isArray(capture)) return capture;
    const seen = new Map<string, number>();
    capture.forEach((point, i) => {
      const path = ['capture', i];
      const prev = seen.get(point);
      if (prev !== undefined) {
        this.fail(path, `"${point}" is already listed as capture[${prev}]`);
        return;
      }
      seen.set(point, i);
      const slash = point.lastIndexOf('/');
      const ns = point.slice(0, slash);
      const ifname = point.slice(slash + 1);
      const segs = this.segments;
      const interfaces =
        segs !== undefined && (ns === 'underlay' || segmentInterfaces(ns, segs) !== undefined)
          ? segmentInterfaces(ns, segs)
          : namespaceInterfaces(ns, nodes, index, overlayDevice(this.raw.routing ?? DEFAULTS.routing));
      if (!interfaces) {
        const namespaces = [
          ...new Set([...(segs !== undefined ? segmentNamespaceNames(segs) : ['underlay']), ...nodes.flatMap((n) => [n.name, ...n.pods.map((p) => `${n.name}/${p.name}`)]), ...index.externalNames()]),
        ];
        this.fail(path, `unknown capture point "${point}" (no namespace "${ns}"; namespaces are ${listNames(namespaces)})`);
      } else if (!interfaces.includes(ifname)) {
        this.fail(path, `unknown capture point "${point}" (interfaces of ${ns} are ${listNames(interfaces)})`);
      }
    });
    return capture;
  }
}

/**
 * Interfaces a capture may name in a namespace (bridges, then interfaces, then
 * lo), or undefined when there is no such namespace.
 */
function namespaceInterfaces(ns: string, nodes: NodeConfig[], index: EndpointIndex, tunnel: string | undefined): string[] | undefined {
  if (ns === 'underlay') return ['br0', ...nodes.map((n) => n.name), ...index.externalNames(), 'lo'];
  if (index.external(ns)) return ['eth0', 'lo'];
  const [nodeName, podName, extra] = ns.split('/');
  if (extra !== undefined) return undefined;
  const node = index.node(nodeName!);
  if (!node) return undefined;
  if (podName === undefined) return [node.bridge, 'eth0', ...node.pods.map((p) => p.hostVeth), ...(tunnel !== undefined ? [tunnel] : []), 'lo'];
  return index.pod(node.name, podName) ? ['eth0', 'lo'] : undefined;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `base`, or `base #2`, `base #3`... whichever is free; records it in `taken`. */
export function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let k = 2; taken.has(name); k++) name = `${base} #${k}`;
  taken.add(name);
  return name;
}
