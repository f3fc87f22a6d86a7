/**
 * External hosts (`externalHosts:`): machines outside the cluster on the
 * underlay network, e.g. a client reaching a NodePort. Each is a namespace of
 * kind "external" and a component of its own (a partitioned run may cut it
 * off), with one NIC eth0 wired to the underlay switch as a node's eth0 is, and
 * a default route via the underlay gateway. No pods, no bridge, no rules.
 */
import type { PathSegment } from './errors.js';
import { type Cidr, cidrBroadcast, cidrContains, cidrNetwork, formatCidr, formatIpv4, parseIpv4 } from './ipv4.js';
import { MAX_IFNAME } from './nodes.js';
import type { ExternalHostConfig, NodeConfig, Scenario } from './scenario.js';
import type { LinkSpec, NamespaceSpec } from './topology.js';

export interface RawExternalHost {
  name: string;
  address?: string;
}

type Fail = (path: PathSegment[], message: string, anchor?: PathSegment[]) => void;

const RESERVED_NAMES: Record<string, string> = {
  underlay: 'the underlay namespace',
  localhost: '127.0.0.1 in traffic destinations',
  br0: 'the underlay bridge',
  lo: 'the loopback device of the underlay',
};

/**
 * Names and addresses checked; a missing address is the next free one after
 * the nodes' (the highest node address, else the gateway, plus one up).
 */
export function normalizeExternalHosts(
  raw: readonly RawExternalHost[] | undefined,
  nodes: readonly NodeConfig[],
  underlay: { cidr?: Cidr; gateway?: number },
  fail: Fail,
): ExternalHostConfig[] {
  if (raw === undefined || raw.length === 0) return [];
  const nodeNames = new Map(nodes.map((n, i) => [n.name, i]));
  const names = new Map<string, number>();
  const taken = new Map<number, string>();
  if (underlay.gateway !== undefined) taken.set(underlay.gateway, 'the underlay gateway');
  let highest = underlay.gateway ?? 0;
  nodes.forEach((n, i) => {
    const a = parseIpv4(n.address);
    if (a === undefined) return;
    taken.set(a, `nodes[${i}] (${n.name})`);
    if (a > highest) highest = a;
  });

  const out: ExternalHostConfig[] = [];
  raw.forEach((h, i) => {
    const at: PathSegment[] = ['externalHosts', i];
    const reserved = RESERVED_NAMES[h.name];
    if (reserved !== undefined) fail([...at, 'name'], `"${h.name}" is reserved (${reserved})`);
    else if (h.name.length > MAX_IFNAME) {
      fail([...at, 'name'], `"${h.name}" is longer than ${MAX_IFNAME} characters (it also names the host's port on the underlay bridge)`);
    } else if (nodeNames.has(h.name)) fail([...at, 'name'], `"${h.name}" is already used by nodes[${nodeNames.get(h.name)}]`);
    else if (names.has(h.name)) fail([...at, 'name'], `"${h.name}" is already used by externalHosts[${names.get(h.name)}]`);
    else names.set(h.name, i);
  });
  // Explicit addresses claim theirs before defaults are handed out.
  const addresses: (number | undefined)[] = raw.map((h, i) => {
    if (h.address === undefined || !underlay.cidr) return undefined;
    const path: PathSegment[] = ['externalHosts', i, 'address'];
    const addr = parseIpv4(h.address)!;
    const problem = hostProblem(addr, underlay.cidr);
    const owner = taken.get(addr);
    if (problem !== undefined) fail(path, `${h.address} ${problem}`);
    else if (owner !== undefined) fail(path, `${h.address} is already used by ${owner}`);
    else {
      taken.set(addr, `externalHosts[${i}] (${h.name})`);
      return addr;
    }
    return undefined;
  });
  let next = highest + 1;
  raw.forEach((h, i) => {
    let addr = addresses[i];
    if (h.address === undefined && underlay.cidr) {
      while (taken.has(next)) next++;
      if (hostProblem(next, underlay.cidr) !== undefined) {
        fail(['externalHosts', i], `no address left in the underlay cidr ${formatCidr(underlay.cidr)} after the nodes; give address`);
      } else {
        addr = next;
        taken.set(next++, `externalHosts[${i}] (${h.name})`);
      }
    }
    out.push({ name: h.name, address: addr !== undefined ? formatIpv4(addr) : (h.address ?? '') });
  });
  return out;
}

function hostProblem(addr: number, c: Cidr): string | undefined {
  const what = `the underlay cidr ${formatCidr(c)}`;
  if (!cidrContains(c, addr)) return `is outside ${what}`;
  if (addr === cidrNetwork(c)) return `is the network address of ${what}`;
  if (addr === cidrBroadcast(c)) return `is the broadcast address of ${what}`;
  return undefined;
}

/**
 * Adds each external host's namespace, its port on the underlay bridge (to
 * `underlay`, the underlay namespace) and the wire between them, with the MAC
 * scheme of nodes (eth0 02:42:<address>, port 0e:42:<address>).
 */
export function addExternalHosts(
  s: Scenario,
  underlay: NamespaceSpec,
  namespaces: NamespaceSpec[],
  links: LinkSpec[],
  mac: (prefix: string, address: string) => string,
): void {
  const len = s.underlay.cidr.slice(s.underlay.cidr.indexOf('/') + 1);
  for (const h of s.externalHosts ?? []) {
    underlay.interfaces.push({ name: h.name, mac: mac('0e:42', h.address), mtu: s.mtu, addresses: [], master: 'br0', hairpin: false });
    namespaces.push({
      name: h.name,
      kind: 'external',
      component: h.name,
      ipForward: false,
      containers: [],
      bridges: [],
      interfaces: [{ name: 'eth0', mac: mac('02:42', h.address), mtu: s.mtu, addresses: [`${h.address}/${len}`] }],
      routes: [{ dst: '0.0.0.0/0', via: s.underlay.gateway, dev: 'eth0' }],
    });
    links.push({
      kind: 'wire',
      a: { ns: h.name, ifname: 'eth0' },
      b: { ns: 'underlay', ifname: h.name },
      delayNs: s.underlay.delayNs,
      bandwidthBps: s.underlay.bandwidthBps,
      loss: s.underlay.loss,
      txQueueLen: s.underlay.txQueueLen,
    });
  }
}
