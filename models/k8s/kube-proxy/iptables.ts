/**
 * The iptables-restore input kube-proxy's iptables mode writes on a full sync:
 * a transcription of Proxier.syncProxyRules and writeServiceToEndpointRules in
 * pkg/proxy/iptables/proxier.go at Kubernetes v1.30 (IPv4, no topology hints,
 * no stale-chain deletion since the namespace starts empty).
 *
 * The text is what kube-proxy hands to `iptables-restore --noflush --counters`,
 * byte for byte: arguments in kube-proxy's order, `-s 10.180.0.1` without /32,
 * comments quoted only where kube-proxy quotes them. iptables-save prints the
 * same rules canonically (`-s 10.180.0.1/32 -p tcp -m comment --comment
 * "ns1/svc1:p80" ...`, `-m recent --set --name X --mask 255.255.255.255
 * --rsource`); that canonical form is the iptables model's save(), not this.
 *
 * kube-proxy walks its service map in Go's random map order; this walks it
 * sorted by service port name, which is one of the orders kube-proxy can
 * produce, so the output is deterministic. sortKubeProxyRules (sort-rules.ts)
 * puts any such output into the order kube-proxy's own tests compare.
 *
 * The jumps into these chains from the built-in chains are not part of the
 * restore input: kube-proxy adds them with `iptables -I` (EnsureRule, Prepend)
 * before the restore. kubeProxyBaseRules() is the ruleset they leave behind in
 * an empty namespace, so the two load in sequence:
 *   restore(kubeProxyBaseRules()); restore(kubeProxyIptables(input), { noflush: true })
 */
import { formatIpv4, parseIpv4 } from '../../wire/addr.js';
import { categorizeEndpoints } from './categorize-endpoints.js';
import type { EndpointInfo } from './endpoints.js';
import { ProbabilityCache } from './probability.js';
import { serviceMap } from './service-map.js';
import { SharedPortLines } from './shared-port-lines.js';
import {
  canonicalCidr,
  cidrContains,
  externallyAccessible,
  usesClusterEndpoints,
  usesLocalEndpoints,
  type ServicePortInfo,
} from './service-port.js';
import { DEFAULT_MASQUERADE_BIT, type KubeProxyInput, type KubeProxyNode } from './service.js';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
/** kubelet's anti-martian chain, which kube-proxy duplicates. */
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

/** Above this many endpoints in total kube-proxy drops per-endpoint comments (largeClusterEndpointsThreshold). */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

const NODEPORTS_LAST_RULE_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"';

/** Go's fmt.Sprintf("%#08x", v): the zero padding counts digits, then "0x" goes in front. */
export function masqueradeMarkString(bit: number): string {
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw new RangeError(`masqueradeBit ${bit} is not in 0..31`);
  return `0x${((1 << bit) >>> 0).toString(16).padStart(8, '0')}`;
}

/** A chain declaration line as utiliptables.MakeChainLine writes it. */
function chainLine(chain: string): string {
  return `:${chain} - [0:0]`;
}

/** The node's addresses kube-proxy accepts NodePorts on (NodePortAddresses.GetNodeIPs), loopback first as on "lo". */
function nodePortIPs(node: KubeProxyNode, cidrs: readonly { network: number; prefixLen: number }[]): number[] {
  const addrs = [parseIpv4('127.0.0.1'), ...node.nodeIPs.map((ip) => parseIpv4(ip))];
  const out: number[] = [];
  for (const a of addrs) {
    if (!out.includes(a) && cidrs.some((c) => cidrContains(c, a))) out.push(a);
  }
  return out;
}

interface Buffers {
  filterChains: string[];
  filterRules: string[];
  natChains: string[];
  natRules: string[];
}

/** Everything about the node that stays fixed for one sync. */
interface SyncContext {
  masqueradeAll: boolean;
  mark: string;
  /** `! -s <clusterCIDR>` and `-s <clusterCIDR>` (LocalTrafficDetector), or null if not implemented. */
  clusterCIDR: string | null;
  nodeIP: number | null;
  largeClusterMode: boolean;
  probabilities: ProbabilityCache;
}

/** kube-proxy's full-sync iptables-restore input for the filter and nat tables. */
export function kubeProxyIptables(input: KubeProxyInput): string {
  const node = input.node;
  const mark = node.masqueradeMark ?? masqueradeMarkString(node.masqueradeBit ?? DEFAULT_MASQUERADE_BIT);

  // NodePortAddresses: no CIDRs (or 0.0.0.0/0 among them) means every local address.
  const npCidrs = (node.nodePortAddresses ?? []).map((c) => canonicalCidr(c, 'nodePortAddresses'));
  const matchAll = npCidrs.length === 0 || npCidrs.some((c) => c.prefixLen === 0);
  const loopback = parseIpv4('127.0.0.1');
  // NewProxier turns localhost NodePorts off when --nodeport-addresses excludes loopback.
  const localhostNodePorts = (node.localhostNodePorts ?? true) && (matchAll || npCidrs.some((c) => cidrContains(c, loopback)));

  const ports = serviceMap(input);

  let totalEndpoints = 0;
  for (const p of ports) totalEndpoints += p.endpoints.length;

  const ctx: SyncContext = {
    masqueradeAll: node.masqueradeAll ?? false,
    mark,
    clusterCIDR: localDetectorCIDR(node),
    nodeIP: node.nodeIPs.length > 0 ? parseIpv4(node.nodeIPs[0]) : null,
    largeClusterMode: totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD,
    probabilities: new ProbabilityCache(),
  };
  const buf: Buffers = { filterChains: [], filterRules: [], natChains: [], natRules: [] };

  // Top-level chains.
  for (const c of [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL]) buf.filterChains.push(chainLine(c));
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) buf.natChains.push(chainLine(c));

  // KUBE-POSTROUTING: masquerade what KUBE-MARK-MASQ marked, clearing the mark
  // so a packet that re-traverses the stack is not masqueraded twice.
  buf.natRules.push(`-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  buf.natRules.push(`-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`);
  buf.natRules.push(
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE` +
      ((node.randomFully ?? true) ? ' --random-fully' : ''),
  );
  buf.natRules.push(`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`);

  if (localhostNodePorts) {
    // route_localnet=1 (for localhost NodePorts) lets martians in; this drops them (issue 90259).
    buf.filterChains.push(chainLine(KUBE_FIREWALL));
    buf.filterRules.push(
      `-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    );
  }

  const settings = `${ctx.masqueradeAll}|${ctx.clusterCIDR}|${ctx.largeClusterMode}`;
  for (const p of ports) writePort(buf, ctx, settings, p.info, p.endpoints);

  // Finally the tail-call to KUBE-NODEPORTS, after every service portal rule.
  if (matchAll) {
    buf.natRules.push(
      `-A ${KUBE_SERVICES} -m comment --comment ${NODEPORTS_LAST_RULE_COMMENT} -m addrtype --dst-type LOCAL` +
        (localhostNodePorts ? '' : ' ! -d 127.0.0.0/8') +
        ` -j ${KUBE_NODEPORTS}`,
    );
  } else {
    for (const ip of nodePortIPs(node, npCidrs)) {
      if (ip === loopback && !localhostNodePorts) continue;
      buf.natRules.push(`-A ${KUBE_SERVICES} -m comment --comment ${NODEPORTS_LAST_RULE_COMMENT} -d ${formatIpv4(ip)} -j ${KUBE_NODEPORTS}`);
    }
  }

  // INVALID packets would reset connections unless the kernel is liberal about TCP windows.
  if (!(node.conntrackTCPLiberal ?? false)) buf.filterRules.push(`-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID -j DROP`);
  // Forward what was marked for masquerade (NodePort traffic) even under a DROP policy.
  buf.filterRules.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  buf.filterRules.push(
    `-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );

  // One join: concat copies the buffers' pointers, where joining each buffer first copied the text twice.
  return ['*filter'].concat(buf.filterChains, buf.filterRules, 'COMMIT', '*nat', buf.natChains, buf.natRules, 'COMMIT\n').join('\n');
}

/** NewDetectLocalByCIDR writes --cluster-cidr as given: validated, not normalised. */
function localDetectorCIDR(node: KubeProxyNode): string | null {
  if (node.clusterCIDR === undefined) return null;
  canonicalCidr(node.clusterCIDR, 'clusterCIDR'); // throws on a malformed CIDR
  return node.clusterCIDR.trim();
}

/** A port's lines in each buffer, joined (empty: none). */
interface PortLines {
  filterChains: string;
  filterRules: string;
  natChains: string;
  natRules: string;
}

const sharedLines = new SharedPortLines<PortLines>();

/** writeServicePort, or the same lines another node wrote for the port (`settings`: the SyncContext fields it reads). */
function writePort(buf: Buffers, ctx: SyncContext, settings: string, svc: ServicePortInfo, endpoints: readonly EndpointInfo[]): void {
  const lines = sharedLines.get(svc, endpoints, settings, () => {
    const own: Buffers = { filterChains: [], filterRules: [], natChains: [], natRules: [] };
    writeServicePort(own, ctx, svc, endpoints);
    return { filterChains: own.filterChains.join('\n'), filterRules: own.filterRules.join('\n'), natChains: own.natChains.join('\n'), natRules: own.natRules.join('\n') };
  });
  if (lines === null) {
    writeServicePort(buf, ctx, svc, endpoints);
    return;
  }
  if (lines.filterChains !== '') buf.filterChains.push(lines.filterChains);
  if (lines.filterRules !== '') buf.filterRules.push(lines.filterRules);
  if (lines.natChains !== '') buf.natChains.push(lines.natChains);
  if (lines.natRules !== '') buf.natRules.push(lines.natRules);
}

/** The per-service-port body of syncProxyRules' loop. */
function writeServicePort(buf: Buffers, ctx: SyncContext, svc: ServicePortInfo, allEndpoints: readonly EndpointInfo[]): void {
  const { filterRules, natChains, natRules } = buf;
  const protocol = svc.protocol;
  const name = svc.nameString;
  const { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints: hasEndpoints } = categorizeEndpoints(allEndpoints, svc);

  const clusterPolicyChain = svc.clusterPolicyChain;
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints(svc);
  const localPolicyChain = svc.localPolicyChain;
  const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints(svc);

  let internalTrafficChain = clusterPolicyChain;
  let hasInternalEndpoints = hasEndpoints;
  if (svc.internalPolicyLocal) {
    internalTrafficChain = localPolicyChain;
    if (localEndpoints.length === 0) hasInternalEndpoints = false;
  }

  let externalPolicyChain = clusterPolicyChain;
  let hasExternalEndpoints = hasEndpoints;
  if (svc.externalPolicyLocal) {
    externalPolicyChain = localPolicyChain;
    if (localEndpoints.length === 0) hasExternalEndpoints = false;
  }
  const externalTrafficChain = svc.externalChain;
  // Even without externally usable endpoints the EXT chain carries the short-circuit rules for local traffic.
  const usesExternalTrafficChain = hasEndpoints && externallyAccessible(svc);

  let loadBalancerTrafficChain = externalTrafficChain;
  const fwChain = svc.firewallChain;
  const usesFWChain = hasEndpoints && svc.loadBalancerVIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  if (usesFWChain) loadBalancerTrafficChain = fwChain;

  let internalTrafficFilterTarget = '';
  let internalTrafficFilterComment = '';
  let externalTrafficFilterTarget = '';
  let externalTrafficFilterComment = '';
  if (!hasEndpoints) {
    // No endpoints anywhere: no nat chains, only REJECTs in the filter table.
    internalTrafficFilterTarget = 'REJECT';
    internalTrafficFilterComment = `"${name} has no endpoints"`;
    externalTrafficFilterTarget = 'REJECT';
    externalTrafficFilterComment = internalTrafficFilterComment;
  } else {
    if (!hasInternalEndpoints) {
      internalTrafficFilterTarget = 'DROP';
      internalTrafficFilterComment = `"${name} has no local endpoints"`;
    }
    if (!hasExternalEndpoints) {
      externalTrafficFilterTarget = 'DROP';
      externalTrafficFilterComment = `"${name} has no local endpoints"`;
    }
  }

  const clusterIPMatch = `-m ${protocol} -p ${protocol} -d ${svc.clusterIP} --dport ${svc.port}`;

  // Capture the clusterIP.
  if (hasInternalEndpoints) {
    natRules.push(`-A ${KUBE_SERVICES} -m comment --comment "${name} cluster IP" ${clusterIPMatch} -j ${internalTrafficChain}`);
  } else {
    filterRules.push(`-A ${KUBE_SERVICES} -m comment --comment ${internalTrafficFilterComment} ${clusterIPMatch} -j ${internalTrafficFilterTarget}`);
  }

  // Capture externalIPs.
  for (const externalIP of svc.externalIPs) {
    const match = `-m ${protocol} -p ${protocol} -d ${externalIP} --dport ${svc.port}`;
    if (hasEndpoints) natRules.push(`-A ${KUBE_SERVICES} -m comment --comment "${name} external IP" ${match} -j ${externalTrafficChain}`);
    if (!hasExternalEndpoints) {
      filterRules.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} ${match} -j ${externalTrafficFilterTarget}`);
    }
  }

  // Capture load-balancer ingress.
  for (const lbip of svc.loadBalancerVIPs) {
    const match = `-m ${protocol} -p ${protocol} -d ${lbip} --dport ${svc.port}`;
    if (hasEndpoints) natRules.push(`-A ${KUBE_SERVICES} -m comment --comment "${name} loadbalancer IP" ${match} -j ${loadBalancerTrafficChain}`);
    if (usesFWChain) {
      filterRules.push(`-A ${KUBE_PROXY_FIREWALL} -m comment --comment "${name} traffic not accepted by ${svc.firewallChain}" ${match} -j DROP`);
    }
  }
  if (!hasExternalEndpoints) {
    for (const lbip of svc.loadBalancerVIPs) {
      filterRules.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} -m ${protocol} -p ${protocol} -d ${lbip} --dport ${svc.port} -j ${externalTrafficFilterTarget}`,
      );
    }
  }

  // Capture nodeports (not subject to loadBalancerSourceRanges).
  if (svc.nodePort !== 0) {
    if (hasEndpoints) natRules.push(`-A ${KUBE_NODEPORTS} -m comment --comment ${name} -m ${protocol} -p ${protocol} --dport ${svc.nodePort} -j ${externalTrafficChain}`);
    if (!hasExternalEndpoints) {
      filterRules.push(
        `-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalTrafficFilterComment} -m addrtype --dst-type LOCAL -m ${protocol} -p ${protocol} --dport ${svc.nodePort} -j ${externalTrafficFilterTarget}`,
      );
    }
  }

  // healthCheckNodePorts are accepted whether or not this node has local endpoints.
  if (svc.healthCheckNodePort !== 0) {
    filterRules.push(`-A ${KUBE_NODEPORTS} -m comment --comment "${name} health check node port" -m tcp -p tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`);
  }

  // Internal traffic: masquerade what did not come from a pod (or everything, with --masquerade-all).
  if (hasInternalEndpoints) {
    const head = `-A ${internalTrafficChain} -m comment --comment "${name} cluster IP" ${clusterIPMatch}`;
    if (ctx.masqueradeAll) natRules.push(`${head} -j ${KUBE_MARK_MASQ}`);
    else if (ctx.clusterCIDR !== null) natRules.push(`${head} ! -s ${ctx.clusterCIDR} -j ${KUBE_MARK_MASQ}`);
  }

  // External traffic: everything captured for external destinations goes through the EXT chain.
  if (usesExternalTrafficChain) {
    natChains.push(chainLine(externalTrafficChain));
    if (!svc.externalPolicyLocal) {
      // Non-local endpoints may be on another node: masquerade.
      natRules.push(`-A ${externalTrafficChain} -m comment --comment "masquerade traffic for ${name} external destinations" -j ${KUBE_MARK_MASQ}`);
    } else {
      if (ctx.clusterCIDR !== null) {
        // Pods reaching an external IP are treated as if they went out to the load balancer and back.
        natRules.push(`-A ${externalTrafficChain} -m comment --comment "pod traffic for ${name} external destinations" -s ${ctx.clusterCIDR} -j ${clusterPolicyChain}`);
      }
      // The host's own traffic has a local (often the LB) address as source: masquerade it, use Cluster policy.
      natRules.push(
        `-A ${externalTrafficChain} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      );
      natRules.push(
        `-A ${externalTrafficChain} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${clusterPolicyChain}`,
      );
    }
    if (hasExternalEndpoints) natRules.push(`-A ${externalTrafficChain} -j ${externalPolicyChain}`);
  }

  // Firewall chain for loadBalancerSourceRanges.
  if (usesFWChain) {
    natChains.push(chainLine(fwChain));
    const head = `-A ${fwChain} -m comment --comment "${name} loadbalancer IP"`;
    let allowFromNode = false;
    for (const cidr of svc.loadBalancerSourceRanges) {
      natRules.push(`${head} -s ${cidr.text} -j ${externalTrafficChain}`);
      if (ctx.nodeIP !== null && cidrContains(cidr, ctx.nodeIP)) allowFromNode = true;
    }
    // A node reaching its own VIP-like LB loops back with the VIP as source.
    if (allowFromNode) {
      for (const lbip of svc.loadBalancerVIPs) natRules.push(`${head} -s ${lbip} -j ${externalTrafficChain}`);
    }
    // What falls off the end was not DNATed and meets the KUBE-PROXY-FIREWALL DROP.
    natRules.push(`-A ${fwChain} -m comment --comment "other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL"`);
  }

  if (usesClusterPolicyChain) {
    natChains.push(chainLine(clusterPolicyChain));
    writeServiceToEndpointRules(natRules, ctx, svc, clusterPolicyChain, clusterEndpoints);
  }
  if (usesLocalPolicyChain) {
    natChains.push(chainLine(localPolicyChain));
    writeServiceToEndpointRules(natRules, ctx, svc, localPolicyChain, localEndpoints);
  }

  // Per-endpoint chains: hairpin masquerade, affinity bookkeeping, DNAT.
  const comment = ctx.largeClusterMode ? '' : ` -m comment --comment ${name}`;
  for (const ep of allReachableEndpoints) {
    natChains.push(chainLine(ep.chainName));
    natRules.push(`-A ${ep.chainName}${comment} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
    const affinity = svc.clientIPAffinity ? ` -m recent --name ${ep.chainName} --set` : '';
    natRules.push(`-A ${ep.chainName}${comment}${affinity} -m ${protocol} -p ${protocol} -j DNAT --to-destination ${ep.str}`);
  }
}

/** Session-affinity checks first, then the 1/n, 1/(n-1), ... random split. */
function writeServiceToEndpointRules(
  natRules: string[],
  ctx: SyncContext,
  svc: ServicePortInfo,
  svcChain: string,
  endpoints: readonly EndpointInfo[],
): void {
  const commentFor = (ep: EndpointInfo) => (ctx.largeClusterMode ? '' : ` -m comment --comment "${svc.nameString} -> ${ep.str}"`);
  if (svc.clientIPAffinity) {
    for (const ep of endpoints) {
      natRules.push(
        `-A ${svcChain}${commentFor(ep)} -m recent --name ${ep.chainName} --rcheck --seconds ${svc.stickyMaxAgeSeconds} --reap -j ${ep.chainName}`,
      );
    }
  }
  const n = endpoints.length;
  for (let i = 0; i < n; i++) {
    const ep = endpoints[i];
    const statistic = i < n - 1 ? ` -m statistic --mode random --probability ${ctx.probabilities.get(n - i)}` : '';
    natRules.push(`-A ${svcChain}${commentFor(ep)}${statistic} -j ${ep.chainName}`);
  }
}

interface JumpChain {
  table: 'filter' | 'nat';
  dstChain: string;
  srcChain: string;
  comment: string;
  extraArgs: string;
}

const CTSTATE_NEW = '-m conntrack --ctstate NEW';

/** iptablesJumpChains, then iptablesKubeletJumpChains, in proxier.go's order. */
const JUMP_CHAINS: readonly JumpChain[] = [
  { table: 'filter', dstChain: KUBE_EXTERNAL_SERVICES, srcChain: 'INPUT', comment: 'kubernetes externally-visible service portals', extraArgs: CTSTATE_NEW },
  { table: 'filter', dstChain: KUBE_EXTERNAL_SERVICES, srcChain: 'FORWARD', comment: 'kubernetes externally-visible service portals', extraArgs: CTSTATE_NEW },
  { table: 'filter', dstChain: KUBE_NODEPORTS, srcChain: 'INPUT', comment: 'kubernetes health check service ports', extraArgs: '' },
  { table: 'filter', dstChain: KUBE_SERVICES, srcChain: 'FORWARD', comment: 'kubernetes service portals', extraArgs: CTSTATE_NEW },
  { table: 'filter', dstChain: KUBE_SERVICES, srcChain: 'OUTPUT', comment: 'kubernetes service portals', extraArgs: CTSTATE_NEW },
  { table: 'filter', dstChain: KUBE_FORWARD, srcChain: 'FORWARD', comment: 'kubernetes forwarding rules', extraArgs: '' },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'INPUT', comment: 'kubernetes load balancer firewall', extraArgs: CTSTATE_NEW },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'OUTPUT', comment: 'kubernetes load balancer firewall', extraArgs: CTSTATE_NEW },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'FORWARD', comment: 'kubernetes load balancer firewall', extraArgs: CTSTATE_NEW },
  { table: 'nat', dstChain: KUBE_SERVICES, srcChain: 'OUTPUT', comment: 'kubernetes service portals', extraArgs: '' },
  { table: 'nat', dstChain: KUBE_SERVICES, srcChain: 'PREROUTING', comment: 'kubernetes service portals', extraArgs: '' },
  { table: 'nat', dstChain: KUBE_POSTROUTING, srcChain: 'POSTROUTING', comment: 'kubernetes postrouting rules', extraArgs: '' },
  { table: 'filter', dstChain: KUBE_FIREWALL, srcChain: 'INPUT', comment: '', extraArgs: '' },
  { table: 'filter', dstChain: KUBE_FIREWALL, srcChain: 'OUTPUT', comment: '', extraArgs: '' },
];

const BUILTIN_CHAINS = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
} as const;

/**
 * The ruleset kube-proxy's start of a full sync leaves in an empty network
 * namespace: the built-in chains (policy ACCEPT), the top-level KUBE- chains
 * (EnsureChain) and the jumps into them (EnsureRule with Prepend, so each jump
 * lands at position 1 and a built-in chain lists them in reverse order of
 * JUMP_CHAINS). In iptables-save's chain order; load it before kubeProxyIptables().
 */
export function kubeProxyBaseRules(): string {
  const out: string[] = [];
  for (const table of ['filter', 'nat'] as const) {
    const builtins: readonly string[] = BUILTIN_CHAINS[table];
    const userChains: string[] = [];
    const rules = new Map<string, string[]>(builtins.map((c) => [c, []]));
    for (const j of JUMP_CHAINS) {
      if (j.table !== table) continue;
      if (!userChains.includes(j.dstChain)) userChains.push(j.dstChain);
      const args = [j.extraArgs, j.comment === '' ? '' : `-m comment --comment "${j.comment}"`, `-j ${j.dstChain}`].filter((s) => s !== '');
      rules.get(j.srcChain)!.unshift(`-A ${j.srcChain} ${args.join(' ')}`);
    }
    out.push(`*${table}`);
    for (const c of builtins) out.push(`:${c} ACCEPT [0:0]`);
    for (const c of userChains) out.push(chainLine(c));
    for (const c of builtins) out.push(...rules.get(c)!);
    out.push('COMMIT');
  }
  out.push('');
  return out.join('\n');
}
