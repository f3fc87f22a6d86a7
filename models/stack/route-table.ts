import type { NetDevice } from '../devices/net-device.js';
import { formatIpv4, prefixMask } from '../wire/addr.js';

/** rtm_scope: link for connected prefixes, universe for routes via a gateway. */
export type RouteScope = 'link' | 'universe' | 'host';

/** One route (a fib_alias + fib_nh, flattened). */
export interface Route {
  dst: number;
  prefixLen: number;
  /** Next hop; 0 when the destination is on-link. */
  via: number;
  dev: NetDevice;
  /** Preferred source address; 0 = choose from the device (inet_select_addr). */
  src: number;
  metric: number;
  /** 'kernel' for connected routes made from an address, 'static' for configured ones. */
  proto: 'kernel' | 'static';
  scope: RouteScope;
}

/**
 * The main routing table with longest-prefix match. Routes are kept in one
 * map per prefix length; a lookup masks the address with each length present,
 * longest first, and takes the lowest metric among equal prefixes. With the few
 * distinct lengths of real tables (32, 24, 16, 0) that is a handful of hash
 * lookups whatever the table size (a host-gw node has one /24 per node).
 *
 * A key with one route (nearly all of them) maps to the Route itself, not to a
 * one-element array: host-gw gives each node a route per other node, N² in
 * all (25 M at 5,000 nodes), and the array was ~1/5 of the table's memory.
 */
export class RouteTable {
  private readonly byLen = new Map<number, Map<number, Route | Route[]>>();
  /** Prefix lengths present, longest first. */
  private lengths: number[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(route: Route): void {
    const dst = (route.dst & prefixMask(route.prefixLen)) >>> 0;
    if (dst !== route.dst >>> 0) {
      throw new Error(`route ${formatIpv4(route.dst)}/${route.prefixLen}: host bits set (did you mean ${formatIpv4(dst)}/${route.prefixLen}?)`);
    }
    let m = this.byLen.get(route.prefixLen);
    if (m === undefined) {
      m = new Map();
      this.byLen.set(route.prefixLen, m);
      this.lengths.push(route.prefixLen);
      this.lengths.sort((a, b) => b - a);
    }
    const held = m.get(dst);
    if (held === undefined) m.set(dst, route);
    else {
      const list = Array.isArray(held) ? held : [held];
      if (list.some((r) => r.metric === route.metric)) {
        throw new Error(`route ${formatIpv4(dst)}/${route.prefixLen} metric ${route.metric} already exists (RTNETLINK answers: File exists)`);
      }
      list.push(route);
      list.sort((a, b) => a.metric - b.metric);
      m.set(dst, list);
    }
    this.count++;
  }

  /** Removes every route through `dev` (what happens when its address or link goes). */
  removeDevice(dev: NetDevice): void {
    for (const m of this.byLen.values()) {
      for (const [k, held] of m) {
        const list = Array.isArray(held) ? held : [held];
        const kept = list.filter((r) => r.dev !== dev);
        this.count -= list.length - kept.length;
        if (kept.length === 0) m.delete(k);
        else m.set(k, kept.length === 1 ? kept[0]! : kept);
      }
    }
  }

  /** fib_lookup: the best route to `addr`, or null (no route to host). */
  lookup(addr: number): Route | null {
    const lengths = this.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!;
      const held = this.byLen.get(len)!.get((addr & prefixMask(len)) >>> 0);
      if (held === undefined) continue;
      if (!Array.isArray(held)) {
        if (held.dev.up) return held;
        continue;
      }
      for (let j = 0; j < held.length; j++) if (held[j]!.dev.up) return held[j]!;
    }
    return null;
  }

  /**
   * All routes in `ip route` order: fib_table_dump walks the trie by network
   * address; the aliases of one key go longest prefix first, then by metric.
   */
  all(): Route[] {
    const out: Route[] = [];
    for (const m of this.byLen.values()) {
      for (const held of m.values()) {
        if (Array.isArray(held)) out.push(...held);
        else out.push(held);
      }
    }
    return out.sort((a, b) => a.dst - b.dst || b.prefixLen - a.prefixLen || a.metric - b.metric);
  }

  /** `ip route show` text of one route. */
  static format(r: Route): string {
    const dst = r.prefixLen === 0 ? 'default' : `${formatIpv4(r.dst)}/${r.prefixLen}`;
    let s = dst;
    if (r.via !== 0) s += ` via ${formatIpv4(r.via)}`;
    s += ` dev ${r.dev.name}`;
    if (r.proto === 'kernel') s += ' proto kernel';
    if (r.scope === 'link') s += ' scope link';
    if (r.src !== 0) s += ` src ${formatIpv4(r.src)}`;
    if (r.metric !== 0) s += ` metric ${r.metric}`;
    return s;
  }
}
