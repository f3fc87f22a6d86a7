import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenario } from '../../scenarios/library.js';
import { buildWorld } from '../../scenarios/build.js';
import { collectShare, mergeShares } from '../../scenarios/results.js';
import { formatSummary } from '../../cli/summary.js';

describe('flow classes', () => {
  it('name the path a flow takes: Service address, NodePort, pod or node on the same or another node', () => {
    const spec = expandScenario(resolveScenario('cluster-services'));
    const byName = new Map(spec.traffic.map((t) => [t.name, t.class]));
    expect(byName.get('client conn 1')).toBe('udp: pod → ClusterIP');
    expect(byName.get('client crr')).toBe('tcp: pod → ClusterIP');
    expect(byName.get('n1 -> NodePort on n2')).toBe('tcp: node → NodePort, other node');
    const cross = expandScenario(resolveScenario('cross-node'));
    expect(cross.traffic.map((t) => t.class)).toEqual(['ping: pod → pod, other node', 'udp: pod → pod, other node (one-way)']);
  });

  it('a load-balancer address is its own class', () => {
    const text = `
name: lb
underlay: { cidr: 192.168.49.0/24, gateway: 192.168.49.1 }
nodes:
  - name: n1
    pods: [{ name: c }, { name: web, labels: { app: web } }]
services:
  - name: web
    type: LoadBalancer
    loadBalancerIPs: [203.0.113.10]
    selector: { app: web }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080 }]
traffic:
  - tcp: { name: via lb, from: n1/c, to: 203.0.113.10, port: 80, mode: crr, count: 1, rate: 1, requestSize: 64, responseSize: 64 }
  - tcp: { name: via clusterip, from: n1/c, to: svc:web, port: 80, mode: crr, count: 1, rate: 1, requestSize: 64, responseSize: 64 }
`;
    const spec = expandScenario(parseScenario(text, 'lb.yaml'));
    expect(spec.traffic.map((t) => t.class)).toEqual(['tcp: pod → LoadBalancer', 'tcp: pod → ClusterIP']);
    // The backends' sizes are checked through the load balancer's address too.
    expect(() => expandScenario(parseScenario(text.replace('to: 203.0.113.10, port: 80, mode: crr, count: 1, rate: 1, requestSize: 64', 'to: 203.0.113.10, port: 80, mode: crr, count: 1, rate: 1, requestSize: 65'), 'lb.yaml'))).toThrow(
      /traffic "via lb": Service web's backends answer 64-byte requests/,
    );
  });

  it('merge every flow of a class into one row, and a pattern group counts its members', () => {
    const text = `
name: classes
duration: 400ms
scale: { nodes: 3, podsPerNode: 2 }
traffic:
  - pingAll: { pattern: cross-node, count: 3, interval: 50ms }
  - pingAll: { pattern: same-node, count: 3, interval: 50ms }
  - ping: { name: a, from: node-1/pod-1, to: node-1/pod-2, count: 2, interval: 50ms }
  - ping: { name: b, from: node-1, to: node-2/pod-1, count: 2, interval: 50ms }
capture: none
`;
    const spec = expandScenario(parseScenario(text, 'c.yaml'));
    const world = buildWorld(spec);
    world.sim.run(spec.durationNs);
    const r = mergeShares(spec, spec.durationNs, [collectShare(world, 0)]);
    const classes = r.classes as { class: string; flows: number; sent: number; received: number }[];
    expect(classes.map((c) => [c.class, c.flows, c.sent])).toEqual([
      ['ping: pod → pod, other node', 6, 18],
      ['ping: pod → pod, same node', 7, 20],
      ['ping: node → pod, other node', 1, 2],
    ]);
    for (const c of classes) expect(c.received).toBe(c.sent);
    expect(formatSummary(r)).toMatch(/by class:\n.*\nping: pod → pod, other node \(6\)\s+18\s+18\s+0\s+rtt/);
  });
});
