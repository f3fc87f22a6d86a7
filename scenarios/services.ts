/**
 * Kubernetes Services in a scenario: the `services:` list checked and
 * resolved (ClusterIPs and NodePorts allocated, selectors matched against pod
 * labels), the backend servers they imply, and each node's kube-proxy ruleset
 * (iptables mode, models/k8s/kube-proxy) for scenarios/expand.ts.
 *
 * Allocation is deterministic where the API server's is random
 * (pkg/registry/core/service/ipallocator and portallocator pick at random):
 * ClusterIPs go up from the serviceCIDR's network address + 2 (+1 is the
 * `kubernetes` API service's, which the API server reserves first), NodePorts
 * up from 30000, each skipping the values written explicitly anywhere in the file.
 */
import {
  kubeProxyBaseRules,
  kubeProxyIptables,
  kubeProxyNftables,
  kubeProxyIpvs,
  type KubeProxyInput,
  type KubeProxyIpvsConfig,
  type Service,
} from '../models/k8s/kube-proxy/index.js';
import type { PathSegment } from './errors.js';
import { backgroundServices } from './service-load.js';
import { kubeProxyUserspace, type UserspaceConfig } from '../models/k8s/kube-proxy/userspace.js';
import { DEFAULT_USERSPACE_COSTS } from '../models/apps/userspace-proxy.js';
import { randomStream } from '../engine/rng.js';
import { parseDuration } from '../engine/time.js';
import type { SchedulerName } from '../models/netfilter/ipvs/service.js';
import { type Cidr, cidrBroadcast, cidrContains, cidrNetwork, cidrsOverlap, formatCidr, formatIpv4, hasHostBits, parseCidr, parseIpv4 } from './ipv4.js';
import type { IptablesSource, NodeConfig, Scenario, ServerConfig } from './scenario.js';

/** kube-apiserver --service-cluster-ip-range default (kubeadm's). */
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';
/** kube-apiserver --service-node-port-range default. */
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;
/** Payload sizes of the servers a Service port implies when the file gives none. */
export const DEFAULT_SERVICE_MESSAGE_SIZE = 64;

/** kube-proxy modes; only iptables is modelled. */
export type KubeProxyMode = 'iptables' | 'ipvs' | 'nftables' | 'userspace';

export interface ServicePortConfig {
  /** '' for a single unnamed port. */
  name: string;
  protocol: 'TCP' | 'UDP';
  port: number;
  targetPort: number;
  /** Present for type NodePort. */
  nodePort?: number;
  /** Sizes of the backend servers this port implies (see serviceServers). */
  requestSize: number;
  responseSize: number;
}

/** A pod selected by a Service, in node/pod order. */
export interface ServiceEndpoint {
  node: string;
  /** '' when the endpoint is the node's own address (an EndpointSlice may name one). */
  pod: string;
  ip: string;
}

export interface ServiceConfig {
  name: string;
  namespace: string;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  clusterIP: string;
  ports: ServicePortConfig[];
  selector: Record<string, string>;
  externalTrafficPolicy: 'Cluster' | 'Local';
  /** Cluster, or Local: traffic from inside the cluster goes to this node's endpoints only. */
  internalTrafficPolicy: 'Cluster' | 'Local';
  /** type LoadBalancer: the load balancer's addresses (status.loadBalancer.ingress[].ip). */
  loadBalancerIPs: string[];
  /** type LoadBalancer: sources allowed through the load balancer IPs (kube-proxy's KUBE-FW chain); empty allows all. */
  loadBalancerSourceRanges: string[];
  sessionAffinity: 'None' | 'ClientIP';
  endpoints: ServiceEndpoint[];
}

/** The file's form (schema-valid, before defaults). */
export interface RawService {
  name: string;
  namespace?: string;
  clusterIP?: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  ports: {
    name?: string;
    protocol?: 'TCP' | 'UDP';
    port: number;
    targetPort?: number;
    nodePort?: number;
    requestSize?: number;
    responseSize?: number;
  }[];
  selector?: Record<string, string>;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  loadBalancerIPs?: string[];
  loadBalancerSourceRanges?: string[];
  sessionAffinity?: 'None' | 'ClientIP';
}

/** NodePort and LoadBalancer Services get NodePorts (allocateLoadBalancerNodePorts defaults to true). */
function hasNodePorts(type: RawService['type']): boolean {
  return type === 'NodePort' || type === 'LoadBalancer';
}

type Fail = (path: PathSegment[], message: string) => void;

/** The ranges the service range must keep clear of. */
export interface OtherRanges {
  underlay?: Cidr;
  cluster?: Cidr;
  nodes: readonly NodeConfig[];
}

/** Checks serviceCIDR: a network prefix clear of the underlay, clusterCIDR and every podCIDR. */
export function serviceCidr(text: string | undefined, ranges: OtherRanges, fail: Fail): Cidr | undefined {
  const given = text ?? DEFAULT_SERVICE_CIDR;
  const shown = text === undefined ? `${given} (the default)` : given;
  const c = parseCidr(given)!;
  if (hasHostBits(c)) {
    fail(['serviceCIDR'], `${given} has host bits set (the prefix is ${formatCidr({ base: cidrNetwork(c), len: c.len })})`);
    return undefined;
  }
  if (c.len > 30) {
    fail(['serviceCIDR'], `${given} is too small (at least a /30: network, the API service's .1, one ClusterIP, broadcast)`);
    return undefined;
  }
  const clash: string[] = [];
  if (ranges.underlay && cidrsOverlap(c, ranges.underlay)) clash.push(`underlay.cidr (${formatCidr(ranges.underlay)})`);
  if (ranges.cluster && cidrsOverlap(c, ranges.cluster)) clash.push(`clusterCIDR (${formatCidr(ranges.cluster)})`);
  ranges.nodes.forEach((n, i) => {
    const p = parseCidr(n.podCIDR);
    if (p && cidrsOverlap(c, p)) clash.push(`nodes[${i}].podCIDR (${n.podCIDR})`);
  });
  if (clash.length > 0) {
    fail(['serviceCIDR'], `${shown} overlaps ${clash.join(', ')}`);
    return undefined;
  }
  return c;
}

/** kubeProxy.mode: iptables (default), ipvs or nftables. */
export function kubeProxyMode(mode: KubeProxyMode | undefined, fail: Fail): KubeProxyMode {
  if (mode === 'nftables' || mode === 'ipvs' || mode === 'userspace') return mode;
  if (mode !== undefined && mode !== 'iptables') fail(['kubeProxy', 'mode'], `${mode} is not modelled (use iptables, ipvs, nftables or userspace)`);
  return 'iptables';
}

/** The file's kubeProxy: the mode, for ipvs its scheduler (kube-proxy's default rr), for userspace the proxy's costs. */
export function kubeProxyConfig(
  raw: { mode?: KubeProxyMode; ipvs?: { scheduler?: SchedulerName }; userspace?: { copyCost?: string; acceptCost?: string }; syncDelay?: string } | undefined,
  fail: Fail,
): Scenario['kubeProxy'] {
  let syncDelayNs = 1_000_000_000;
  if (raw?.syncDelay !== undefined) {
    try {
      syncDelayNs = parseDuration(raw.syncDelay);
    } catch (e) {
      fail(['kubeProxy', 'syncDelay'], (e as Error).message);
    }
  }
  return { ...kubeProxyMechanics(raw, fail), syncDelayNs };
}

function kubeProxyMechanics(
  raw: { mode?: KubeProxyMode; ipvs?: { scheduler?: SchedulerName }; userspace?: { copyCost?: string; acceptCost?: string } } | undefined,
  fail: Fail,
):
  | { mode: 'iptables' | 'nftables' }
  | { mode: 'ipvs'; ipvs: { scheduler: SchedulerName } }
  | { mode: 'userspace'; userspace: { copyNs: number; acceptNs: number } } {
  const mode = kubeProxyMode(raw?.mode, fail);
  if (raw?.ipvs !== undefined && mode !== 'ipvs') fail(['kubeProxy', 'ipvs'], `applies to mode ipvs only (mode is ${mode})`);
  if (raw?.userspace !== undefined && mode !== 'userspace') fail(['kubeProxy', 'userspace'], `applies to mode userspace only (mode is ${mode})`);
  if (mode === 'ipvs') return { mode, ipvs: { scheduler: raw?.ipvs?.scheduler ?? 'rr' } };
  if (mode === 'userspace') {
    const cost = (key: 'copyCost' | 'acceptCost', dflt: number): number => {
      const text = raw?.userspace?.[key];
      if (text === undefined) return dflt;
      try {
        return parseDuration(text);
      } catch (e) {
        fail(['kubeProxy', 'userspace', key], (e as Error).message);
        return dflt;
      }
    };
    return { mode, userspace: { copyNs: cost('copyCost', DEFAULT_USERSPACE_COSTS.copyNs), acceptNs: cost('acceptCost', DEFAULT_USERSPACE_COSTS.acceptNs) } };
  }
  return { mode };
}

/**
 * Resolves the services: defaults, ClusterIP and NodePort allocation,
 * endpoints (pods whose labels hold every selector pair, in node/pod order).
 * A selector matching no pod is legal: kube-proxy then REJECTs the traffic.
 */
export function resolveServices(raw: readonly RawService[], cidr: Cidr | undefined, nodes: readonly NodeConfig[], fail: Fail): ServiceConfig[] {
  const names = new Map<string, number>();
  raw.forEach((s, i) => {
    const key = `${s.namespace ?? 'default'}/${s.name}`;
    const prev = names.get(key);
    if (prev !== undefined) fail(['services', i, 'name'], `"${key}" is already used by services[${prev}]`);
    else names.set(key, i);
  });

  // Explicit ClusterIPs and NodePorts claim theirs before any allocation.
  const ips = new Map<number, string>();
  const nodePorts = new Map<number, string>();
  const apiServer = cidr ? cidrNetwork(cidr) + 1 : undefined;
  raw.forEach((s, i) => {
    if (s.clusterIP !== undefined && cidr) {
      const at: PathSegment[] = ['services', i, 'clusterIP'];
      const addr = parseIpv4(s.clusterIP)!;
      const owner = ips.get(addr);
      if (!cidrContains(cidr, addr)) fail(at, `${s.clusterIP} is outside serviceCIDR ${formatCidr(cidr)}`);
      else if (addr === cidrNetwork(cidr) || addr === cidrBroadcast(cidr)) {
        fail(at, `${s.clusterIP} is the ${addr === cidrNetwork(cidr) ? 'network' : 'broadcast'} address of serviceCIDR ${formatCidr(cidr)}`);
      } else if (addr === apiServer) fail(at, `${s.clusterIP} is the kubernetes API service's (the first address of serviceCIDR)`);
      else if (owner !== undefined) fail(at, `${s.clusterIP} is already used by ${owner}`);
      else ips.set(addr, `services[${i}].clusterIP`);
    }
    s.ports.forEach((p, j) => {
      if (p.nodePort === undefined) return;
      const at: PathSegment[] = ['services', i, 'ports', j, 'nodePort'];
      const owner = nodePorts.get(p.nodePort);
      if (!hasNodePorts(s.type)) fail(at, 'applies to type NodePort only');
      else if (p.nodePort < NODE_PORT_MIN || p.nodePort > NODE_PORT_MAX) {
        fail(at, `${p.nodePort} is outside the NodePort range ${NODE_PORT_MIN}-${NODE_PORT_MAX}`);
      } else if (owner !== undefined) fail(at, `${p.nodePort} is already used by ${owner}`);
      else nodePorts.set(p.nodePort, `services[${i}].ports[${j}].nodePort`);
    });
  });

  let nextIp = apiServer !== undefined ? apiServer + 1 : 0;
  let nextNodePort = NODE_PORT_MIN;
  return raw.map((s, i): ServiceConfig => {
    const at: PathSegment[] = ['services', i];
    const type = s.type ?? 'ClusterIP';
    let clusterIP = s.clusterIP ?? '';
    if (s.clusterIP === undefined && cidr) {
      while (nextIp < cidrBroadcast(cidr) && ips.has(nextIp)) nextIp++;
      if (nextIp >= cidrBroadcast(cidr)) fail(at, `no ClusterIP left in serviceCIDR ${formatCidr(cidr)}`);
      else {
        ips.set(nextIp, `services[${i}]`);
        clusterIP = formatIpv4(nextIp++);
      }
    }

    const portNames = new Map<string, number>();
    const portKeys = new Map<string, number>();
    const ports = s.ports.map((p, j): ServicePortConfig => {
      const pat: PathSegment[] = [...at, 'ports', j];
      const name = p.name ?? '';
      const protocol = p.protocol ?? 'TCP';
      // Validation of ServiceSpec.ports (pkg/apis/core/validation): names are
      // required when there are several, and unique; port+protocol unique.
      if (name === '' && s.ports.length > 1) fail(pat, 'needs a name (a Service with several ports names each)');
      const prevName = portNames.get(name);
      if (name !== '' && prevName !== undefined) fail([...pat, 'name'], `"${name}" is already used by ports[${prevName}]`);
      else portNames.set(name, j);
      const key = `${protocol}/${p.port}`;
      const prevKey = portKeys.get(key);
      if (prevKey !== undefined) fail([...pat, 'port'], `${p.port}/${protocol} is already used by ports[${prevKey}]`);
      else portKeys.set(key, j);
      if (protocol === 'UDP' && p.requestSize !== undefined) fail([...pat, 'requestSize'], 'applies to TCP ports only (a UDP request is one datagram)');

      let nodePort = p.nodePort;
      if (hasNodePorts(type) && nodePort === undefined) {
        while (nextNodePort <= NODE_PORT_MAX && nodePorts.has(nextNodePort)) nextNodePort++;
        if (nextNodePort > NODE_PORT_MAX) fail(pat, `no NodePort left in ${NODE_PORT_MIN}-${NODE_PORT_MAX}`);
        else {
          nodePorts.set(nextNodePort, `services[${i}].ports[${j}]`);
          nodePort = nextNodePort++;
        }
      }
      return {
        name,
        protocol,
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        ...(hasNodePorts(type) && nodePort !== undefined ? { nodePort } : {}),
        requestSize: p.requestSize ?? DEFAULT_SERVICE_MESSAGE_SIZE,
        responseSize: p.responseSize ?? DEFAULT_SERVICE_MESSAGE_SIZE,
      };
    });

    const selector = s.selector ?? {};
    if (type !== 'LoadBalancer') {
      if (s.loadBalancerIPs !== undefined) fail([...at, 'loadBalancerIPs'], 'applies to type LoadBalancer only');
      if (s.loadBalancerSourceRanges !== undefined) fail([...at, 'loadBalancerSourceRanges'], 'applies to type LoadBalancer only');
    }
    return {
      name: s.name,
      namespace: s.namespace ?? 'default',
      type,
      clusterIP,
      ports,
      selector,
      externalTrafficPolicy: s.externalTrafficPolicy ?? 'Cluster',
      internalTrafficPolicy: s.internalTrafficPolicy ?? 'Cluster',
      loadBalancerIPs: [...(s.loadBalancerIPs ?? [])],
      loadBalancerSourceRanges: [...(s.loadBalancerSourceRanges ?? [])],
      sessionAffinity: s.sessionAffinity ?? 'None',
      endpoints: selectPods(selector, nodes),
    };
  });
}

/**
 * Pods whose labels include every pair of the selector, in node then pod
 * order. An empty selector selects nothing: a Service without a selector gets
 * no EndpointSlices from the endpointslice controller.
 */
export function selectPods(selector: Readonly<Record<string, string>>, nodes: readonly NodeConfig[]): ServiceEndpoint[] {
  const pairs = Object.entries(selector);
  if (pairs.length === 0) return [];
  const out: ServiceEndpoint[] = [];
  for (const node of nodes) {
    for (const pod of node.pods) {
      const labels = pod.labels ?? {};
      if (pairs.every(([k, v]) => labels[k] === v)) out.push({ node: node.name, pod: pod.name, ip: pod.ip });
    }
  }
  return out;
}

/**
 * The servers the Services imply: one per (endpoint pod, service port) on the
 * targetPort, with the port's protocol and sizes, unless `taken` (the
 * explicit `servers:`, keyed "<protocol>:<ns>:<port>") or an earlier service
 * already has one there. The result is appended to Scenario.servers.
 */
export function serviceServers(services: readonly ServiceConfig[], taken: ReadonlySet<string>): ServerConfig[] {
  const seen = new Set(taken);
  const out: ServerConfig[] = [];
  for (const svc of services) {
    for (const p of svc.ports) {
      const protocol = p.protocol === 'TCP' ? 'tcp' : 'udp';
      for (const ep of svc.endpoints) {
        const ns = `${ep.node}/${ep.pod}`;
        const key = `${protocol}:${ns}:${p.targetPort}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(
          protocol === 'tcp'
            ? { ns, port: p.targetPort, responseSize: p.responseSize, protocol, requestSize: p.requestSize }
            : { ns, port: p.targetPort, responseSize: p.responseSize },
        );
      }
    }
  }
  return out;
}

/** The kube-proxy model's Services: endpoints carry their pod's node and the targetPort under each port name. */
export function kubeProxyServices(services: readonly ServiceConfig[]): Service[] {
  return services.map((s) => ({
    namespace: s.namespace,
    name: s.name,
    type: s.type,
    clusterIP: s.clusterIP,
    ports: s.ports.map((p) => ({
      name: p.name,
      protocol: p.protocol,
      port: p.port,
      targetPort: p.targetPort,
      ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
    })),
    externalTrafficPolicy: s.externalTrafficPolicy,
    internalTrafficPolicy: s.internalTrafficPolicy,
    ...(s.loadBalancerIPs.length > 0 ? { loadBalancerIPs: s.loadBalancerIPs } : {}),
    ...(s.loadBalancerSourceRanges.length > 0 ? { loadBalancerSourceRanges: s.loadBalancerSourceRanges } : {}),
    sessionAffinity: s.sessionAffinity,
    endpoints: s.endpoints.map((e) => ({
      ip: e.ip,
      nodeName: e.node,
      ports: Object.fromEntries(s.ports.map((p) => [p.name, p.targetPort])),
    })),
  }));
}

/** What kube-proxy on `node` is given: its name, its address, the cluster CIDR for local-traffic detection. */
export function kubeProxyInput(s: Scenario, node: NodeConfig): KubeProxyInput {
  return {
    node: {
      nodeName: node.name,
      nodeIPs: [node.address],
      // Background Services (scenarios/service-load.ts) are only realistic in kube-proxy's own, random order.
      ...(s.serviceLoad !== undefined && s.serviceLoad.services > 0 ? { serviceOrderSeed: s.seed } : {}),
      ...(s.clusterCIDR !== undefined ? { clusterCIDR: s.clusterCIDR } : {}),
    },
    services: [...kubeProxyServices(s.services), ...backgroundServices(s)],
  };
}

/**
 * The rules kube-proxy leaves in a node's namespace, in load order: the base
 * chains and jumps it inserts with `iptables -I`, then its sync's
 * `iptables-restore --noflush` input. None without services (a scenario
 * without Services keeps its nodes free of netfilter).
 */
export function kubeProxySources(s: Scenario, node: NodeConfig): IptablesSource[] {
  if (s.services.length > 0 && s.kubeProxy.mode === 'ipvs') {
    const c = kubeProxyIpvsConfig(s, node)!;
    return [
      { text: c.baseRules, file: `kube-proxy ipvs base rules (${node.name})`, lineOffset: 0 },
      { text: c.rules, file: `kube-proxy ipvs sync (${node.name})`, lineOffset: 0 },
    ];
  }
  if (s.services.length > 0 && s.kubeProxy.mode === 'userspace') {
    return [{ text: kubeProxyUserspaceConfig(s, node)!.rules, file: `kube-proxy userspace rules (${node.name})`, lineOffset: 0 }];
  }
  if (s.services.length === 0 || s.kubeProxy.mode !== 'iptables') return [];
  return [
    { text: kubeProxyBaseRules(), file: `kube-proxy base rules (${node.name})`, lineOffset: 0 },
    generatedSource(() => kubeProxyIptables(kubeProxyInput(s, node)), `kube-proxy sync (${node.name})`),
  ];
}

/** kube-proxy's nftables-mode transaction for `node` (`nft -f` input); none in iptables mode or without services. */
export function kubeProxyNftSource(s: Scenario, node: NodeConfig): { readonly text: string; file: string } | undefined {
  if (s.services.length === 0 || s.kubeProxy.mode !== 'nftables') return undefined;
  return generatedSource(() => kubeProxyNftables(kubeProxyInput(s, node)), `kube-proxy nftables sync (${node.name})`);
}

/**
 * A source whose `text` is made each time it is read, not kept: kube-proxy's
 * sync for 10,000 Services is ~8.7 MB a node, which the expanded spec held
 * for every node for as long as the run, while the build reads it once (and
 * a partitioned run once more, to send a partition its nodes; structured
 * cloning reads an own getter's value). The text depends only on the
 * scenario and the node, so every read gives the same.
 */
function generatedSource(make: () => string, file: string): IptablesSource {
  // An own getter: structured cloning copies its value, where one on a prototype would be dropped.
  return {
    get text() {
      return make();
    },
    file,
    lineOffset: 0,
  };
}

/** Per scenario and node: the userspace proxy's ports are drawn once, for its rules and its table alike. */
const userspaceConfigs = new WeakMap<Scenario, WeakMap<NodeConfig, UserspaceConfig>>();

/** kube-proxy's userspace mode on `node`: the REDIRECT/DNAT rules and the proxy's port table; none in other modes or without services. */
export function kubeProxyUserspaceConfig(s: Scenario, node: NodeConfig): UserspaceConfig | undefined {
  if (s.services.length === 0 || s.kubeProxy.mode !== 'userspace') return undefined;
  let perNode = userspaceConfigs.get(s);
  if (perNode === undefined) userspaceConfigs.set(s, (perNode = new WeakMap()));
  let c = perNode.get(node);
  if (c === undefined) {
    const rng = randomStream(s.seed, `kube-proxy/userspace/${node.name}`);
    c = kubeProxyUserspace(kubeProxyInput(s, node), () => rng.next());
    perNode.set(node, c);
  }
  return c;
}

/** Per scenario and node: expand asks for the rules and for the rest separately. */
const ipvsConfigs = new WeakMap<Scenario, WeakMap<NodeConfig, KubeProxyIpvsConfig>>();

/** kube-proxy's IPVS mode on `node` (virtual servers, kube-ipvs0 addresses, ip sets, rules); none in other modes or without services. */
export function kubeProxyIpvsConfig(s: Scenario, node: NodeConfig): KubeProxyIpvsConfig | undefined {
  if (s.services.length === 0 || s.kubeProxy.mode !== 'ipvs') return undefined;
  let perNode = ipvsConfigs.get(s);
  if (perNode === undefined) ipvsConfigs.set(s, (perNode = new WeakMap()));
  let c = perNode.get(node);
  if (c === undefined) {
    c = kubeProxyIpvs(kubeProxyInput(s, node), { scheduler: s.kubeProxy.ipvs.scheduler });
    perNode.set(node, c);
  }
  return c;
}
