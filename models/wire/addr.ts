/**
 * IPv4 and MAC addresses as plain numbers, the representation every model
 * shares:
 * - IPv4: unsigned 32-bit (`0x0af40102` is 10.244.1.2); results are `>>> 0`
 *   so bit operations never leave a negative number behind.
 * - MAC: 0..2^48-1 (48 bits fit exactly in a double), e.g. 0x0a580af40102.
 *   Split and joined by multiplication: JS bit operators truncate to 32 bits.
 */
import { read16, read32, write16, write32 } from './bytes.js';
import { WireError } from './errors.js';

const TWO_32 = 0x1_0000_0000;
const TWO_40 = 0x100_0000_0000;

export const MAC_BROADCAST = 0xffff_ffff_ffff;

const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/**
 * Strict dotted quad: exactly four decimal octets 0..255, no leading zeros
 * (inet_aton would read "010" as octal 8), no shorthand like "10.1".
 */
export function parseIpv4(s: string): number {
  const m = DOTTED_QUAD.exec(s);
  if (m === null) throw new WireError('addr', 'ipv4 address', `${JSON.stringify(s)} is not a dotted quad`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) throw new WireError('addr', 'ipv4 address', `${JSON.stringify(s)} has octet ${octet} > 255`);
    n = n * 256 + octet;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Netmask for a prefix length 0..32 (`<< 32` is a no-op in JS, hence the 0 case). */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffff_ffff << (32 - len)) >>> 0;
}

export function inPrefix(addr: number, net: number, len: number): boolean {
  return ((addr ^ net) & prefixMask(len)) === 0;
}

export interface Cidr {
  /** The address as written (may have host bits, like "10.244.1.2/24" on an interface). */
  addr: number;
  prefixLen: number;
  /** `addr` with the host bits cleared. */
  network: number;
}

export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw new WireError('addr', 'cidr', `${JSON.stringify(s)} has no /prefix`);
  const lenText = s.slice(slash + 1);
  if (!/^(0|[1-9]\d?)$/.test(lenText) || Number(lenText) > 32) {
    throw new WireError('addr', 'cidr prefix length', `${JSON.stringify(s)}: must be 0..32`);
  }
  const addr = parseIpv4(s.slice(0, slash));
  const prefixLen = Number(lenText);
  return { addr, prefixLen, network: (addr & prefixMask(prefixLen)) >>> 0 };
}

/** "0a:58:0a:f4:01:02" (either case); exactly six two-digit hex octets. */
export function parseMac(s: string): number {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) {
    throw new WireError('addr', 'mac address', `${JSON.stringify(s)} is not six colon-separated hex octets`);
  }
  return parseInt(s.replaceAll(':', ''), 16);
}

/** Lower-case, colon-separated, as `ip link` and tshark print it. */
export function formatMac(mac: number): string {
  const hex = mac.toString(16).padStart(12, '0');
  return hex.replace(/(..)(?!$)/g, '$1:');
}

export function readMac(buf: Uint8Array, off: number): number {
  return read16(buf, off) * TWO_32 + read32(buf, off + 2);
}

export function writeMac(buf: Uint8Array, off: number, mac: number): void {
  const hi = Math.floor(mac / TWO_32);
  write16(buf, off, hi);
  write32(buf, off + 2, mac - hi * TWO_32);
}

/** The I/G bit: least significant bit of the first octet (IEEE 802-2014 8.2). Broadcast is multicast too. */
export function isMulticastMac(mac: number): boolean {
  return (Math.floor(mac / TWO_40) & 1) === 1;
}
