/**
 * The main routing table against the kernel's FIB (net/ipv4/fib_trie.c,
 * fib_semantics.c, fib_frontend.c) and iproute2's `ip route` output:
 * - fib_table_lookup: the longest matching prefix wins; among routes with the
 *   same prefix the lowest metric (priority); nexthops whose device is down are
 *   skipped (RTNH_F_DEAD after fib_sync_down_dev);
 * - fib_add_ifaddr: an address adds its prefix route to the main table,
 *   "proto kernel scope link src ADDR", except for a /32 (prefix == addr);
 * - fib_check_nh_v4_gw: a gateway must be reachable on-link through the route's
 *   device, else RTNETLINK answers "Network is unreachable" (ENETUNREACH);
 * - `ip route show` lists routes in trie order (fib_table_dump): by network
 *   address, then longest prefix first, then metric, and prints
 *   "DST [via GW] dev DEV [proto kernel] [scope link] [src SRC] [metric N]"
 *   (the reference n1 in /work/shared/kernel-ref/cross-node/topology.json).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouteTable, SharedRoute, type Route } from '../../models/stack/route-table.js';
import { RouteGroup } from '../../models/stack/route-group.js';
import { inPrefix, prefixMask } from '../../models/wire/addr.js';
import type { NetDevice } from '../../models/devices/net-device.js';
import { TestNet, addr, ip, route } from './helpers.js';

/** A namespace with a few devices to hang routes on. */
function devices(n: number, names: string[] = []): { net: TestNet; devs: NetDevice[] } {
  const net = new TestNet(1);
  const ns = net.ns('r');
  const devs: NetDevice[] = [];
  for (let i = 0; i < n; i++) {
    const other = net.ns(`x${i}`);
    const name = names[i] ?? `eth${i}`;
    devs.push(net.veth(ns, name, `02:00:00:00:00:${(16 + i).toString(16)}`, other, 'eth0', `02:00:00:00:01:${(16 + i).toString(16)}`)[0]);
  }
  return { net, devs };
}

/** The route a brute-force scan picks: longest prefix containing addr on an up device, then lowest metric. */
function scan(routes: Route[], a: number): Route | null {
  let best: Route | null = null;
  for (const r of routes) {
    if (!r.dev.up || !inPrefix(a, r.dst, r.prefixLen)) continue;
    if (best === null || r.prefixLen > best.prefixLen || (r.prefixLen === best.prefixLen && r.metric < best.metric)) best = r;
  }
  return best;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Few distinct lengths and clustered addresses, so prefixes overlap often. */
const routeSpec = fc.record({
  base: fc.constantFrom(0x0a000000, 0x0af40000, 0xc0a83100, 0x00000000, 0xffffff00),
  noise: u32,
  noiseBits: fc.integer({ min: 0, max: 24 }),
  len: fc.constantFrom(0, 8, 16, 23, 24, 25, 31, 32),
  metric: fc.integer({ min: 0, max: 3 }),
  dev: fc.integer({ min: 0, max: 2 }),
});

describe('route table', () => {
  it('longest-prefix match agrees with a brute-force scan over random tables and addresses', () => {
    const { devs } = devices(3);
    fc.assert(
      fc.property(
        fc.array(routeSpec, { maxLength: 40 }),
        fc.array(fc.oneof(u32, fc.record({ i: fc.nat(), host: fc.integer({ min: 0, max: 511 }) })), { minLength: 1, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        (specs, probes, up) => {
          const t = new RouteTable();
          const added: Route[] = [];
          for (const s of specs) {
            const dst = ((s.base ^ (s.noise & ((1 << s.noiseBits) - 1))) & prefixMask(s.len)) >>> 0;
            const r: Route = { dst, prefixLen: s.len, via: 0, dev: devs[s.dev]!, src: 0, metric: s.metric, proto: 'static', scope: 'link' };
            if (added.some((o) => o.dst === dst && o.prefixLen === s.len && o.metric === s.metric)) {
              expect(() => t.add(r)).toThrow(/File exists/);
              continue;
            }
            t.add(r);
            added.push(r);
          }
          devs.forEach((d, i) => (d.up = up[i]!));
          expect(t.size).toBe(added.length);
          for (const p of probes) {
            // Either a random address or one inside a route that was added.
            const a = typeof p === 'number' ? p : added.length === 0 ? p.host : ((added[p.i % added.length]!.dst + p.host) & 0xffffffff) >>> 0;
            expect(t.lookup(a)).toBe(scan(added, a));
          }
          devs.forEach((d) => (d.up = true));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds shared routes as if they were its own: same lookups, listing, removal and duplicate check', () => {
    const { devs } = devices(3);
    const byName = new Map(devs.map((d) => [d.name, d]));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(routeSpec, fc.boolean(), u32), { maxLength: 40 }),
        fc.array(u32, { minLength: 1, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: -1, max: 2 }),
        (specs, probes, up, removed) => {
          // `own` gets every route as an object of its own; `mixed` gets some of the same routes shared.
          const own = new RouteTable();
          const mixed = new RouteTable((name) => byName.get(name));
          for (const [s, shared, gw] of specs) {
            const dst = ((s.base ^ (s.noise & ((1 << s.noiseBits) - 1))) & prefixMask(s.len)) >>> 0;
            const via = gw & 1 ? gw >>> 0 : 0;
            const r: Route = { dst, prefixLen: s.len, via, dev: devs[s.dev]!, src: 0, metric: s.metric, proto: 'static', scope: via === 0 ? 'link' : 'universe' };
            let ownError = '';
            try {
              own.add(r);
            } catch (e) {
              ownError = (e as Error).message;
            }
            const add = () => (shared ? mixed.addShared(new SharedRoute(dst, s.len, via, 0, s.metric, devs[s.dev]!.name)) : mixed.add({ ...r }));
            if (ownError !== '') expect(add).toThrow(ownError);
            else add();
          }
          if (removed >= 0) {
            own.removeDevice(devs[removed]!);
            mixed.removeDevice(devs[removed]!);
          }
          devs.forEach((d, i) => (d.up = up[i]!));
          expect(mixed.size).toBe(own.size);
          expect(mixed.all().map(RouteTable.format)).toEqual(own.all().map(RouteTable.format));
          for (const a of [...probes, ...own.all().map((r) => r.dst)]) {
            const want = own.lookup(a);
            const got = mixed.lookup(a);
            expect(got === null ? null : RouteTable.format(got)).toBe(want === null ? null : RouteTable.format(want));
            expect(got?.dev).toBe(want?.dev);
            // One Route per table and route: the same object every time.
            expect(mixed.lookup(a)).toBe(got);
          }
          for (const [s] of specs) {
            const dst = ((s.base ^ (s.noise & ((1 << s.noiseBits) - 1))) & prefixMask(s.len)) >>> 0;
            for (const d of devs) expect(mixed.has(dst, s.len, d)).toBe(own.has(dst, s.len, d));
          }
          devs.forEach((d) => (d.up = true));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds a route group as if its routes were its own, less the one left out, with own routes before and after', () => {
    const { devs } = devices(3);
    const byName = new Map(devs.map((d) => [d.name, d]));
    const dstOf = (s: { base: number; noise: number; noiseBits: number; len: number }) =>
      ((s.base ^ (s.noise & ((1 << s.noiseBits) - 1))) & prefixMask(s.len)) >>> 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(routeSpec, u32), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: -1, max: 29 }),
        fc.array(fc.tuple(routeSpec, fc.boolean()), { maxLength: 20 }),
        fc.array(u32, { minLength: 1, maxLength: 20 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: -1, max: 2 }),
        (groupSpecs, groupDev, exceptAt, ownSpecs, probes, up, removed) => {
          // A group has one route per prefix and one device.
          const seen = new Set<string>();
          const members: SharedRoute[] = [];
          for (const [s, gw] of groupSpecs) {
            const dst = dstOf(s);
            if (seen.has(`${dst}/${s.len}`)) continue;
            seen.add(`${dst}/${s.len}`);
            members.push(new SharedRoute(dst, s.len, gw & 1 ? gw >>> 0 : 0, 0, s.metric, devs[groupDev]!.name));
          }
          const group = new RouteGroup(members);
          const except = exceptAt >= 0 && exceptAt < members.length ? members[exceptAt]! : null;
          const asRoute = (r: SharedRoute): Route => ({ dst: r.dst, prefixLen: r.prefixLen, via: r.via, dev: byName.get(r.devName)!, src: r.src, metric: r.metric, proto: 'static', scope: r.via === 0 ? 'link' : 'universe' });
          const ownRoute = ([s]: [typeof ownSpecs[number][0], boolean]): Route => ({ dst: dstOf(s), prefixLen: s.len, via: 0, dev: devs[s.dev]!, src: 0, metric: s.metric, proto: 'static', scope: 'link' });
          const ref = new RouteTable();
          const grouped = new RouteTable((name) => byName.get(name));
          const errorOf = (f: () => void): string => {
            try {
              f();
              return '';
            } catch (e) {
              return (e as Error).message;
            }
          };
          for (const o of ownSpecs.filter(([, before]) => before)) {
            const r = ownRoute(o);
            const err = errorOf(() => ref.add(r));
            expect(errorOf(() => grouped.add({ ...r }))).toBe(err);
          }
          let groupErr = '';
          for (const m of members) if (m !== except && groupErr === '') groupErr = errorOf(() => ref.add(asRoute(m)));
          if (groupErr !== '') {
            // An own route already has a member's prefix and metric: the whole group is refused.
            expect(() => grouped.attachGroup(group, except)).toThrow(groupErr);
            return;
          }
          grouped.attachGroup(group, except);
          for (const o of ownSpecs.filter(([, before]) => !before)) {
            const r = ownRoute(o);
            const err = errorOf(() => ref.add(r));
            expect(errorOf(() => grouped.add({ ...r }))).toBe(err);
          }
          const compare = () => {
            expect(grouped.size).toBe(ref.size);
            expect(grouped.all().map(RouteTable.format)).toEqual(ref.all().map(RouteTable.format));
            for (const a of [...probes, ...members.map((m) => m.dst), ...ownSpecs.map(([s]) => dstOf(s))]) {
              const want = ref.lookup(a);
              const got = grouped.lookup(a);
              expect(got === null ? null : RouteTable.format(got)).toBe(want === null ? null : RouteTable.format(want));
              expect(got?.dev).toBe(want?.dev);
              expect(grouped.lookup(a)).toBe(got);
            }
            for (const m of members) for (const d of devs) expect(grouped.has(m.dst, m.prefixLen, d)).toBe(ref.has(m.dst, m.prefixLen, d));
          };
          devs.forEach((d, i) => (d.up = up[i]!));
          compare();
          if (removed >= 0) {
            ref.removeDevice(devs[removed]!);
            grouped.removeDevice(devs[removed]!);
            compare();
          }
          devs.forEach((d) => (d.up = true));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('names the route of a whole prefix only when every address of it takes that route', () => {
    const { devs } = devices(3);
    fc.assert(
      fc.property(
        fc.array(routeSpec, { maxLength: 30 }),
        fc.record({ base: fc.constantFrom(0x0a000000, 0x0af40000, 0xc0a83100, 0x00000000), noise: u32, len: fc.integer({ min: 0, max: 32 }) }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.array(u32, { minLength: 1, maxLength: 20 }),
        (specs, hull, up, probes) => {
          const t = new RouteTable();
          const added: Route[] = [];
          for (const s of specs) {
            const dst = ((s.base ^ (s.noise & ((1 << s.noiseBits) - 1))) & prefixMask(s.len)) >>> 0;
            if (added.some((o) => o.dst === dst && o.prefixLen === s.len && o.metric === s.metric)) continue;
            const r: Route = { dst, prefixLen: s.len, via: 0, dev: devs[s.dev]!, src: 0, metric: s.metric, proto: 'static', scope: 'link' };
            t.add(r);
            added.push(r);
          }
          devs.forEach((d, i) => (d.up = up[i]!));
          const h = ((hull.base ^ hull.noise) & prefixMask(hull.len)) >>> 0;
          const r = t.uniformRoute(h, hull.len);
          if (r !== null) {
            // Every address of the prefix: its first, its last, and some inside.
            const span = 2 ** (32 - hull.len);
            for (const a of [h, h + span - 1, ...probes.map((p) => h + (p % span))]) expect(scan(added, a >>> 0)).toBe(r);
          } else {
            // null only where the prefix has no route, a longer route overlaps it, or its route is narrower.
            const first = scan(added, h);
            const overlapped = added.some((o) => o.prefixLen > (first?.prefixLen ?? -1) && (inPrefix(o.dst, h, hull.len) || inPrefix(h, o.dst, o.prefixLen)));
            expect(first === null || first.prefixLen > hull.len || overlapped).toBe(true);
          }
          devs.forEach((d) => (d.up = true));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a shared route whose device the namespace does not have', () => {
    const { devs } = devices(1);
    const ns = devs[0]!.ns;
    expect(() => ns.addSharedRoute(new SharedRoute(ip('10.9.0.0'), 24, 0, 0, 0, 'eth7'))).toThrow(/eth7/);
    expect(() => new RouteTable().addShared(new SharedRoute(ip('10.9.0.0'), 24, 0, 0, 0, 'eth0'))).toThrow(/no device eth0/);
  });

  it('breaks ties between equal prefixes by the lowest metric, skipping routes whose device is down', () => {
    const { devs } = devices(2);
    const t = new RouteTable();
    const slow: Route = { dst: ip('10.1.0.0'), prefixLen: 16, via: 0, dev: devs[0]!, src: 0, metric: 100, proto: 'static', scope: 'link' };
    const fast: Route = { ...slow, dev: devs[1]!, metric: 50 };
    t.add(slow);
    t.add(fast);
    expect(t.lookup(ip('10.1.2.3'))).toBe(fast);
    devs[1]!.up = false;
    expect(t.lookup(ip('10.1.2.3'))).toBe(slow);
    devs[0]!.up = false;
    expect(t.lookup(ip('10.1.2.3'))).toBeNull();
  });

  it('matches everything with the default route and prefers any more specific prefix', () => {
    const { devs } = devices(2);
    const t = new RouteTable();
    const dflt: Route = { dst: 0, prefixLen: 0, via: 0, dev: devs[0]!, src: 0, metric: 0, proto: 'static', scope: 'link' };
    const net10: Route = { ...dflt, dst: ip('10.0.0.0'), prefixLen: 8, dev: devs[1]! };
    t.add(dflt);
    expect([t.lookup(0), t.lookup(ip('255.255.255.255')), t.lookup(ip('10.9.9.9'))]).toEqual([dflt, dflt, dflt]);
    t.add(net10);
    expect([t.lookup(ip('10.9.9.9')), t.lookup(ip('11.0.0.0'))]).toEqual([net10, dflt]);
  });

  it('adds the connected route of an address (proto kernel scope link src), but none for a /32', () => {
    const { devs } = devices(2);
    const ns = devs[0]!.ns;
    addr(devs[0]!, '10.244.1.5/24');
    addr(devs[0]!, '10.244.1.6/24'); // a second address on the same subnet adds no second route
    addr(devs[1]!, '192.0.2.7/32');
    expect(ns.routes.all().map(RouteTable.format)).toEqual(['10.244.1.0/24 dev eth0 proto kernel scope link src 10.244.1.5']);
    expect(ns.routes.lookup(ip('10.244.1.200'))?.dev).toBe(devs[0]);
  });

  it('refuses a gateway that is not on-link through the given device (Network is unreachable)', () => {
    const { devs } = devices(2);
    const ns = devs[0]!.ns;
    addr(devs[0]!, '10.0.0.1/24');
    addr(devs[1]!, '10.1.0.1/24');
    expect(() => route(devs[0]!, '172.16.0.0/12', '192.168.1.1')).toThrow(/Network is unreachable/);
    expect(() => route(devs[1]!, '172.16.0.0/12', '10.0.0.254')).toThrow(/Network is unreachable/); // on-link, but via eth0
    route(devs[0]!, '172.16.0.0/12', '10.0.0.254');
    expect(() => route(devs[0]!, '198.51.100.0/24', '172.16.0.1')).toThrow(/Network is unreachable/); // reachable only via a gateway
    expect(ns.routes.all().map(RouteTable.format)).toEqual([
      '10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1',
      '10.1.0.0/24 dev eth1 proto kernel scope link src 10.1.0.1',
      '172.16.0.0/12 via 10.0.0.254 dev eth0',
    ]);
    expect(ns.routes.lookup(ip('172.20.1.1'))!.scope).toBe('universe');
  });

  it('checks every gateway of a route group as ip route add would, whether they are all on-link or not', () => {
    const group = (...vias: string[]) => new RouteGroup(vias.map((v, i) => new SharedRoute(ip(`10.244.${i}.0`), 24, ip(v), 0, 0, 'eth0')));
    const onLink = group('192.168.49.2', '192.168.49.3', '192.168.49.200');
    expect(onLink.gatewayHull).toEqual({ addr: ip('192.168.49.0'), prefixLen: 24 });
    {
      const { devs } = devices(2);
      addr(devs[0]!, '192.168.49.2/24');
      devs[0]!.ns.attachRouteGroup(onLink, onLink.routes[0]!);
      expect(devs[0]!.ns.routes.lookup(ip('10.244.2.9'))?.via).toBe(ip('192.168.49.200'));
    }
    // One gateway beyond the connected /24; a more specific route through
    // another device over one of them; all of them on another device's link;
    // all of them reachable only through a gateway: "Network is unreachable",
    // as for each route on its own.
    for (const [eth0, eth1, own, vias] of [
      ['192.168.49.2/24', '10.9.0.1/24', [], ['192.168.49.3', '192.168.50.1']],
      ['192.168.49.2/24', '10.9.0.1/24', ['192.168.49.128/25 eth1'], ['192.168.49.3', '192.168.49.200']],
      ['10.8.0.1/24', '192.168.49.2/24', [], ['192.168.49.3', '192.168.49.200']],
      ['10.8.0.1/24', '10.9.0.1/24', ['192.168.0.0/16 eth0 10.8.0.254'], ['192.168.49.3', '192.168.49.200']],
    ] as const) {
      const { devs } = devices(2);
      addr(devs[0]!, eth0);
      addr(devs[1]!, eth1);
      for (const o of own) {
        const [dst, dev, via] = o.split(' ');
        route(devs[dev === 'eth1' ? 1 : 0]!, dst!, via);
      }
      expect(() => devs[0]!.ns.attachRouteGroup(group(...vias), null)).toThrow(/via 192\.168\.\d+\.\d+ dev eth0: gateway is not on-link \(RTNETLINK answers: Network is unreachable\)/);
    }
    // onlink (flannel's overlay routes) takes a gateway as it is.
    const { devs } = devices(1);
    addr(devs[0]!, '192.168.49.2/24');
    const g = group('10.244.7.0');
    devs[0]!.ns.attachRouteGroup(g, null, () => true);
    expect(devs[0]!.ns.routes.lookup(ip('10.244.0.1'))?.via).toBe(ip('10.244.7.0'));
  });

  it("prints routes like `ip route show`, in the kernel's order (a node of the cross-node reference)", () => {
    const { devs } = devices(2, ['eth0', 'cni0']);
    const ns = devs[0]!.ns;
    const [eth0, cni0] = devs as [NetDevice, NetDevice];
    addr(cni0, '10.244.1.1/24');
    addr(eth0, '192.168.49.2/24');
    route(eth0, '0.0.0.0/0', '192.168.49.1');
    route(eth0, '10.244.2.0/24', '192.168.49.3');
    route(eth0, '10.244.0.0/16', '192.168.49.1', 100);
    route(eth0, '10.244.2.0/24', '192.168.49.4', 20);
    expect(ns.routes.all().map(RouteTable.format)).toEqual([
      'default via 192.168.49.1 dev eth0',
      '10.244.0.0/16 via 192.168.49.1 dev eth0 metric 100',
      '10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1',
      '10.244.2.0/24 via 192.168.49.3 dev eth0',
      '10.244.2.0/24 via 192.168.49.4 dev eth0 metric 20',
      '192.168.49.0/24 dev eth0 proto kernel scope link src 192.168.49.2',
    ]);
  });

  it('rejects a destination with host bits set and removes every route of a device', () => {
    const { devs } = devices(2);
    const ns = devs[0]!.ns;
    expect(() => ns.addRoute(ip('10.0.0.1'), 24, devs[0]!)).toThrow(/host bits set/);
    addr(devs[0]!, '10.0.0.1/24');
    addr(devs[1]!, '10.1.0.1/24');
    route(devs[0]!, '0.0.0.0/0', '10.0.0.254');
    ns.routes.removeDevice(devs[0]!);
    expect(ns.routes.all().map(RouteTable.format)).toEqual(['10.1.0.0/24 dev eth1 proto kernel scope link src 10.1.0.1']);
    expect(ns.routes.size).toBe(1);
  });
});
