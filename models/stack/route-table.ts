import type { NetDevice } from '../devices/net-device.js';
import { formatIpv4, prefixMask } from '../wire/addr.js';
import type { RouteGroup } from './route-group.js';

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
 * A route that many tables hold alike: `ip route add DST via GW dev NAME` with
 * the same destination, gateway and device name in every node of a host-gw
 * cluster (each node has one to every other node's pod range: 25 M routes at
 * 5,000 nodes). A Route object per table was two thirds of a large world's
 * heap; a table keeps the shared one instead and makes its own Route, with its
 * own device, when a lookup first returns it.
 */
export class SharedRoute {
  constructor(
    readonly dst: number,
    readonly prefixLen: number,
    readonly via: number,
    readonly src: number,
    readonly metric: number,
    readonly devName: string,
  ) {}
}

type Held = Route | Route[] | SharedRoute;

/**
 * The main routing table with longest-prefix match. Routes are kept in one
 * map per prefix length; a lookup masks the address with each length present,
 * longest first, and takes the lowest metric among equal prefixes. With the few
 * distinct lengths of real tables (32, 24, 16, 0) that is a handful of hash
 * lookups whatever the table size (a host-gw node has one /24 per node).
 *
 * A key with one route (nearly all of them) maps to the Route itself, not to a
 * one-element array. Host-gw gives each node a route per other node, N² in all
 * (25 M at 5,000 nodes), so those are not even entries here: every node's
 * table shares one RouteGroup (attachGroup), and routes added alike to many
 * tables can be one SharedRoute (addShared); a table makes its own Route from
 * either when a lookup first returns it.
 */
export class RouteTable {
  /**
   * The map of each prefix length (index 0..32), keyed by the network as a
   * signed 32-bit integer (`| 0`): a Smi, where an unsigned key above 2^31
   * would be a heap number hashed on every lookup.
   */
  private readonly byLen: (Map<number, Held> | undefined)[] = new Array(33).fill(undefined);
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
  /**
   * Routes this table holds with many others (attachGroup), searched after its
   * own maps at each length, less `groupExcept`. A group route a lookup
   * returns, or that shares a key with an own route, is made this table's own
   * and stored in its maps (`fromGroup`); a key present in the own maps always
   * holds the group's route too, so listings count it once.
   */
  private group: RouteGroup | null = null;
  private groupExcept: SharedRoute | null = null;
  private readonly fromGroup = new Set<Route>();

  /** `resolve` finds a device of the table's namespace by name, for the SharedRoutes it holds. */
  constructor(private readonly resolve: ((devName: string) => NetDevice | undefined) | null = null) {}

  get size(): number {
    return this.count;
  }

  add(route: Route): void {
    this.insert(route.dst, route.prefixLen, route);
  }

  /** Adds a route held alike by many tables; its device is looked up by name in this table's namespace. */
  addShared(route: SharedRoute): void {
    if (this.resolve === null || this.resolve(route.devName) === undefined) {
      throw new Error(`route ${formatIpv4(route.dst)}/${route.prefixLen}: no device ${route.devName} for it`);
    }
    this.insert(route.dst, route.prefixLen, route);
  }

  private insert(dstIn: number, prefixLen: number, route: Route | SharedRoute): void {
    const dst = (dstIn & prefixMask(prefixLen)) >>> 0;
    if (dst !== dstIn >>> 0) {
      throw new Error(`route ${formatIpv4(dstIn)}/${prefixLen}: host bits set (did you mean ${formatIpv4(dst)}/${prefixLen}?)`);
    }
    const key = dst | 0;
    this.lastRoute = this.prevRoute = null;
    const m = this.ensureLength(prefixLen);
    let held = m.get(key);
    if (held === undefined) {
      const g = this.groupRoute(prefixLen, key);
      if (g !== undefined) held = this.materialize(m, key, g, true);
    }
    if (held === undefined) m.set(key, route);
    else this.join(m, key, held, route instanceof SharedRoute ? this.own(route) : route);
    this.count++;
  }

  /**
   * Adds `route` beside what a key already holds, lowest metric first (a same
   * metric is File exists). Routes sharing a key are few: they become this
   * table's own objects.
   */
  private join(m: Map<number, Held>, key: number, held: Held, route: Route): void {
    const list = this.routesOf(held, m, key);
    if (list.some((r) => r.metric === route.metric)) {
      throw new Error(`route ${formatIpv4(route.dst)}/${route.prefixLen} metric ${route.metric} already exists (RTNETLINK answers: File exists)`);
    }
    list.push(route);
    list.sort((a, b) => a.metric - b.metric);
    m.set(key, list);
  }

  /** The Route objects of an entry, made this table's own. */
  private routesOf(held: Held, m: Map<number, Held>, key: number): Route[] {
    if (Array.isArray(held)) return held;
    return [held instanceof SharedRoute ? this.materialize(m, key, held) : held];
  }

  /** Replaces a shared entry (or fills a group's key) with this table's own Route, so each is made once. */
  private materialize(m: Map<number, Held>, key: number, s: SharedRoute, fromGroup = false): Route {
    const r = this.own(s);
    m.set(key, r);
    if (fromGroup) this.fromGroup.add(r);
    return r;
  }

  /** The group's route at a key, unless this table leaves it out. */
  private groupRoute(prefixLen: number, key: number): SharedRoute | undefined {
    const g = this.group?.get(prefixLen, key);
    return g === this.groupExcept ? undefined : g;
  }

  /**
   * Holds `group`'s routes too, all but `except` (a node's route to its own
   * pod range). One group per table; its device must be this namespace's.
   */
  attachGroup(group: RouteGroup, except: SharedRoute | null): void {
    if (this.group !== null) throw new Error('route table: already holds a route group');
    if (this.resolve === null || this.resolve(group.devName) === undefined) throw new Error(`route group: no device ${group.devName} for it`);
    if (except !== null && group.get(except.prefixLen, except.dst | 0) !== except) throw new Error('route group: the route left out is not in the group');
    this.lastRoute = this.prevRoute = null;
    // Own routes already at a group's key: the group's route joins them there (and a same-metric clash is File exists).
    const clashes: [number, number, SharedRoute][] = [];
    for (const len of group.lengths) {
      const m = this.byLen[len];
      if (m === undefined) continue;
      for (const key of m.keys()) {
        const g = group.get(len, key);
        if (g !== undefined && g !== except) clashes.push([len, key, g]);
      }
    }
    // In the group's order, so a clash is reported for the route `ip route add` would have failed on first.
    clashes.sort((a, b) => group.routes.indexOf(a[2]) - group.routes.indexOf(b[2]));
    for (const [len, key, g] of clashes) {
      const m = this.byLen[len]!;
      const r = this.own(g);
      this.join(m, key, m.get(key)!, r);
      this.fromGroup.add(r);
    }
    this.group = group;
    this.groupExcept = except;
    this.count += group.size - (except === null ? 0 : 1);
    for (const len of group.lengths) this.ensureLength(len);
  }

  /** The map of a prefix length, made (and its length listed) when missing. */
  private ensureLength(prefixLen: number): Map<number, Held> {
    let m = this.byLen[prefixLen];
    if (m === undefined) {
      m = new Map();
      this.byLen[prefixLen] = m;
      this.lengths.push(prefixLen);
      this.lengths.sort((a, b) => b - a);
      this.masks = this.lengths.map((len) => prefixMask(len) | 0);
    }
    return m;
  }

  /** This table's Route for a shared one. Same field order as every other Route: one object shape. */
  private own(s: SharedRoute): Route {
    const dev = this.resolve!(s.devName)!;
    return { dst: s.dst, prefixLen: s.prefixLen, via: s.via, dev, src: s.src, metric: s.metric, proto: 'static', scope: s.via === 0 ? 'link' : 'universe' };
  }

  /** Whether the table has a route to exactly `dst`/`prefixLen` through `dev`. */
  has(dst: number, prefixLen: number, dev: NetDevice): boolean {
    const held = this.byLen[prefixLen]?.get(dst | 0) ?? this.groupRoute(prefixLen, dst | 0);
    if (held === undefined) return false;
    if (held instanceof SharedRoute) return this.resolve!(held.devName) === dev;
    return Array.isArray(held) ? held.some((r) => r.dev === dev) : held.dev === dev;
  }

  /** Removes every route through `dev` (what happens when its address or link goes). */
  removeDevice(dev: NetDevice): void {
    this.lastRoute = this.prevRoute = null;
    if (this.group !== null && this.resolve!(this.group.devName) === dev) {
      // The group goes whole; its routes made own below are already counted here.
      this.count -= this.group.size - (this.groupExcept === null ? 0 : 1);
      this.group = null;
      this.groupExcept = null;
    }
    for (const m of this.byLen) {
      if (m === undefined) continue;
      for (const [k, held] of m) {
        if (held instanceof SharedRoute) {
          if (this.resolve!(held.devName) === dev) {
            m.delete(k);
            this.count--;
          }
          continue;
        }
        const list = Array.isArray(held) ? held : [held];
        const kept = list.filter((r) => r.dev !== dev);
        for (const r of list) if (r.dev === dev && !this.fromGroup.delete(r)) this.count--;
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
      const m = this.byLen[lengths[i]!]!;
      const key = addr & masks[i]!;
      let held = m.get(key);
      if (held === undefined) {
        if (this.group === null) continue;
        const g = this.groupRoute(lengths[i]!, key);
        if (g === undefined) continue;
        held = this.materialize(m, key, g, true);
      } else if (held instanceof SharedRoute) held = this.materialize(m, key, held);
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

  /**
   * The route every address of `addr`/`prefixLen` takes, when it is one: the
   * route for `addr`, if it holds the whole prefix and no longer prefix of
   * this table overlaps it (routes of its own length are other networks, or
   * its own aliases, which every address picks alike). null when addresses of
   * the prefix might take different routes, or the table holds a group.
   */
  uniformRoute(addr: number, prefixLen: number): Route | null {
    if (this.group !== null) return null;
    const r = this.lookup(addr);
    if (r === null || r.prefixLen > prefixLen) return null;
    for (const len of this.lengths) {
      if (len <= r.prefixLen) break;
      // A longer prefix overlaps addr/prefixLen when the shorter of the two holds the other.
      const mask = prefixMask(Math.min(len, prefixLen));
      for (const key of this.byLen[len]!.keys()) if (((key ^ addr) & mask) === 0) return null;
    }
    return r;
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
        else if (held instanceof SharedRoute) out.push(this.own(held));
        else out.push(held);
      }
    }
    if (this.group !== null) {
      for (const g of this.group.routes) {
        if (g !== this.groupExcept && this.byLen[g.prefixLen]?.has(g.dst | 0) !== true) out.push(this.own(g));
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
