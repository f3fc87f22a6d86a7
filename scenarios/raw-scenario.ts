/**
 * A scenario file's data as the schema admits it, before normalize.ts applies
 * the defaults (scenarios/defaults.ts) and the checks a schema cannot make.
 */
import type { RawExternalHost } from './external-hosts.js';
import type { Arrivals, IpSetConfig, Routing, Runtime, TcpMode, TrafficPattern } from './scenario.js';
import type { KubeProxyMode, RawService } from './services.js';
import type { RawUnderlaySegment } from './underlay-segments.js';
import type { SchedulerName } from '../models/netfilter/ipvs/service.js';

export type DurationText = string | number;
/** What every traffic item has: its endpoints or pattern, its name, and when it starts and gives up. */
interface RawTrafficCommon {
  from?: string;
  to?: string;
  name?: string;
  pattern?: TrafficPattern;
  stagger?: boolean;
  nodeStride?: number;
  count?: number;
  start?: DurationText;
  timeout?: DurationText;
}
export interface RawPing extends RawTrafficCommon {
  interval?: DurationText;
  size?: number;
  ident?: number;
  broadcast?: boolean;
}
export interface RawUdp extends RawTrafficCommon {
  broadcast?: boolean;
  port?: number;
  sourcePort?: number;
  rate?: number;
  arrivals?: Arrivals;
  requestSize?: number;
  responseSize?: number;
}
export interface RawTcp extends RawTrafficCommon {
  port?: number;
  mode?: TcpMode;
  rate?: number;
  arrivals?: Arrivals;
  concurrency?: number;
  requestSize?: number;
  responseSize?: number;
  bytes?: number;
  noDelay?: boolean;
}
export type RawTrafficItem =
  | { ping: RawPing }
  | { udp: RawUdp }
  | { tcp: RawTcp }
  | { pingAll: RawPing }
  | { udpAll: RawUdp }
  | { tcpAll: RawTcp };
export interface RawPod {
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
export interface RawNode {
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
  /** The node's and its pods' TCP sysctls, over the scenario's `tcp:`. */
  tcp?: RawTcpSettings;
}
export type RawCni = { conflist: string } | { config: unknown };
/** `tcp:` — the TCP sysctls every namespace gets (scenarios/tcp-settings.ts). */
export interface RawTcpSettings {
  congestionControl?: 'reno' | 'cubic';
  sack?: boolean;
  wmem?: [number, number, number];
  rmem?: [number, number, number];
}
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
  scale?: { nodes: number; podsPerNode?: number; nodesPerRack?: number };
  externalHosts?: RawExternalHost[];
  traffic?: RawTrafficItem[];
  servers?: { on: string; port: number; protocol?: 'udp' | 'tcp'; requestSize?: number; responseSize?: number }[];
  capture?: 'all' | 'none' | string[];
  serviceCIDR?: string;
  kubeProxy?: { mode?: KubeProxyMode; ipvs?: { scheduler?: SchedulerName }; userspace?: { copyCost?: string; acceptCost?: string }; syncDelay?: string };
  services?: RawService[];
  serviceLoad?: { services: number; endpointsPerService?: number };
  /** Read by the loader (scenarios/manifests/), which adds their pods and services before normalizing. */
  manifests?: string[];
  netfilter?: { ruleCost?: DurationText; conntrackCost?: DurationText; natSetupCost?: DurationText };
  tcp?: RawTcpSettings;
  /** Read only by `podwire sweep` (scenarios/sweep/grid.ts); a single run ignores it. */
  sweep?: Record<string, unknown[]>;
}
