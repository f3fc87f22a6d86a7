/**
 * What kube-proxy's IPVS mode (pkg/proxy/ipvs/proxier.go, Kubernetes v1.30)
 * programs on a node for a set of Services, from the same input as the
 * iptables mode (kubeProxyIptables):
 *
 * - kube-ipvs0, a dummy device holding every ClusterIP as a /32;
 * - IPVS virtual servers (masquerading, weight 1): ClusterIP:port, and
 *   nodeIP:nodePort for each node address, with `-p <timeout>` for
 *   sessionAffinity ClientIP;
 * - the ip sets its iptables rules match (KUBE-CLUSTER-IP, KUBE-LOOP-BACK,
 *   KUBE-NODE-PORT-TCP/UDP, ..., KUBE-IPVS-IPS), created even when empty;
 * - the iptables rules (writeIptablesRules): nat KUBE-SERVICES /
 *   KUBE-NODE-PORT / KUBE-POSTROUTING / KUBE-MARK-MASQ, filter KUBE-FORWARD /
 *   KUBE-IPVS-FILTER..., as the restore input plus the base jumps (EnsureRule).
 *
 * Service ports are walked in name order (kube-proxy: Go map order), and set
 * entries listed sorted. Not modelled (an error says so): externalIPs,
 * LoadBalancer IPs and source ranges, SCTP; the filter chain
 * KUBE-IPVS-OUT-FILTER of newer releases is not written.
 */
import type { VirtualServerSpec, SchedulerName } from '../../netfilter/ipvs/service.js';
import { categorizeEndpoints } from './categorize-endpoints.js';
import { masqueradeMarkString } from './iptables.js';
import { serviceMap } from './service-map.js';
import { DEFAULT_MASQUERADE_BIT, type KubeProxyInput } from './service.js';

/** DefaultDummyDevice */
export const KUBE_IPVS_DEVICE = 'kube-ipvs0';

export interface KubeProxyIpvsOptions {
  /** --ipvs-scheduler (default rr). */
  scheduler?: SchedulerName;
}

export type IpvsIpSetType = 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'bitmap:port';

export interface KubeProxyIpSet {
  name: string;
  type: IpvsIpSetType;
  comment: string;
  /** `ipset add` elements, sorted. */
  entries: string[];
}

export interface KubeProxyIpvsConfig {
  /** The rules kube-proxy's EnsureRule calls leave in an empty namespace; load before `rules`. */
  baseRules: string;
  /** The sync's `iptables-restore --noflush` input. */
  rules: string;
  ipsets: KubeProxyIpSet[];
  /** Addresses on kube-ipvs0, "a.b.c.d/32", sorted. */
  dummyAddresses: string[];
  virtualServers: VirtualServerSpec[];
}

// Chains (pkg/proxy/ipvs/proxier.go).
const KUBE_SERVICES = 'KUBE-SERVICES';
const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
const KUBE_NODE_PORT = 'KUBE-NODE-PORT';
const KUBE_LOAD_BALANCER = 'KUBE-LOAD-BALANCER';
const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
const KUBE_FORWARD = 'KUBE-FORWARD';
const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
const KUBE_SOURCE_RANGES_FIREWALL = 'KUBE-SOURCE-RANGES-FIREWALL';
const KUBE_IPVS_FILTER = 'KUBE-IPVS-FILTER';

/** ipsetInfo in pkg/proxy/ipvs/ipset.go: name, type, comment (the subset this model fills or references). */
const SETS: readonly { name: string; type: IpvsIpSetType; comment: string }[] = [
  { name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose' },
  { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', comment: 'Kubernetes service cluster ip + port for masquerade purpose' },
  { name: 'KUBE-EXTERNAL-IP', type: 'hash:ip,port', comment: 'Kubernetes service external ip + port for masquerade and filter purpose' },
  { name: 'KUBE-EXTERNAL-IP-LOCAL', type: 'hash:ip,port', comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local' },
  { name: 'KUBE-LOAD-BALANCER', type: 'hash:ip,port', comment: 'Kubernetes service lb portal' },
  { name: 'KUBE-LOAD-BALANCER-LOCAL', type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local' },
  { name: 'KUBE-NODE-PORT-TCP', type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port for masquerade purpose' },
  { name: 'KUBE-NODE-PORT-LOCAL-TCP', type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local' },
  { name: 'KUBE-NODE-PORT-UDP', type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port for masquerade purpose' },
  { name: 'KUBE-NODE-PORT-LOCAL-UDP', type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local' },
  { name: 'KUBE-HEALTH-CHECK-NODE-PORT', type: 'bitmap:port', comment: 'Kubernetes health check node port' },
  { name: 'KUBE-IPVS-IPS', type: 'hash:ip', comment: 'IPVS service addresses' },
];

/** ipsetWithIptablesChain: a rule per non-empty set, in this order (sets this model never fills left out). */
const SET_CHAIN_RULES: readonly { set: string; table: 'nat' | 'filter'; from: string; to: string; match: string; proto: string }[] = [
  { set: 'KUBE-LOOP-BACK', table: 'nat', from: KUBE_POSTROUTING, to: 'MASQUERADE', match: 'dst,dst,src', proto: '' },
  { set: 'KUBE-NODE-PORT-LOCAL-TCP', table: 'nat', from: KUBE_NODE_PORT, to: 'RETURN', match: 'dst', proto: 'tcp' },
  { set: 'KUBE-NODE-PORT-TCP', table: 'nat', from: KUBE_NODE_PORT, to: KUBE_MARK_MASQ, match: 'dst', proto: 'tcp' },
  { set: 'KUBE-NODE-PORT-LOCAL-UDP', table: 'nat', from: KUBE_NODE_PORT, to: 'RETURN', match: 'dst', proto: 'udp' },
  { set: 'KUBE-NODE-PORT-UDP', table: 'nat', from: KUBE_NODE_PORT, to: KUBE_MARK_MASQ, match: 'dst', proto: 'udp' },
];

/** iptablesJumpChain of the IPVS proxier: [table, from, to, comment], each prepended (EnsureRule Prepend). */
const JUMPS: readonly [table: 'nat' | 'filter', from: string, to: string, comment: string][] = [
  ['nat', 'OUTPUT', KUBE_SERVICES, 'kubernetes service portals'],
  ['nat', 'PREROUTING', KUBE_SERVICES, 'kubernetes service portals'],
  ['nat', 'POSTROUTING', KUBE_POSTROUTING, 'kubernetes postrouting rules'],
  ['filter', 'FORWARD', KUBE_FORWARD, 'kubernetes forwarding rules'],
  ['filter', 'INPUT', KUBE_NODE_PORT, 'kubernetes health check rules'],
  ['filter', 'INPUT', KUBE_PROXY_FIREWALL, 'kube-proxy firewall rules'],
  ['filter', 'FORWARD', KUBE_PROXY_FIREWALL, 'kube-proxy firewall rules'],
  ['filter', 'INPUT', KUBE_IPVS_FILTER, 'kubernetes ipvs access filter'],
];

const BUILTINS = { filter: ['INPUT', 'FORWARD', 'OUTPUT'], nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'] } as const;

export function kubeProxyIpvs(input: KubeProxyInput, opts: KubeProxyIpvsOptions = {}): KubeProxyIpvsConfig {
  const node = input.node;
  const scheduler = opts.scheduler ?? 'rr';
  const mark = node.masqueradeMark ?? masqueradeMarkString(node.masqueradeBit ?? DEFAULT_MASQUERADE_BIT);
  if ((node.nodePortAddresses ?? []).length > 0) throw new RangeError('kube-proxy ipvs: nodePortAddresses is not modelled');

  const ports = serviceMap(input);

  const entries = new Map<string, Set<string>>(SETS.map((s) => [s.name, new Set()]));
  const addEntry = (set: string, e: string) => entries.get(set)!.add(e);
  const dummy = new Set<string>();
  const virtualServers: VirtualServerSpec[] = [];

  for (const { info, endpoints } of ports) {
    const where = `kube-proxy ipvs: service ${info.nameString}`;
    if (info.protocol === 'sctp') throw new RangeError(`${where}: SCTP is not modelled`);
    if (info.externalIPs.length > 0) throw new RangeError(`${where}: externalIPs are not modelled in IPVS mode`);
    if (info.loadBalancerVIPs.length > 0 || info.loadBalancerSourceRanges.length > 0) throw new RangeError(`${where}: LoadBalancer IPs are not modelled in IPVS mode`);
    const protocol = info.protocol === 'tcp' ? 'TCP' : 'UDP';
    const cat = categorizeEndpoints(endpoints, info);
    const reals = (local: boolean) =>
      (local ? cat.localEndpoints : cat.clusterEndpoints).map((e) => ({ address: e.ip, port: e.port, weight: 1 }));
    const persistence = info.clientIPAffinity ? { persistenceTimeout: info.stickyMaxAgeSeconds } : {};

    // Hairpin: a local endpoint reaching itself through the VIP is masqueraded.
    for (const e of endpoints) if (e.isLocal) addEntry('KUBE-LOOP-BACK', `${e.ip},${info.protocol}:${e.port},${e.ip}`);

    addEntry('KUBE-CLUSTER-IP', `${info.clusterIP},${info.protocol}:${info.port}`);
    dummy.add(info.clusterIP);
    virtualServers.push({ protocol, address: info.clusterIP, port: info.port, scheduler, ...persistence, realServers: reals(info.internalPolicyLocal) });

    if (info.nodePort !== 0) {
      const proto = protocol;
      addEntry(`KUBE-NODE-PORT-${proto}`, String(info.nodePort));
      if (info.externalPolicyLocal) addEntry(`KUBE-NODE-PORT-LOCAL-${proto}`, String(info.nodePort));
      for (const ip of node.nodeIPs) {
        virtualServers.push({ protocol, address: ip, port: info.nodePort, scheduler, ...persistence, realServers: reals(info.externalPolicyLocal) });
      }
    }
    if (info.healthCheckNodePort !== 0) addEntry('KUBE-HEALTH-CHECK-NODE-PORT', String(info.healthCheckNodePort));
  }
  for (const ip of dummy) addEntry('KUBE-IPVS-IPS', ip);

  const ipsets: KubeProxyIpSet[] = SETS.map((s) => ({ ...s, entries: sortEntries(entries.get(s.name)!) }));
  const nonEmpty = (name: string) => entries.get(name)!.size > 0;

  const nat: string[] = [];
  const filter: string[] = [];
  filter.push(`-A ${KUBE_SOURCE_RANGES_FIREWALL} -j DROP`);
  for (const r of SET_CHAIN_RULES) {
    if (!nonEmpty(r.set)) continue;
    const comment = SETS.find((s) => s.name === r.set)!.comment;
    const line = `-A ${r.from}${r.proto !== '' ? ` -p ${r.proto}` : ''} -m comment --comment "${comment}" -m set --match-set ${r.set} ${r.match} -j ${r.to}`;
    (r.table === 'nat' ? nat : filter).push(line);
  }
  if (nonEmpty('KUBE-CLUSTER-IP')) {
    const head = `-A ${KUBE_SERVICES} -m comment --comment "${SETS[1]!.comment}" -m set --match-set KUBE-CLUSTER-IP`;
    if (node.masqueradeAll ?? false) nat.push(`${head} dst,dst -j ${KUBE_MARK_MASQ}`);
    else if (node.clusterCIDR !== undefined) nat.push(`${head} dst,dst ! -s ${node.clusterCIDR} -j ${KUBE_MARK_MASQ}`);
    else nat.push(`${head} src,dst -j ${KUBE_MARK_MASQ}`);
  }
  nat.push(`-A ${KUBE_SERVICES} -m addrtype --dst-type LOCAL -j ${KUBE_NODE_PORT}`);
  nat.push(`-A ${KUBE_LOAD_BALANCER} -j ${KUBE_MARK_MASQ}`);
  // acceptIPVSTraffic: nothing later in the nat chains may touch a VIP's traffic.
  if (nonEmpty('KUBE-CLUSTER-IP')) nat.push(`-A ${KUBE_SERVICES} -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT`);
  filter.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filter.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  filter.push(`-A ${KUBE_NODE_PORT} -m comment --comment "Kubernetes health check node port" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT`);
  // Issue 72236: a VIP answers only on its service ports.
  for (const set of ['KUBE-LOAD-BALANCER', 'KUBE-CLUSTER-IP', 'KUBE-EXTERNAL-IP', 'KUBE-EXTERNAL-IP-LOCAL']) {
    filter.push(`-A ${KUBE_IPVS_FILTER} -m set --match-set ${set} dst,dst -j RETURN`);
  }
  filter.push(`-A ${KUBE_IPVS_FILTER} -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN`);
  filter.push(`-A ${KUBE_IPVS_FILTER} -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT`);
  nat.push(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.push(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`);
  nat.push(`-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${(node.randomFully ?? true) ? ' --random-fully' : ''}`);
  nat.push(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`);

  const filterChains = [KUBE_FORWARD, KUBE_NODE_PORT, KUBE_PROXY_FIREWALL, KUBE_SOURCE_RANGES_FIREWALL, KUBE_IPVS_FILTER];
  const natChains = [KUBE_SERVICES, KUBE_POSTROUTING, KUBE_NODE_PORT, KUBE_LOAD_BALANCER, KUBE_MARK_MASQ];
  const rules = [
    '*filter',
    ...filterChains.map((c) => `:${c} - [0:0]`),
    ...filter,
    'COMMIT',
    '*nat',
    ...natChains.map((c) => `:${c} - [0:0]`),
    ...nat,
    'COMMIT',
    '',
  ].join('\n');

  return {
    baseRules: baseRules(),
    rules,
    ipsets,
    dummyAddresses: sortEntries(dummy).map((a) => `${a}/32`),
    virtualServers,
  };
}

/** The built-in chains, the top-level chains and the jumps EnsureRule prepends (so the last one is first). */
function baseRules(): string {
  const out: string[] = [];
  for (const table of ['filter', 'nat'] as const) {
    const user: string[] = [];
    const rules = new Map<string, string[]>(BUILTINS[table].map((c) => [c, []]));
    for (const [t, from, to, comment] of JUMPS) {
      if (t !== table) continue;
      if (!user.includes(to)) user.push(to);
      rules.get(from)!.unshift(`-A ${from} -m comment --comment "${comment}" -j ${to}`);
    }
    out.push(`*${table}`, ...BUILTINS[table].map((c) => `:${c} ACCEPT [0:0]`), ...user.map((c) => `:${c} - [0:0]`));
    for (const c of BUILTINS[table]) out.push(...rules.get(c)!);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Numeric order where the entries are addresses or ports, else string order.
 * Each entry's key is read once: reading it in the comparator was 70 % of
 * expanding 10 nodes with 10,000 Services in IPVS mode.
 */
function sortEntries(entries: Iterable<string>): string[] {
  return [...entries]
    .map((e) => ({ e, k: entryKey(e) }))
    .sort((a, b) => a.k - b.k || cmp(a.e, b.e))
    .map((x) => x.e);
}

function entryKey(e: string): number {
  const head = e.split(',')[0]!;
  if (/^\d+$/.test(head)) return Number(head);
  const parts = head.split('.').map(Number);
  return parts.length === 4 ? ((parts[0]! * 256 + parts[1]!) * 256 + parts[2]!) * 256 + parts[3]! : 0;
}
