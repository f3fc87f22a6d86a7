/**
 * Synthetic clusters: deterministic for a seed, addresses where a kubeadm
 * cluster puts them, and fast enough for 50,000-service benchmarks.
 */
import { describe, expect, it } from 'vitest';
import {
  kubeProxyIptables,
  LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
  syntheticNodeName,
  syntheticServices,
} from '../../../models/k8s/kube-proxy/index.js';
import { inPrefix, parseCidr, parseIpv4 } from '../../../models/wire/addr.js';
import { checkRuleJumps } from './rule-jumps.js';

const inCidr = (ip: string, cidr: string) => {
  const c = parseCidr(cidr);
  return inPrefix(parseIpv4(ip), c.network, c.prefixLen);
};

describe('syntheticServices', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = syntheticServices({ services: 200, endpointsPerService: 3, nodes: 5, seed: 7 });
    const b = syntheticServices({ services: 200, endpointsPerService: 3, nodes: 5, seed: 7 });
    const c = syntheticServices({ services: 200, endpointsPerService: 3, nodes: 5, seed: 8 });
    expect(b).toEqual(a);
    expect(kubeProxyIptables(b)).toBe(kubeProxyIptables(a));
    expect(c.services.map((s) => s.clusterIP)).not.toEqual(a.services.map((s) => s.clusterIP));
  });

  it('puts ClusterIPs in 10.96.0.0/12 (never .0, .1 or broadcast) and pod IPs in their node\'s block', () => {
    const { services, node } = syntheticServices({ services: 3000, endpointsPerService: 4, nodes: 10, seed: 1 });
    const clusterIPs = services.map((s) => s.clusterIP);
    expect(new Set(clusterIPs).size).toBe(3000);
    for (const ip of clusterIPs) {
      expect(inCidr(ip, '10.96.0.0/12')).toBe(true);
      expect(['10.96.0.0', '10.96.0.1', '10.111.255.255']).not.toContain(ip);
    }
    const podIPs = services.flatMap((s) => s.endpoints!.map((e) => e.ip));
    expect(new Set(podIPs).size).toBe(3000 * 4);
    // 1200 pods per node need a /21 block each: node i owns 10.128.0.0 + i * 2048.
    for (const s of services) {
      for (const e of s.endpoints!) {
        const nodeIdx = Number(e.nodeName!.slice('node-'.length));
        expect(inCidr(e.ip, `10.128.${nodeIdx * 8}.0/21`)).toBe(true);
        expect(e.ip.endsWith('.0') && e.ip.startsWith(`10.128.${nodeIdx * 8}.`)).toBe(false);
      }
    }
    expect(node.nodeName).toBe(syntheticNodeName(0));
    expect(node.clusterCIDR).toBe('10.128.0.0/9');
    // a service's replicas land on distinct nodes when there are enough of them
    for (const s of services) expect(new Set(s.endpoints!.map((e) => e.nodeName)).size).toBe(4);
  });

  it('gives NodePort services distinct ports in 30000-32767 and refuses more than fit', () => {
    const { services } = syntheticServices({ services: 100, endpointsPerService: 1, nodes: 2, seed: 3, nodePorts: true });
    const ports = services.map((s) => s.ports[0].nodePort!);
    expect(new Set(ports).size).toBe(100);
    expect(Math.min(...ports)).toBeGreaterThanOrEqual(30000);
    expect(services.every((s) => s.type === 'NodePort')).toBe(true);
    expect(() => syntheticServices({ services: 2769, endpointsPerService: 1, nodes: 1, seed: 3, nodePorts: true })).toThrow(RangeError);
  });

  it('produces a consistent ruleset with the expected rule counts', () => {
    const n = 50;
    const e = 3;
    const text = kubeProxyIptables(syntheticServices({ services: n, endpointsPerService: e, nodes: 4, seed: 2, nodePorts: true }));
    expect(checkRuleJumps(text)).toEqual([]);
    const nat = text.slice(text.indexOf('*nat'));
    // per service: KUBE-SERVICES, KUBE-NODEPORTS, SVC masquerade, EXT x2, e SVC->SEP, 2e SEP
    expect(nat.match(/^-A /gm)).toHaveLength(4 + 1 + n * (5 + 3 * e));
    expect(nat.match(/^:KUBE-SEP-/gm)).toHaveLength(n * e);
  });
});

describe('scale', () => {
  it('generates and writes the rules for 50,000 services in a few seconds', () => {
    const t0 = performance.now();
    const input = syntheticServices({ services: 50_000, endpointsPerService: 3, nodes: 100, seed: 42 });
    const text = kubeProxyIptables(input);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`50,000 services x 3 endpoints: ${(text.length / 1e6).toFixed(1)} MB of rules in ${seconds.toFixed(2)} s`);
    expect(seconds).toBeLessThan(10);
    // 150,000 endpoints: large-cluster mode, no per-endpoint comments
    expect(150_000).toBeGreaterThan(LARGE_CLUSTER_ENDPOINTS_THRESHOLD);
    expect(text).not.toMatch(/^-A KUBE-SEP-\S+ -m comment/m);
    expect(text.match(/^:KUBE-SEP-/gm)).toHaveLength(150_000);
    expect(text.match(/^-A KUBE-SERVICES /gm)).toHaveLength(50_001);
  });
});
