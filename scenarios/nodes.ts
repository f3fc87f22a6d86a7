/**
 * Default node and pod addressing, shared by explicit `nodes` and `scale`:
 * the rules of kube-controller-manager's range allocator (one /24 per node out
 * of the cluster CIDR, --node-cidr-mask-size=24) and of the CNI host-local IPAM
 * (gateway = first host, pods from the next address up).
 */
import type { NodeConfig, PodConfig, Runtime } from './scenario.js';
import { type Cidr, cidrBroadcast, cidrNetwork, formatCidr, formatIpv4, prefixSize } from './ipv4.js';

/** Prefix length of the per-node pod range carved out of the cluster CIDR. */
export const NODE_CIDR_LEN = 24;

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_IFNAME = 15;

export function defaultBridge(runtime: Runtime): string {
  return runtime === 'docker' ? 'docker0' : 'cni0';
}

/**
 * How many node podCIDRs the cluster CIDR holds. Node i takes block i+1, so
 * block 0 stays unused and the first node's range reads 10.244.1.0/24.
 */
export function nodeCidrCapacity(cluster: Cidr): number {
  return cluster.len > NODE_CIDR_LEN ? 0 : prefixSize(cluster.len) / prefixSize(NODE_CIDR_LEN) - 1;
}

/** Node i (0-based) gets the (i+1)-th /24 of the cluster CIDR; undefined when it does not fit. */
export function defaultPodCIDR(cluster: Cidr, index: number): Cidr | undefined {
  if (index >= nodeCidrCapacity(cluster)) return undefined;
  return { base: (cidrNetwork(cluster) + (index + 1) * prefixSize(NODE_CIDR_LEN)) >>> 0, len: NODE_CIDR_LEN };
}

/** Node i (0-based) gets underlay host number i+2 (host 1 is the gateway). */
export function defaultNodeAddress(underlay: Cidr, index: number): number {
  return (cidrNetwork(underlay) + index + 2) >>> 0;
}

/** Usable host addresses of a prefix (network and broadcast excluded). */
export function hostCount(c: Cidr): number {
  return Math.max(0, prefixSize(c.len) - 2);
}

/** The bridge/gateway address of a pod CIDR: its first host. */
export function podGateway(podCidr: Cidr): number {
  return (cidrNetwork(podCidr) + 1) >>> 0;
}

/** Addresses left for pods once the gateway has taken the first host. */
export function podCapacity(podCidr: Cidr): number {
  return Math.max(0, hostCount(podCidr) - 1);
}

/** Last address a pod may take (the one before broadcast). */
export function lastPodAddress(podCidr: Cidr): number {
  return (cidrBroadcast(podCidr) - 1) >>> 0;
}

/**
 * "veth" + pod name cut to 15 characters; when taken, the tail is replaced by
 * the smallest number 1, 2, ... that makes it unique. Adds the name to `used`.
 */
export function defaultHostVeth(podName: string, used: Set<string>): string {
  const base = `veth${podName}`.slice(0, MAX_IFNAME);
  let name = base;
  for (let k = 1; used.has(name); k++) {
    const suffix = String(k);
    name = base.slice(0, MAX_IFNAME - suffix.length) + suffix;
  }
  used.add(name);
  return name;
}

export interface ScaleLayout {
  nodes: number;
  podsPerNode: number;
  runtime: Runtime;
  /** Node i's (0-based) underlay address: defaultNodeAddress, or its rack's (scenarios/scale-racks.ts). */
  nodeAddress: (i: number) => number;
  cluster: Cidr;
}

/**
 * node-1..node-N with pod-1..pod-P each, every address by the default rules.
 * The caller has checked that everything fits (see cluster-nodes.ts).
 */
export function generateScaleNodes(layout: ScaleLayout): NodeConfig[] {
  const bridge = defaultBridge(layout.runtime);
  const nodes: NodeConfig[] = new Array(layout.nodes);
  for (let i = 0; i < layout.nodes; i++) {
    const podCidr = defaultPodCIDR(layout.cluster, i)!;
    const first = podGateway(podCidr) + 1;
    const pods: PodConfig[] = new Array(layout.podsPerNode);
    for (let j = 0; j < layout.podsPerNode; j++) {
      const name = `pod-${j + 1}`;
      pods[j] = {
        name,
        ip: formatIpv4(first + j),
        containers: layout.runtime === 'docker' ? [name] : ['main'],
        hairpin: false,
        hostVeth: `veth${name}`,
      };
    }
    nodes[i] = {
      name: `node-${i + 1}`,
      address: formatIpv4(layout.nodeAddress(i)),
      podCIDR: formatCidr(podCidr),
      bridge,
      pods,
      bridgeNfCallIptables: true,
    };
  }
  return nodes;
}
