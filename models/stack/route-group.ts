import { formatIpv4, prefixMask } from '../wire/addr.js';
import type { SharedRoute } from './route-table.js';

/**
 * Routes that many tables hold, each less at most one: host-gw gives every node
 * a route to every other node's pod range (N(N-1) routes, 25 M at 5,000 nodes),
 * and even one map entry per route per table was a gigabyte there. A group is
 * built once, never changes, and is searched by every table that holds it
 * (RouteTable.attachGroup) after the table's own routes. Its routes all go
 * through one device name, and at most one has a given prefix.
 */
export class RouteGroup {
  /** Each prefix length's routes by network (`| 0`, as RouteTable keys them). */
  readonly byLen: (Map<number, SharedRoute> | undefined)[] = new Array(33).fill(undefined);
  readonly lengths: number[] = [];
  readonly devName: string;
  /**
   * The longest prefix holding every gateway of the group (null when no route
   * has one): a table whose route for it is one on-link route through the
   * group's device has every gateway on-link (Netns.attachRouteGroup).
   */
  readonly gatewayHull: { addr: number; prefixLen: number } | null = null;

  constructor(readonly routes: readonly SharedRoute[]) {
    if (routes.length === 0) throw new Error('route group: no routes');
    this.devName = routes[0]!.devName;
    for (const r of routes) {
      if (r.devName !== this.devName) throw new Error(`route group: routes through ${this.devName} and ${r.devName}; a group has one device`);
      const dst = (r.dst & prefixMask(r.prefixLen)) >>> 0;
      if (dst !== r.dst >>> 0) throw new Error(`route ${formatIpv4(r.dst)}/${r.prefixLen}: host bits set (did you mean ${formatIpv4(dst)}/${r.prefixLen}?)`);
      let m = this.byLen[r.prefixLen];
      if (m === undefined) {
        m = new Map();
        this.byLen[r.prefixLen] = m;
        this.lengths.push(r.prefixLen);
      }
      if (m.has(dst | 0)) throw new Error(`route group: two routes to ${formatIpv4(dst)}/${r.prefixLen}`);
      m.set(dst | 0, r);
    }
    this.lengths.sort((a, b) => b - a);
    let hull: { addr: number; prefixLen: number } | null = null;
    for (const r of routes) {
      if (r.via === 0) continue;
      if (hull === null) hull = { addr: r.via >>> 0, prefixLen: 32 };
      while (((r.via ^ hull.addr) & prefixMask(hull.prefixLen)) !== 0) hull.prefixLen--;
      hull.addr = (hull.addr & prefixMask(hull.prefixLen)) >>> 0;
    }
    this.gatewayHull = hull;
  }

  get size(): number {
    return this.routes.length;
  }

  get(prefixLen: number, key: number): SharedRoute | undefined {
    return this.byLen[prefixLen]?.get(key);
  }
}
