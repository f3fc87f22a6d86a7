/**
 * A service port's endpoints as pkg/proxy's EndpointSliceCache hands them to
 * the proxier (endpointslicecache.go): one entry per "ip:port" (a terminating
 * duplicate never replaces another), sorted by that string, with the
 * KUBE-SEP- chain name the iptables proxier's newEndpointInfo computes.
 */
import { formatIpv4, parseIpv4 } from '../../wire/addr.js';
import { servicePortEndpointChainName } from './chain-names.js';
import type { Service } from './service.js';
import type { ServicePortInfo } from './service-port.js';

export interface EndpointInfo {
  readonly ip: string;
  readonly port: number;
  /** BaseEndpointInfo.String(): "ip:port". */
  readonly str: string;
  readonly isLocal: boolean;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly chainName: string;
}

/** By service port: its endpoints as seen from a node that hosts none of them (none local), the same on every such node. */
const remoteView = new WeakMap<ServicePortInfo, readonly EndpointInfo[]>();

/**
 * The port's endpoints as kube-proxy on `nodeName` sees them ('' for no
 * node). Every node but those hosting an endpoint sees the same list, made
 * once for a port: a cluster's nodes each sync 10,000 background Services.
 * The list is shared: callers must not change it.
 */
export function endpointsForPort(svc: Service, p: ServicePortInfo, nodeName: string): readonly EndpointInfo[] {
  const eps = svc.endpoints ?? [];
  if (nodeName !== '' && eps.some((ep) => ep.nodeName === nodeName)) return endpointsSeenFrom(svc, p, nodeName);
  let view = remoteView.get(p);
  if (view === undefined) remoteView.set(p, (view = endpointsSeenFrom(svc, p, '')));
  return view;
}

function endpointsSeenFrom(svc: Service, p: ServicePortInfo, nodeName: string): EndpointInfo[] {
  const byString = new Map<string, EndpointInfo>();
  const fallbackPort = p.spec.targetPort ?? p.spec.port;
  for (const ep of svc.endpoints ?? []) {
    const port = ep.ports?.[p.spec.name] ?? fallbackPort;
    // endpointInfoByServicePort: a zero port is invalid and ignored.
    if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
    let ip: string;
    try {
      ip = formatIpv4(parseIpv4(ep.ip));
    } catch (e) {
      throw new RangeError(`service ${p.nameString} endpoint: ${(e as Error).message} (this model is IPv4 only)`);
    }
    const str = `${ip}:${port}`;
    const terminating = ep.terminating ?? false;
    if (byString.has(str) && terminating) continue;
    byString.set(str, {
      ip,
      port,
      str,
      isLocal: nodeName !== '' && ep.nodeName === nodeName,
      ready: ep.ready ?? true,
      serving: ep.serving ?? true,
      terminating,
      chainName: servicePortEndpointChainName(p.nameString, p.protocol, str),
    });
  }
  // byEndpoint: plain string order ("10.0.0.10:80" < "10.0.0.2:80").
  return [...byString.values()].sort((a, b) => (a.str < b.str ? -1 : a.str > b.str ? 1 : 0));
}
