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

/**
 * A strict dotted quad's value, or -1: exactly four decimal octets 0..255, no
 * leading zeros (inet_aton would read "010" as octal 8), no shorthand like
 * "10.1", nothing around it. A scan rather than a regular expression: a large
 * cluster's build parses a few addresses per pod.
 */
export function scanIpv4(s: string): number {
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && octet === 0) return -1; // a leading zero
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3 || octet > 255) return -1;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  return n * 256 + octet;
}

/** Strict dotted quad (scanIpv4), or a WireError saying what is wrong. */
export function parseIpv4(s: string): number {
  const n = scanIpv4(s);
  if (n >= 0) return n;
  const octets = s.split('.');
  const big = octets.length === 4 && octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o)) ? octets.find((o) => Number(o) > 255) : undefined;
  if (big !== undefined) throw new WireError('addr', 'ipv4 address', `${JSON.stringify(s)} has octet ${big} > 255`);
  throw new WireError('addr', 'ipv4 address', `${JSON.stringify(s)} is not a dotted quad`);
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Netmask for a prefix length 0..32 (`<< 32` is a no-op in JS, hence the 0 case). */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffff_ffff << (32 - len)) >>> 0;
}

/** The directed broadcast of `addr`/`prefixLen`: its host bits all set (unsigned). */
export function directedBroadcast(addr: number, prefixLen: number): number {
  return (addr | ~prefixMask(prefixLen)) >>> 0;
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
  let n = 0;
  if (s.length === 17) {
    for (let i = 0; i < 17; i++) {
      const c = s.charCodeAt(i);
      if (i % 3 === 2) {
        if (c !== 0x3a) break;
        continue;
      }
      const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (v < 0) break;
      n = n * 16 + v;
      if (i === 16) return n;
    }
  }
  throw new WireError('addr', 'mac address', `${JSON.stringify(s)} is not six colon-separated hex octets`);
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
