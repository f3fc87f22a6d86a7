import { randomStream } from '../../../engine/rng.js';
import { endpointsForPort, type EndpointInfo } from './endpoints.js';
import { isHeadless, newServicePortInfo, type ServicePortInfo } from './service-port.js';
import type { KubeProxyInput, Service, ServicePortSpec } from './service.js';

/** One port of a service and the endpoints kube-proxy sees for it on this node. */
export interface ServiceMapEntry {
  info: ServicePortInfo;
  endpoints: readonly EndpointInfo[];
}

/** By port spec: its ServicePortInfo, which depends on the Service alone (every node of a cluster syncs the same Services). */
const infos = new WeakMap<ServicePortSpec, ServicePortInfo>();

function portInfo(svc: Service, spec: ServicePortSpec): ServicePortInfo {
  let info = infos.get(spec);
  if (info === undefined || info.service !== svc) infos.set(spec, (info = newServicePortInfo(svc, spec)));
  return info;
}

/**
 * kube-proxy's service map (proxy.ServicePortMap): one entry per port of every
 * non-headless Service, the order every mode's sync walks. kube-proxy walks a
 * Go map, whose order is random; in name order by default (one of those
 * orders, and the one kube-proxy's tests compare in), or, with the node's
 * serviceOrderSeed, a seeded random order of its own per node.
 */
export function serviceMap(input: KubeProxyInput): ServiceMapEntry[] {
  const node = input.node;
  const ports: ServiceMapEntry[] = [];
  for (const svc of input.services) {
    if (isHeadless(svc)) continue;
    for (const spec of svc.ports) {
      const info = portInfo(svc, spec);
      ports.push({ info, endpoints: endpointsForPort(svc, info, node.nodeName) });
    }
  }
  ports.sort((a, b) => compare(a.info.nameString, b.info.nameString) || compare(a.info.protocol, b.info.protocol));
  if (node.serviceOrderSeed !== undefined) {
    // Fisher-Yates from a stream of this node's own.
    const rng = randomStream(node.serviceOrderSeed, `kube-proxy/service-order/${node.nodeName}`);
    for (let i = ports.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      const t = ports[i]!;
      ports[i] = ports[j]!;
      ports[j] = t;
    }
  }
  return ports;
}

/** Go's string comparison: by UTF-16 code unit here, which is byte order for ASCII names. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
