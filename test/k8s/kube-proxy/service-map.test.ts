/**
 * kube-proxy's service map as each node sees it. A cluster's nodes sync the
 * same Services, so what does not depend on the node is made once: a port's
 * info, and its endpoints as seen from any node that hosts none of them.
 * What does depend on it, which endpoints are local, must still differ.
 */
import { describe, expect, it } from 'vitest';
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
