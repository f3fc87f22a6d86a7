/**
 * The class of a flow, for statistics by the kind of path it takes rather than
 * by flow: "tcp: pod → ClusterIP", "udp: pod → pod, other node",
 * "tcp: node → NodePort, other node". A study of thousands of flows reads its
 * answer per class (results.json `classes`, one merged row each).
 *
 * What decides the class is known before the run: the source namespace's
 * kind, and what the destination address is — a Service's ClusterIP or
 * load-balancer address, a NodePort on a node, or a pod or node address
 * (then whether it is on the source's own node). Where a Service's backend
 * lands is chosen per connection, so Service classes do not say "same node".
 */
import type { Scenario } from './scenario.js';
import type { NamespaceSpec, TrafficSpec } from './topology.js';
import { directedBroadcast, formatIpv4, parseCidr } from '../models/wire/addr.js';

export interface FlowClassContext {
  /** Namespace name -> its kind and component. */
  namespaces: Map<string, { kind: NamespaceSpec['kind']; component: string }>;
  /** Address -> namespace owning it (interface and bridge addresses; first owner wins). */
  owners: Map<string, string>;
  /** 255.255.255.255 and the directed broadcast of every prefix configured on an interface or bridge. */
  broadcasts: Set<string>;
  /** Address -> "ClusterIP" | "LoadBalancer". */
  serviceAddresses: Map<string, string>;
  /** Node namespace -> "port/proto" NodePorts (every node opens every NodePort). */
  nodePorts: Set<string>;
  /** "clusterIP:port/proto" and "nodePort/proto" -> the sizes the Service's backends answer with. */
  servicePortSizes: Map<string, { requestSize: number; responseSize: number; service: string }>;
}

export function flowClassContext(s: Scenario, namespaces: readonly NamespaceSpec[]): FlowClassContext {
  const ctx: FlowClassContext = { namespaces: new Map(), owners: new Map(), broadcasts: new Set(['255.255.255.255']), serviceAddresses: new Map(), nodePorts: new Set(), servicePortSizes: new Map() };
  for (const ns of namespaces) {
    ctx.namespaces.set(ns.name, { kind: ns.kind, component: ns.component });
    for (const dev of [...ns.bridges, ...ns.interfaces]) {
      for (const a of dev.addresses) {
        const ip = a.slice(0, a.indexOf('/'));
        if (!ctx.owners.has(ip)) ctx.owners.set(ip, ns.name);
        const { addr, prefixLen } = parseCidr(a);
        if (prefixLen < 31) ctx.broadcasts.add(formatIpv4(directedBroadcast(addr, prefixLen)));
      }
    }
  }
  for (const svc of s.services) {
    ctx.serviceAddresses.set(svc.clusterIP, 'ClusterIP');
    for (const ip of svc.loadBalancerIPs) ctx.serviceAddresses.set(ip, 'LoadBalancer');
    for (const p of svc.ports) {
      const proto = p.protocol.toLowerCase();
      if (p.nodePort !== undefined) ctx.nodePorts.add(`${p.nodePort}/${proto}`);
      // Without endpoints nothing answers, whatever the sizes (kube-proxy rejects).
      if (svc.endpoints.length === 0) continue;
      const sizes = { requestSize: p.requestSize, responseSize: p.responseSize, service: svc.name };
      for (const ip of [svc.clusterIP, ...svc.loadBalancerIPs]) ctx.servicePortSizes.set(`${ip}:${p.port}/${proto}`, sizes);
      if (p.nodePort !== undefined) ctx.servicePortSizes.set(`${p.nodePort}/${proto}`, sizes);
    }
  }
  return ctx;
}

const KIND_NAMES: Record<NamespaceSpec['kind'], string> = { pod: 'pod', node: 'node', host: 'host', underlay: 'external', external: 'external' };

/**
 * A flow to a node on a port of the NodePort range that no Service has: the
 * port was most likely mistyped (the flow would reach a server made for it on
 * the node, not a Service). Returns the problem, or null.
 */
export function strayNodePort(t: TrafficSpec, ctx: FlowClassContext): string | null {
  if (t.kind === 'ping' || ctx.serviceAddresses.size === 0) return null;
  const toNs = t.toNs ?? ctx.owners.get(t.to);
  const dest = toNs === undefined ? undefined : ctx.namespaces.get(toNs);
  if (dest === undefined || dest.kind !== 'node' || t.port < 30000 || t.port > 32767) return null;
  if (ctx.nodePorts.has(`${t.port}/${t.kind}`)) return null;
  const have = [...ctx.nodePorts].sort().join(', ');
  return `${t.kind} port ${t.port} on node ${toNs} is in the NodePort range but no Service has it (NodePorts: ${have === '' ? 'none' : have})`;
}

/**
 * A request/response flow to a Service whose backends answer other sizes: the
 * backends answer every `requestSize` bytes (TCP) or datagram (UDP) with
 * `responseSize` bytes, so mismatched flows would wait for answers that never
 * come. Returns the problem, or null.
 */
export function serviceSizeMismatch(t: TrafficSpec, ctx: FlowClassContext): string | null {
  if (t.kind === 'ping') return null;
  const toNs = t.toNs ?? ctx.owners.get(t.to);
  const dest = toNs === undefined ? undefined : ctx.namespaces.get(toNs);
  const key = ctx.serviceAddresses.has(t.to) ? `${t.to}:${t.port}/${t.kind}` : dest?.kind === 'node' ? `${t.port}/${t.kind}` : null;
  const sizes = key === null ? undefined : ctx.servicePortSizes.get(key);
  if (sizes === undefined) return null;
  if (t.kind === 'udp') {
    if (t.responseSize === 0 || t.responseSize === sizes.responseSize) return null;
    return `Service ${sizes.service}'s backends answer with ${sizes.responseSize} bytes, not ${t.responseSize}; give responseSize: ${sizes.responseSize} (or change the Service port's)`;
  }
  if (t.mode === 'bulk' || (t.requestSize === sizes.requestSize && t.responseSize === sizes.responseSize)) return null;
  return `Service ${sizes.service}'s backends answer ${sizes.requestSize}-byte requests with ${sizes.responseSize} bytes; give requestSize: ${sizes.requestSize} and responseSize: ${sizes.responseSize} (or change the Service port's)`;
}

export function flowClass(t: TrafficSpec, ctx: FlowClassContext): string {
  const from = ctx.namespaces.get(t.from.ns);
  const fromName = from === undefined ? 'external' : KIND_NAMES[from.kind];
  const service = ctx.serviceAddresses.get(t.to);
  let to: string;
  if (service !== undefined) {
    to = service;
  } else {
    const toNs = t.toNs ?? ctx.owners.get(t.to);
    const dest = toNs === undefined ? undefined : ctx.namespaces.get(toNs);
    if (toNs === undefined || dest === undefined) {
      to = ctx.broadcasts.has(t.to) ? 'broadcast' : 'outside address';
    } else {
      const nodePort = dest.kind === 'node' && t.kind !== 'ping' && ctx.nodePorts.has(`${t.port}/${t.kind}`);
      const what = nodePort ? 'NodePort' : KIND_NAMES[dest.kind];
      const where = toNs === t.from.ns ? 'itself' : from !== undefined && dest.component === from.component ? 'same node' : 'other node';
      to = `${what}, ${where}`;
    }
  }
  const oneWay = t.kind === 'udp' && t.responseSize === 0 ? ' (one-way)' : '';
  return `${t.kind}: ${fromName} → ${to}${oneWay}`;
}
