/**
 * External traffic through kube-proxy v1.30's own test services
 * (test/k8s/kube-proxy/fixtures.ts mirrors proxier_test.go's
 * TestOverallIPTablesRules), judged by explainPacket on that node:
 * - a LoadBalancer with externalTrafficPolicy Cluster and loadBalancerSourceRanges:
 *   allowed sources are DNATed and masqueraded (KUBE-EXT -> KUBE-MARK-MASQ), others
 *   dropped by KUBE-PROXY-FIREWALL;
 * - a LoadBalancer with externalTrafficPolicy Local and no local endpoint:
 *   external clients are dropped ("has no local endpoints"), while pods reaching
 *   the load-balancer IP are short-circuited to the cluster-wide chain;
 * - a NodePort on the node's IP: DNATed to the endpoint and masqueraded.
 * Documented in the kube-proxy proxier.go comments and the Service docs
 * (https://kubernetes.io/docs/reference/networking/virtual-ips/).
 */
import { describe, expect, it } from 'vitest';
import { explainPacket, type Explanation } from '../../../models/netfilter/explain/index.js';
import { kubeProxyBaseRules, kubeProxyIptables } from '../../../models/k8s/kube-proxy/index.js';
import { parseIpv4 } from '../../../models/wire/addr.js';
import { fakeProxierNode, overallServices } from '../../k8s/kube-proxy/fixtures.js';

const rules = [
  { text: kubeProxyBaseRules(), file: 'base.rules' },
  { text: kubeProxyIptables({ node: fakeProxierNode, services: overallServices }), file: 'kube-proxy.rules' },
];
const node = { localAddrs: fakeProxierNode.nodeIPs.map((a) => ({ addr: parseIpv4(a), prefixLen: 24 })) };

function tcp(src: string, dst: string, dport: number): Explanation {
  return explainPacket({ rules, probe: { proto: 'tcp', src: parseIpv4(src), dst: parseIpv4(dst), sport: 40000, dport }, node });
}

describe('kube-proxy external traffic', () => {
  it('LoadBalancer, Cluster policy: an allowed source is DNATed to the endpoint and masqueraded', () => {
    const e = tcp('203.0.113.5', '5.6.7.8', 80);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations).toEqual([{ ip: '10.180.0.3', port: 80, probability: 1 }]);
    expect(e.masquerade).toBe(true);
  });

  it('LoadBalancer, Cluster policy: a source outside loadBalancerSourceRanges is dropped', () => {
    const e = tcp('198.51.100.1', '5.6.7.8', 80);
    expect(e.verdict).toBe('DROP');
    expect(e.destinations).toEqual([]);
  });

  it('LoadBalancer, Local policy without a local endpoint: external clients are dropped', () => {
    const e = tcp('198.51.100.1', '1.2.3.4', 80);
    expect(e.verdict).toBe('DROP');
  });

  it('LoadBalancer, Local policy: a pod reaching the load-balancer IP goes to the cluster-wide endpoints, unmasqueraded', () => {
    const e = tcp('10.0.0.7', '1.2.3.4', 80);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations).toEqual([{ ip: '10.180.0.2', port: 80, probability: 1 }]);
    expect(e.masquerade).toBe(false);
  });

  it('NodePort on the node address: DNAT to the endpoint and masquerade', () => {
    const e = tcp('198.51.100.1', '192.168.0.2', 3003);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations).toEqual([{ ip: '10.180.0.3', port: 80, probability: 1 }]);
    expect(e.masquerade).toBe(true);
  });

  it('ClusterIP without endpoints: REJECT', () => {
    expect(tcp('10.0.0.7', '172.30.0.46', 80).verdict).toBe('REJECT');
  });
});
