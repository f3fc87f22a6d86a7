/**
 * A scenario as the loader returns it: validated, every default applied, times
 * in integer nanoseconds, rates in bit/s. It still speaks the file's language
 * (node and pod names, endpoint strings, patterns); scenarios/expand.ts turns it
 * into the fully resolved TopologySpec. The file format is described in
 * scenario.schema.json (which editors use for completion).
 */

import type { ServiceConfig } from './services.js';
import type { CniNodeNetwork } from './cni/node-network.js';
import type { PortMapping } from './cni/plugin.js';
import type { TcpSettings } from './tcp-settings.js';
import type { SchedulerName } from '../models/netfilter/ipvs/service.js';

/** Naming and MAC scheme of node bridges and veths: CNI bridge plugin or Docker's default bridge. */
export type Runtime = 'cni' | 'docker';

/** How nodes reach each other's pod CIDRs: a route per peer node via its address, flannel's vxlan or ipip overlay, or none. */
export type Routing = 'host-gw' | 'vxlan' | 'ipip' | 'none';

/** The flannel.1 devices of routing vxlan. */
export interface VxlanConfig {
  vni: number;
  port: number;
  udpChecksum: boolean;
}

/** Which pods talk to which in pingAll/udpAll. */
export type TrafficPattern = 'ring' | 'same-node' | 'cross-node';

export type Arrivals = 'constant' | 'poisson';

export interface Scenario {
  name: string;
  description?: string;
  seed: number;
  durationNs: number;
  runtime: Runtime;
  vethDelayNs: number;
  loopbackDelayNs: number;
  /** Simulated costs of netfilter work (see models/netfilter/netfilter.ts NetfilterCosts). */
  netfilterCosts: { ruleNs: number; conntrackNs: number; natSetupNs: number };
  /** TCP sysctls every namespace gets, where the scenario sets them (scenarios/tcp-settings.ts). */
  tcp?: TcpSettings;
  mtu: number;
  /**
   * The range node podCIDRs are carved from: node i gets the (i+1)-th /24.
   * Undefined only for runtime docker without an explicit clusterCIDR, where
   * every node names its own podCIDR.
   */
  clusterCIDR?: string;
  routing: Routing;
  /** Present with routing vxlan. */
  vxlan?: VxlanConfig;
  /** MTU of bridges, host veths and pod interfaces (the overlay's FLANNEL_MTU); `mtu` stays the underlay's. */
  podMtu: number;
  underlay: UnderlayConfig;
  /**
   * Every node with every default resolved. For a `scale` scenario these are
   * the generated node-1..node-N (see scenarios/nodes.ts, generateScaleNodes).
   */
  nodes: NodeConfig[];
  /** Present when the nodes were generated rather than listed. */
  scale?: ScaleConfig;
  /** Hosts outside the cluster on the underlay (scenarios/external-hosts.ts); absent when none. */
  externalHosts?: ExternalHostConfig[];
  traffic: TrafficItem[];
  /** Servers answering whatever reaches them: the file's `servers:`, then those its Services imply (scenarios/services.ts). */
  servers: ServerConfig[];
  /** The range ClusterIPs are allocated from (kube-apiserver --service-cluster-ip-range). */
  serviceCIDR: string;
  /** How Services are programmed on every node: kube-proxy's iptables, ipvs or nftables mode. */
  kubeProxy: (
    | { mode: 'iptables' | 'nftables' }
    | { mode: 'ipvs'; ipvs: { scheduler: SchedulerName } }
    | { mode: 'userspace'; userspace: { copyNs: number; acceptNs: number } }
  ) & { /** Pod deletion -> rules without it on every node. */ syncDelayNs: number };
  /** Additional CNI networks pods may join (Multus-style), by name. */
  networks?: { name: string; cni: CniSource }[];
  /** Services, resolved: ClusterIPs and NodePorts allocated, endpoints selected. */
  services: ServiceConfig[];
  /** Background Services in kube-proxy's rules (no traffic): scenarios/service-load.ts. */
  serviceLoad?: { services: number; endpointsPerService: number };
  /** "all", "none", or capture points "<namespace>/<interface>" (may name "lo"). */
  capture: 'all' | 'none' | string[];
}

export interface UnderlayConfig {
  /** Canonical prefix, e.g. "192.168.49.0/24". */
  cidr: string;
  gateway: string;
  bandwidthBps: number;
  delayNs: number;
  loss: number;
  txQueueLen: number;
  /** Several L2 segments behind a router (scenarios/underlay-segments.ts); then cidr and gateway are "". */
  segments?: UnderlaySegment[];
}

/** One switch of a segmented underlay; `nodes` in the order of `Scenario.nodes`. */
export interface UnderlaySegment {
  name: string;
  /** Canonical prefix. */
  cidr: string;
  /** The router's address on the segment: the nodes' default route. */
  gateway: string;
  nodes: string[];
}

export interface NodeConfig {
  name: string;
  address: string;
  podCIDR: string;
  bridge: string;
  pods: PodConfig[];
  /** Inline iptables-restore text for the node's namespace. */
  iptables?: string;
  /** A rules file, relative to the scenario file (resolved by the loader into `iptablesRules`). */
  iptablesFile?: string;
  /** The node's rules, resolved and checked by the loader: each with the file and line its text starts at. */
  iptablesRules?: IptablesSource[];
  bridgeNfCallIptables: boolean;
  /** net.netfilter.nf_conntrack_max */
  conntrackMax?: number;
  /** ip sets for -m set. */
  ipsets?: IpSetConfig[];
  /** nfacct objects for -m nfacct. */
  nfacct?: string[];
  /** The node's and its pods' TCP sysctls, over the scenario's `tcp:` (scenarios/tcp-settings.ts). */
  tcp?: TcpSettings;
  /** The node's (or the cluster's) CNI configuration: a file relative to the scenario, or inline JSON. */
  cni?: CniSource;
  /** Pod networking as that configuration's ADDs made it (resolved by the loader, scenarios/cni/). */
  cniNetwork?: CniNodeNetwork;
  /** Additional networks as their ADDs made them on this node (pods' net1, net2...). */
  extraNetworks?: { name: string; net: CniNodeNetwork }[];
}

/** `cni:` of a node or the cluster; `at` is where it was written (for errors). */
export type CniSource = ({ conflist: string } | { config: unknown }) & { at: (string | number)[] };

/** An ip set: name, type and elements in `ipset add` syntax. */
export interface IpSetConfig {
  name: string;
  type: 'hash:ip' | 'hash:net' | 'hash:ip,port' | 'bitmap:port';
  entries?: string[];
}

/**
 * iptables-restore text and where it came from (for error positions). The
 * text may be a getter that makes it when read (kube-proxy's: `generatedSource`,
 * scenarios/services.ts).
 */
export interface IptablesSource {
  readonly text: string;
  file: string;
  /** Line of the file on which the text's first line stands, minus one. */
  lineOffset: number;
}

export interface PodConfig {
  name: string;
  ip: string;
  containers: string[];
  hairpin: boolean;
  hostVeth: string;
  /** metadata.labels, for Service selectors; absent when the file gives none. */
  labels?: Record<string, string>;
  /** When the pod is deleted (scenarios/pod-deletion.ts); absent: it lives through the run. */
  deleteAtNs?: number;
  /** Additional networks (the scenario's `networks`) the pod joins, as net1, net2... */
  networks?: string[];
  /** Container hostPorts: the runtime's portMappings for the CNI portmap plugin (needs cni). */
  hostPorts?: PortMapping[];
}

/** A host outside the cluster: one NIC on the underlay, default route via the gateway. */
export interface ExternalHostConfig {
  name: string;
  address: string;
}

export interface ScaleConfig {
  nodes: number;
  podsPerNode: number;
  /** Nodes per rack, when the nodes are in racks (scenarios/scale-racks.ts; the racks are `underlay.segments`). */
  nodesPerRack?: number;
}

export type TrafficItem = PingItem | UdpItem | TcpItem | PingAllItem | UdpAllItem | TcpAllItem;

interface PingFields {
  count: number;
  intervalNs: number;
  size: number;
  startNs: number;
  timeoutNs: number;
  ident: number;
}

interface UdpFields {
  port: number;
  sourcePort: number;
  count: number;
  rate: number;
  arrivals: Arrivals;
  requestSize: number;
  responseSize: number;
  startNs: number;
  timeoutNs: number;
}

export type TcpMode = 'rr' | 'crr' | 'bulk';

interface TcpFields {
  port: number;
  mode: TcpMode;
  count: number;
  /** Requests per second (open loop); 0 means closed loop. */
  rate: number;
  arrivals: Arrivals;
  /** Closed loop: requests in progress at once. */
  concurrency: number;
  requestSize: number;
  responseSize: number;
  /** bulk: bytes per transfer. */
  bytes: number;
  noDelay: boolean;
  startNs: number;
  timeoutNs: number;
}

/** One flow between endpoints as written ("n1/p1", "n1/p1/app", "n1", "10.244.1.1", "localhost"). */
interface FlowFields {
  /** Unique flow name (given, or "<kind> <from> -> <to>"). */
  name: string;
  from: string;
  to: string;
}

export interface PingItem extends PingFields, FlowFields {
  kind: 'ping';
  /** ping -b: a broadcast address may be pinged. */
  broadcast: boolean;
}

export interface UdpItem extends UdpFields, FlowFields {
  kind: 'udp';
  /** SO_BROADCAST on the client's socket: requests may go to a broadcast address. */
  broadcast: boolean;
}

export interface TcpItem extends TcpFields, FlowFields {
  kind: 'tcp';
}

interface PatternFields {
  pattern: TrafficPattern;
  /** cross-node: pod j of node i talks to pod j of node i + nodeStride (scenarios/patterns.ts); present when given. */
  nodeStride?: number;
  /** Spread the flows' starts evenly over one interval (ping) or 1/rate (udp). */
  stagger: boolean;
}

export interface PingAllItem extends PingFields, PatternFields {
  kind: 'pingAll';
}

export interface UdpAllItem extends UdpFields, PatternFields {
  kind: 'udpAll';
}

export interface TcpAllItem extends TcpFields, PatternFields {
  kind: 'tcpAll';
}

/**
 * A server in a namespace answering every request with responseSize bytes: a
 * UDP datagram, or (protocol tcp) every requestSize bytes of a connection.
 */
export interface ServerConfig {
  ns: string;
  port: number;
  responseSize: number;
  /** Absent: udp. */
  protocol?: 'udp' | 'tcp';
  /** tcp only: the size of a request. */
  requestSize?: number;
}
