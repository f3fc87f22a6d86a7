/**
 * Literal values of the nft language by data type (ipv4_addr with prefixes
 * and ranges, inet_proto names, inet_service, marks) and the key helpers
 * sets and maps share.
 */
import { formatIpv4, parseIpv4, prefixMask } from '../../wire/addr.js';
import type { DataType, Element, KeyPart, NftSet } from './ast.js';
import { HashBuckets } from '../../hash-buckets.js';

export const PROTO_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, sctp: 132 };
const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** PRIORITY names of the ip family (nft's standard priorities). */
export const PRIORITY_NAMES: Record<string, number> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };

export function parseNumber(s: string): number | null {
  if (/^0x[0-9a-f]+$/i.test(s)) return parseInt(s.slice(2), 16);
  if (/^\d+$/.test(s)) return Number(s);
  return null;
}

function parseAddr(s: string): number | null {
  try {
    return parseIpv4(s);
  } catch {
    return null;
  }
}

/** One key component of type `t`; null when `s` is not a value of that type. */
export function parseKeyPart(t: DataType, s: string): KeyPart | null {
  if (t === 'ipv4_addr') {
    const slash = s.indexOf('/');
    if (slash >= 0) {
      const a = parseAddr(s.slice(0, slash));
      const len = /^\d+$/.test(s.slice(slash + 1)) ? Number(s.slice(slash + 1)) : NaN;
      if (a === null || !(len >= 0 && len <= 32)) return null;
      const lo = (a & prefixMask(len)) >>> 0;
      return keyPart(lo, (lo | ~prefixMask(len)) >>> 0);
    }
    const dash = s.indexOf('-');
    if (dash >= 0) {
      const lo = parseAddr(s.slice(0, dash));
      const hi = parseAddr(s.slice(dash + 1));
      return lo === null || hi === null || hi < lo ? null : keyPart(lo, hi);
    }
    const a = parseAddr(s);
    return a === null ? null : keyPart(a, a);
  }
  if (t === 'inet_proto') {
    const v = PROTO_NUMBERS[s] ?? parseNumber(s);
    return v === null || v > 255 ? null : keyPart(v, v);
  }
  const max = t === 'inet_service' ? 0xffff : 0xffffffff;
  const dash = s.indexOf('-');
  const lo = parseNumber(dash >= 0 ? s.slice(0, dash) : s);
  const hi = dash >= 0 ? parseNumber(s.slice(dash + 1)) : lo;
  if (lo === null || hi === null || hi < lo || hi > max) return null;
  return keyPart(lo, hi);
}

/** A key part of the unsigned 32-bit bounds lo..hi, kept as int32 (KeyPart). */
export function keyPart(lo: number, hi: number): KeyPart {
  return { lo: lo | 0, hi: hi | 0 };
}

export function formatKeyPart(t: DataType, p: KeyPart): string {
  const one = (v: number): string =>
    t === 'ipv4_addr' ? formatIpv4(v) : t === 'inet_proto' ? (PROTO_NAMES[v] ?? String(v)) : t === 'mark' ? hex8(v) : String(v);
  const lo = p.lo >>> 0;
  const hi = p.hi >>> 0;
  if (lo === hi) return one(lo);
  if (t === 'ipv4_addr') {
    // A prefix prints as addr/len, any other interval as lo-hi.
    const size = hi - lo + 1;
    const len = 32 - Math.log2(size);
    if (Number.isInteger(len) && (lo & ~prefixMask(len)) === 0) return `${formatIpv4(lo)}/${len}`;
  }
  return `${one(lo)}-${one(hi)}`;
}

/** How nft prints marks: 0x%08x. */
export function hex8(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

export function newSet(name: string, kind: 'set' | 'map', keyType: DataType[], valueType: 'verdict' | null, line: number): NftSet {
  return { name, kind, keyType, valueType, flags: [], timeout: 0, size: null, comment: null, elements: [], exact: new HashBuckets(sameValues), ranges: [], line };
}

/**
 * The exact index's key for a set element's values: a 30-bit hash (a small
 * integer, so a lookup makes no string and hashes no heap number). Elements
 * whose values hash alike share the key (NftSet.exact).
 */
export function exactKey(values: readonly number[]): number {
  let h = values.length;
  for (let i = 0; i < values.length; i++) {
    h = Math.imul(h ^ (values[i]! | 0), 0x9e3779b1);
    h ^= h >>> 15;
  }
  return h & 0x3fffffff;
}

/** Whether exact element `e` has the key `values` (unsigned, as a packet gives them). */
function sameValues(e: Element, values: readonly number[]): boolean {
  if (e.key.length !== values.length) return false;
  for (let i = 0; i < values.length; i++) if (e.key[i]!.lo !== (values[i]! | 0)) return false;
  return true;
}

/** Adds (or, for an existing key, replaces) an element, keeping the indexes. */
export function addElement(s: NftSet, e: Element): void {
  if (e.key.every((k) => k.lo === k.hi)) {
    const values = e.key.map((k) => k.lo >>> 0);
    const key = exactKey(values);
    const old = s.exact.find(key, values);
    if (old !== undefined) s.elements.splice(s.elements.indexOf(old), 1);
    s.exact.put(key, e, old);
  } else s.ranges.push(e);
  s.elements.push(e);
}

export function clearSet(s: NftSet): void {
  s.elements.length = 0;
  s.ranges.length = 0;
  s.exact.clear();
}

/** The element holding `values` (live at `now`), or undefined. */
export function lookupElement(s: NftSet, values: readonly number[], now: number): Element | undefined {
  const e = s.exact.find(exactKey(values), values);
  if (e !== undefined && (e.expires === undefined || e.expires > now)) return e;
  for (const r of s.ranges) {
    let ok = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      const k = r.key[i]!;
      if (v < k.lo >>> 0 || v > k.hi >>> 0) {
        ok = false;
        break;
      }
    }
    if (ok) return r;
  }
  return undefined;
}
