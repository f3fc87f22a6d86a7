/**
 * Frames and NfPackets for the conntrack tests, built with the wire
 * emitters, and checks that recompute every checksum from scratch.
 */
import { randomStream } from '../../../engine/rng.js';
import { Packet } from '../../../models/packet.js';
import { parseIpv4 as addr } from '../../../models/wire/addr.js';
import { internetChecksum, onesComplementSum, pseudoHeaderSum } from '../../../models/wire/checksum.js';
import { ETH_HLEN, ETHERTYPE_IPV4, emitEthernet } from '../../../models/wire/ethernet.js';
import { ICMP_HEADER_LEN, emitIcmp, type IcmpRepr } from '../../../models/wire/icmp.js';
import {
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  emitIpv4,
  ipv4Dst,
  ipv4HeaderLen,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
} from '../../../models/wire/ipv4.js';
import { TCP_HEADER_LEN, emitTcp } from '../../../models/wire/tcp.js';
import { UDP_HEADER_LEN, emitUdp, udpChecksum } from '../../../models/wire/udp.js';
import { NfHook } from '../../../models/netfilter/hooks.js';
import type { NfPacket } from '../../../models/netfilter/types.js';
import { nfPacketFor } from '../../../models/netfilter/nf-packet.js';
import { Conntrack, type ConntrackOptions } from '../../../models/netfilter/conntrack/conntrack.js';

export { addr };
export const SECOND = 1_000_000_000;

let ids = 0;

function ipFrame(src: string, dst: string, protocol: number, l4Len: number, fill: (buf: Uint8Array, l4: number) => void): Packet {
  const total = IPV4_HEADER_LEN + l4Len;
  const p = Packet.alloc(ETH_HLEN + total, ids++, 0);
  const buf = p.buf;
  emitEthernet({ dst: 0x0a580a000002, src: 0x0a580a000001, ethertype: ETHERTYPE_IPV4 }, buf, p.off);
  const ip = p.off + ETH_HLEN;
  // Transport first: its checksum reads the payload, the IP header is written after.
  fill(buf, ip + IPV4_HEADER_LEN);
  emitIpv4(
    {
      dscpEcn: 0,
      totalLength: total,
      ident: 0x1234,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol,
      src: addr(src),
      dst: addr(dst),
      headerLength: IPV4_HEADER_LEN,
    },
    buf,
    ip,
  );
  return p;
}

export interface UdpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload?: string;
  /** false: send checksum 0 ("none"). */
  checksum?: boolean;
}

export function udp(s: UdpSpec): Packet {
  const payload = new TextEncoder().encode(s.payload ?? 'hello');
  return ipFrame(s.src, s.dst, IPPROTO_UDP, UDP_HEADER_LEN + payload.length, (buf, l4) => {
    buf.set(payload, l4 + UDP_HEADER_LEN);
    emitUdp({ srcPort: s.sport, dstPort: s.dport, length: UDP_HEADER_LEN + payload.length }, buf, l4, addr(s.src), addr(s.dst));
    if (s.checksum === false) {
      buf[l4 + 6] = 0;
      buf[l4 + 7] = 0;
    }
  });
}

export interface TcpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  seq: number;
  ack?: number;
  window?: number;
  payload?: number;
}

export function tcp(s: TcpSpec): Packet {
  const dataLen = s.payload ?? 0;
  return ipFrame(s.src, s.dst, IPPROTO_TCP, TCP_HEADER_LEN + dataLen, (buf, l4) => {
    for (let i = 0; i < dataLen; i++) buf[l4 + TCP_HEADER_LEN + i] = (i * 7) & 0xff;
    emitTcp(
      { srcPort: s.sport, dstPort: s.dport, seq: s.seq >>> 0, ack: (s.ack ?? 0) >>> 0, flags: s.flags, window: s.window ?? 64240, urgent: 0, options: {} },
      buf,
      l4,
      addr(s.src),
      addr(s.dst),
      dataLen,
    );
  });
}

export function icmpEcho(src: string, dst: string, type: 0 | 8, ident: number, seq = 1): Packet {
  const repr: IcmpRepr = { type, code: 0, ident, seq, payload: new Uint8Array(16).fill(0x42) };
  return ipFrame(src, dst, IPPROTO_ICMP, ICMP_HEADER_LEN + 16, (buf, l4) => emitIcmp(repr, buf, l4));
}

/** An ICMP error from `src` to `dst` quoting the IP datagram of `about` (its first `quote` bytes). */
export function icmpError(src: string, dst: string, type: 3 | 11, code: number, about: Packet, quote = 548): Packet {
  const ip = about.off + ETH_HLEN;
  const len = Math.min(ipv4TotalLength(about.buf, ip), quote);
  const quoted = about.buf.slice(ip, ip + len);
  const repr: IcmpRepr = { type, code, quoted };
  return ipFrame(src, dst, IPPROTO_ICMP, ICMP_HEADER_LEN + len, (buf, l4) => emitIcmp(repr, buf, l4));
}

/** The NfPacket a hook sees for `pkt`, untracked so far. */
export function nfp(pkt: Packet, hook: NfHook = NfHook.PRE_ROUTING): NfPacket {
  return nfPacketFor(pkt, hook);
}

/** A conntrack with a hand-driven clock. */
export function makeConntrack(opts: Partial<ConntrackOptions> & { seed?: number } = {}): { ct: Conntrack; clock: { t: number } } {
  const clock = { t: 0 };
  const ct = new Conntrack({
    ...opts,
    now: () => clock.t,
    random: opts.random ?? randomStream(opts.seed ?? 1, 'netfilter'),
  });
  return { ct, clock };
}

/** The header fields a test checks, read from the bytes. */
export interface Fields {
  src: string;
  dst: string;
  protocol: number;
  sport: number;
  dport: number;
}

const fmt = (n: number) => `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;

export function fieldsAt(buf: Uint8Array, ip: number): Fields {
  const l4 = ip + ipv4HeaderLen(buf, ip);
  const protocol = ipv4Protocol(buf, ip);
  const ports = protocol === IPPROTO_TCP || protocol === IPPROTO_UDP;
  return {
    src: fmt(ipv4Src(buf, ip)),
    dst: fmt(ipv4Dst(buf, ip)),
    protocol,
    sport: ports ? (buf[l4]! << 8) | buf[l4 + 1]! : protocol === IPPROTO_ICMP ? (buf[l4 + 4]! << 8) | buf[l4 + 5]! : 0,
    dport: ports ? (buf[l4 + 2]! << 8) | buf[l4 + 3]! : 0,
  };
}

export function fields(pkt: Packet): Fields {
  return fieldsAt(pkt.buf, pkt.off + ETH_HLEN);
}

/** The quoted datagram's fields in an ICMP error. */
export function innerFields(pkt: Packet): Fields {
  const ip = pkt.off + ETH_HLEN;
  return fieldsAt(pkt.buf, ip + ipv4HeaderLen(pkt.buf, ip) + ICMP_HEADER_LEN);
}

/**
 * Every checksum of the packet, recomputed from scratch over the bytes
 * (a correct checksum makes the one's complement sum 0xffff): IP header,
 * TCP/UDP with pseudo-header (UDP 0 = none is accepted), ICMP; for an ICMP
 * error also the quoted IP header. Returns the names of the bad ones.
 */
export function badChecksums(pkt: Packet): string[] {
  const bad: string[] = [];
  const buf = pkt.buf;
  const ip = pkt.off + ETH_HLEN;
  const ihl = ipv4HeaderLen(buf, ip);
  const total = ipv4TotalLength(buf, ip);
  const l4 = ip + ihl;
  const l4Len = total - ihl;
  if (internetChecksum(buf, ip, ihl) !== 0) bad.push('ip');
  const src = ipv4Src(buf, ip);
  const dst = ipv4Dst(buf, ip);
  switch (ipv4Protocol(buf, ip)) {
    case IPPROTO_TCP:
      if (onesComplementSum(buf, l4, l4Len, pseudoHeaderSum(src, dst, IPPROTO_TCP, l4Len)) !== 0xffff) bad.push('tcp');
      break;
    case IPPROTO_UDP:
      if (udpChecksum(buf, l4) !== 0 && onesComplementSum(buf, l4, l4Len, pseudoHeaderSum(src, dst, IPPROTO_UDP, l4Len)) !== 0xffff) bad.push('udp');
      break;
    case IPPROTO_ICMP: {
      if (internetChecksum(buf, l4, l4Len) !== 0) bad.push('icmp');
      const type = buf[l4]!;
      if (type === 3 || type === 11) {
        const inner = l4 + ICMP_HEADER_LEN;
        if (internetChecksum(buf, inner, ipv4HeaderLen(buf, inner)) !== 0) bad.push('inner ip');
      }
      break;
    }
    default:
      break;
  }
  return bad;
}
