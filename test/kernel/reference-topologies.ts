/**
 * The two topologies of shared/kernel-ref (same-node, cross-node),
 * written out by hand as TopologySpec objects with the names and MACs the
 * scenario expansion rules give them (/tmp/scenario-format.md): pod eth0
 * 0a:58:<ip>, node-side veth 0e:58:<ip>, cni0 0a:58:<gw>, node eth0 02:42:<ip>,
 * underlay port (named as the node) 0e:42:<node ip>, br0 02:42:<gateway>.
 * They are independent of scenarios/expand.ts on purpose: the harness test
 * must not depend on the code it will later be used to check.
 *
 * Traffic as in the reference runs: p1 pings the peer 3 times 200 ms apart
 * (ident 4660), then sends one 20-byte UDP datagram 5555 -> 9000 that is not
 * answered.
 */
import type { InterfaceSpec, LinkSpec, NamespaceSpec, TopologySpec, TrafficSpec } from '../../scenarios/topology.js';

const MS = 1_000_000;
const AGEING = 300_000 * MS;

function pod(node: string, name: string, mac: string, cidr: string, gw: string): NamespaceSpec {
  return {
    name: `${node}/${name}`,
    kind: 'pod',
    component: node,
    ipForward: false,
    containers: ['main'],
    bridges: [],
    interfaces: [{ name: 'eth0', mac, mtu: 1500, addresses: [cidr] }],
    routes: [{ dst: '0.0.0.0/0', via: gw, dev: 'eth0' }],
  };
}

function port(name: string, mac: string, master: string): InterfaceSpec {
  return { name, mac, mtu: 1500, addresses: [], master, hairpin: false };
}

function veth(node: string, hostVeth: string, pod: string): LinkSpec {
  return { kind: 'veth', a: { ns: node, ifname: hostVeth }, b: { ns: `${node}/${pod}`, ifname: 'eth0' }, delayNs: 0, bandwidthBps: 0, loss: 0, txQueueLen: 1000 };
}

function wire(node: string): LinkSpec {
  return { kind: 'wire', a: { ns: node, ifname: 'eth0' }, b: { ns: 'underlay', ifname: node }, delayNs: 20_000, bandwidthBps: 10e9, loss: 0, txQueueLen: 1000 };
}

function referenceTraffic(to: string, toNs: string): TrafficSpec[] {
  return [
    { kind: 'ping', name: `ping n1/p1 -> ${toNs}`, from: { ns: 'n1/p1' }, to, toNs, startNs: 0, count: 3, intervalNs: 200 * MS, size: 56, ident: 4660, timeoutNs: 1000 * MS, broadcast: false },
    { kind: 'udp', name: `udp n1/p1 -> ${toNs}`, from: { ns: 'n1/p1' }, to, toNs, startNs: 700 * MS, port: 9000, sourcePort: 5555, count: 1, rate: 1,
      arrivals: 'constant', requestSize: 20, responseSize: 0, timeoutNs: 200 * MS, broadcast: false },
  ];
}

/** shared/kernel-ref/same-node: two pods on one node's cni0, no underlay. */
export function sameNodeReference(): TopologySpec {
  return {
    name: 'same-node-reference',
    seed: 1,
    durationNs: 2000 * MS,
    namespaces: [
      {
        name: 'n1',
        kind: 'node',
        component: 'n1',
        ipForward: true,
        containers: [],
        bridges: [{ name: 'cni0', mac: '0a:58:0a:f4:01:01', mtu: 1500, addresses: ['10.244.1.1/24'], ageingNs: AGEING }],
        interfaces: [port('vethp1', '0e:58:0a:f4:01:02', 'cni0'), port('vethp2', '0e:58:0a:f4:01:03', 'cni0')],
        routes: [],
      },
      pod('n1', 'p1', '0a:58:0a:f4:01:02', '10.244.1.2/24', '10.244.1.1'),
      pod('n1', 'p2', '0a:58:0a:f4:01:03', '10.244.1.3/24', '10.244.1.1'),
    ],
    links: [veth('n1', 'vethp1', 'p1'), veth('n1', 'vethp2', 'p2')],
    captures: ['n1/cni0', 'n1/vethp1', 'n1/vethp2', 'n1/p1/eth0', 'n1/p2/eth0'],
    traffic: referenceTraffic('10.244.1.3', 'n1/p2'),
  };
}

function node(name: string, index: number): NamespaceSpec {
  const other = index === 1 ? 2 : 1;
  return {
    name,
    kind: 'node',
    component: name,
    ipForward: true,
    containers: [],
    bridges: [{ name: 'cni0', mac: `0a:58:0a:f4:0${index}:01`, mtu: 1500, addresses: [`10.244.${index}.1/24`], ageingNs: AGEING }],
    interfaces: [
      { name: 'eth0', mac: `02:42:c0:a8:31:0${index + 1}`, mtu: 1500, addresses: [`192.168.49.${index + 1}/24`] },
      port('vethp1', `0e:58:0a:f4:0${index}:02`, 'cni0'),
    ],
    routes: [
      { dst: '0.0.0.0/0', via: '192.168.49.1', dev: 'eth0' },
      { dst: `10.244.${other}.0/24`, via: `192.168.49.${other + 1}`, dev: 'eth0' },
    ],
  };
}

/** shared/kernel-ref/cross-node: one pod on each of two nodes, host-gw routes over an underlay bridge. */
export function crossNodeReference(): TopologySpec {
  return {
    name: 'cross-node-reference',
    seed: 1,
    durationNs: 2000 * MS,
    namespaces: [
      {
        name: 'underlay',
        kind: 'underlay',
        component: 'underlay',
        ipForward: false,
        containers: [],
        bridges: [{ name: 'br0', mac: '02:42:c0:a8:31:01', mtu: 1500, addresses: ['192.168.49.1/24'], ageingNs: AGEING }],
        interfaces: [
          { name: 'n1', mac: '0e:42:c0:a8:31:02', mtu: 1500, addresses: [], master: 'br0' },
          { name: 'n2', mac: '0e:42:c0:a8:31:03', mtu: 1500, addresses: [], master: 'br0' },
        ],
        routes: [],
      },
      node('n1', 1),
      pod('n1', 'p1', '0a:58:0a:f4:01:02', '10.244.1.2/24', '10.244.1.1'),
      node('n2', 2),
      pod('n2', 'p1', '0a:58:0a:f4:02:02', '10.244.2.2/24', '10.244.2.1'),
    ],
    links: [wire('n1'), veth('n1', 'vethp1', 'p1'), wire('n2'), veth('n2', 'vethp1', 'p1')],
    captures: [
      'underlay/br0', 'underlay/n1', 'underlay/n2',
      'n1/cni0', 'n1/eth0', 'n1/vethp1', 'n1/p1/eth0',
      'n2/cni0', 'n2/eth0', 'n2/vethp1', 'n2/p1/eth0',
    ],
    traffic: referenceTraffic('10.244.2.2', 'n2/p1'),
  };
}
