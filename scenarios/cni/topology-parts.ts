/**
 * How a node's CNI execution (scenarios/cni/node-network.ts) replaces the
 * built-in wiring in the TopologySpec: the plugins' bridges instead of the
 * node bridge, their host veths, the nat rules they wrote (restored after the
 * node's other rules, with --noflush), their host routes; in each pod the
 * interface, addresses and routes of the result.
 */
import { BRIDGE_AGEING_NS } from '../expand.js';
import type { Scenario } from '../scenario.js';
import type { InterfaceSpec, NamespaceSpec, TopologySpec } from '../topology.js';
import type { ShapingParams } from './plugin.js';
import type { CniNodeNetwork } from './node-network.js';
import { formatResult } from './result.js';

export function applyCniNode(ns: NamespaceSpec, net: CniNodeNetwork): void {
  ns.bridges = net.bridges.map((b) => ({ name: b.name, mac: b.mac, mtu: b.mtu, addresses: [...b.addresses], ageingNs: BRIDGE_AGEING_NS }));
  const eth0 = ns.interfaces.filter((i) => i.name === 'eth0');
  ns.interfaces = [
    ...eth0,
    ...[...net.pods.values()].map((p) => ({
      name: p.hostVeth.name,
      mac: p.hostVeth.mac,
      mtu: p.hostVeth.mtu,
      addresses: [...p.hostVeth.addresses],
      ...(p.hostVeth.master !== undefined ? { master: p.hostVeth.master, hairpin: p.hostVeth.hairpin } : {}),
      ...(p.shaping !== undefined ? { shaping: shapingSpec(p.shaping) } : {}),
    })),
  ];
  if (net.iptables !== '') ns.iptables = [...(ns.iptables ?? []), { text: net.iptables, file: `${net.file} (CNI nat rules)`, lineOffset: 0 }];
  if (net.hostRoutes.length > 0) ns.routes = [...ns.routes, ...net.hostRoutes];
}

/** The bandwidth plugin's parameters as the host veth's shaping (scenarios/build.ts builds the tbfs). */
function shapingSpec(s: ShapingParams): NonNullable<InterfaceSpec['shaping']> {
  return {
    ...(s.ingress !== undefined ? { ingress: { ...s.ingress } } : {}),
    ...(s.egress !== undefined ? { egress: { ...s.egress } } : {}),
  };
}

export function applyCniPod(ns: NamespaceSpec, net: CniNodeNetwork, pod: string): void {
  const p = net.pods.get(pod)!;
  ns.interfaces = [{ name: p.podIf.name, mac: p.podIf.mac, mtu: p.podIf.mtu, addresses: [...p.podIf.addresses] }];
  ns.routes = p.podRoutes.map((r) => ({ ...r }));
}

/** An additional network on the node: its bridges, host veths, rules and routes join the primary's. */
export function applyExtraNetworkNode(ns: NamespaceSpec, net: CniNodeNetwork): void {
  for (const b of net.bridges) {
    if (ns.bridges.some((x) => x.name === b.name)) throw new Error(`${net.file}: bridge ${b.name} on ${ns.name} is already the primary network's; give the additional network its own (\"bridge\": \"...\")`);
    ns.bridges.push({ name: b.name, mac: b.mac, mtu: b.mtu, addresses: [...b.addresses], ageingNs: BRIDGE_AGEING_NS });
  }
  for (const p of net.pods.values()) {
    ns.interfaces.push({
      name: p.hostVeth.name,
      mac: p.hostVeth.mac,
      mtu: p.hostVeth.mtu,
      addresses: [...p.hostVeth.addresses],
      ...(p.hostVeth.master !== undefined ? { master: p.hostVeth.master, hairpin: p.hostVeth.hairpin } : {}),
    });
  }
  if (net.iptables !== '') ns.iptables = [...(ns.iptables ?? []), { text: net.iptables, file: `${net.file} (CNI nat rules)`, lineOffset: 0 }];
  if (net.hostRoutes.length > 0) ns.routes = [...ns.routes, ...net.hostRoutes];
}

/** The pod's interface on an additional network (net1...) and its routes, after the primary's. */
export function applyExtraNetworkPod(ns: NamespaceSpec, net: CniNodeNetwork, pod: string): { hostVeth: string; podIf: string } | undefined {
  const p = net.pods.get(pod);
  if (p === undefined) return undefined;
  ns.interfaces.push({ name: p.podIf.name, mac: p.podIf.mac, mtu: p.podIf.mtu, addresses: [...p.podIf.addresses] });
  for (const r of p.podRoutes) {
    if (ns.routes.some((x) => x.dst === r.dst)) throw new Error(`${net.file}: pod ${ns.name} would get a second route to ${r.dst} (an additional network's bridge needs isDefaultGateway false)`);
    ns.routes.push({ ...r });
  }
  return { hostVeth: p.hostVeth.name, podIf: p.podIf.name };
}

export function cniResults(s: Scenario): Pick<TopologySpec, 'cniResults'> {
  const out: NonNullable<TopologySpec['cniResults']> = [];
  for (const node of s.nodes) {
    if (node.cniNetwork === undefined) continue;
    for (const [pod, p] of node.cniNetwork.pods) out.push({ node: node.name, pod, result: formatResult(p.result) });
  }
  for (const node of s.nodes) {
    for (const extra of node.extraNetworks ?? []) {
      for (const [pod, p] of extra.net.pods) out.push({ node: node.name, pod: `${pod}.${extra.name}`, result: formatResult(p.result) });
    }
  }
  return out.length > 0 ? { cniResults: out } : {};
}
