/**
 * Background Services (`serviceLoad:`): ClusterIP Services that carry no
 * traffic but sit in every node's kube-proxy rules, as a big cluster's do.
 * They answer "what do 10,000 Services cost per connection?": in iptables
 * mode a new connection walks KUBE-SERVICES rule by rule until its Service,
 * in IPVS and nftables mode it takes one hash or verdict-map lookup.
 *
 * Each is `ns-<i mod 100>/load-<i>` with one TCP port 80 -> 8080, a ClusterIP
 * from serviceCIDR (counting up, skipping the file's own), and
 * `endpointsPerService` endpoints taken round-robin from the scenario's pods
 * (nobody listens on 8080 for them: no traffic goes there).
 */
import type { Service } from '../models/k8s/kube-proxy/index.js';
import type { PathSegment } from './errors.js';
import { cidrBroadcast, cidrNetwork, formatIpv4, parseCidr, parseIpv4 } from './ipv4.js';
import type { Scenario } from './scenario.js';

const cache = new WeakMap<Scenario, Service[]>();

/** Problems with the file's serviceLoad (reported by normalize). */
export function checkServiceLoad(s: Pick<Scenario, 'serviceLoad' | 'serviceCIDR' | 'services' | 'nodes'>, fail: (path: PathSegment[], message: string) => void): void {
  const load = s.serviceLoad;
  if (load === undefined || load.services === 0) return;
  const cidr = parseCidr(s.serviceCIDR);
  if (cidr === undefined) return;
  const free = cidrBroadcast(cidr) - cidrNetwork(cidr) - 2 - s.services.length;
  if (load.services > free) fail(['serviceLoad', 'services'], `${load.services} Services do not fit serviceCIDR ${s.serviceCIDR} (${free} addresses left)`);
  if (s.nodes.every((n) => n.pods.length === 0)) fail(['serviceLoad'], 'needs pods for the endpoints, and the scenario has none');
}

/** The background Services as kube-proxy sees them (made once per scenario). */
export function backgroundServices(s: Scenario): Service[] {
  const load = s.serviceLoad;
  if (load === undefined || load.services === 0) return [];
  let out = cache.get(s);
  if (out !== undefined) return out;
  const cidr = parseCidr(s.serviceCIDR)!;
  const used = new Set(s.services.map((x) => parseIpv4(x.clusterIP)!));
  const pods = s.nodes.flatMap((n) => n.pods.map((p) => ({ node: n.name, ip: p.ip })));
  let next = cidrNetwork(cidr) + 2;
  let pod = 0;
  out = [];
  for (let i = 0; i < load.services; i++) {
    while (used.has(next)) next++;
    const clusterIP = formatIpv4(next++);
    const endpoints = [];
    for (let e = 0; e < load.endpointsPerService; e++) {
      const p = pods[pod++ % pods.length]!;
      endpoints.push({ ip: p.ip, nodeName: p.node, ports: { http: 8080 } });
    }
    out.push({
      namespace: `ns-${i % 100}`,
      name: `load-${i}`,
      clusterIP,
      ports: [{ name: 'http', protocol: 'TCP' as const, port: 80, targetPort: 8080 }],
      endpoints,
    });
  }
  cache.set(s, out);
  return out;
}
