import type { LifecycleAction } from '../models/k8s/pod-lifecycle.js';

/**
 * The resolved topology: what a scenario file expands to once every name,
 * address, MAC and route is decided. It is plain data (JSON-serialisable) and
 * has two consumers that must agree: the simulator builder (scenarios/build.ts)
 * and the kernel-comparison tests, which build the same thing with `ip netns`.
 *
 * Names: a namespace is named by its path, e.g. "n1" (a node), "n1/p1" (a pod on
 * n1), "underlay". An interface is named within its namespace ("eth0", "cni0");
 * a capture point is "<namespace>/<interface>", e.g. "n1/p1/eth0".
 * Addresses are dotted quads; prefixes are CIDR strings ("10.244.1.2/24").
 * MACs are lower-case "aa:bb:cc:dd:ee:ff". Times are integer nanoseconds.
 */
import type { VirtualServerSpec } from '../models/netfilter/ipvs/service.js';
import type { TcpSettings } from './tcp-settings.js';

export interface TopologySpec {
  name: string;
  description?: string;
  seed: number;
  durationNs: number;
  /** Cost of one hop through `lo` in every namespace (0 = a plain call). */
  loopbackDelayNs?: number;
  /** Simulated CPU time of netfilter work (per rule, per conntrack lookup, per NAT setup). */
  netfilterCosts?: { ruleNs: number; conntrackNs: number; natSetupNs: number };
  /** TCP sysctls of every namespace, where they differ from Linux's defaults (scenarios/tcp-settings.ts). */
  tcp?: TcpSettings;
  namespaces: NamespaceSpec[];
  /**
   * Route lists many namespaces hold alike, less one entry each (see
   * NamespaceSpec.routeGroup): host-gw gives every node a route to every other
   * node's pod range, N(N-1) routes, which inline would be most of a large
   * cluster's spec and world.
   */
  routeGroups?: RouteSpec[][];
  links: LinkSpec[];
  /** Capture points, "<namespace>/<interface>". */
  captures: string[];
  /**
   * Servers that answer whatever reaches them (Service backends behind a virtual
   * IP): UDP answers each datagram; TCP answers each requestSize bytes of a
   * connection. `protocol` absent means udp.
   */
  servers?: { ns: string; port: number; responseSize: number; protocol?: 'udp' | 'tcp'; requestSize?: number }[];
  traffic: TrafficSpec[];
  /** Each CNI-wired pod's ADD result (scenarios/cni/), written as cni/<node>.<pod>.json. */
  cniResults?: { node: string; pod: string; result: Record<string, unknown> }[];
}

export type NamespaceKind = 'node' | 'pod' | 'underlay' | 'host' | 'external';

export interface NamespaceSpec {
  name: string;
  kind: NamespaceKind;
  /**
   * The partition unit that owns this namespace: a node and its pods share one
   * component; an underlay segment is its own, and so is the router joining
   * segments (kind underlay too: scenarios/underlay-segments.ts). See engine/README.md.
   */
  component: string;
  /** net.ipv4.ip_forward */
  ipForward: boolean;
  /** Containers sharing this namespace (pods only; informative). */
  containers: string[];
  bridges: BridgeSpec[];
  /** iptables-restore texts loaded into this namespace, in order (later ones with --noflush). */
  iptables?: { text: string; file: string; lineOffset: number }[];
  /** An `nft -f` text loaded into this namespace (after iptables). */
  nftables?: { text: string; file: string };
  /** net.bridge.bridge-nf-call-iptables (default true). */
  bridgeNfCallIptables?: boolean;
  /** net.netfilter.nf_conntrack_max (default 262144). */
  conntrackMax?: number;
  /** A node's own TCP sysctls, over the scenario's `tcp`: its component's, so its pods' too. */
  tcp?: TcpSettings;
  /** nfacct objects (`nfacct add NAME`) for -m nfacct. */
  nfacct?: string[];
  /** ip sets (ipset(8)) for -m set, elements in `ipset add` syntax. */
  ipsets?: { name: string; type: 'hash:ip' | 'hash:net' | 'hash:ip,port' | 'hash:ip,port,ip' | 'bitmap:port'; entries?: string[] }[];
  /**
   * IPVS (kube-proxy's ipvs mode): a dummy device holding the virtual
   * addresses ("a.b.c.d/32"), and the virtual servers (masquerading).
   */
  ipvs?: { device: string; addresses: string[]; services: VirtualServerSpec[] };
  /**
   * kube-proxy's userspace mode: the proxy process and the ports it listens
   * on, each with its Service port's backends (models/apps/userspace-proxy.ts).
   */
  userspaceProxy?: {
    /** Which proxy: how it dials and ends TCP connections (models/apps/proxy-tcp-session.ts). */
    kind: 'kube-proxy' | 'docker-proxy';
    copyNs: number;
    acceptNs: number;
    ports: { name: string; protocol: 'TCP' | 'UDP'; proxyPort: number; backends: { ip: string; port: number }[]; affinity: 'None' | 'ClientIP' }[];
  };
  /** Pod deletion, at its times (models/k8s/pod-lifecycle.ts, scenarios/pod-deletion.ts). */
  lifecycle?: LifecycleAction[];
  /** Every non-loopback, non-bridge interface; `lo` (127.0.0.1/8) is implicit. */
  interfaces: InterfaceSpec[];
  /** Overlay tunnel devices (flannel.1, flannel.ipip), made after the interfaces they send through. */
  tunnels?: TunnelSpec[];
  /** Permanent neighbour entries (`ip neigh replace IP lladdr MAC dev DEV nud permanent`). */
  neighbours?: NeighbourSpec[];
  /** The namespace's own routes; with `routeGroup`, added before the group's (see `namespaceRoutes`). */
  routes: RouteSpec[];
  /** The routes of `routeGroups[group]` also, all but the one at index `except` (-1: none left out). */
  routeGroup?: { group: number; except: number };
}

/** Every route of a namespace, in the order they are added: its own, then its group's. */
export function namespaceRoutes(spec: TopologySpec, ns: NamespaceSpec): RouteSpec[] {
  if (ns.routeGroup === undefined) return ns.routes;
  const group = spec.routeGroups?.[ns.routeGroup.group];
  if (group === undefined) throw new Error(`${ns.name}: no route group ${ns.routeGroup.group}`);
  return [...ns.routes, ...group.filter((_, i) => i !== ns.routeGroup!.except)];
}

/** A tunnel device in a node namespace; its outer packets leave through the namespace's routes. */
export type TunnelSpec = VxlanTunnelSpec | IpipTunnelSpec;

interface TunnelCommon {
  name: string;
  mtu: number;
  addresses: string[];
  /** Local endpoint: the outer source address. */
  local: string;
}

/** `ip link add NAME type vxlan id VNI local LOCAL dstport PORT nolearning` plus `bridge fdb append` entries. */
export interface VxlanTunnelSpec extends TunnelCommon {
  kind: 'vxlan';
  mac: string;
  vni: number;
  port: number;
  /** Outer UDP checksum computed (false: `noudpcsum`, checksum 0). */
  udpCsum: boolean;
  /** Static FDB entries: inner MAC -> remote VTEP address. */
  fdb: { mac: string; dst: string }[];
}

/** `ip link add NAME type ipip local LOCAL` (remote any, ttl inherit, pmtudisc). */
export interface IpipTunnelSpec extends TunnelCommon {
  kind: 'ipip';
}

export interface NeighbourSpec {
  ip: string;
  mac: string;
  dev: string;
}

export interface BridgeSpec {
  name: string;
  mac: string;
  mtu: number;
  /** Addresses on the bridge device itself (the gateway of docker0/cni0). */
  addresses: string[];
  /** FDB ageing time (Linux default 300 s). */
  ageingNs: number;
}

export interface InterfaceSpec {
  name: string;
  mac: string;
  mtu: number;
  addresses: string[];
  /** Bridge this interface is a port of, in the same namespace. */
  master?: string;
  /** Bridge port hairpin mode (reflect frames back out of the ingress port). */
  hairpin?: boolean;
  /**
   * The CNI bandwidth plugin's token buckets on a host veth: `ingress` is the
   * root tbf (traffic towards the pod), `egress` the tbf on the ifb fed from
   * this device's tc ingress (traffic from the pod). Rates bit/s, bursts bits.
   */
  shaping?: { ingress?: ShapingTbfSpec; egress?: ShapingTbfSpec & { ifb: string } };
}

export interface ShapingTbfSpec {
  rateBps: number;
  burstBits: number;
  limitBytes: number;
}

export interface RouteSpec {
  /** "0.0.0.0/0" for the default route. */
  dst: string;
  via?: string;
  dev: string;
  src?: string;
  metric?: number;
  /** `onlink`: the gateway is taken as reachable through `dev` without a connected route. */
  onlink?: boolean;
}

/**
 * A point-to-point connection between two interfaces. `veth` joins two
 * namespaces of one component (zero delay by default); `wire` joins NICs of
 * different components and must have a positive delay (it is where a
 * partitioned run may cut the topology).
 */
export interface LinkSpec {
  kind: 'veth' | 'wire';
  a: LinkEnd;
  b: LinkEnd;
  /** One-way propagation delay. */
  delayNs: number;
  /** Bits per second; 0 means no serialisation delay. */
  bandwidthBps: number;
  /** Probability in [0, 1) that a frame is lost on the way (seeded per link end). */
  loss: number;
  /** Transmit queue limit in frames (txqueuelen). */
  txQueueLen: number;
}

export interface LinkEnd {
  ns: string;
  ifname: string;
}

export type TrafficSpec = PingSpec | UdpSpec | TcpSpec;

export interface TrafficEndpoint {
  /** Namespace the application runs in. */
  ns: string;
  /** Container within that namespace, when it is a pod. */
  container?: string;
}

interface TrafficCommon {
  /** Flow name, unique within the scenario; used in statistics. */
  name: string;
  from: TrafficEndpoint;
  /** Destination address, dotted quad. */
  to: string;
  /** Namespace owning `to`, when the scenario knows it (informative). */
  toNs?: string;
  startNs: number;
  /** What kind of path the flow takes (scenarios/flow-class.ts), e.g. "tcp: pod → ClusterIP"; results merge flows by it. */
  class?: string;
  /**
   * Flows with the same group share one row of statistics (the flows a
   * pingAll/udpAll pattern generates: one latency distribution for thousands
   * of pods, not thousands of rows).
   */
  group?: string;
}

/** ping: ICMP echo requests (iputils ping sets DF and uses a 56-byte payload). */
export interface PingSpec extends TrafficCommon {
  kind: 'ping';
  count: number;
  intervalNs: number;
  /** ICMP payload bytes (ping -s), default 56. */
  size: number;
  /** ICMP echo identifier (ping -e). */
  ident: number;
  /** How long to wait for the last reply before counting it lost. */
  timeoutNs: number;
  /** ping -b: a broadcast address may be pinged (SO_BROADCAST). */
  broadcast: boolean;
}

/** UDP request/response: a client sends requests; the server answers each (if responseSize > 0). */
export interface UdpSpec extends TrafficCommon {
  kind: 'udp';
  /** Server port at `to`. */
  port: number;
  /** Client source port; 0 picks an ephemeral one. */
  sourcePort: number;
  count: number;
  /** Requests per second. */
  rate: number;
  arrivals: 'constant' | 'poisson';
  /** UDP payload bytes of a request / response; a response of 0 means one-way. */
  requestSize: number;
  responseSize: number;
  timeoutNs: number;
  /** SO_BROADCAST on the client's socket: requests may go to a broadcast address. */
  broadcast: boolean;
}

/**
 * TCP traffic, netperf-style (models/apps/tcp-rr.ts): rr requests on one
 * persistent connection, crr a connection per request, bulk `bytes` per
 * connection. Open loop at `rate` (> 0) or closed loop with `concurrency`.
 */
export interface TcpSpec extends TrafficCommon {
  kind: 'tcp';
  port: number;
  mode: 'rr' | 'crr' | 'bulk';
  count: number;
  /** Requests per second; 0 means closed loop. */
  rate: number;
  arrivals: 'constant' | 'poisson';
  concurrency: number;
  requestSize: number;
  responseSize: number;
  /** bulk: payload bytes per transfer. */
  bytes: number;
  noDelay: boolean;
  timeoutNs: number;
}
