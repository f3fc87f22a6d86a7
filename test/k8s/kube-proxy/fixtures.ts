/**
 * Inputs that mirror kube-proxy's own unit tests (pkg/proxy/iptables/proxier_test.go):
 * NewFakeProxier's node (pod CIDR 10.0.0.0/8 for local-traffic detection, node IP
 * 192.168.0.2, mark string "0x4000", an iptables without --random-fully,
 * localhost NodePorts on) and the services of TestOverallIPTablesRules.
 */
import type { KubeProxyNode, Service } from '../../../models/k8s/kube-proxy/index.js';

export const TEST_NODE_NAME = 'test-node';

export const fakeProxierNode: KubeProxyNode = {
  nodeName: TEST_NODE_NAME,
  nodeIPs: ['192.168.0.2', '192.168.1.2', '192.168.99.11'],
  clusterCIDR: '10.0.0.0/8',
  masqueradeMark: '0x4000',
  randomFully: false,
  localhostNodePorts: true,
};

const p80 = { name: 'p80', protocol: 'TCP', port: 80 } as const;
const ep = (ip: string, nodeName?: string) => ({ ip, ports: { p80: 80 }, ...(nodeName ? { nodeName } : {}) });

/** TestOverallIPTablesRules' makeServiceMap and populateEndpointSlices. */
export const overallServices: Service[] = [
  // ClusterIP service
  { namespace: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', ports: [p80], endpoints: [ep('10.180.0.1')] },
  // LoadBalancer with Local traffic policy; its one endpoint has no NodeName, so it is not local
  {
    namespace: 'ns2',
    name: 'svc2',
    type: 'LoadBalancer',
    externalTrafficPolicy: 'Local',
    clusterIP: '172.30.0.42',
    ports: [{ ...p80, nodePort: 3001 }],
    loadBalancerIPs: ['1.2.3.4'],
    externalIPs: ['192.168.99.22'],
    healthCheckNodePort: 30000,
    endpoints: [ep('10.180.0.2')],
  },
  // NodePort
  { namespace: 'ns3', name: 'svc3', type: 'NodePort', clusterIP: '172.30.0.43', ports: [{ ...p80, nodePort: 3003 }], endpoints: [ep('10.180.0.3')] },
  // ExternalIP
  {
    namespace: 'ns4',
    name: 'svc4',
    type: 'NodePort',
    clusterIP: '172.30.0.44',
    externalIPs: ['192.168.99.33'],
    ports: [{ ...p80, targetPort: 80 }],
    endpoints: [ep('10.180.0.4'), ep('10.180.0.5', TEST_NODE_NAME)],
  },
  // LoadBalancer with Cluster policy, source ranges (with the test's stray space) and session affinity
  {
    namespace: 'ns5',
    name: 'svc5',
    type: 'LoadBalancer',
    externalTrafficPolicy: 'Cluster',
    clusterIP: '172.30.0.45',
    ports: [{ ...p80, nodePort: 3002 }],
    loadBalancerIPs: ['5.6.7.8'],
    healthCheckNodePort: 30000,
    loadBalancerSourceRanges: [' 203.0.113.0/25'],
    sessionAffinity: 'ClientIP',
    sessionAffinityTimeoutSeconds: 10800,
    endpoints: [ep('10.180.0.3')],
  },
  // ClusterIP with no endpoints
  { namespace: 'ns6', name: 'svc6', type: 'ClusterIP', clusterIP: '172.30.0.46', ports: [{ ...p80, targetPort: 80 }] },
];
