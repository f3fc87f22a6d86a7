/**
 * IPVS schedulers (net/netfilter/ipvs/ip_vs_rr.c, ip_vs_lc.c): pick a real
 * server for a new connection, or null when none is available (no dest, or
 * every weight is 0).
 */
import type { RealServer, VirtualServer } from './service.js';

/** ip_vs_dest_conn_overhead: active connections weigh 256 times an inactive one. */
export function connOverhead(d: RealServer): number {
  return d.activeConns * 256 + d.inactConns;
}

/** ip_vs_rr_schedule: the next dest after the last one chosen, skipping weight 0, wrapping round. */
function rr(svc: VirtualServer): RealServer | null {
  const n = svc.dests.length;
  for (let i = 1; i <= n; i++) {
    const k = (svc.rrLast + i) % n;
    const d = svc.dests[k]!;
    if (d.weight > 0) {
      svc.rrLast = k;
      return d;
    }
  }
  return null;
}

/** ip_vs_lc_schedule: the least overhead; the first in list order wins a tie. */
function lc(svc: VirtualServer): RealServer | null {
  let least: RealServer | null = null;
  let loh = 0;
  for (const d of svc.dests) {
    if (d.weight === 0) continue;
    const doh = connOverhead(d);
    if (least === null || doh < loh) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

export function schedule(svc: VirtualServer): RealServer | null {
  return svc.scheduler === 'rr' ? rr(svc) : lc(svc);
}
