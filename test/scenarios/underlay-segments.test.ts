/**
 * `underlay.segments`: several L2 segments behind a router. Default
 * addresses, the switches and the router as namespaces, host-gw routes split
 * between nodes and router, capture points, and the messages of bad input.
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { planPartitions } from '../../scenarios/partition-plan.js';
import { parseErrors } from '../helpers/scenario-errors.js';

const SEGMENTS =
  'underlay:\n  segments:\n' +
  '    - { name: rack1, cidr: 192.168.10.0/24, nodes: [n1, n2] }\n' +
  '    - { name: rack2, cidr: 192.168.20.0/24, nodes: [n3] }\n';
const NODES = 'nodes:\n  - { name: n1, pods: [{ name: p1 }] }\n  - { name: n2, pods: [{ name: p1 }] }\n  - { name: n3, pods: [{ name: p1 }] }\n';

describe('underlay.segments', () => {
  it('gives each segment its gateway (first host) and nodes the next free addresses, skipping explicit ones', () => {
    const s = parseScenario(
      'name: x\nunderlay:\n  segments:\n' +
        '    - { name: a, cidr: 10.1.0.0/24, nodes: [n1, n2, n3] }\n' +
        '    - { name: b, cidr: 10.2.0.0/24, gateway: 10.2.0.254, nodes: [n4] }\n' +
        'nodes:\n  - { name: n1 }\n  - { name: n2, address: 10.1.0.2 }\n  - { name: n3 }\n  - { name: n4 }\n',
      'x.yaml',
    );
    expect(s.nodes.map((n) => n.address)).toEqual(['10.1.0.3', '10.1.0.2', '10.1.0.4', '10.2.0.1']);
    expect(s.underlay.segments).toEqual([
      { name: 'a', cidr: '10.1.0.0/24', gateway: '10.1.0.1', nodes: ['n1', 'n2', 'n3'] },
      { name: 'b', cidr: '10.2.0.0/24', gateway: '10.2.0.254', nodes: ['n4'] },
    ]);
    expect(s.underlay.cidr).toBe('');
  });

  it('expands to a switch per segment and a router; host-gw routes stay within a segment, the router routes every podCIDR', () => {
    const t = expandScenario(parseScenario(`name: x\n${SEGMENTS}${NODES}`, 'x.yaml'));
    expect(t.namespaces.filter((n) => n.kind !== 'pod').map((n) => `${n.name}:${n.kind}:${n.component}:${n.ipForward}`)).toEqual([
      'underlay-rack1:underlay:underlay-rack1:false',
      'underlay-rack2:underlay:underlay-rack2:false',
      'router:underlay:router:true',
      'n1:node:n1:true',
      'n2:node:n2:true',
      'n3:node:n3:true',
    ]);
    const ns = (name: string) => t.namespaces.find((n) => n.name === name)!;
    expect(ns('underlay-rack1').interfaces.map((i) => `${i.name} ${i.mac} ${i.master}`)).toEqual([
      'n1 0e:42:c0:a8:0a:02 br0',
      'n2 0e:42:c0:a8:0a:03 br0',
      'router 0e:42:c0:a8:0a:01 br0',
    ]);
    expect(ns('underlay-rack1').bridges[0]!.addresses).toEqual([]);
    expect(ns('router').interfaces.map((i) => `${i.name} ${i.mac} ${i.addresses.join()}`)).toEqual([
      'rack1 02:42:c0:a8:0a:01 192.168.10.1/24',
      'rack2 02:42:c0:a8:14:01 192.168.20.1/24',
    ]);
    expect(ns('router').routes).toEqual([
      { dst: '10.244.1.0/24', via: '192.168.10.2', dev: 'rack1' },
      { dst: '10.244.2.0/24', via: '192.168.10.3', dev: 'rack1' },
      { dst: '10.244.3.0/24', via: '192.168.20.2', dev: 'rack2' },
    ]);
    expect(ns('n1').interfaces[0]!.addresses).toEqual(['192.168.10.2/24']);
    expect(ns('n1').routes).toEqual([
      { dst: '0.0.0.0/0', via: '192.168.10.1', dev: 'eth0' },
      { dst: '10.244.2.0/24', via: '192.168.10.3', dev: 'eth0' },
    ]);
    expect(ns('n3').routes).toEqual([{ dst: '0.0.0.0/0', via: '192.168.20.1', dev: 'eth0' }]);
    const wires = t.links.filter((l) => l.kind === 'wire').map((l) => `${l.a.ns}/${l.a.ifname}-${l.b.ns}/${l.b.ifname}`);
    expect(wires).toEqual([
      'router/rack1-underlay-rack1/router',
      'router/rack2-underlay-rack2/router',
      'n1/eth0-underlay-rack1/n1',
      'n2/eth0-underlay-rack1/n2',
      'n3/eth0-underlay-rack2/n3',
    ]);
    expect(t.links.filter((l) => l.kind === 'wire').every((l) => l.delayNs === 20_000)).toBe(true);
    expect(t.captures).toContain('underlay-rack2/router');
    expect(t.captures).toContain('router/rack1');
  });

  it('with vxlan the router has no pod routes and nodes reach other racks through their default route', () => {
    const t = expandScenario(parseScenario(`name: x\nrouting: vxlan\n${SEGMENTS}${NODES}`, 'x.yaml'));
    const ns = (name: string) => t.namespaces.find((n) => n.name === name)!;
    expect(ns('router').routes).toEqual([]);
    expect(ns('n3').routes[0]).toEqual({ dst: '0.0.0.0/0', via: '192.168.20.1', dev: 'eth0' });
    expect(ns('n3').routes.slice(1).map((r) => r.dev)).toEqual(['flannel.1', 'flannel.1']);
    const vtep = ns('n3').tunnels![0]!;
    expect(vtep.kind === 'vxlan' ? vtep.fdb.map((f) => f.dst) : []).toEqual(['192.168.10.2', '192.168.10.3']);
  });

  it('puts each switch and the router in a component of its own, cut only at positive-delay wires', () => {
    const t = expandScenario(parseScenario(`name: x\n${SEGMENTS}${NODES}traffic:\n  - ping: { from: n1/p1, to: n3/p1 }\n`, 'x.yaml'));
    const plan = planPartitions(t, 3);
    expect(plan.parts).toBe(3);
    expect(plan.lookaheadNs).toBe(20_000);
    for (const c of ['underlay-rack1', 'underlay-rack2', 'router', 'n1', 'n2', 'n3']) expect(plan.partOf.has(c), c).toBe(true);
  });

  it('accepts capture points on switches and the router, and lists them for an unknown one', () => {
    const s = parseScenario(`name: x\n${SEGMENTS}${NODES}capture: [underlay-rack1/router, router/rack2, underlay-rack2/br0]\n`, 'x.yaml');
    expect(s.capture).toEqual(['underlay-rack1/router', 'router/rack2', 'underlay-rack2/br0']);
    expect(parseErrors(`name: x\n${SEGMENTS}${NODES}capture: [underlay/br0, router/rack3, underlay-rack2/n1]\n`)).toEqual([
      'x.yaml:10:11: capture[0]: unknown capture point "underlay/br0" (no namespace "underlay"; namespaces are underlay-rack1, underlay-rack2, router, n1, n1/p1, n2, n2/p1, n3, n3/p1)',
      'x.yaml:10:25: capture[1]: unknown capture point "router/rack3" (interfaces of router are rack1, rack2, lo)',
      'x.yaml:10:39: capture[2]: unknown capture point "underlay-rack2/n1" (interfaces of underlay-rack2 are br0, n3, router, lo)',
    ]);
  });

  it('reports a node in no segment or two, unknown nodes, overlapping prefixes and addresses off the segment, with field paths', () => {
    expect(
      parseErrors(
        'name: x\nunderlay:\n  segments:\n' +
          '    - { name: rack1, cidr: 192.168.10.0/24, nodes: [n1, n9] }\n' +
          '    - { name: rack2, cidr: 192.168.10.128/25, nodes: [] }\n' +
          '    - { name: rack3, cidr: 192.168.30.0/24, nodes: [n2, n1] }\n' +
          '    - { name: rack4, cidr: 10.244.0.0/24, nodes: [] }\n' +
          'nodes:\n  - { name: n1 }\n  - { name: n2, address: 192.168.40.2 }\n  - { name: n3 }\n',
      ),
    ).toEqual([
      'x.yaml:4:57: underlay.segments[0].nodes[1]: unknown node "n9" (nodes are n1, n2, n3)',
      'x.yaml:5:28: underlay.segments[1].cidr: 192.168.10.128/25 overlaps underlay.segments[0] (rack1, 192.168.10.0/24)',
      'x.yaml:6:57: underlay.segments[2].nodes[1]: node "n1" is already in underlay.segments[0] (rack1); a node has one NIC on the underlay',
      'x.yaml:7:28: underlay.segments[3].cidr: 10.244.0.0/24 overlaps clusterCIDR (10.244.0.0/16)',
      'x.yaml:10:26: nodes[1].address: 192.168.40.2 is outside its segment rack3 (192.168.30.0/24)',
      'x.yaml:11:5: nodes[2]: node "n3" is in no underlay segment (list it in one of underlay.segments[].nodes)',
    ]);
  });

  it('refuses cidr, externalHosts or scale beside segments, a segment gateway off its cidr and a node named router', () => {
    expect(
      parseErrors(
        'name: x\nunderlay:\n  cidr: 192.168.49.0/24\n  segments:\n' +
          '    - { name: r1, cidr: 192.168.10.0/24, gateway: 192.168.11.1, nodes: [router] }\n' +
          'nodes:\n  - { name: router }\nexternalHosts: [{ name: e1 }]\n',
      ),
    ).toEqual([
      'x.yaml:3:9: underlay.cidr: give either underlay.cidr (one segment) or underlay.segments, not both (each segment has its own cidr and gateway)',
      'x.yaml:5:51: underlay.segments[0].gateway: 192.168.11.1 is outside segment r1 (192.168.10.0/24)',
      'x.yaml:7:13: nodes[0].name: "router" is reserved with underlay.segments (the router, and its port on every segment\'s switch)',
      'x.yaml:8:16: externalHosts: are not supported with underlay.segments (which segment would they join?); use one underlay cidr',
    ]);
  });

  it('checks serviceCIDR against the segments', () => {
    expect(parseErrors(`name: x\nserviceCIDR: 192.168.0.0/16\n${SEGMENTS}${NODES}`)).toEqual([
      'x.yaml:2:14: serviceCIDR: 192.168.0.0/16 overlaps underlay.segments[0] (rack1, 192.168.10.0/24)',
      'x.yaml:2:14: serviceCIDR: 192.168.0.0/16 overlaps underlay.segments[1] (rack2, 192.168.20.0/24)',
    ]);
  });
});
