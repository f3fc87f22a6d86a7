import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../scenarios/errors.js';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { namespaceRoutes, type PingSpec, type TopologySpec, type UdpSpec } from '../../scenarios/topology.js';

const expand = (text: string): TopologySpec => expandScenario(parseScenario(text, 't.yaml'));
const nsOf = (t: TopologySpec, name: string) => t.namespaces.find((n) => n.name === name)!;

describe('scale', () => {
  const text = 'name: big\nscale: { nodes: 100, podsPerNode: 30 }\ncapture: all\n';

  it('generates node-1..node-100 with pod-1..pod-30 by the default rules', () => {
    const s = parseScenario(text, 'big.yaml');
    expect(s.scale).toEqual({ nodes: 100, podsPerNode: 30 });
    expect(s.nodes).toHaveLength(100);
    const n37 = s.nodes[36]!;
    expect(n37).toMatchObject({ name: 'node-37', address: '192.168.49.38', podCIDR: '10.244.37.0/24', bridge: 'cni0' });
    expect(n37.pods[4]).toEqual({ name: 'pod-5', ip: '10.244.37.6', containers: ['main'], hairpin: false, hostVeth: 'vethpod-5' });
  });

  it('expands to the right counts', () => {
    const t = expand(text);
    const N = 100;
    const P = 30;
    expect(t.namespaces).toHaveLength(1 + N + N * P);
    expect(t.namespaces.filter((n) => n.kind === 'node')).toHaveLength(N);
    expect(t.namespaces.filter((n) => n.kind === 'pod')).toHaveLength(N * P);
    expect(t.links.filter((l) => l.kind === 'wire')).toHaveLength(N);
    expect(t.links.filter((l) => l.kind === 'veth')).toHaveLength(N * P);
    expect(nsOf(t, 'underlay').interfaces).toHaveLength(N);
    // underlay: br0 + N ports; node: bridge + eth0 + P veths; pod: eth0.
    expect(t.captures).toHaveLength(1 + N + N * (2 + P) + N * P);
    expect(new Set(t.captures).size).toBe(t.captures.length);
    for (const n of t.namespaces.filter((x) => x.kind === 'node')) expect(namespaceRoutes(t, n)).toHaveLength(N);
    const macs = t.namespaces.flatMap((n) => [...n.bridges, ...n.interfaces].map((i) => i.mac));
    expect(new Set(macs).size).toBe(macs.length);
  });

  it('shares host-gw route objects between nodes and lists every other node in order', () => {
    const t = expand(text);
    const n1 = namespaceRoutes(t, nsOf(t, 'node-1'));
    const n3 = namespaceRoutes(t, nsOf(t, 'node-3'));
    // The spec holds the N host-gw routes once, each node all but its own.
    expect(t.routeGroups).toHaveLength(1);
    expect(t.routeGroups![0]).toHaveLength(100);
    expect(nsOf(t, 'node-3').routes).toHaveLength(1);
    expect(nsOf(t, 'node-3').routeGroup).toEqual({ group: 0, except: 2 });
    expect(n1[0]).toEqual({ dst: '0.0.0.0/0', via: '192.168.49.1', dev: 'eth0' });
    expect(n1[1]).toEqual({ dst: '10.244.2.0/24', via: '192.168.49.3', dev: 'eth0' });
    expect(n3.slice(1, 4).map((r) => r.dst)).toEqual(['10.244.1.0/24', '10.244.2.0/24', '10.244.4.0/24']);
    expect(n3[2]).toBe(n1[1]);
    expect(n3[0]).toBe(n1[0]);
    expect(Object.isFrozen(n1[1])).toBe(true);
  });

  it('fits wide ranges when asked (a benchmark-sized layout validates)', () => {
    const s = parseScenario(
      'name: wide\nclusterCIDR: 10.128.0.0/9\nunderlay: { cidr: 172.16.0.0/16 }\nscale: { nodes: 5000, podsPerNode: 30 }\n',
      'wide.yaml',
    );
    expect(s.nodes).toHaveLength(5000);
    expect(s.nodes[4999]).toMatchObject({ name: 'node-5000', address: '172.16.19.137', podCIDR: '10.147.136.0/24' });
  });
});

describe('pingAll / udpAll patterns', () => {
  const layout =
    'name: p\nnodes:\n  - { name: n1, pods: [{ name: a }, { name: b }] }\n  - { name: n2, pods: [{ name: c }] }\n' +
    '  - { name: n3, pods: [{ name: d }, { name: e }] }\n';
  const flows = (traffic: string) => expand(`${layout}traffic:\n${traffic}`).traffic;
  const pairs = (t: { from: { ns: string }; toNs?: string }[]) => t.map((f) => `${f.from.ns}>${f.toNs}`);

  it('ring: pod k -> pod k+1 across nodes, staggered over one interval', () => {
    const t = flows('  - pingAll: { pattern: ring, interval: 100ms, start: 10ms }\n') as PingSpec[];
    expect(pairs(t)).toEqual(['n1/a>n1/b', 'n1/b>n2/c', 'n2/c>n3/d', 'n3/d>n3/e', 'n3/e>n1/a']);
    expect(t.map((f) => f.startNs)).toEqual([10e6, 30e6, 50e6, 70e6, 90e6]);
    expect(t[1]).toMatchObject({ name: 'ping n1/b -> n2/c', to: '10.244.2.2', count: 3, intervalNs: 100e6, ident: 0x1234 });
  });

  it('same-node: within each node with at least two pods', () => {
    const t = flows('  - pingAll: { pattern: same-node, stagger: false, start: 1s }\n');
    expect(pairs(t)).toEqual(['n1/a>n1/b', 'n1/b>n1/a', 'n3/d>n3/e', 'n3/e>n3/d']);
    expect(t.map((f) => f.startNs)).toEqual([1e9, 1e9, 1e9, 1e9]);
  });

  it('cross-node: pod j of node i -> pod j of node i+1; udp stagger over 1/rate, rounded to ns', () => {
    const t = flows('  - udpAll: { pattern: cross-node, rate: 3, responseSize: 0 }\n') as UdpSpec[];
    expect(pairs(t)).toEqual(['n1/a>n2/c', 'n2/c>n3/d', 'n3/d>n1/a', 'n3/e>n1/b']);
    expect(t.map((f) => f.startNs)).toEqual([0, 83333333, 166666667, 250000000]);
    expect(t[0]).toMatchObject({ kind: 'udp', name: 'udp n1/a -> n2/c', port: 9000, rate: 3, responseSize: 0 });
  });

  it('generated names yield to explicit flows; unnamed duplicates get a suffix', () => {
    const t = flows(
      '  - pingAll: { pattern: same-node }\n  - ping: { from: n1/a, to: n1/b }\n  - ping: { from: n1/a, to: n1/b }\n',
    );
    expect(t.map((f) => f.name)).toEqual([
      'ping n1/a -> n1/b #3',
      'ping n1/b -> n1/a',
      'ping n3/d -> n3/e',
      'ping n3/e -> n3/d',
      'ping n1/a -> n1/b',
      'ping n1/a -> n1/b #2',
    ]);
    expect(t.map((f) => (f as PingSpec).ident)).toEqual([0x1234, 0x1234, 0x1234, 0x1234, 0x1235, 0x1236]);
  });
});

describe('defaults and resolution', () => {
  it('pod IPs skip explicit ones; veth names are cut to 15 characters and made unique', () => {
    const t = expand(
      'name: d\nnodes:\n  - name: n1\n    pods:\n      - { name: x }\n      - { name: y, ip: 10.244.1.2 }\n' +
        '      - { name: abcdefghijklmnop }\n      - { name: abcdefghijkxyz }\n      - { name: q, hostVeth: vethz }\n' +
        '      - { name: z }\n',
    );
    const n1 = nsOf(t, 'n1');
    expect(n1.interfaces.map((i) => i.name)).toEqual([
      'eth0',
      'vethx',
      'vethy',
      'vethabcdefghijk',
      'vethabcdefghij1',
      'vethz',
      'vethz1',
    ]);
    expect(t.namespaces.filter((n) => n.kind === 'pod').map((n) => n.interfaces[0]!.addresses[0])).toEqual([
      '10.244.1.3/24',
      '10.244.1.2/24',
      '10.244.1.4/24',
      '10.244.1.5/24',
      '10.244.1.6/24',
      '10.244.1.7/24',
    ]);
  });

  it('applies mtu, vethDelay, routing none, hairpin and the underlay link settings', () => {
    const t = expand(
      'name: d\nmtu: 9000\nvethDelay: 5us\nrouting: none\n' +
        'underlay: { bandwidth: 100Mbit, delay: 1ms, loss: 0.01, txqueuelen: 50 }\n' +
        'nodes:\n  - { name: n1, pods: [{ name: p, hairpin: true }] }\n  - { name: n2 }\n',
    );
    for (const n of t.namespaces) for (const i of [...n.bridges, ...n.interfaces]) expect(i.mtu).toBe(9000);
    expect(nsOf(t, 'n1').routes).toEqual([{ dst: '0.0.0.0/0', via: '192.168.49.1', dev: 'eth0' }]);
    expect(nsOf(t, 'n1').interfaces[1]).toMatchObject({ name: 'vethp', hairpin: true });
    expect(t.links).toEqual([
      { kind: 'wire', a: { ns: 'n1', ifname: 'eth0' }, b: { ns: 'underlay', ifname: 'n1' }, delayNs: 1e6, bandwidthBps: 100e6, loss: 0.01, txQueueLen: 50 },
      { kind: 'veth', a: { ns: 'n1', ifname: 'vethp' }, b: { ns: 'n1/p', ifname: 'eth0' }, delayNs: 5000, bandwidthBps: 0, loss: 0, txQueueLen: 1000 },
      { kind: 'wire', a: { ns: 'n2', ifname: 'eth0' }, b: { ns: 'underlay', ifname: 'n2' }, delayNs: 1e6, bandwidthBps: 100e6, loss: 0.01, txQueueLen: 50 },
    ]);
    expect(t.captures).toEqual(['underlay/br0', 'underlay/n1', 'underlay/n2', 'n1/cni0', 'n1/eth0', 'n1/vethp', 'n1/p/eth0', 'n2/cni0', 'n2/eth0']);
  });

  it('resolves destinations: nodes, pods, containers, gateways, literals', () => {
    const t = expand(
      'name: d\nnodes:\n  - { name: n1, pods: [{ name: a, containers: [web, db] }, { name: b }] }\n  - { name: n2 }\n' +
        'traffic:\n' +
        '  - ping: { from: n1/a/web, to: n1/a/db }\n' +
        '  - ping: { from: n1/b, to: n1/a/db }\n' +
        '  - ping: { from: n1/b, to: n2 }\n' +
        '  - ping: { from: n2, to: 10.244.1.1 }\n' +
        '  - ping: { from: n2, to: 192.168.49.1 }\n' +
        '  - ping: { from: n2, to: 8.8.8.8 }\n' +
        '  - ping: { from: n1, to: localhost }\n' +
        'capture: none\n',
    );
    expect(t.traffic.map((f) => [f.from, f.to, f.toNs])).toEqual([
      [{ ns: 'n1/a', container: 'web' }, '127.0.0.1', 'n1/a'],
      [{ ns: 'n1/b' }, '10.244.1.2', 'n1/a'],
      [{ ns: 'n1/b' }, '192.168.49.3', 'n2'],
      [{ ns: 'n2' }, '10.244.1.1', 'n1'],
      [{ ns: 'n2' }, '192.168.49.1', 'underlay'],
      [{ ns: 'n2' }, '8.8.8.8', undefined],
      [{ ns: 'n1' }, '127.0.0.1', 'n1'],
    ]);
    expect('toNs' in t.traffic[5]!).toBe(false);
    expect(t.captures).toEqual([]);
  });

  it('a scenario edited in code after loading is still checked where it matters', () => {
    const s = parseScenario('name: d\nnodes: [{ name: n1 }]\ntraffic:\n  - ping: { from: n1, to: n1 }\n', 'd.yaml');
    const broken = { ...s, traffic: [{ ...s.traffic[0]!, from: 'n9' }] };
    expect(() => expandScenario(broken)).toThrow(ScenarioError);
    expect(() => expandScenario(broken)).toThrow('traffic[0].ping.from: unknown endpoint "n9" (nodes are n1)');
  });
});
