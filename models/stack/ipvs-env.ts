import { Ipvs } from '../netfilter/ipvs/ipvs.js';
import type { VirtualServerSpec } from '../netfilter/ipvs/service.js';
import { ICMP_DEST_UNREACH } from '../wire/icmp.js';
import type { Netns } from './netns.js';
import { attachNetfilter } from './netfilter-env.js';

/** ICMP_PORT_UNREACH */
const ICMP_PORT_UNREACH = 3;

/**
 * Loads IPVS into a namespace (its netfilter, made if needed) with the given
 * virtual servers, wired to the namespace's routing and ICMP.
 */
export function attachIpvs(ns: Netns, services: readonly VirtualServerSpec[]): Ipvs {
  const nf = ns.netfilter ?? attachNetfilter(ns);
  const ipvs = new Ipvs({
    now: () => ns.now(),
    routeTo: (pkt, dst) => {
      if (ns.isLocal(dst)) return 'local';
      const r = ns.outputRoute(dst);
      if (r === null) return null;
      pkt.route = r;
      return 'remote';
    },
    portUnreachable: (p) => ns.icmp.sendError(p.pkt, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, p),
  });
  for (const s of services) ipvs.addService(s);
  nf.attachIpvs(ipvs);
  return ipvs;
}
