/**
 * The few IPv4 address helpers the scenario loader needs: addresses as unsigned
 * 32-bit numbers, prefixes as (base, length). Private to scenarios/ on purpose
 * (addresses are read by models/wire/addr.ts's scanIpv4, as the packet side reads them).
 */

import { scanIpv4 } from '../models/wire/addr.js';

/** An IPv4 prefix. `base` may have host bits set (as written); see `cidrNetwork`. */
export interface Cidr {
  base: number;
  len: number;
}

/** "10.244.1.2" -> 0x0af40102; undefined for anything but a canonical dotted quad. */
export function parseIpv4(text: string): number | undefined {
  const n = scanIpv4(text);
  return n < 0 ? undefined : n;
}

export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/** "10.244.0.0/16" -> { base, len }; undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const base = parseIpv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (base === undefined || !/^(3[0-2]|[12]?\d)$/.test(lenText)) return undefined;
  return { base, len: Number(lenText) };
}

/** Netmask as an unsigned number (len 0 -> 0). */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Number of addresses in a prefix of this length. */
export function prefixSize(len: number): number {
  return 2 ** (32 - len);
}

export function cidrNetwork(c: Cidr): number {
  return (c.base & prefixMask(c.len)) >>> 0;
}

export function cidrBroadcast(c: Cidr): number {
  return (cidrNetwork(c) + prefixSize(c.len) - 1) >>> 0;
}

export function hasHostBits(c: Cidr): boolean {
  return cidrNetwork(c) !== c.base;
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.len}`;
}

export function cidrContains(c: Cidr, addr: number): boolean {
  return ((addr & prefixMask(c.len)) >>> 0) === cidrNetwork(c);
}

/** Two prefixes overlap exactly when one contains the other's network address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.len <= b.len ? cidrContains(a, cidrNetwork(b)) : cidrContains(b, cidrNetwork(a));
}

/** True when `inner` lies entirely within `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.len >= outer.len && cidrContains(outer, cidrNetwork(inner));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The address as four colon-separated hex bytes, the tail of the MAC schemes ("0a:f4:01:02"). */
export function hexIp(addr: number): string {
  return `${HEX[addr >>> 24]}:${HEX[(addr >>> 16) & 255]}:${HEX[(addr >>> 8) & 255]}:${HEX[addr & 255]}`;
}
