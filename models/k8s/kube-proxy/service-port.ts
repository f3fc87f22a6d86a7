/**
 * One service port as the iptables proxier sees it: pkg/proxy's
 * BaseServicePortInfo (serviceport.go, servicechangetracker.go) plus the
 * chain names the iptables proxier's servicePortInfo precomputes. Addresses
 * are validated and printed the way Go's net.IP / net.IPNet String() does.
 */
import { formatIpv4, parseCidr, parseIpv4, prefixMask } from '../../wire/addr.js';
import {
  serviceExternalChainName,
  serviceFirewallChainName,
  servicePortPolicyClusterChain,
  servicePortPolicyLocalChainName,
} from './chain-names.js';
import { DEFAULT_CLIENT_IP_TIMEOUT_SECONDS, type Service, type ServicePortSpec } from './service.js';

export interface ServicePortInfo {
  readonly service: Service;
  readonly spec: ServicePortSpec;
  /** ServicePortName.String(): "ns/name:port", or "ns/name" for an unnamed port. */
  readonly nameString: string;
  /** Lower-case protocol, as used in `-m tcp -p tcp` and in the chain-name hash. */
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly clusterIP: string;
  readonly port: number;
  /** 0: none. */
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerVIPs: readonly string[];
  /** Normalised CIDRs ("203.0.113.0/25") and their numeric form. */
  readonly loadBalancerSourceRanges: readonly { text: string; network: number; prefixLen: number }[];
  /** 0: none. */
  readonly healthCheckNodePort: number;
  readonly internalPolicyLocal: boolean;
  readonly externalPolicyLocal: boolean;
  readonly clientIPAffinity: boolean;
  readonly stickyMaxAgeSeconds: number;
  readonly clusterPolicyChain: string;
  readonly localPolicyChain: string;
  readonly firewallChain: string;
  readonly externalChain: string;
}

/** ServicePortName.String() (pkg/proxy/types.go). */
export function servicePortNameString(namespace: string, name: string, portName: string): string {
  return portName === '' ? `${namespace}/${name}` : `${namespace}/${name}:${portName}`;
}

/** A Service without a ClusterIP (headless) is not proxied (ShouldSkipService). */
export function isHeadless(svc: Service): boolean {
  return svc.clusterIP === '' || svc.clusterIP === 'None';
}

/** apiservice.ExternallyAccessible: decided by type, not by which fields are set. */
function serviceExternallyAccessible(svc: Service): boolean {
  const type = svc.type ?? 'ClusterIP';
  return type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && (svc.externalIPs?.length ?? 0) > 0);
}

function canonicalIp(text: string, what: string): string {
  try {
    return formatIpv4(parseIpv4(text.trim()));
  } catch (e) {
    throw new RangeError(`${what}: ${(e as Error).message} (this model is IPv4 only)`);
  }
}

/** net.ParseCIDR(strings.TrimSpace(s)).String(): the network, not the address as written. */
export function canonicalCidr(text: string, what: string): { text: string; network: number; prefixLen: number } {
  let c;
  try {
    c = parseCidr(text.trim());
  } catch (e) {
    throw new RangeError(`${what}: ${(e as Error).message} (this model is IPv4 only)`);
  }
  return { text: `${formatIpv4(c.network)}/${c.prefixLen}`, network: c.network, prefixLen: c.prefixLen };
}

export function cidrContains(cidr: { network: number; prefixLen: number }, addr: number): boolean {
  return ((addr & prefixMask(cidr.prefixLen)) >>> 0) === cidr.network;
}

export function newServicePortInfo(svc: Service, spec: ServicePortSpec): ServicePortInfo {
  const nameString = servicePortNameString(svc.namespace, svc.name, spec.name);
  const where = `service ${nameString}`;
  const protocol = spec.protocol.toLowerCase() as ServicePortInfo['protocol'];
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') {
    throw new RangeError(`${where}: protocol ${JSON.stringify(spec.protocol)} is not TCP, UDP or SCTP`);
  }
  const externalPolicyLocal = serviceExternallyAccessible(svc) && svc.externalTrafficPolicy === 'Local';
  const clientIPAffinity = svc.sessionAffinity === 'ClientIP';
  const needsHealthCheck = svc.type === 'LoadBalancer' && externalPolicyLocal;
  return {
    service: svc,
    spec,
    nameString,
    protocol,
    clusterIP: canonicalIp(svc.clusterIP, `${where} clusterIP`),
    port: spec.port,
    nodePort: spec.nodePort ?? 0,
    externalIPs: (svc.externalIPs ?? []).map((ip) => canonicalIp(ip, `${where} externalIPs`)),
    loadBalancerVIPs: (svc.loadBalancerIPs ?? []).map((ip) => canonicalIp(ip, `${where} loadBalancerIPs`)),
    loadBalancerSourceRanges: (svc.loadBalancerSourceRanges ?? []).map((c) => canonicalCidr(c, `${where} loadBalancerSourceRanges`)),
    healthCheckNodePort: needsHealthCheck ? (svc.healthCheckNodePort ?? 0) : 0,
    internalPolicyLocal: svc.internalTrafficPolicy === 'Local',
    externalPolicyLocal,
    clientIPAffinity,
    stickyMaxAgeSeconds: clientIPAffinity ? (svc.sessionAffinityTimeoutSeconds ?? DEFAULT_CLIENT_IP_TIMEOUT_SECONDS) : 0,
    clusterPolicyChain: servicePortPolicyClusterChain(nameString, protocol),
    localPolicyChain: servicePortPolicyLocalChainName(nameString, protocol),
    firewallChain: serviceFirewallChainName(nameString, protocol),
    externalChain: serviceExternalChainName(nameString, protocol),
  };
}

/** BaseServicePortInfo.ExternallyAccessible: this port has a NodePort, a LoadBalancer IP or an ExternalIP. */
export function externallyAccessible(p: ServicePortInfo): boolean {
  return p.nodePort !== 0 || p.loadBalancerVIPs.length > 0 || p.externalIPs.length > 0;
}

/** UsesClusterEndpoints: some traffic to this port uses the Cluster policy. */
export function usesClusterEndpoints(p: ServicePortInfo): boolean {
  return !p.internalPolicyLocal || (externallyAccessible(p) && !p.externalPolicyLocal);
}

/** UsesLocalEndpoints: some traffic to this port uses the Local policy. */
export function usesLocalEndpoints(p: ServicePortInfo): boolean {
  return p.internalPolicyLocal || (p.externalPolicyLocal && externallyAccessible(p));
}
