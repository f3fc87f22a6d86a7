/**
 * The scenario's address plan: the underlay prefix and gateway, the cluster
 * CIDR, node podCIDRs, node and pod addresses. Each prefix must be a network
 * of its own clear of the reserved ranges; each address a host of its prefix,
 * used once.
 */
import { parseBandwidth } from './bandwidth.js';
import { type PathSegment, formatPath } from './errors.js';
import {
  type Cidr,
  cidrBroadcast,
  cidrContains,
  cidrNetwork,
  cidrsOverlap,
  cidrWithin,
  formatCidr,
  formatIpv4,
  hasHostBits,
  parseCidr,
  parseIpv4,
} from './ipv4.js';
import { NODE_CIDR_LEN, defaultNodeAddress, defaultPodCIDR, lastPodAddress, nodeCidrCapacity, podGateway } from './nodes.js';
import { DEFAULTS } from './defaults.js';
import type { Problems } from './problems.js';
import type { RawNode, RawScenario } from './raw-scenario.js';
import type { PodConfig, Runtime } from './scenario.js';

/** Ranges no node, pod or underlay prefix may overlap. */
const RESERVED: { cidr: Cidr; what: string; cniOnly?: boolean }[] = [
  { cidr: parseCidr('0.0.0.0/8')!, what: 'the "this network" range 0.0.0.0/8 (RFC 1122)' },
  { cidr: parseCidr('127.0.0.0/8')!, what: 'the loopback range 127.0.0.0/8' },
  { cidr: parseCidr('169.254.0.0/16')!, what: 'the link-local range 169.254.0.0/16' },
  { cidr: parseCidr('224.0.0.0/4')!, what: 'the multicast range 224.0.0.0/4' },
  { cidr: parseCidr('240.0.0.0/4')!, what: 'the reserved range 240.0.0.0/4' },
  {
    cidr: parseCidr('10.96.0.0/12')!,
    what: 'the Kubernetes service range 10.96.0.0/12 (the default --service-cluster-ip-range)',
    cniOnly: true,
  },
];

/** The underlay as normalized; no cidr (nor gateway) when it was unusable or segments bring their own. */
export interface UnderlayPlan {
  cidr?: Cidr;
  gateway?: number;
  bandwidthBps: number;
  delayNs: number;
  loss: number;
  txQueueLen: number;
}

/**
 * A prefix used as a network of its own: no host bits, room for a gateway and
 * at least one more host, clear of the reserved ranges. Returns it when usable.
 */
export function networkPrefix(
  problems: Problems,
  text: string,
  path: PathSegment[],
  runtime: Runtime,
  anchor?: PathSegment[],
): Cidr | undefined {
  const c = parseCidr(text)!;
  if (hasHostBits(c)) {
    const network = formatCidr({ base: cidrNetwork(c), len: c.len });
    problems.fail(path, `${text} has host bits set (the prefix is ${network})`, anchor);
    return undefined;
  }
  if (c.len > 30) {
    problems.fail(path, `${text} is too small (at least a /30 is needed: network, gateway, one host, broadcast)`, anchor);
    return undefined;
  }
  for (const r of RESERVED) {
    if (r.cniOnly && runtime !== 'cni') continue;
    if (cidrsOverlap(c, r.cidr)) {
      problems.fail(path, `${text} overlaps ${r.what}`, anchor);
      return undefined;
    }
  }
  return c;
}

export function normalizeUnderlay(problems: Problems, raw: RawScenario, runtime: Runtime): UnderlayPlan {
  const u = raw.underlay ?? {};
  const d = DEFAULTS.underlay;
  // Segments bring their own prefixes (scenarios/underlay-segments.ts).
  const cidr = u.segments !== undefined ? undefined : networkPrefix(problems, u.cidr ?? d.cidr, ['underlay', 'cidr'], runtime);
  let gateway: number | undefined;
  if (cidr) {
    if (u.gateway === undefined) {
      gateway = cidrNetwork(cidr) + 1;
    } else {
      const g = parseIpv4(u.gateway)!;
      const problem = addressProblem(g, cidr, `the underlay cidr ${formatCidr(cidr)}`);
      if (problem) problems.fail(['underlay', 'gateway'], `${u.gateway} ${problem}`);
      else gateway = g;
    }
  }
  const delayNs = problems.duration(u.delay, d.delay, ['underlay', 'delay']);
  if (delayNs === 0) {
    problems.fail(['underlay', 'delay'], 'must be positive (node links are where a partitioned run cuts the topology)');
  }
  return {
    ...(cidr ? { cidr } : {}),
    ...(gateway !== undefined ? { gateway } : {}),
    bandwidthBps: parseBandwidth(u.bandwidth ?? d.bandwidth),
    delayNs,
    loss: u.loss ?? d.loss,
    txQueueLen: u.txqueuelen ?? d.txqueuelen,
  };
}

/** Why `addr` cannot be a host of `c` ("is outside ..."), or undefined when it can. */
export function addressProblem(addr: number, c: Cidr, what: string): string | undefined {
  if (!cidrContains(c, addr)) return `is outside ${what}`;
  if (addr === cidrNetwork(c)) return `is the network address of ${what}`;
  if (addr === cidrBroadcast(c)) return `is the broadcast address of ${what}`;
  return undefined;
}

export function clusterCidr(problems: Problems, raw: RawScenario, runtime: Runtime, underlay: Cidr | undefined): Cidr | undefined {
  const text = raw.clusterCIDR ?? (runtime === 'cni' ? DEFAULTS.clusterCIDR : undefined);
  if (text === undefined) return undefined;
  const c = networkPrefix(problems, text, ['clusterCIDR'], runtime);
  if (c && underlay && cidrsOverlap(c, underlay)) {
    problems.fail(['clusterCIDR'], `${text} overlaps underlay.cidr (${formatCidr(underlay)})`);
    return undefined;
  }
  return c;
}

/**
 * Node i's address on the underlay (explicit, else the default), claimed in
 * `addresses`; '' without an underlay cidr.
 */
export function nodeAddress(
  problems: Problems,
  rn: RawNode,
  i: number,
  at: PathSegment[],
  underlay: { cidr?: Cidr; gateway?: number },
  addresses: Map<number, number>,
): string {
  let address = '';
  if (underlay.cidr) {
    const explicit = rn.address !== undefined;
    const addr = explicit ? parseIpv4(rn.address!)! : defaultNodeAddress(underlay.cidr, i);
    const shown = explicit ? rn.address! : `${formatIpv4(addr)} (the default, underlay host ${i + 2})`;
    const path = [...at, 'address'];
    const anchor = explicit ? undefined : at;
    const what = `the underlay cidr ${formatCidr(underlay.cidr)}`;
    const problem = addressProblem(addr, underlay.cidr, what);
    if (problem) problems.fail(path, `${shown} ${problem}`, anchor);
    else if (addr === underlay.gateway) problems.fail(path, `${shown} is the underlay gateway`, anchor);
    else if (addresses.has(addr)) problems.fail(path, `${shown} is already used by nodes[${addresses.get(addr)}]`, anchor);
    else addresses.set(addr, i);
    address = formatIpv4(addr);
  }
  return address;
}

/** Node i's podCIDR (explicit, else the default from the cluster CIDR), or undefined when unusable. */
export function nodePodCidr(
  problems: Problems,
  raw: RawScenario,
  rn: RawNode,
  i: number,
  at: PathSegment[],
  runtime: Runtime,
  underlay: { cidr?: Cidr; gateway?: number },
  cluster: Cidr | undefined,
): Cidr | undefined {
  let podCidr: Cidr | undefined;
  if (rn.podCIDR !== undefined) {
    const path = [...at, 'podCIDR'];
    podCidr = networkPrefix(problems, rn.podCIDR, path, runtime);
    if (podCidr && cluster && !cidrWithin(podCidr, cluster)) {
      problems.fail(path, `${rn.podCIDR} is outside clusterCIDR ${formatCidr(cluster)}`);
      podCidr = undefined;
    } else if (podCidr && underlay.cidr && cidrsOverlap(podCidr, underlay.cidr)) {
      problems.fail(path, `${rn.podCIDR} overlaps underlay.cidr (${formatCidr(underlay.cidr)})`);
      podCidr = undefined;
    }
  } else if (cluster) {
    podCidr = defaultPodCIDR(cluster, i);
    if (!podCidr) {
      problems.fail(
        at,
        `no default podCIDR left: clusterCIDR ${formatCidr(cluster)} holds ${nodeCidrCapacity(cluster)} node ranges ` +
          `of /${NODE_CIDR_LEN}; give podCIDR or a wider clusterCIDR`,
      );
    }
  } else if (raw.clusterCIDR === undefined) {
    problems.fail([...at, 'podCIDR'], 'is required with runtime docker (or give clusterCIDR)', at);
  }
  return podCidr;
}

/**
 * Overlapping node podCIDRs, found by a sweep over the prefixes sorted by
 * network address (O(n log n), so 5,000 nodes cost nothing). Each overlap is
 * reported on the later node, naming the earlier one.
 */
export function podCidrOverlaps(problems: Problems, raw: RawScenario, list: { cidr: Cidr; index: number }[]): void {
  const sorted = [...list].sort((a, b) => a.cidr.base - b.cidr.base || a.cidr.len - b.cidr.len || a.index - b.index);
  let open: { cidr: Cidr; index: number; end: number } | undefined;
  for (const cur of sorted) {
    const end = cidrBroadcast(cur.cidr);
    if (open && cur.cidr.base <= open.end) {
      const [later, earlier] = cur.index > open.index ? [cur, open] : [open, cur];
      const defaulted = raw.nodes?.[later.index]?.podCIDR === undefined;
      problems.fail(
        ['nodes', later.index, 'podCIDR'],
        `${formatCidr(later.cidr)}${defaulted ? ' (the default)' : ''} overlaps ` +
          `nodes[${earlier.index}].podCIDR (${formatCidr(earlier.cidr)})`,
        defaulted ? ['nodes', later.index] : undefined,
      );
    }
    if (!open || end > open.end) open = { ...cur, end };
  }
}

/** A pod's explicit ip, claimed in `podIps` (address -> the pod's path) when it is a free host of the podCIDR. */
export function claimPodAddress(
  problems: Problems,
  ip: string,
  path: PathSegment[],
  podCidr: Cidr | undefined,
  podIps: Map<number, string>,
): void {
  const addr = parseIpv4(ip)!;
  const where = formatPath(path);
  const owner = podIps.get(addr);
  if (podCidr) {
    const what = `the node's podCIDR ${formatCidr(podCidr)}`;
    const problem = addressProblem(addr, podCidr, what);
    if (problem) problems.fail([...path, 'ip'], `${ip} ${problem}`);
    else if (addr === podGateway(podCidr)) {
      problems.fail([...path, 'ip'], `${ip} is the gateway address of podCIDR ${formatCidr(podCidr)}`);
    } else if (owner !== undefined) problems.fail([...path, 'ip'], `${ip} is already used by ${owner}`);
    else podIps.set(addr, where);
  } else if (owner !== undefined) problems.fail([...path, 'ip'], `${ip} is already used by ${owner}`);
  else podIps.set(addr, where);
}

/**
 * Default pod addresses, in pod order, from the gateway's next host up,
 * skipping those given explicitly.
 */
export function assignPodAddresses(
  problems: Problems,
  pods: PodConfig[],
  at: PathSegment[],
  podCidr: Cidr,
  podIps: Map<number, string>,
): void {
  let next = podGateway(podCidr) + 1;
  const last = lastPodAddress(podCidr);
  pods.forEach((pod, j) => {
    if (pod.ip !== '') return;
    while (next <= last && podIps.has(next)) next++;
    if (next > last) {
      problems.fail([...at, 'pods', j], `no address left in podCIDR ${formatCidr(podCidr)}`);
      return;
    }
    podIps.set(next, formatPath([...at, 'pods', j]));
    pod.ip = formatIpv4(next++);
  });
}
