/**
 * Services (v1) read into the scenario's `services:` model
 * (scenarios/services.ts). Fields that change how traffic to the Service is
 * handled and that podwire does not model are errors; the rest (annotations,
 * appProtocol, publishNotReadyAddresses, healthCheckNodePort...) is ignored.
 */
import { parseCidr, parseIpv4 } from '../ipv4.js';
import type { RawService } from '../services.js';
import { type Fields, isMap } from './load.js';

const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'] as const;
const POLICIES = ['Cluster', 'Local'] as const;

function oneOf<T extends string>(f: Fields, path: (string | number)[], allowed: readonly T[]): T | undefined {
  const v = f.string(path);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    f.fail(path, `"${v}" is not supported (use ${allowed.join(' or ')})`);
    return undefined;
  }
  return v as T;
}

/** A Service object as a RawService; undefined when it cannot be used (reported). */
export function readService(f: Fields): RawService | undefined {
  const issuesBefore = f.issues.list.length;
  const spec = ['spec'];
  const type = oneOf(f, [...spec, 'type'], TYPES);
  f.unsupported([...spec, 'externalIPs'], 'externalIPs are not in the scenario model', (v) => Array.isArray(v) && v.length === 0);
  f.unsupported([...spec, 'externalName'], 'type ExternalName is not modelled');
  f.unsupported([...spec, 'trafficDistribution'], 'kube-proxy v1.30 as modelled has no topology-aware routing');
  f.unsupported([...spec, 'allocateLoadBalancerNodePorts'], 'LoadBalancer Services always get NodePorts here', (v) => v === true);
  f.unsupported([...spec, 'sessionAffinityConfig', 'clientIP', 'timeoutSeconds'], 'the ClientIP timeout is 10800 s', (v) => v === 10800);
  const families = f.list([...spec, 'ipFamilies']);
  families.forEach((fam, k) => {
    if (fam !== 'IPv4') f.fail([...spec, 'ipFamilies', k], `${JSON.stringify(fam)} is not supported (podwire is IPv4 only)`);
  });
  f.unsupported([...spec, 'ipFamilyPolicy'], 'podwire is IPv4 only', (v) => v === 'SingleStack' || v === 'PreferDualStack');

  let clusterIP = f.string([...spec, 'clusterIP']);
  if (clusterIP === 'None') {
    f.fail([...spec, 'clusterIP'], 'is not supported yet (a headless Service has no virtual IP for kube-proxy to program)');
  } else if (clusterIP === '') clusterIP = undefined;
  else if (clusterIP !== undefined && parseIpv4(clusterIP) === undefined) f.fail([...spec, 'clusterIP'], `"${clusterIP}" is not an IPv4 address`);
  f.list([...spec, 'clusterIPs']).forEach((ip, k) => {
    if (k > 0 || (clusterIP !== undefined && ip !== clusterIP)) f.fail([...spec, 'clusterIPs', k], 'must hold only spec.clusterIP (podwire is single-stack IPv4)');
  });

  const ports: RawService['ports'] = [];
  const list = f.list([...spec, 'ports']);
  if (list.length === 0) f.fail([...spec, 'ports'], 'must list at least one port');
  list.forEach((_, j) => {
    const at = [...spec, 'ports', j];
    const name = f.string([...at, 'name']);
    const protocol = oneOf(f, [...at, 'protocol'], ['TCP', 'UDP'] as const);
    const port = f.int([...at, 'port'], 1, 65535, 'a port number');
    if (port === undefined && f.raw([...at, 'port']) == null) f.fail([...at, 'port'], 'is required');
    let targetPort: number | undefined;
    const tp = f.raw([...at, 'targetPort']);
    if (typeof tp === 'string' && /^[0-9]+$/.test(tp)) targetPort = Number(tp);
    else if (typeof tp === 'string') f.fail([...at, 'targetPort'], `"${tp}": named target ports are not supported yet (give the number)`);
    else targetPort = f.int([...at, 'targetPort'], 1, 65535, 'a port number');
    const nodePort = f.int([...at, 'nodePort'], 1, 65535, 'a port number');
    if (port === undefined) return;
    ports.push({
      ...(name !== undefined && name !== '' ? { name } : {}),
      ...(protocol !== undefined ? { protocol } : {}),
      port,
      ...(targetPort !== undefined ? { targetPort } : {}),
      ...(nodePort !== undefined ? { nodePort } : {}),
    });
  });

  const selector = f.labels([...spec, 'selector']);
  const externalTrafficPolicy = oneOf(f, [...spec, 'externalTrafficPolicy'], POLICIES);
  const internalTrafficPolicy = oneOf(f, [...spec, 'internalTrafficPolicy'], POLICIES);
  const sessionAffinity = oneOf(f, [...spec, 'sessionAffinity'], ['None', 'ClientIP'] as const);

  // The load balancer's addresses: what its controller wrote into status, and the (deprecated) requested one.
  const lbIPs: string[] = [];
  const addLb = (ip: unknown, path: (string | number)[]) => {
    if (typeof ip !== 'string' || parseIpv4(ip) === undefined) f.fail(path, `${JSON.stringify(ip ?? null)} is not an IPv4 address`);
    else if (type !== 'LoadBalancer') f.fail(path, `${ip}: a load balancer address needs spec.type LoadBalancer (it is ${type ?? 'ClusterIP'})`);
    else if (!lbIPs.includes(ip)) lbIPs.push(ip);
  };
  if (f.raw([...spec, 'loadBalancerIP']) != null) addLb(f.raw([...spec, 'loadBalancerIP']), [...spec, 'loadBalancerIP']);
  f.list(['status', 'loadBalancer', 'ingress']).forEach((ing, k) => {
    const at = ['status', 'loadBalancer', 'ingress', k];
    if (isMap(ing) && ing['ipMode'] !== undefined && ing['ipMode'] !== 'VIP') f.fail([...at, 'ipMode'], 'is not supported yet (only VIP mode is modelled)');
    if (isMap(ing) && ing['ip'] === undefined) f.fail(at, 'needs an ip (hostname-only ingress is not modelled)');
    else addLb(isMap(ing) ? ing['ip'] : ing, [...at, 'ip']);
  });
  const ranges = f.list([...spec, 'loadBalancerSourceRanges']).filter((r, k) => {
    const ok = typeof r === 'string' && parseCidr(r) !== undefined;
    if (!ok) f.fail([...spec, 'loadBalancerSourceRanges', k], `${JSON.stringify(r)} is not an IPv4 prefix`);
    return ok;
  }) as string[];
  if (type !== 'LoadBalancer') {
    if (ranges.length > 0) f.fail([...spec, 'loadBalancerSourceRanges'], 'applies to type LoadBalancer only');
  }
  if (f.issues.list.length > issuesBefore) return undefined;
  return {
    name: f.obj.name,
    ...(type !== undefined ? { type } : {}),
    ...(clusterIP !== undefined ? { clusterIP } : {}),
    ports,
    ...(selector !== undefined ? { selector } : {}),
    ...(externalTrafficPolicy !== undefined ? { externalTrafficPolicy } : {}),
    ...(internalTrafficPolicy !== undefined ? { internalTrafficPolicy } : {}),
    ...(sessionAffinity !== undefined ? { sessionAffinity } : {}),
    ...(type === 'LoadBalancer' && lbIPs.length > 0 ? { loadBalancerIPs: lbIPs } : {}),
    ...(type === 'LoadBalancer' && ranges.length > 0 ? { loadBalancerSourceRanges: ranges } : {}),
  };
}
