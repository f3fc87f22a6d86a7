/**
 * `scale.nodesPerRack`: a generated cluster cut into racks. Consecutive nodes
 * share a rack; each rack is an underlay segment carved from underlay.cidr
 * (the smallest prefix that holds its gateway and nodes), with the router and
 * host-gw split as for explicit `underlay.segments`. Bad combinations are
 * refused with the field that is wrong.
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { parseErrors } from '../helpers/scenario-errors.js';

const RACKED = 'name: x\nunderlay: { cidr: 192.168.10.0/24 }\nscale: { nodes: 5, podsPerNode: 1, nodesPerRack: 2 }\n';

describe('scale.nodesPerRack', () => {
  it('puts consecutive nodes in racks of that many, each a segment of the smallest prefix holding its gateway and nodes', () => {
    const s = parseScenario(RACKED, 'x.yaml');
    // 2 nodes + gateway + network + broadcast = 5 addresses: a /29 per rack.
    expect(s.underlay.segments).toEqual([
      { name: 'rack-1', cidr: '192.168.10.0/29', gateway: '192.168.10.1', nodes: ['node-1', 'node-2'] },
      { name: 'rack-2', cidr: '192.168.10.8/29', gateway: '192.168.10.9', nodes: ['node-3', 'node-4'] },
      { name: 'rack-3', cidr: '192.168.10.16/29', gateway: '192.168.10.17', nodes: ['node-5'] },
    ]);
    expect(s.nodes.map((n) => n.address)).toEqual(['192.168.10.2', '192.168.10.3', '192.168.10.10', '192.168.10.11', '192.168.10.18']);
    // As with explicit segments, there is no one underlay prefix or gateway.
    expect(s.underlay.cidr).toBe('');
    expect(s.underlay.gateway).toBe('');
    expect(s.scale).toEqual({ nodes: 5, podsPerNode: 1, nodesPerRack: 2 });
    // Pods are addressed as without racks.
    expect(s.nodes.map((n) => n.podCIDR)).toEqual(['10.244.1.0/24', '10.244.2.0/24', '10.244.3.0/24', '10.244.4.0/24', '10.244.5.0/24']);
  });

  it('sizes racks by nodesPerRack, not by the nodes left for the last one', () => {
    const s = parseScenario('name: x\nunderlay: { cidr: 172.16.0.0/16 }\nscale: { nodes: 100, podsPerNode: 0, nodesPerRack: 40 }\n', 'x.yaml');
    expect(s.underlay.segments!.map((g) => `${g.name} ${g.cidr} ${g.nodes.length}`)).toEqual([
      'rack-1 172.16.0.0/26 40',
      'rack-2 172.16.0.64/26 40',
      'rack-3 172.16.0.128/26 20',
    ]);
    // 61 = 64 - network - gateway - broadcast: exactly full with 61 nodes a rack.
    const full = parseScenario('name: x\nunderlay: { cidr: 172.16.0.0/16 }\nscale: { nodes: 61, podsPerNode: 0, nodesPerRack: 61 }\n', 'x.yaml');
    expect(full.underlay.segments!.map((g) => g.cidr)).toEqual(['172.16.0.0/26']);
    expect(full.nodes.at(-1)!.address).toBe('172.16.0.62');
  });

  it('expands to a switch per rack and a router: host-gw within a rack, the router routes every podCIDR', () => {
    const t = expandScenario(parseScenario(`${RACKED}traffic:\n  - pingAll: { pattern: cross-node, count: 1 }\n`, 'x.yaml'));
    const ns = (name: string) => t.namespaces.find((n) => n.name === name)!;
    expect(t.namespaces.filter((n) => n.kind === 'underlay').map((n) => n.name)).toEqual(['underlay-rack-1', 'underlay-rack-2', 'underlay-rack-3', 'router']);
    expect(ns('underlay-rack-2').interfaces.map((i) => i.name)).toEqual(['node-3', 'node-4', 'router']);
    expect(ns('router').routes).toHaveLength(5);
    expect(ns('node-3').interfaces[0]!.addresses).toEqual(['192.168.10.10/29']);
    expect(ns('node-3').routes).toEqual([
      { dst: '0.0.0.0/0', via: '192.168.10.9', dev: 'eth0' },
      { dst: '10.244.4.0/24', via: '192.168.10.11', dev: 'eth0' },
    ]);
    expect(t.routeGroups).toBeUndefined();
  });

  it('refuses racks that do not fit underlay.cidr, an underlay gateway, externalHosts and explicit segments', () => {
    expect(parseErrors('name: x\nunderlay: { cidr: 192.168.10.0/24 }\nscale: { nodes: 200, nodesPerRack: 40 }\n')).toEqual([
      'x.yaml:3:17: scale.nodes: 200 nodes in racks of 40 need 5 segments of /26 (320 addresses); underlay cidr 192.168.10.0/24 holds 4 racks of 40 nodes, 160 nodes',
    ]);
    expect(parseErrors('name: x\nunderlay: { cidr: 192.168.10.0/28 }\nscale: { nodes: 20, nodesPerRack: 20 }\n')).toEqual([
      "x.yaml:3:17: scale.nodes: 20 nodes in racks of 20 need 1 segment of /27 (32 addresses); underlay cidr 192.168.10.0/28 is smaller than one rack's /27",
    ]);
    expect(parseErrors('name: x\nunderlay: { cidr: 192.168.10.0/24, gateway: 192.168.10.254 }\nscale: { nodes: 4, nodesPerRack: 2 }\nexternalHosts: [{ name: e1 }]\n')).toEqual([
      'x.yaml:2:45: underlay.gateway: has no use with scale.nodesPerRack (each rack has its own gateway, the first host of its segment)',
      'x.yaml:4:16: externalHosts: are not supported with scale.nodesPerRack (which rack would they join?); leave out nodesPerRack',
    ]);
    expect(
      parseErrors('name: x\nunderlay:\n  segments: [{ name: a, cidr: 192.168.10.0/24, nodes: [] }]\nscale: { nodes: 1, nodesPerRack: 1 }\n'),
    ).toEqual(['x.yaml:4:8: scale: underlay.segments needs explicit nodes (each listed in one segment); scale.nodesPerRack makes the segments of a generated cluster']);
    expect(parseErrors('name: x\nscale: { nodes: 4, nodesPerRack: 0 }\n')[0]).toMatch(/^x\.yaml:2:34: scale\.nodesPerRack: .*>= 1/);
  });

  it('nodeStride picks the peer nodeStride nodes on: with the rack size, every flow crosses a rack', () => {
    const t = expandScenario(parseScenario(`${RACKED}traffic:\n  - pingAll: { pattern: cross-node, nodeStride: 2, count: 1 }\n`, 'x.yaml'));
    expect(t.traffic.map((f) => f.name)).toEqual([
      'ping node-1/pod-1 -> node-3/pod-1',
      'ping node-2/pod-1 -> node-4/pod-1',
      'ping node-3/pod-1 -> node-5/pod-1',
      'ping node-4/pod-1 -> node-1/pod-1',
      'ping node-5/pod-1 -> node-2/pod-1',
    ]);
  });

  it('refuses a nodeStride off cross-node or a multiple of the node count', () => {
    expect(parseErrors(`${RACKED}traffic:\n  - pingAll: { pattern: ring, nodeStride: 2 }\n  - udpAll: { pattern: cross-node, nodeStride: 10, rate: 10 }\n`)).toEqual([
      'x.yaml:5:43: traffic[0].pingAll.nodeStride: applies to pattern cross-node only (this is ring)',
      'x.yaml:6:48: traffic[1].udpAll.nodeStride: 10 is a multiple of the 5 nodes: every pod would be its own peer',
    ]);
  });
});
