/**
 * The host-local IPAM plugin (containernetworking/plugins plugins/ipam/host-local):
 * one address per range set, taken in order from the address after the last
 * one it handed out (first allocation: rangeStart, which defaults to the
 * subnet's first host), skipping the gateway and addresses in use, wrapping
 * around. A released address is therefore reused only after a full turn, as
 * the plugin's on-disk `last_reserved_ip.N` makes it. State is per node.
 */
import { cidrBroadcast, cidrContains, cidrNetwork, formatCidr, formatIpv4, hasHostBits, type Cidr } from '../ipv4.js';
import { CniConfigError, Fields } from './fields.js';
import type { CniDns, CniIp, CniRoute } from './result.js';

export interface HostLocalRange {
  subnet: Cidr;
  rangeStart: number;
  rangeEnd: number;
  gateway: number;
}

export interface HostLocalConf {
  type: 'host-local';
  /** Each set yields one address; a set's ranges are tried in order. */
  rangeSets: HostLocalRange[][];
  routes: CniRoute[];
}

export function parseHostLocal(f: Fields): HostLocalConf {
  f.allow('type', 'name', 'dataDir');
  const legacy = f.has('subnet');
  const rangeSets: HostLocalRange[][] = [];
  if (legacy) {
    if (f.has('ranges')) f.fail('ranges', 'give either subnet or ranges, not both');
    rangeSets.push([parseRange(f)]);
  } else {
    const sets = f.arr('ranges');
    if (sets === undefined || sets.length === 0) f.fail('ranges', 'is required (or give subnet)');
    sets.forEach((set, i) => {
      const at = f.at('ranges') + `[${i}]`;
      if (!Array.isArray(set) || set.length === 0) throw new CniConfigError(f.file, at, 'must be a non-empty array of ranges');
      rangeSets.push(
        set.map((r, j) => {
          const rf = Fields.of(r, f.file, `${at}[${j}]`);
          const range = parseRange(rf);
          rf.done();
          return range;
        }),
      );
    });
  }
  checkOverlaps(f, rangeSets);
  const routes = (f.arr('routes') ?? []).map((r, i) => {
    const rf = Fields.of(r, f.file, f.at('routes') + `[${i}]`);
    const dst = rf.cidr('dst') ?? rf.fail('dst', 'is required');
    const gw = rf.ip('gw');
    rf.done();
    return { dst: formatCidr(dst), ...(gw !== undefined ? { gw: formatIpv4(gw) } : {}) };
  });
  f.done();
  return { type: 'host-local', rangeSets, routes };
}

/** One range: subnet (a network address), rangeStart/rangeEnd/gateway inside it (Range.Canonicalize). */
function parseRange(f: Fields): HostLocalRange {
  const subnet = f.cidr('subnet') ?? f.fail('subnet', 'is required');
  if (hasHostBits(subnet)) f.fail('subnet', `${formatCidr(subnet)} has host bits set (the network address is ${formatIpv4(cidrNetwork(subnet))})`);
  if (subnet.len > 30) f.fail('subnet', `/${subnet.len} is too small (host-local needs a /30 or larger)`);
  const first = cidrNetwork(subnet) + 1;
  const last = cidrBroadcast(subnet) - 1;
  const inside = (key: string, v: number | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    if (!cidrContains(subnet, v) || v < first || v > last) f.fail(key, `${formatIpv4(v)} is not a usable address of ${formatCidr(subnet)}`);
    return v;
  };
  const rangeStart = inside('rangeStart', f.ip('rangeStart'), first);
  const rangeEnd = inside('rangeEnd', f.ip('rangeEnd'), last);
  if (rangeEnd < rangeStart) f.fail('rangeEnd', `${formatIpv4(rangeEnd)} is before rangeStart ${formatIpv4(rangeStart)}`);
  const gateway = inside('gateway', f.ip('gateway'), first);
  return { subnet, rangeStart, rangeEnd, gateway };
}

function checkOverlaps(f: Fields, sets: HostLocalRange[][]): void {
  const all = sets.flatMap((s, i) => s.map((r, j) => ({ r, at: `ranges[${i}][${j}]` })));
  for (let a = 0; a < all.length; a++) {
    for (let b = a + 1; b < all.length; b++) {
      const x = all[a]!.r;
      const y = all[b]!.r;
      if (x.rangeStart <= y.rangeEnd && y.rangeStart <= x.rangeEnd) {
        throw new CniConfigError(f.file, `${f.path}.${all[b]!.at}`, `overlaps ${all[a]!.at}`);
      }
    }
  }
}

/** `10.244.1.2-10.244.1.254` per range, comma-joined: the plugin's RangeSet.String(). */
function rangeSetText(set: HostLocalRange[]): string {
  return set.map((r) => `${formatIpv4(r.rangeStart)}-${formatIpv4(r.rangeEnd)}`).join(',');
}

/** The addresses of one network on one node: who holds what, and the last handed out per range set. */
export class HostLocalStore {
  /** address -> "<containerID> <ifname>" (the content of the plugin's per-address file). */
  readonly allocated = new Map<number, string>();
  readonly lastReserved = new Map<number, number>();
}

/** The store of one node: one per network name (the plugin's dataDir/<network>/). */
export class HostLocalState {
  private readonly networks = new Map<string, HostLocalStore>();

  store(network: string): HostLocalStore {
    let s = this.networks.get(network);
    if (s === undefined) this.networks.set(network, (s = new HostLocalStore()));
    return s;
  }
}

export interface IpamResult {
  ips: CniIp[];
  routes: CniRoute[];
  dns: CniDns;
}

export function hostLocalAdd(conf: HostLocalConf, store: HostLocalStore, owner: string): IpamResult {
  for (const [addr, who] of store.allocated) {
    if (who === owner) throw new Error(`host-local: ${owner.replace(' ', ' (')}) already has ${formatIpv4(addr)}`);
  }
  const ips: CniIp[] = [];
  const taken: number[] = [];
  conf.rangeSets.forEach((set, i) => {
    const addr = nextFree(set, store, store.lastReserved.get(i));
    if (addr === undefined) {
      for (const t of taken) store.allocated.delete(t);
      throw new Error(`no IP addresses available in range set: ${rangeSetText(set)}`);
    }
    const range = set.find((r) => addr >= r.rangeStart && addr <= r.rangeEnd)!;
    store.allocated.set(addr, owner);
    store.lastReserved.set(i, addr);
    taken.push(addr);
    ips.push({ address: `${formatIpv4(addr)}/${range.subnet.len}`, gateway: formatIpv4(range.gateway) });
  });
  return { ips, routes: conf.routes.map((r) => ({ ...r })), dns: {} };
}

/** Releases every address `owner` holds (DEL); releasing nothing is not an error, as in the plugin. */
export function hostLocalDel(store: HostLocalStore, owner: string): number[] {
  const freed: number[] = [];
  for (const [addr, who] of store.allocated) if (who === owner) freed.push(addr);
  for (const a of freed) store.allocated.delete(a);
  return freed;
}

/** The RangeIter walk: from after `last` (when inside the set) or the first rangeStart, once round the set. */
function nextFree(set: HostLocalRange[], store: HostLocalStore, last: number | undefined): number | undefined {
  let ri = 0;
  let cur = set[0]!.rangeStart;
  const at = last === undefined ? -1 : set.findIndex((r) => last >= r.rangeStart && last <= r.rangeEnd);
  if (at >= 0) {
    ri = at;
    cur = last! + 1;
    if (cur > set[ri]!.rangeEnd) {
      ri = (ri + 1) % set.length;
      cur = set[ri]!.rangeStart;
    }
  }
  const total = set.reduce((n, r) => n + (r.rangeEnd - r.rangeStart + 1), 0);
  for (let n = 0; n < total; n++) {
    const r = set[ri]!;
    if (cur !== r.gateway && !store.allocated.has(cur)) return cur;
    cur++;
    if (cur > r.rangeEnd) {
      ri = (ri + 1) % set.length;
      cur = set[ri]!.rangeStart;
    }
  }
  return undefined;
}
