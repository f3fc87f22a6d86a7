/**
 * Plain input for the kube-proxy model: the parts of a Service, its
 * EndpointSlices and the node that kube-proxy's iptables mode reads
 * (k8s.io/api core/v1 ServiceSpec, discovery/v1 Endpoint, and the
 * kube-proxy flags that shape the ruleset). Optional fields default to what
 * the API server or kube-proxy would use; the defaults are listed here once.
 */

export type ServiceProtocol = 'TCP' | 'UDP' | 'SCTP';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export type TrafficPolicy = 'Cluster' | 'Local';
export type SessionAffinity = 'None' | 'ClientIP';

/** v1.ServiceAffinityClientIP's default timeout (v1.DefaultClientIPServiceAffinitySeconds). */
export const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS = 10800;
/** kube-proxy --iptables-masquerade-bit default: mark 0x4000. */
export const DEFAULT_MASQUERADE_BIT = 14;

/** One entry of spec.ports. */
export interface ServicePortSpec {
  /** May be '' for a service's single unnamed port. */
  name: string;
  protocol: ServiceProtocol;
  port: number;
  /**
   * Numeric targetPort; the EndpointSlice port used for endpoints that do not
   * list this port name explicitly (default: `port`, as the API server does).
   */
  targetPort?: number;
  /** 0 or absent: no NodePort. */
  nodePort?: number;
}

/** One discovery/v1 Endpoint as kube-proxy sees it (one address). */
export interface Endpoint {
  ip: string;
  /** The EndpointSlice port for each service port name. */
  ports?: Readonly<Record<string, number>>;
  /** Local to this node when equal to KubeProxyNode.nodeName. */
  nodeName?: string;
  /** conditions.ready; absent means true (a nil condition is "ready"). */
  ready?: boolean;
  /** conditions.serving; absent means true. */
  serving?: boolean;
  /** conditions.terminating; absent means false. */
  terminating?: boolean;
}

export interface Service {
  namespace: string;
  name: string;
  /** Default ClusterIP. */
  type?: ServiceType;
  /** '' or 'None' is a headless service: kube-proxy skips it. */
  clusterIP: string;
  ports: readonly ServicePortSpec[];
  externalIPs?: readonly string[];
  /** status.loadBalancer.ingress[].ip (VIP mode). */
  loadBalancerIPs?: readonly string[];
  loadBalancerSourceRanges?: readonly string[];
  /** Default Cluster. Only takes effect for NodePort, LoadBalancer and ExternalIP services. */
  externalTrafficPolicy?: TrafficPolicy;
  /** Default Cluster. */
  internalTrafficPolicy?: TrafficPolicy;
  /** Used only by LoadBalancer services with Local external policy (apiservice.NeedsHealthCheck). */
  healthCheckNodePort?: number;
  /** Default None. */
  sessionAffinity?: SessionAffinity;
  /** sessionAffinityConfig.clientIP.timeoutSeconds; default 10800. */
  sessionAffinityTimeoutSeconds?: number;
  /** The endpoints of all of the service's EndpointSlices. */
  endpoints?: readonly Endpoint[];
}

/** The node kube-proxy runs on, and the flags that change its rules. */
export interface KubeProxyNode {
  /** --hostname-override: endpoints with this nodeName are local. */
  nodeName: string;
  /** The node's IPv4 addresses; the first is the one LoadBalancerSourceRanges are checked against. */
  nodeIPs: readonly string[];
  /**
   * --cluster-cidr with --detect-local-mode=ClusterCIDR: traffic from outside it
   * to a ClusterIP is masqueraded. Absent: no local-traffic detection.
   */
  clusterCIDR?: string;
  /** --masquerade-all (default false). */
  masqueradeAll?: boolean;
  /** --iptables-masquerade-bit (default 14). */
  masqueradeBit?: number;
  /**
   * The mark string written into rules; default derived from masqueradeBit the
   * way kube-proxy does (Go "%#08x": "0x00004000"). kube-proxy's unit tests set "0x4000".
   */
  masqueradeMark?: string;
  /** --iptables-localhost-nodeports (default true). */
  localhostNodePorts?: boolean;
  /** --nodeport-addresses CIDRs; absent or empty: NodePorts on every local address. */
  nodePortAddresses?: readonly string[];
  /** Whether iptables supports MASQUERADE --random-fully (iptables >= 1.6.2; default true). */
  randomFully?: boolean;
  /** net.netfilter.nf_conntrack_tcp_be_liberal != 0: no INVALID drop rule (default false). */
  conntrackTCPLiberal?: boolean;
  /**
   * kube-proxy writes Services in Go map order, which is random. Absent: name
   * order (one of those orders, and the one its tests compare in). Given: a
   * seeded random order, different per node, as on real nodes.
   */
  serviceOrderSeed?: number;
}

export interface KubeProxyInput {
  node: KubeProxyNode;
  services: readonly Service[];
}
