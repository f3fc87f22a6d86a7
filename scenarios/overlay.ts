/**
 * The per-node state flannel's vxlan and ipip backends write, as topology
 * data (scenarios/expand.ts places it in each node namespace):
 *
 *   vxlan: device flannel.1 (VNI, port, local = node address, MTU = mtu - 50)
 *     holding <podCIDR network>/32, and for every other node a route
 *     `<its podCIDR> via <its network address> dev flannel.1 onlink`, a
 *     permanent neighbour <its network address> -> <its VTEP MAC> and an FDB
 *     entry <its VTEP MAC> -> <its node address>.
 *   ipip: device flannel.ipip (local = node address, MTU = mtu - 20) holding
 *     <podCIDR network>/32, and for every other node a route
 *     `<its podCIDR> via <its node address> dev flannel.ipip onlink`.
 *
 * VTEP MACs are 0e:f1 followed by the node address (flannel lets the kernel
 * pick a random one; a fixed rule keeps runs reproducible).
 *
 * The route, neighbour and FDB objects of a node are built once and shared
 * (frozen) by every other node's lists, as host-gw routes are.
 */
import { cidrNetwork, formatIpv4, hexIp, parseCidr, parseIpv4 } from './ipv4.js';
import type { NodeConfig, Scenario } from './scenario.js';
import type { NeighbourSpec, RouteSpec, TunnelSpec } from './topology.js';
import { VXLAN_OVERHEAD } from '../models/devices/vxlan.js';
import { IPIP_OVERHEAD } from '../models/devices/ipip.js';

export const VXLAN_DEVICE = 'flannel.1';
export const IPIP_DEVICE = 'flannel.ipip';

/** What one node contributes to every other node's tables. */
interface Peer {
  route: RouteSpec;
  neighbour?: NeighbourSpec;
  fdb?: { mac: string; dst: string };
}

export interface NodeOverlay {
  tunnels: TunnelSpec[];
  neighbours: NeighbourSpec[];
  /** Routes to the other nodes' pod CIDRs, in node order. */
  routes: RouteSpec[];
}

/** The tunnel device name of a routing mode, or undefined without an overlay. */
export function overlayDevice(routing: Scenario['routing']): string | undefined {
  return routing === 'vxlan' ? VXLAN_DEVICE : routing === 'ipip' ? IPIP_DEVICE : undefined;
}

function vtepMac(node: NodeConfig): string {
  return `0e:f1:${hexIp(parseIpv4(node.address)!)}`;
}

function networkAddress(node: NodeConfig): string {
  return formatIpv4(cidrNetwork(parseCidr(node.podCIDR)!));
}

/** Per node (by index), its overlay devices, neighbours and routes; null without an overlay. */
export function overlayPlan(s: Scenario): ((i: number) => NodeOverlay) | null {
  const routing = s.routing;
  if (routing !== 'vxlan' && routing !== 'ipip') return null;
  const peers: Peer[] = s.nodes.map((n) => {
    const net = networkAddress(n);
    if (routing === 'ipip') return { route: Object.freeze({ dst: n.podCIDR, via: n.address, dev: IPIP_DEVICE, onlink: true }) };
    const mac = vtepMac(n);
    return {
      route: Object.freeze({ dst: n.podCIDR, via: net, dev: VXLAN_DEVICE, onlink: true }),
      neighbour: Object.freeze({ ip: net, mac, dev: VXLAN_DEVICE }),
      fdb: Object.freeze({ mac, dst: n.address }),
    };
  });
  return (i) => {
    const node = s.nodes[i]!;
    const others = peers.filter((_, j) => j !== i);
    const common = { mtu: s.mtu - (routing === 'vxlan' ? VXLAN_OVERHEAD : IPIP_OVERHEAD), addresses: [`${networkAddress(node)}/32`], local: node.address };
    const tunnel: TunnelSpec =
      routing === 'vxlan'
        ? {
            kind: 'vxlan',
            name: VXLAN_DEVICE,
            mac: vtepMac(node),
            ...common,
            vni: s.vxlan!.vni,
            port: s.vxlan!.port,
            udpCsum: s.vxlan!.udpChecksum,
            fdb: others.map((p) => p.fdb!),
          }
        : { kind: 'ipip', name: IPIP_DEVICE, ...common };
    return {
      tunnels: [tunnel],
      neighbours: routing === 'vxlan' ? others.map((p) => p.neighbour!) : [],
      routes: others.map((p) => p.route),
    };
  };
}
