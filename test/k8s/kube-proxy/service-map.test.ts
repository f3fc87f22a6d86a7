/**
 * kube-proxy's service map as each node sees it. A cluster's nodes sync the
 * same Services, so what does not depend on the node is made once: a port's
 * info, and its endpoints as seen from any node that hosts none of them.
 * What does depend on it, which endpoints are local, must still differ.
 */
import { describe, expect, it } from 'vitest';
import { kubeProxyIptables } from '../../../models/k8s/kube-proxy/iptables.js';
import { kubeProxyNftables } from '../../../models/k8s/kube-proxy/nftables.js';
import { serviceMap } from '../../../models/k8s/kube-proxy/service-map.js';
import type { KubeProxyInput, Service } from '../../../models/k8s/kube-proxy/service.js';

const web: Service = {
  namespace: 'default',
  name: 'web',
  clusterIP: '10.96.0.10',
  ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }],
  endpoints: [
    { ip: '10.244.1.5', nodeName: 'a' },
    { ip: '10.244.2.7', nodeName: 'b' },
  ],
};

const on = (node: string, services: Service[]): KubeProxyInput => ({ node: { nodeName: node, nodeIPs: ['192.168.0.1'] }, services });
const locals = (input: KubeProxyInput) => serviceMap(input)[0]!.endpoints.map((e) => `${e.str}${e.isLocal ? ' local' : ''}`);

describe('serviceMap across nodes', () => {
  it('nodes hosting no endpoint share one list; a node hosting one sees it local', () => {
    expect(locals(on('a', [web]))).toEqual(['10.244.1.5:8080 local', '10.244.2.7:8080']);
    expect(locals(on('b', [web]))).toEqual(['10.244.1.5:8080', '10.244.2.7:8080 local']);
    const [c, d] = [serviceMap(on('c', [web]))[0]!, serviceMap(on('d', [web]))[0]!];
    expect(locals(on('c', [web]))).toEqual(['10.244.1.5:8080', '10.244.2.7:8080']);
    expect(d.endpoints).toBe(c.endpoints);
    expect(d.info).toBe(c.info);
    // Asked again after the shared list exists, a hosting node still sees its own endpoint local.
    expect(locals(on('a', [web]))).toEqual(['10.244.1.5:8080 local', '10.244.2.7:8080']);
  });

  it('a new Service object with the same port (a pod deleted) gets its own endpoints', () => {
    expect(locals(on('c', [web]))).toEqual(['10.244.1.5:8080', '10.244.2.7:8080']);
    const after: Service = { ...web, endpoints: web.endpoints!.filter((e) => e.nodeName !== 'a') };
    expect(locals(on('c', [after]))).toEqual(['10.244.2.7:8080']);
    expect(serviceMap(on('c', [after]))[0]!.info.service).toBe(after);
    expect(locals(on('c', [web]))).toEqual(['10.244.1.5:8080', '10.244.2.7:8080']);
  });
});

describe('kube-proxy iptables and nftables syncs across nodes', () => {
  // Endpoints on a and b; a LoadBalancer with source ranges (its lines read the node's IP); a Service with none.
  const services = (): Service[] => [
    web,
    { namespace: 'default', name: 'api', clusterIP: '10.96.0.11', ports: [{ name: '', protocol: 'TCP', port: 443, nodePort: 30443 }], endpoints: [{ ip: '10.244.2.8', nodeName: 'b' }, { ip: '10.244.3.9', nodeName: 'c' }] },
    { namespace: 'default', name: 'empty', clusterIP: '10.96.0.12', ports: [{ name: 'dns', protocol: 'UDP', port: 53 }], endpoints: [] },
    {
      namespace: 'default',
      name: 'lb',
      type: 'LoadBalancer',
      clusterIP: '10.96.0.13',
      loadBalancerIPs: ['203.0.113.5'],
      loadBalancerSourceRanges: ['192.168.0.0/24'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }],
      endpoints: [{ ip: '10.244.1.6', nodeName: 'a' }],
    },
  ];
  const node = (nodeName: string, ip: string, over: object = {}) => ({ nodeName, nodeIPs: [ip], clusterCIDR: '10.244.0.0/16', ...over });

  it('every node writes what it writes alone, whichever nodes wrote the same Services before it', () => {
    const shared = services();
    const nodes = [node('d', '192.168.0.4'), node('e', '192.168.1.5'), node('a', '192.168.0.1'), node('f', '192.168.0.6', { masqueradeAll: true }), node('g', '192.168.0.7', { clusterCIDR: '10.0.0.0/8' })];
    for (const sync of [kubeProxyIptables, kubeProxyNftables]) {
      for (const n of nodes) {
        const alone = sync({ node: n, services: services() });
        expect(sync({ node: n, services: shared })).toBe(alone);
      }
    }
  });
});
