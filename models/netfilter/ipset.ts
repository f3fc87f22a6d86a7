import type { IpSet } from './types.js';
import { parseCidr, parseIpv4, prefixMask } from '../wire/addr.js';

export type IpSetType = IpSet['type'];

/** Protocol names ipset accepts in a "proto:port" element (ipset(8), "hash:ip,port"). */
const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1 };

/**
 * An ip set (ipset(8)) of one of the types kube-proxy's IPVS mode and Calico
 * use, filled from `ipset add` element syntax:
 * - hash:ip       "10.0.0.1", or a CIDR / "a-b" range, stored address by address;
 * - hash:net      "10.0.0.0/24" (a bare address is a /32);
 * - hash:ip,port  "10.0.0.1,tcp:80", "10.0.0.1,80" (tcp), "10.0.0.1,udp:53-55", "10.0.0.1,icmp:8/0";
 * - hash:ip,port,ip "10.0.0.1,tcp:80,10.0.0.2" (kube-proxy's KUBE-LOOP-BACK), each part as above;
 * - bitmap:port   "80" or "1024-2048" (ports of any protocol).
 * A bad element throws an Error whose message says what is wrong with it.
 */
export class IpSetTable implements IpSet {
  private readonly ips = new Set<number>();
  /** hash:net: networks per prefix length, longest first when testing. */
  private readonly nets = new Map<number, Set<number>>();
  private netLengths: number[] = [];
  private readonly ipPorts = new Set<number>();
  /** hash:ip,port,ip: "ipPortKey:addr2" */
  private readonly ipPortIps = new Set<string>();
  private readonly ports = new Uint8Array(65536);

  constructor(
    readonly name: string,
    readonly type: IpSetType,
  ) {}

  static of(name: string, type: IpSetType, elements: readonly string[]): IpSetTable {
    const s = new IpSetTable(name, type);
    for (const e of elements) s.add(e);
    return s;
  }

  /** `ipset add NAME ELEMENT` */
  add(element: string): void {
    const e = element.trim();
    switch (this.type) {
      case 'hash:ip':
        for (const a of addresses(e)) this.ips.add(a);
        return;
      case 'hash:net': {
        const { addr, prefixLen } = e.includes('/') ? parseCidr(e) : { addr: parseIpv4(e), prefixLen: 32 };
        let set = this.nets.get(prefixLen);
        if (set === undefined) {
          set = new Set();
          this.nets.set(prefixLen, set);
          this.netLengths = [...this.nets.keys()].sort((a, b) => b - a);
        }
        set.add((addr & prefixMask(prefixLen)) >>> 0);
        return;
      }
      case 'hash:ip,port': {
        const comma = e.indexOf(',');
        if (comma < 0) throw new Error(`"${e}" is not an ip,port element (expected e.g. 10.0.0.1,tcp:80)`);
        const [proto, lo, hi] = protoPorts(e.slice(comma + 1));
        for (const a of addresses(e.slice(0, comma))) for (let p = lo; p <= hi; p++) this.ipPorts.add(ipPortKey(a, proto, p));
        return;
      }
      case 'hash:ip,port,ip': {
        const parts = e.split(',');
        if (parts.length !== 3) throw new Error(`"${e}" is not an ip,port,ip element (expected e.g. 10.0.0.1,tcp:80,10.0.0.2)`);
        const [proto, lo, hi] = protoPorts(parts[1]!);
        const seconds = addresses(parts[2]!);
        for (const a of addresses(parts[0]!)) {
          for (let p = lo; p <= hi; p++) for (const b of seconds) this.ipPortIps.add(`${ipPortKey(a, proto, p)}:${b}`);
        }
        return;
      }
      case 'bitmap:port': {
        const [lo, hi] = portRange(e);
        this.ports.fill(1, lo, hi + 1);
        return;
      }
    }
  }

  test(addr: number, protocol: number, port: number, addr2 = 0): boolean {
    switch (this.type) {
      case 'hash:ip':
        return this.ips.has(addr);
      case 'hash:net':
        for (const len of this.netLengths) if (this.nets.get(len)!.has((addr & prefixMask(len)) >>> 0)) return true;
        return false;
      case 'hash:ip,port':
        return this.ipPorts.has(ipPortKey(addr, protocol, port));
      case 'hash:ip,port,ip':
        return this.ipPortIps.has(`${ipPortKey(addr, protocol, port)}:${addr2}`);
      case 'bitmap:port':
        return this.ports[port] === 1;
    }
  }
}

function ipPortKey(addr: number, proto: number, port: number): number {
  // 32 + 8 + 16 bits: exact in a double.
  return (addr * 256 + proto) * 65536 + port;
}

/** One address, a CIDR, or an "a-b" range, at most 65,536 addresses. */
function addresses(text: string): number[] {
  let lo: number;
  let hi: number;
  if (text.includes('/')) {
    const { addr, prefixLen } = parseCidr(text);
    lo = (addr & prefixMask(prefixLen)) >>> 0;
    hi = (lo | ~prefixMask(prefixLen)) >>> 0;
  } else if (text.includes('-')) {
    const [a, b] = text.split('-') as [string, string];
    lo = parseIpv4(a);
    hi = parseIpv4(b);
  } else {
    lo = hi = parseIpv4(text);
  }
  if (hi < lo) throw new Error(`"${text}": range ends before it starts`);
  if (hi - lo >= 65536) throw new Error(`"${text}": more than 65536 addresses in one element`);
  const out: number[] = [];
  for (let a = lo; a <= hi; a++) out.push(a);
  return out;
}

/** "tcp:80", "80" (tcp), "udp:53-55", "icmp:8/0" -> [protocol, first, last]. */
function protoPorts(text: string): [number, number, number] {
  const colon = text.indexOf(':');
  const protoName = colon < 0 ? 'tcp' : text.slice(0, colon);
  const proto = PROTOCOLS[protoName];
  if (proto === undefined) throw new Error(`"${text}": unknown protocol "${protoName}" (tcp, udp, sctp or icmp)`);
  const rest = colon < 0 ? text : text.slice(colon + 1);
  if (proto === 1) {
    const m = /^(\d+)\/(\d+)$/.exec(rest);
    if (!m || Number(m[1]) > 255 || Number(m[2]) > 255) throw new Error(`"${text}": ICMP elements are icmp:TYPE/CODE`);
    const v = (Number(m[1]) << 8) | Number(m[2]);
    return [proto, v, v];
  }
  const [lo, hi] = portRange(rest);
  return [proto, lo, hi];
}

function portRange(text: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(lo >= 0 && hi <= 65535 && lo <= hi)) throw new Error(`"${text}" is not a port or port range (0-65535)`);
  return [lo, hi];
}
