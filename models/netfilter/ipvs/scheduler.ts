/**
 * IPVS schedulers (net/netfilter/ipvs/ip_vs_{rr,wrr,lc,wlc,lblc,lblcr,sed,nq,sh,dh}.c): pick
 * a real server for a new connection, or null when none is available ("no
 * destination available"; the caller answers ICMP port unreachable). Every
 * scheduler walks svc->destinations in list order, the last real server
 * added first, and a real server of weight 0 (kube-proxy's terminating
 * endpoints) gets no new connection. No real server is ever overloaded here:
 * kube-proxy sets no upper connection threshold (ipvsadm -x). These are all
 * the values kube-proxy's --ipvs-scheduler takes.
 */
import type { RealServer, VirtualServer } from './service.js';

/** ip_vs_dest_conn_overhead: active connections weigh 256 times an inactive one. */
export function connOverhead(d: RealServer): number {
  return d.activeConns * 256 + d.inactConns;
}

/** ip_vs_sed_dest_overhead and ip_vs_nq_dest_overhead: only active connections count, plus the one to come. */
function expectedOverhead(d: RealServer): number {
  return d.activeConns + 1;
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

/**
 * wrr's svc->sched_data (struct ip_vs_wrr_mark): the dest last chosen (cl,
 * -1 for the list head), the current weight (cw), the weight a round starts
 * from (mw) and the step between rounds (di, the gcd of the positive weights).
 */
export class WrrMark {
  cl = -1;
  cw = 0;
  mw = 0;
  di = 1;

  /** ip_vs_wrr_dest_changed, run when a dest is added or deleted (and, with no dest, as ip_vs_wrr_init_svc). */
  destChanged(dests: readonly RealServer[]): void {
    let g = 0;
    let max = 0;
    for (const d of dests) {
      if (d.weight > 0) g = g > 0 ? gcd(d.weight, g) : d.weight;
      if (d.weight > max) max = d.weight;
    }
    this.cl = -1;
    this.di = g > 0 ? g : 1;
    this.mw = max - (this.di - 1);
    if (this.cw > this.mw || this.cw === 0) this.cw = this.mw;
    else if (this.di > 1) this.cw = Math.floor(this.cw / this.di) * this.di + 1;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * ip_vs_wrr_schedule: from the dest after the last one chosen, the first
 * whose weight reaches the current weight; at the end of the list the
 * current weight steps down by di (back to mw below 1), and the walk goes on
 * from the head. Weights 4, 3 and 2 give A A B A B C A B C.
 */
function wrr(svc: VirtualServer): RealServer | null {
  const m = svc.wrr!;
  const dests = svc.dests;
  if (m.mw === 0) return null;
  let from = m.cl;
  const last = from;
  let stop = -2;
  let lastPass = false;
  let restarted = false;
  for (;;) {
    for (let k = from + 1; k < dests.length; k++) {
      if (dests[k]!.weight >= m.cw) {
        m.cl = k;
        return dests[k]!;
      }
      if (k === stop) {
        m.cl = k;
        return null;
      }
    }
    from = -1;
    m.cw -= m.di;
    if (m.cw <= 0) {
      m.cw = m.mw;
      // Every dest was checked for weight >= 1 already.
      if (lastPass || last === -1) {
        m.cl = -1;
        return null;
      }
      restarted = true;
    }
    lastPass = m.cw <= m.di;
    // The first pass for weight >= 1 began after `last`: now check up to it.
    if (lastPass && restarted && last !== -1) stop = last;
  }
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

/**
 * ip_vs_wlc_schedule and ip_vs_sed_schedule over a service's dests, and
 * lblcr's ip_vs_dest_set_min over a set: the least overhead per unit of
 * weight, compared as loh * dw > doh * lw. The first dest of positive weight
 * starts; a later dest of weight 0 can never win (loh * 0 > doh * lw is
 * false). A set may still hold a dest deleted from the service, which is
 * passed over (not IP_VS_DEST_F_AVAILABLE); a service's own list holds none.
 */
function leastPerWeight(dests: readonly RealServer[], overhead: (d: RealServer) => number): RealServer | null {
  let i = 0;
  while (i < dests.length && !(dests[i]!.weight > 0 && !dests[i]!.removed)) i++;
  if (i === dests.length) return null;
  let least = dests[i]!;
  let loh = overhead(least);
  for (i++; i < dests.length; i++) {
    const d = dests[i]!;
    const doh = overhead(d);
    if (loh * d.weight > doh * least.weight && !d.removed) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/**
 * is_overloaded of ip_vs_lblc and ip_vs_lblcr: the dest has more active
 * connections than its weight while some dest of the service is under half
 * of its own.
 */
function lblcOverloaded(d: RealServer, svc: VirtualServer): boolean {
  if (d.activeConns <= d.weight) return false;
  return svc.dests.some((x) => x.activeConns * 2 < x.weight);
}

/**
 * ip_vs_lblc_schedule: the dest this destination address was last given, if
 * it is still in the service, of positive weight and not overloaded;
 * otherwise a new one by weighted least connection (__ip_vs_lblc_schedule,
 * wlc's loop), which the address keeps from then on. For kube-proxy's NAT
 * services the destination is the virtual address, so a Service stays on one
 * real server until it is overloaded. Not modelled: forgetting an address
 * unused for lblc_expiration (24 h), or past 4,096 of them for 6 minutes.
 */
function lblc(svc: VirtualServer, daddr: number): RealServer | null {
  const cached = svc.lblc!.get(daddr);
  if (cached !== undefined && !cached.removed && cached.weight > 0 && !lblcOverloaded(cached, svc)) return cached;
  const d = leastPerWeight(svc.dests, connOverhead);
  if (d !== null) svc.lblc!.set(daddr, d);
  return d;
}

/**
 * ip_vs_lblcr_schedule: each destination address has a set of dests, the
 * newest first. The least loaded of the set (ip_vs_dest_set_min, weighted
 * least connection among the set's dests still in the service) serves it
 * unless that one is overloaded; then a new dest by wlc's loop joins the set.
 * Not modelled: dropping the most loaded dest of a set unchanged for
 * lblcr_expiration (24 h), and forgetting addresses as lblc does.
 */
function lblcr(svc: VirtualServer, daddr: number): RealServer | null {
  const set = svc.lblcr!.get(daddr);
  if (set !== undefined) {
    const least = leastPerWeight(set, connOverhead);
    if (least !== null && !lblcOverloaded(least, svc)) return least;
  }
  const d = leastPerWeight(svc.dests, connOverhead);
  if (d === null) return null;
  if (set === undefined) svc.lblcr!.set(daddr, [d]);
  else if (!set.includes(d)) set.unshift(d);
  return d;
}

/** ip_vs_nq_schedule: the first idle dest (no active connection) if there is one, else as sed. */
function nq(svc: VirtualServer): RealServer | null {
  let least: RealServer | null = null;
  let loh = 0;
  for (const d of svc.dests) {
    if (d.weight === 0) continue;
    const doh = expectedOverhead(d);
    if (d.activeConns === 0) return d;
    if (least === null || loh * d.weight > doh * least.weight) {
      least = d;
      loh = doh;
    }
  }
  return least;
}

/** The 256 buckets of sh and dh (IP_VS_{SH,DH}_TAB_BITS = 8). */
const TAB_BITS = 8;
const TAB_SIZE = 1 << TAB_BITS;

/** include/linux/hash.h hash_32: the top `bits` bits of val * GOLDEN_RATIO_32, in 32-bit arithmetic. */
export function hash32(val: number, bits: number): number {
  return Math.imul(val | 0, 0x61c88647) >>> (32 - bits);
}

/** The buckets go round the dests in list order, each taking `share(d)` consecutive ones (at least one). */
function bucketsRound(dests: readonly RealServer[], share: (d: RealServer) => number): (RealServer | null)[] {
  const out = new Array<RealServer | null>(TAB_SIZE).fill(null);
  if (dests.length === 0) return out;
  let k = 0;
  let count = 0;
  for (let i = 0; i < TAB_SIZE; i++) {
    const d = dests[k]!;
    out[i] = d;
    if (++count >= share(d)) {
      k = (k + 1) % dests.length;
      count = 0;
    }
  }
  return out;
}

/**
 * ip_vs_sh_reassign: each dest takes as many consecutive buckets as its
 * weight. A dest of weight 0 still takes one (`++d_count >= weight` holds at
 * once); a lookup that lands on it finds it unavailable.
 */
export function shBuckets(dests: readonly RealServer[]): (RealServer | null)[] {
  return bucketsRound(dests, (d) => d.weight);
}

/** ip_vs_dh_reassign: one bucket each, whatever the weights. */
export function dhBuckets(dests: readonly RealServer[]): (RealServer | null)[] {
  return bucketsRound(dests, () => 1);
}

/** The dest in the bucket of hash_32(addr), or none when that one has weight 0 ("no destination available"). */
function fromBucket(svc: VirtualServer, assign: (dests: readonly RealServer[]) => (RealServer | null)[], addr: number): RealServer | null {
  const d = svc.hashBuckets(assign)[hash32(addr, TAB_BITS)]!;
  return d === null || d.weight <= 0 ? null : d;
}

/** The scheduler of `svc` for a new connection from `saddr` to `daddr`. */
export function schedule(svc: VirtualServer, saddr: number, daddr: number): RealServer | null {
  switch (svc.scheduler) {
    case 'rr':
      return rr(svc);
    case 'wrr':
      return wrr(svc);
    case 'lc':
      return lc(svc);
    case 'wlc':
      return leastPerWeight(svc.dests, connOverhead);
    case 'lblc':
      return lblc(svc, daddr);
    case 'lblcr':
      return lblcr(svc, daddr);
    case 'sed':
      return leastPerWeight(svc.dests, expectedOverhead);
    case 'nq':
      return nq(svc);
    case 'sh':
      // ip_vs_sh_schedule without the sh-fallback and sh-port flags (kube-proxy sets neither).
      return fromBucket(svc, shBuckets, saddr);
    case 'dh':
      // ip_vs_dh_schedule: for kube-proxy's NAT services the destination is the virtual address.
      return fromBucket(svc, dhBuckets, daddr);
  }
}
