/**
 * Traffic endpoints chosen by label selector ("role=client") or Service name
 * ("svc:echo"): one flow per selected pod, in one row of statistics.
 */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';

const base = (traffic: string) => `
name: sel
duration: 1s
underlay: { cidr: 192.168.49.0/24, gateway: 192.168.49.1 }
nodes:
  - name: n1
    pods:
      - { name: c1, labels: { role: client } }
      - { name: e1, labels: { app: echo } }
  - name: n2
    pods:
      - { name: c2, labels: { role: client } }
      - { name: e2, labels: { app: echo, zone: b } }
services:
  - name: echo
    selector: { app: echo }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080, requestSize: 100, responseSize: 200 }]
traffic:
${traffic}
capture: none
`;

describe('traffic endpoints by selector and Service name', () => {
  test('a selector source gives one flow per pod, grouped; svc:<name> is the ClusterIP', () => {
    const spec = expandScenario(parseScenario(base('  - tcp: { name: clients, from: role=client, to: svc:echo, port: 80, mode: crr, count: 5, rate: 50, requestSize: 100, responseSize: 200 }'), 's.yaml'));
    expect(spec.traffic.map((t) => [t.name, t.from.ns, t.to, t.group])).toEqual([
      ['clients (n1/c1 -> svc:echo)', 'n1/c1', '10.96.0.2', 'clients'],
      ['clients (n2/c2 -> svc:echo)', 'n2/c2', '10.96.0.2', 'clients'],
    ]);
  });

  test('a selector destination gives one flow per selected pod; pings get their own identifiers', () => {
    const spec = expandScenario(parseScenario(base('  - ping: { name: p, from: n1/c1, to: "app=echo", count: 2, interval: 100ms }'), 's.yaml'));
    expect(spec.traffic.map((t) => [t.to, t.toNs, t.kind === 'ping' ? t.ident : 0])).toEqual([
      ['10.244.1.3', 'n1/e1', 0x1234],
      ['10.244.2.3', 'n2/e2', 0x1334],
    ]);
    const one = expandScenario(parseScenario(base('  - ping: { name: p, from: n1/c1, to: "app=echo,zone=b", count: 2, interval: 100ms }'), 's.yaml'));
    expect(one.traffic.map((t) => [t.name, t.group])).toEqual([['p', undefined]]);
  });

  test('mistakes are errors at the field', () => {
    expect(() => parseScenario(base('  - tcp: { name: x, from: role=clint, to: svc:echo, port: 80, mode: crr, count: 1, rate: 1 }'), 's.yaml')).toThrow(
      's.yaml:19:27: traffic[0].tcp.from: selector "role=clint" matches no pod',
    );
    expect(() => parseScenario(base('  - tcp: { name: x, from: n1/c1, to: svc:ech, port: 80, mode: crr, count: 1, rate: 1 }'), 's.yaml')).toThrow(
      'traffic[0].tcp.to: unknown Service "ech" (Services are echo)',
    );
    expect(() => parseScenario(base('  - udp: { name: x, from: n1/c1, to: "app=echo", port: 80, sourcePort: 4000, count: 1, rate: 1 }'), 's.yaml')).toThrow(
      'traffic[0].udp.sourcePort: one client would bind it once per destination the selector picks',
    );
    // Sent as unicast, a multicast group's datagrams would be routed to the gateway: refused rather than wrong.
    expect(() => parseScenario(base('  - udp: { name: x, from: n1/c1, to: 224.0.0.251, port: 5353, count: 1, rate: 1 }'), 's.yaml')).toThrow(
      'traffic[0].udp.to: 224.0.0.251 is a multicast group (224.0.0.0/4), which podwire does not model',
    );
    expect(() => parseScenario(base('  - ping: { name: x, from: n1/c1, to: 0.0.0.0 }'), 's.yaml')).toThrow('traffic[0].ping.to: 0.0.0.0 as a destination is this host');
    // Backends answer fixed sizes: a flow expecting others would wait for answers that never come.
    expect(() => expandScenario(parseScenario(base('  - tcp: { name: x, from: n1/c1, to: svc:echo, port: 80, mode: crr, count: 1, rate: 1 }'), 's.yaml'))).toThrow(
      `traffic "x": Service echo's backends answer 100-byte requests with 200 bytes; give requestSize: 100 and responseSize: 200`,
    );
  });

  test('every selected client gets its answers, in one row', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-sel-'));
    try {
      const r = runTopology(expandScenario(parseScenario(base('  - tcp: { name: clients, from: role=client, to: svc:echo, port: 80, mode: crr, count: 5, rate: 50, requestSize: 100, responseSize: 200 }'), 's.yaml')), { outDir: dir });
      expect(r.results.flows).toHaveLength(1);
      expect(r.results.flows[0]).toMatchObject({ name: 'clients', from: '2 flows', sent: 10, received: 10 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
