/**
 * Parsing and printing of the values iptables options take, mirroring
 * libxtables (xtables.c): numbers in C's strtoul base 0, dotted-quad
 * addresses with a prefix or dotted mask, ports and port ranges, protocol
 * names, interface names with the `+` wildcard, and xtables_save_string
 * quoting.
 */
import { fail, type SourcePos } from './errors.js';
import { formatIpv4, prefixMask } from '../../wire/addr.js';

/** strtoul(s, &end, 0) over the whole string: 0x.. hex, 0.. octal, else decimal. Null if malformed or out of [min, max]. */
export function parseUint(s: string, min = 0, max = 0xffffffff): number | null {
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) v = parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s)) v = s.length === 1 ? 0 : parseInt(s.slice(1), 8);
  else if (/^[1-9][0-9]*$/.test(s)) v = Number(s);
  else return null;
  if (!Number.isFinite(v) || v < min || v > max) return null;
  return v;
}

/** Decimal only (ports, counts): what xtables_strtoui gives for iptables' numeric options in practice. */
export function parseDecimal(s: string, min: number, max: number): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const v = Number(s);
  return v < min || v > max ? null : v;
}

export function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** value[/mask] as the mark, connmark and MARK options take it; mask defaults to 0xffffffff. */
export function parseMarkMask(s: string, pos: SourcePos, what: string): { value: number; mask: number } {
  const slash = s.indexOf('/');
  const value = parseUint(slash < 0 ? s : s.slice(0, slash));
  const mask = slash < 0 ? 0xffffffff : parseUint(s.slice(slash + 1));
  if (value === null || mask === null) fail(pos, s, `Bad ${what} value "${s}"`);
  return { value, mask };
}

/** A dotted quad, each octet decimal 0..255 (no hostnames: podwire has no resolver). */
export function parseDottedQuad(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    // inet_aton would read a leading zero as octal; refuse rather than guess.
    if (part.length > 1 && part[0] === '0') return null;
    const o = Number(part);
    if (o > 255) return null;
    n = n * 256 + o;
  }
  return n;
}

export interface AddrMask {
  /** Already masked, as xtables_ipparse_any leaves it. */
  addr: number;
  mask: number;
}

/** "a.b.c.d[/len|/a.b.c.d]" (xtables_ipparse_any for one address). */
export function parseAddrMask(s: string, pos: SourcePos): AddrMask {
  const slash = s.indexOf('/');
  const host = slash < 0 ? s : s.slice(0, slash);
  let mask = 0xffffffff;
  if (slash >= 0) {
    const m = s.slice(slash + 1);
    const dotted = parseDottedQuad(m);
    if (dotted !== null) mask = dotted;
    else {
      const len = parseDecimal(m, 0, 32);
      if (len === null) fail(pos, s, `invalid mask \`${m}' specified`);
      mask = prefixMask(len);
    }
  }
  const addr = parseDottedQuad(host);
  if (addr === null) fail(pos, s, `host/network \`${host}' not found`);
  return { addr: (addr & mask) >>> 0, mask };
}

/** The prefix length of a contiguous mask, or -1. */
export function maskToPrefix(mask: number): number {
  for (let len = 0; len <= 32; len++) if (prefixMask(len) === mask >>> 0) return len;
  return -1;
}

/** xtables_ipmask_to_numeric: "" for /32, "/len" for a CIDR mask, "/a.b.c.d" otherwise. */
export function maskSuffix(mask: number): string {
  const len = maskToPrefix(mask);
  if (len === 32) return '';
  return len >= 0 ? `/${len}` : `/${formatIpv4(mask)}`;
}

/** How iptables-save writes an address and mask: always with a mask ("10.1.2.3/32"). */
export function saveAddr(a: AddrMask): string {
  const len = maskToPrefix(a.mask);
  return `${formatIpv4(a.addr)}/${len >= 0 ? len : formatIpv4(a.mask)}`;
}

/** How `iptables -L -n` writes it: "0.0.0.0/0", "10.0.0.0/8", "10.1.2.3". */
export function listAddr(a: AddrMask): string {
  return `${formatIpv4(a.addr)}${maskSuffix(a.mask)}`;
}

/**
 * Protocol names iptables knows without /etc/protocols (xtables_chain_protos)
 * plus the common entries of Debian's /etc/protocols, which iptables-save
 * prints by name.
 */
const PROTO_BY_NAME: Record<string, number> = {
  all: 0,
  icmp: 1,
  igmp: 2,
  ipencap: 4,
  tcp: 6,
  udp: 17,
  ipv6: 41,
  gre: 47,
  esp: 50,
  ah: 51,
  sctp: 132,
  udplite: 136,
};
const PROTO_NAME = new Map<number, string>(Object.entries(PROTO_BY_NAME).map(([k, v]) => [v, k]));

/** xtables_parse_protocol: a name (any case) or a number 0..255. */
export function parseProtocol(s: string, pos: SourcePos): number {
  const byName = PROTO_BY_NAME[s.toLowerCase()];
  if (byName !== undefined) return byName;
  const n = parseDecimal(s, 0, 255);
  if (n === null) fail(pos, s, `unknown protocol "${s}" specified`);
  return n;
}

/** The name iptables-save prints after -p ("tcp", "gre", or the number). */
export function protocolName(proto: number): string {
  return PROTO_NAME.get(proto) ?? String(proto);
}

/** A port: decimal 0..65535 (podwire has no /etc/services). */
export function parsePort(s: string, pos: SourcePos): number {
  const n = parseDecimal(s, 0, 65535);
  if (n === null) fail(pos, s, `invalid port/service \`${s}' specified`);
  return n;
}

/** "a", "a:b", ":b" (0:b), "a:" (a:65535), as parse_tcp_ports does. */
export function parsePortRange(s: string, pos: SourcePos): [number, number] {
  const colon = s.indexOf(':');
  if (colon < 0) {
    const p = parsePort(s, pos);
    return [p, p];
  }
  const lo = colon === 0 ? 0 : parsePort(s.slice(0, colon), pos);
  const hiText = s.slice(colon + 1);
  const hi = hiText === '' ? 65535 : parsePort(hiText, pos);
  if (lo > hi) fail(pos, s, `invalid portrange (min > max) \`${s}'`);
  return [lo, hi];
}

export const IFNAMSIZ = 16;

/** An interface argument of -i/-o/--physdev-in: a name, or a prefix ending in `+`. */
export interface IfaceSpec {
  /** The name as written, `+` included ("eth+"); "" or "+" match any. */
  text: string;
  /** The name, or for a wildcard the prefix without `+`. */
  name: string;
  wildcard: boolean;
}

/** xtables_parse_interface. */
export function parseIface(s: string, pos: SourcePos): IfaceSpec {
  if (s.length >= IFNAMSIZ) fail(pos, s, `interface name \`${s}' must be shorter than IFNAMSIZ (${IFNAMSIZ - 1})`);
  if (/[\s/:]/.test(s) || s === '') fail(pos, s, `Invalid interface name \`${s}'`);
  const wildcard = s.endsWith('+');
  return { text: s, name: wildcard ? s.slice(0, -1) : s, wildcard };
}

/** ifname_compare_aligned with the mask iptables derives from the spec. */
export function ifaceMatches(spec: IfaceSpec, devName: string): boolean {
  return spec.wildcard ? devName.startsWith(spec.name) : devName === spec.name;
}

/**
 * xtables_save_string: a value made only of letters, digits, `_` and `-` is
 * written bare; anything else is double-quoted with `"`, `\` and `'` escaped
 * by a backslash.
 */
export function saveString(v: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(v)) return v;
  return `"${v.replace(/["\\']/g, (c) => `\\${c}`)}"`;
}
