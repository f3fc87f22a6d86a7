/**
 * A kube-proxy node for the trace tests, generated with models/k8s/kube-proxy:
 * a ClusterIP service with 2 endpoints, a NodePort service with 3, and a
 * service without endpoints, on node-0 of a synthetic cluster. The rules are
 * split as a node has them: kubeProxyBaseRules() (the built-in chains and
 * the jumps kube-proxy adds with `iptables -I`) and kubeProxyIptables() (the
 * `iptables-restore --noflush` input).
 */
import {
  kubeProxyBaseRules,
  kubeProxyIptables,
  syntheticServices,
  type KubeProxyInput,
  type Service,
} from '../../../models/k8s/kube-proxy/index.js';
import { inPrefix, parseCidr, parseIpv4 } from '../../../models/wire/addr.js';

export interface KubeNode {
  input: KubeProxyInput;
  base: string;
  rules: string;
  nodeIP: string;
  clusterCIDR: string;
  two: Service;
  nodePort: Service;
  empty: Service;
  /** A pod in the cluster CIDR that is no service's endpoint. */
  pod: string;
  /** A host on the node network, outside the cluster CIDR. */
  outside: string;
}

export function endpointIps(s: Service): string[] {
  return (s.endpoints ?? []).map((e) => e.ip);
}

export function kubeNode(): KubeNode {
  const a = syntheticServices({ services: 1, endpointsPerService: 2, nodes: 2, seed: 11 });
  const b = syntheticServices({ services: 1, endpointsPerService: 3, nodes: 3, seed: 12, nodePorts: true });
  const two: Service = { ...a.services[0]!, namespace: 'default', name: 'two' };
  const nodePort: Service = { ...b.services[0]!, namespace: 'default', name: 'three-np' };
  const empty: Service = {
    namespace: 'default',
    name: 'empty',
    clusterIP: '10.96.7.7',
    ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
    endpoints: [],
  };
  const ips = new Set([two.clusterIP, nodePort.clusterIP, empty.clusterIP]);
  if (ips.size !== 3) throw new Error('kubeNode: ClusterIPs collide; pick other seeds');
  const input: KubeProxyInput = { node: a.node, services: [two, nodePort, empty] };
  const clusterCIDR = a.node.clusterCIDR!;
  const pod = '10.128.0.200';
  const outside = '192.168.0.50';
  const cidr = parseCidr(clusterCIDR);
  if (!inPrefix(parseIpv4(pod), cidr.network, cidr.prefixLen) || [two, nodePort].some((s) => endpointIps(s).includes(pod))) {
    throw new Error('kubeNode: the client pod must be in the cluster CIDR and no endpoint');
  }
  if (inPrefix(parseIpv4(outside), cidr.network, cidr.prefixLen)) throw new Error('kubeNode: the outside host is in the cluster CIDR');
  return { input, base: kubeProxyBaseRules(), rules: kubeProxyIptables(input), nodeIP: a.node.nodeIPs[0]!, clusterCIDR, two, nodePort, empty, pod, outside };
}
