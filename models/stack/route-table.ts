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
  /**
   * The map of each prefix length (index 0..32), keyed by the network as a
   * signed 32-bit integer (`| 0`): a Smi, where an unsigned key above 2^31
   * would be a heap number hashed on every lookup.
   */
  private readonly byLen: (Map<number, Route | Route[]> | undefined)[] = new Array(33).fill(undefined);
  /** Prefix lengths present, longest first. */
  private lengths: number[] = [];
  /** prefixMask of each entry of `lengths`, so a lookup does not recompute it. */
  private masks: number[] = [];
  private count = 0;
  /**
   * The last two lookups' addresses and answers, kept only when no route was
   * passed over for a down device: then, while the table is unchanged, an
   * answer stays the same as long as its own device is up. A pod mostly talks
   * to one or two peers (its pings out, the replies to the pod pinging it).
   */
  private lastAddr = 0;
  private lastRoute: Route | null = null;
  private prevAddr = 0;
  private prevRoute: Route | null = null;

  get size(): number {
    return this.count;
  }

  add(route: Route): void {
    const dst = (route.dst & prefixMask(route.prefixLen)) >>> 0;
    if (dst !== route.dst >>> 0) {
      throw new Error(`route ${formatIpv4(route.dst)}/${route.prefixLen}: host bits set (did you mean ${formatIpv4(dst)}/${route.prefixLen}?)`);
    }
    const key = dst | 0;
    this.lastRoute = this.prevRoute = null;
    let m = this.byLen[route.prefixLen];
    if (m === undefined) {
      m = new Map();
      this.byLen[route.prefixLen] = m;
      this.lengths.push(route.prefixLen);
      this.lengths.sort((a, b) => b - a);
      this.masks = this.lengths.map((len) => prefixMask(len) | 0);
    }
    const held = m.get(key);
    if (held === undefined) m.set(key, route);
    else {
      const list = Array.isArray(held) ? held : [held];
      if (list.some((r) => r.metric === route.metric)) {
        throw new Error(`route ${formatIpv4(dst)}/${route.prefixLen} metric ${route.metric} already exists (RTNETLINK answers: File exists)`);
      }
      list.push(route);
      list.sort((a, b) => a.metric - b.metric);
      m.set(key, list);
    }
    this.count++;
  }

  /** Removes every route through `dev` (what happens when its address or link goes). */
  removeDevice(dev: NetDevice): void {
    this.lastRoute = this.prevRoute = null;
    for (const m of this.byLen) {
      if (m === undefined) continue;
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
    const last = this.lastRoute;
    if (last !== null && addr === this.lastAddr && last.dev.up) return last;
    const prev = this.prevRoute;
    if (prev !== null && addr === this.prevAddr && prev.dev.up) return prev;
    const lengths = this.lengths;
    const masks = this.masks;
    let skipped = false;
    for (let i = 0; i < lengths.length; i++) {
      const held = this.byLen[lengths[i]!]!.get(addr & masks[i]!);
      if (held === undefined) continue;
      if (!Array.isArray(held)) {
        if (held.dev.up) return this.remember(addr, held, skipped);
        skipped = true;
        continue;
      }
      for (let j = 0; j < held.length; j++) {
        if (held[j]!.dev.up) return this.remember(addr, held[j]!, skipped);
        skipped = true;
      }
    }
    return null;
  }

  private remember(addr: number, route: Route, skipped: boolean): Route {
    if (!skipped) {
      this.prevAddr = this.lastAddr;
      this.prevRoute = this.lastRoute;
      this.lastAddr = addr;
      this.lastRoute = route;
    }
    return route;
  }

  /**
   * All routes in `ip route` order: fib_table_dump walks the trie by network
   * address; the aliases of one key go longest prefix first, then by metric.
   */
  all(): Route[] {
    const out: Route[] = [];
    for (const m of this.byLen) {
      if (m === undefined) continue;
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
