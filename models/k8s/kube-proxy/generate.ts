/**
 * Synthetic clusters for benchmarks ("what do 10,000 Services cost per
 * connection in iptables mode?"): N ClusterIP (or NodePort) services, each with
 * one TCP port and E ready endpoints spread over the nodes, laid out like a
 * kubeadm cluster: ClusterIPs from 10.96.0.0/12 (10.96.0.1 is left to the
 * "kubernetes" service), one pod-CIDR block per node, node IPs from
 * 192.168.0.0/16. The same options and seed always give the same cluster.
 */
import { randomStream } from '../../../engine/rng.js';
import { formatIpv4, parseCidr } from '../../wire/addr.js';
import type { Endpoint, KubeProxyInput, Service } from './service.js';

export interface SyntheticOptions {
  services: number;
  endpointsPerService: number;
  /** Number of nodes the endpoints are spread over; kube-proxy runs on the first. */
  nodes: number;
  seed: number;
  /** Make every service a NodePort (30000-32767: at most 2768 services). */
  nodePorts?: boolean;
  /** Default 10.128.0.0/9: room for a /24 per node on 32,768 nodes, clear of 10.96.0.0/12. */
  podCIDR?: string;
  /** Services are spread over this many namespaces, "ns-0".. (default 100). */
  namespaces?: number;
}

export const SERVICE_CIDR = '10.96.0.0/12';
export const NODEPORT_MIN = 30000;
export const NODEPORT_MAX = 32767;
const NODE_IP_BASE = 0xc0a8_0000 + 10; // 192.168.0.10

export function syntheticNodeName(i: number): string {
  return `node-${i}`;
}

export function syntheticServices(opts: SyntheticOptions): KubeProxyInput {
  const { services: n, endpointsPerService: e, nodes, seed } = opts;
  for (const [k, v] of [['services', n], ['endpointsPerService', e], ['nodes', nodes]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`syntheticServices: ${k} must be a non-negative integer, got ${v}`);
  }
  if (nodes < 1) throw new RangeError('syntheticServices: nodes must be at least 1');
  const nodePortCount = NODEPORT_MAX - NODEPORT_MIN + 1;
  if (opts.nodePorts && n > nodePortCount) {
    throw new RangeError(`syntheticServices: ${n} NodePort services do not fit the ${NODEPORT_MIN}-${NODEPORT_MAX} range (${nodePortCount} ports)`);
  }
  const svcNet = parseCidr(SERVICE_CIDR);
  const svcSize = 2 ** (32 - svcNet.prefixLen);
  // .0 (network), .1 (the kubernetes service) and the broadcast address are never handed out.
  if (n > svcSize - 3) throw new RangeError(`syntheticServices: ${n} services do not fit ${SERVICE_CIDR}`);

  // Per-node pod blocks of 2^k addresses (at least a /24), big enough for the node's share.
  const podCIDRText = opts.podCIDR ?? '10.128.0.0/9';
  const podNet = parseCidr(podCIDRText);
  const perNode = Math.ceil((n * e) / nodes);
  let blockBits = 8;
  while (2 ** blockBits < perNode + 2) blockBits++;
  if (nodes * 2 ** blockBits > 2 ** (32 - podNet.prefixLen)) {
    throw new RangeError(`syntheticServices: ${nodes} nodes with ${perNode} pods each do not fit ${podCIDRText}`);
  }
  if (nodes > 0xffff - 20) throw new RangeError(`syntheticServices: ${nodes} nodes do not fit 192.168.0.0/16`);

  const rng = randomStream(seed, 'k8s/kube-proxy/synthetic');
  // ClusterIPs: an affine permutation of the /12 (odd multiplier), so they look scattered but never repeat.
  const mult = 2 * rng.int(0, svcSize / 2 - 1) + 1;
  const offset = rng.int(0, svcSize - 1);
  const namespaces = opts.namespaces ?? 100;
  const podsOnNode = new Array<number>(nodes).fill(0);

  const out: Service[] = [];
  let j = 0;
  for (let i = 0; i < n; i++) {
    let host: number;
    do {
      host = (mult * j++ + offset) % svcSize; // < 2^41: exact in a double
    } while (host < 2 || host === svcSize - 1);
    // Replicas go round-robin from a random first node, as a spreading scheduler would place them.
    const firstNode = rng.int(0, nodes - 1);
    const endpoints: Endpoint[] = [];
    for (let r = 0; r < e; r++) {
      const nodeIdx = (firstNode + r) % nodes;
      const podIdx = podsOnNode[nodeIdx]++;
      const ip = podNet.network + nodeIdx * 2 ** blockBits + 2 + podIdx; // .0 network, .1 the node's bridge
      endpoints.push({ ip: formatIpv4(ip >>> 0), nodeName: syntheticNodeName(nodeIdx), ports: { http: 8080 } });
    }
    out.push({
      namespace: `ns-${i % namespaces}`,
      name: `svc-${i}`,
      type: opts.nodePorts ? 'NodePort' : 'ClusterIP',
      clusterIP: formatIpv4((svcNet.network + host) >>> 0),
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, ...(opts.nodePorts ? { nodePort: NODEPORT_MIN + i } : {}) }],
      endpoints,
    });
  }
  return {
    node: {
      nodeName: syntheticNodeName(0),
      nodeIPs: [formatIpv4(NODE_IP_BASE)],
      clusterCIDR: `${formatIpv4(podNet.network)}/${podNet.prefixLen}`,
    },
    services: out,
  };
}

/** The IPv4 address of synthetic node i (the first is kube-proxy's node). */
export function syntheticNodeIP(i: number): string {
  return formatIpv4(NODE_IP_BASE + i);
}
