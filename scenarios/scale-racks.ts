/**
 * Racks for a generated cluster (`scale: { nodesPerRack: R }`): node-1..node-R
 * in rack-1, the next R in rack-2, and so on. Each rack is an underlay segment
 * (scenarios/underlay-segments.ts: a switch, the router's port, host-gw within
 * the rack) carved from `underlay.cidr` in order, every rack the same size:
 * the smallest prefix holding its network address, gateway (first host), R
 * nodes (from the next host up) and broadcast address.
 *
 * Why: one flat L2 segment of thousands of nodes is not how such clusters are
 * built, and its first cross-node traffic is an ARP storm of N² frame
 * deliveries (every node's broadcast reaches every NIC). Behind top-of-rack
 * routers a broadcast reaches only its rack: N·R.
 */
import { type Cidr, cidrNetwork, formatCidr, formatIpv4, prefixSize } from './ipv4.js';
import { type Problems, plural } from './problems.js';
import type { RawScenario } from './raw-scenario.js';
import type { NodeConfig, UnderlaySegment } from './scenario.js';

export interface RackPlan {
  /** underlay.cidr, which the racks are carved from. */
  pool: Cidr;
  nodesPerRack: number;
  /** Prefix length of every rack's segment. */
  len: number;
}

/** The smallest prefix length whose block holds network, gateway, `nodes` hosts and broadcast. */
export function rackPrefixLen(nodes: number): number {
  let len = 30;
  while (len > 0 && prefixSize(len) < nodes + 3) len--;
  return len;
}

/**
 * The racks of `scale`, or undefined without `nodesPerRack` or when they
 * cannot be made (reported). `pool` is the normalized underlay.cidr.
 */
export function planRacks(problems: Problems, raw: RawScenario, pool: Cidr | undefined): RackPlan | undefined {
  const perRack = raw.scale?.nodesPerRack;
  if (perRack === undefined || raw.nodes !== undefined || raw.underlay?.segments !== undefined) return undefined;
  let ok = pool !== undefined;
  if (raw.underlay?.gateway !== undefined) {
    problems.fail(['underlay', 'gateway'], 'has no use with scale.nodesPerRack (each rack has its own gateway, the first host of its segment)');
    ok = false;
  }
  if ((raw.externalHosts ?? []).length > 0) {
    problems.fail(['externalHosts'], 'are not supported with scale.nodesPerRack (which rack would they join?); leave out nodesPerRack');
    ok = false;
  }
  const n = raw.scale!.nodes;
  const len = rackPrefixLen(perRack);
  if (pool !== undefined) {
    const racks = Math.ceil(n / perRack);
    const fit = len < pool.len ? 0 : prefixSize(pool.len) / prefixSize(len);
    if (racks > fit) {
      const what = fit === 0 ? `is smaller than one rack's /${len}` : `holds ${fit} racks of ${perRack} nodes, ${fit * perRack} nodes`;
      problems.fail(
        ['scale', 'nodes'],
        `${n} nodes in racks of ${perRack} need ${plural(racks, 'segment', 'segments')} of /${len} (${racks * prefixSize(len)} addresses); underlay cidr ${formatCidr(pool)} ${what}`,
      );
      ok = false;
    }
  }
  return ok ? { pool: pool!, nodesPerRack: perRack, len } : undefined;
}

function rackBase(plan: RackPlan, rack: number): number {
  return (cidrNetwork(plan.pool) + rack * prefixSize(plan.len)) >>> 0;
}

/** Node i's (0-based) address: host 2 + its place in its rack. */
export function rackNodeAddress(plan: RackPlan, i: number): number {
  return (rackBase(plan, Math.floor(i / plan.nodesPerRack)) + 2 + (i % plan.nodesPerRack)) >>> 0;
}

/** The segments of the racks, for the nodes generated with rackNodeAddress. */
export function rackSegments(plan: RackPlan, nodes: readonly NodeConfig[]): UnderlaySegment[] {
  const out: UnderlaySegment[] = [];
  for (let first = 0; first < nodes.length; first += plan.nodesPerRack) {
    const rack = out.length;
    const base = rackBase(plan, rack);
    out.push({
      name: `rack-${rack + 1}`,
      cidr: formatCidr({ base, len: plan.len }),
      gateway: formatIpv4(base + 1),
      nodes: nodes.slice(first, first + plan.nodesPerRack).map((n) => n.name),
    });
  }
  return out;
}
