/**
 * What a plugin sees when the runtime executes it (SPEC.md "Execution
 * protocol"): the network's name and cniVersion, CNI_CONTAINERID, CNI_NETNS,
 * CNI_IFNAME, runtimeConfig for the capabilities it declares, prevResult; and,
 * standing for the host it runs on, the node's state (host-local stores, the
 * nat table, the bridges) and the devices and routes it creates for this pod.
 */
import { createHash } from 'node:crypto';
import type { RouteSpec } from '../topology.js';
import type { HostLocalState } from './host-local.js';
import type { NatTable } from './nat-table.js';
import type { CniResult } from './result.js';

/** A CNI error (SPEC.md "Error"): code 1-99 well-known, 999 internal; `msg` as the plugin prints it. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }
}

/** Well-known error codes (SPEC.md). */
export const CNI_ERR = { incompatibleVersion: 1, invalidConfig: 7, tryAgainLater: 11, internal: 999 } as const;

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIP?: string;
}

export interface BandwidthEntry {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** The runtime's arguments for one attachment of a pod sandbox. */
export interface Attachment {
  containerId: string;
  netns: string;
  ifName: string;
  /** runtimeConfig.portMappings, given to plugins declaring capabilities.portMappings. */
  portMappings?: PortMapping[];
  /** runtimeConfig.bandwidth, given to plugins declaring capabilities.bandwidth. */
  bandwidth?: BandwidthEntry;
}

export interface BridgeDevice {
  name: string;
  mac: string;
  mtu: number;
  addresses: string[];
}

export interface VethEnd {
  name: string;
  mac: string;
  mtu: number;
  addresses: string[];
  master?: string;
  hairpin: boolean;
}

/** Token-bucket parameters the bandwidth plugin sets (tbf on the host veth; egress through an ifb). */
export interface ShapingParams {
  device: string;
  ingress?: { rateBps: number; burstBits: number; limitBytes: number };
  egress?: { rateBps: number; burstBits: number; limitBytes: number; ifb: string };
}

/** What a pod's ADD built: the veth pair, its addresses and routes, shaping. */
export interface PodWiring {
  hostVeth?: VethEnd;
  podIf?: VethEnd;
  podRoutes: RouteSpec[];
  hostRoutes: RouteSpec[];
  shaping?: ShapingParams;
}

/** The node a plugin runs on. */
export interface HostState {
  hostLocal: HostLocalState;
  nat: NatTable;
  bridges: Map<string, BridgeDevice>;
}

export interface PluginCall {
  network: string;
  cniVersion: string;
  att: Attachment;
  host: HostState;
  wiring: PodWiring;
  prevResult?: CniResult;
}

/** ip.RandomVethName: "veth" + 8 hex digits; here derived from the container id and ifname for determinism. */
export function vethName(att: Attachment): string {
  return `veth${createHash('sha256').update(`${att.containerId}/${att.ifName}`).digest('hex').slice(0, 8)}`;
}
