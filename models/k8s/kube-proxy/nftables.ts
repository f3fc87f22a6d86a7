/**
 * The `nft -f` transaction kube-proxy's nftables mode writes on a full sync:
 * a transcription of setupNFTables, syncProxyRules and
 * writeServiceToEndpointRules in pkg/proxy/nftables/proxier.go as of
 * Kubernetes v1.31 (IPv4; no ServiceCIDR drop rule, since the input has no
 * service CIDR; no stale-chain cleanup, since the namespace starts empty).
 * Everything lives in `table ip kube-proxy`; Services are dispatched by one
 * verdict-map lookup (service-ips, service-nodeports), so the rules a packet
 * crosses do not grow with the number of Services.
 *
 * Same input as kubeProxyIptables; service ports are walked sorted by name
 * (one of the orders kube-proxy's map walk can give), so the output is
 * deterministic.
 */
import { createHash } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '../../wire/addr.js';
import { categorizeEndpoints } from './categorize-endpoints.js';
import { base32Std, memoized } from './chain-names.js';
import type { EndpointInfo } from './endpoints.js';
import { masqueradeMarkString } from './iptables.js';
import { serviceMap } from './service-map.js';
import { SharedPortLines } from './shared-port-lines.js';
import { canonicalCidr, cidrContains, externallyAccessible, usesClusterEndpoints, usesLocalEndpoints, type ServicePortInfo } from './service-port.js';
import { DEFAULT_MASQUERADE_BIT, type KubeProxyInput } from './service.js';

export const NFT_TABLE = 'kube-proxy';
const T = `ip ${NFT_TABLE}`;
/** knftables.NameLengthMax (256) minus chainNamePrefixLengthMax (16). */
const CHAIN_NAME_BASE_MAX = 240;

/** hashAndTruncate: 8 base32 characters of sha256(name), a dash, the name (each name hashed once, see memoized). */
const hashAndTruncate = memoized((name) => {
  const h = base32Std(createHash('sha256').update(name).digest().subarray(0, 5));
  const out = `${h}-${name}`;
  return out.length > CHAIN_NAME_BASE_MAX ? `${out.slice(0, CHAIN_NAME_BASE_MAX - 3)}...` : out;
});

/** servicePortChainNameBase: "HASH-ns/name/proto/portName". */
export function nftServicePortChainBase(namespace: string, name: string, protocol: string, portName: string): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol}/${portName}`);
}

/** servicePortEndpointChainNameBase: "HASH-ns/name/proto/portName__ip/port". */
export function nftEndpointChainBase(namespace: string, name: string, protocol: string, portName: string, ip: string, port: number): string {
  return hashAndTruncate(`${namespace}/${name}/${protocol}/${portName}__${ip}/${port}`);
}

interface Names {
  cluster: string;
  local: string;
  external: string;
  firewall: string;
}

function names(p: ServicePortInfo): Names {
  const base = nftServicePortChainBase(p.service.namespace, p.service.name, p.protocol, p.spec.name);
  return { cluster: `service-${base}`, local: `local-${base}`, external: `external-${base}`, firewall: `firewall-${base}` };
}

function endpointBase(p: ServicePortInfo, ep: EndpointInfo): string {
  return nftEndpointChainBase(p.service.namespace, p.service.name, p.protocol, p.spec.name, ep.ip, ep.port);
}

/** kube-proxy's nftables full-sync transaction for `input`. */
export function kubeProxyNftables(input: KubeProxyInput): string {
  const node = input.node;
  const mark = node.masqueradeMark ?? masqueradeMarkString(node.masqueradeBit ?? DEFAULT_MASQUERADE_BIT);
  const clusterCIDR = node.clusterCIDR === undefined ? null : (canonicalCidr(node.clusterCIDR, 'clusterCIDR'), node.clusterCIDR.trim());
  const masqueradeAll = node.masqueradeAll ?? false;
  const nodeIP = node.nodeIPs.length > 0 ? parseIpv4(node.nodeIPs[0]!) : null;

  // --nodeport-addresses: unset means "primary" (the node IP) in nftables mode; 0.0.0.0/0 means every local address.
  const npCidrs = (node.nodePortAddresses ?? []).map((c) => canonicalCidr(c, 'nodePortAddresses'));
  const matchAll = npCidrs.some((c) => c.prefixLen === 0);
  const nodePortIPs: string[] = [];
  if (!matchAll) {
    const candidates = npCidrs.length === 0 ? node.nodeIPs.slice(0, 1) : node.nodeIPs;
    for (const ip of candidates) {
      const a = parseIpv4(ip);
      if (a >>> 24 === 127) continue; // localhost NodePorts are not supported in nftables mode
      if (npCidrs.length > 0 && !npCidrs.some((c) => cidrContains(c, a))) continue;
      const s = formatIpv4(a);
      if (!nodePortIPs.includes(s)) nodePortIPs.push(s);
    }
  }

  const out: string[] = [];
  const add = (s: string): void => {
    out.push(s);
  };

  // setupNFTables.
  add(`add table ${T} { comment "rules for kube-proxy" ; }`);
  const baseChains: [string, string, string, number][] = [
    ['filter-prerouting', 'filter', 'prerouting', -110],
    ['filter-input', 'filter', 'input', -110],
    ['filter-forward', 'filter', 'forward', -110],
    ['filter-output', 'filter', 'output', -110],
    ['filter-output-post-dnat', 'filter', 'output', -90],
    ['nat-output', 'nat', 'output', -100],
    ['nat-postrouting', 'nat', 'postrouting', 100],
    ['nat-prerouting', 'nat', 'prerouting', -100],
  ];
  for (const [name, type, hook, prio] of baseChains) add(`add chain ${T} ${name} { type ${type} hook ${hook} priority ${prio} ; }`);
  const jumps: [string, string, string][] = [
    ['nodeport-endpoints-check', 'filter-input', 'ct state new '],
    ['service-endpoints-check', 'filter-input', 'ct state new '],
    ['service-endpoints-check', 'filter-forward', 'ct state new '],
    ['service-endpoints-check', 'filter-output', 'ct state new '],
    ['firewall-check', 'filter-prerouting', 'ct state new '],
    ['firewall-check', 'filter-output', 'ct state new '],
    ['services', 'nat-output', ''],
    ['services', 'nat-prerouting', ''],
    ['masquerading', 'nat-postrouting', ''],
    ['cluster-ips-check', 'filter-forward', 'ct state new '],
    ['cluster-ips-check', 'filter-output-post-dnat', 'ct state new '],
  ];
  const created = new Set<string>();
  for (const [dst, src, extra] of jumps) {
    if (!created.has(dst)) {
      created.add(dst);
      add(`add chain ${T} ${dst}`);
    }
    add(`add rule ${T} ${src} ${extra}jump ${dst}`);
  }
  for (const c of ['mark-for-masquerade']) add(`add chain ${T} ${c}`);
  add(`add rule ${T} mark-for-masquerade mark set mark or ${mark}`);
  add(`add rule ${T} masquerading mark and ${mark} == 0 return`);
  add(`add rule ${T} masquerading mark set mark xor ${mark}`);
  add(`add rule ${T} masquerading masquerade fully-random`);

  add(`add set ${T} cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }`);
  add(`add rule ${T} cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`);

  if (!matchAll) {
    add(`add set ${T} nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }`);
    for (const ip of nodePortIPs) add(`add element ${T} nodeport-ips { ${ip} }`);
  }

  add(`add map ${T} no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }`);
  add(`add map ${T} no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }`);
  add(`add chain ${T} reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }`);
  add(`add rule ${T} reject-chain reject`);
  add(`add rule ${T} service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services`);
  const noLocalhost = 'ip daddr != 127.0.0.0/8';
  add(`add rule ${T} nodeport-endpoints-check ${matchAll ? noLocalhost : 'ip daddr @nodeport-ips'} meta l4proto . th dport vmap @no-endpoint-nodeports`);

  add(`add map ${T} firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }`);
  add(`add rule ${T} firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips`);

  add(`add map ${T} service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }`);
  add(`add map ${T} service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }`);
  add(`add rule ${T} services ip daddr . meta l4proto . th dport vmap @service-ips`);
  add(`add rule ${T} services ${matchAll ? `fib daddr type local ${noLocalhost}` : 'ip daddr @nodeport-ips'} meta l4proto . th dport vmap @service-nodeports`);

  // syncProxyRules walks the service map.
  const ports = serviceMap(input);

  const sync: PortContext = { masqueradeAll, clusterCIDR, nodeIP };
  const settings = `${masqueradeAll}|${clusterCIDR}`;
  for (const { info, endpoints } of ports) writePort(add, sync, settings, info, endpoints);
  return out.join('\n') + '\n';
}

/** What a port's lines read of the node beside the port itself. */
interface PortContext {
  masqueradeAll: boolean;
  clusterCIDR: string | null;
  /** Read only for load-balancer source ranges (whether the node may reach the VIP). */
  nodeIP: number | null;
}

const sharedLines = new SharedPortLines<string>();

/** writePortLines, or the same lines another node wrote for the port (`settings`: the PortContext fields but nodeIP). */
function writePort(add: (s: string) => void, sync: PortContext, settings: string, svc: ServicePortInfo, endpoints: readonly EndpointInfo[]): void {
  const lines = sharedLines.get(svc, endpoints, settings, () => {
    const own: string[] = [];
    writePortLines((l) => own.push(l), sync, svc, endpoints);
    return own.join('\n');
  });
  if (lines === null) writePortLines(add, sync, svc, endpoints);
  else if (lines !== '') add(lines);
}

/** The body of syncProxyRules' loop over the service map, for one port. */
function writePortLines(add: (s: string) => void, sync: PortContext, svc: ServicePortInfo, endpoints: readonly EndpointInfo[]): void {
  const { masqueradeAll, clusterCIDR, nodeIP } = sync;
  const n = names(svc);
  const proto = svc.protocol;
  const portName = svc.nameString;
  const { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints: hasEndpoints } = categorizeEndpoints(endpoints, svc);
  const chains = new Set<string>();
  const chain = (c: string): void => {
    if (!chains.has(c)) {
      chains.add(c);
      add(`add chain ${T} ${c}`);
    }
  };
  for (const ep of allReachableEndpoints) chain(`endpoint-${endpointBase(svc, ep)}`);
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints(svc);
  if (usesClusterPolicyChain) chain(n.cluster);
  const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints(svc);
  if (usesLocalPolicyChain) chain(n.local);

  let internalTrafficChain = n.cluster;
  let hasInternalEndpoints = hasEndpoints;
  if (svc.internalPolicyLocal) {
    internalTrafficChain = n.local;
    if (localEndpoints.length === 0) hasInternalEndpoints = false;
  }
  let externalPolicyChain = n.cluster;
  let hasExternalEndpoints = hasEndpoints;
  if (svc.externalPolicyLocal) {
    externalPolicyChain = n.local;
    if (localEndpoints.length === 0) hasExternalEndpoints = false;
  }
  const usesExternalTrafficChain = hasEndpoints && externallyAccessible(svc);
  if (usesExternalTrafficChain) chain(n.external);

  let internalFilterVerdict = '';
  let externalFilterVerdict = '';
  if (!hasEndpoints) {
    internalFilterVerdict = 'goto reject-chain';
    externalFilterVerdict = 'goto reject-chain';
  } else {
    if (!hasInternalEndpoints) internalFilterVerdict = 'drop';
    if (!hasExternalEndpoints) externalFilterVerdict = 'drop';
  }

  const key = (ip: string): string => `${ip} . ${proto} . ${svc.port}`;
  add(`add element ${T} cluster-ips { ${svc.clusterIP} }`);
  if (hasInternalEndpoints) add(`add element ${T} service-ips { ${key(svc.clusterIP)} : goto ${internalTrafficChain} }`);
  else add(`add element ${T} no-endpoint-services { ${key(svc.clusterIP)} comment "${portName}" : ${internalFilterVerdict} }`);

  for (const ip of svc.externalIPs) {
    if (hasEndpoints) add(`add element ${T} service-ips { ${key(ip)} : goto ${n.external} }`);
    if (!hasExternalEndpoints) add(`add element ${T} no-endpoint-services { ${key(ip)} comment "${portName}" : ${externalFilterVerdict} }`);
  }

  const usesFWChain = svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  if (usesFWChain) chain(n.firewall);
  for (const ip of svc.loadBalancerVIPs) {
    if (hasEndpoints) add(`add element ${T} service-ips { ${key(ip)} : goto ${n.external} }`);
    if (usesFWChain) add(`add element ${T} firewall-ips { ${key(ip)} : goto ${n.firewall} }`);
  }
  if (!hasExternalEndpoints) {
    for (const ip of svc.loadBalancerVIPs) add(`add element ${T} no-endpoint-services { ${key(ip)} comment "${portName}" : ${externalFilterVerdict} }`);
  }

  if (svc.nodePort !== 0) {
    if (hasEndpoints) add(`add element ${T} service-nodeports { ${proto} . ${svc.nodePort} : goto ${n.external} }`);
    if (!hasExternalEndpoints) add(`add element ${T} no-endpoint-nodeports { ${proto} . ${svc.nodePort} comment "${portName}" : ${externalFilterVerdict} }`);
  }

  // Internal traffic: masquerade what does not come from a pod (or everything with --masquerade-all).
  if (hasInternalEndpoints) {
    const head = `add rule ${T} ${internalTrafficChain} ip daddr ${svc.clusterIP} ${proto} dport ${svc.port}`;
    if (masqueradeAll) add(`${head} jump mark-for-masquerade`);
    else if (clusterCIDR !== null) add(`${head} ip saddr != ${clusterCIDR} jump mark-for-masquerade`);
  }

  if (usesExternalTrafficChain) {
    const ext = `add rule ${T} ${n.external}`;
    if (!svc.externalPolicyLocal) add(`${ext} jump mark-for-masquerade`);
    else {
      if (clusterCIDR !== null) add(`${ext} ip saddr ${clusterCIDR} goto ${n.cluster} comment "short-circuit pod traffic"`);
      add(`${ext} fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"`);
      add(`${ext} fib saddr type local goto ${n.cluster} comment "short-circuit local traffic"`);
    }
    if (hasExternalEndpoints) add(`${ext} goto ${externalPolicyChain}`);
  }

  if (usesFWChain) {
    const sources = svc.loadBalancerSourceRanges.map((c) => c.text);
    if (nodeIP !== null && svc.loadBalancerSourceRanges.some((c) => cidrContains(c, nodeIP))) sources.push(...svc.loadBalancerVIPs);
    add(`add rule ${T} ${n.firewall} ip saddr != { ${sources.join(', ')} } drop`);
  }

  if (svc.clientIPAffinity) {
    for (const ep of allReachableEndpoints) {
      add(`add set ${T} affinity-${endpointBase(svc, ep)} { type ipv4_addr ; flags dynamic,timeout ; timeout ${svc.stickyMaxAgeSeconds}s ; }`);
    }
  }

  if (usesClusterPolicyChain) serviceToEndpointRules(add, svc, n.cluster, clusterEndpoints);
  if (usesLocalPolicyChain) serviceToEndpointRules(add, svc, n.local, localEndpoints);

  for (const ep of allReachableEndpoints) {
    const base = endpointBase(svc, ep);
    const c = `add rule ${T} endpoint-${base}`;
    add(`${c} ip saddr ${ep.ip} jump mark-for-masquerade`);
    if (svc.clientIPAffinity) add(`${c} update @affinity-${base} { ip saddr }`);
    add(`${c} meta l4proto ${proto} dnat to ${ep.ip}:${ep.port}`);
  }
}

/** writeServiceToEndpointRules: affinity first, then one numgen verdict map over the endpoints. */
function serviceToEndpointRules(add: (s: string) => void, svc: ServicePortInfo, chain: string, endpoints: readonly EndpointInfo[]): void {
  if (svc.clientIPAffinity) {
    for (const ep of endpoints) {
      const base = endpointBase(svc, ep);
      add(`add rule ${T} ${chain} ip saddr @affinity-${base} goto endpoint-${base}`);
    }
  }
  const elements = endpoints.map((ep, i) => `${i} : goto endpoint-${endpointBase(svc, ep)}`).join(' , ');
  add(`add rule ${T} ${chain} numgen random mod ${endpoints.length} vmap { ${elements} }`);
}

