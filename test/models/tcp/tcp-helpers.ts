/**
 * Helpers for the TCP tests: the namespace's TcpLayer with test parameters,
 * decode captured TCP frames with a full checksum recomputation,
 * and print them as tcpdump does.
 */
import type { Netns } from '../../../models/stack/netns.js';
import type { TcpLayer } from '../../../models/stack/tcp/tcp-layer.js';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ethType } from '../../../models/wire/ethernet.js';
import { IPPROTO_TCP, ipv4Dst, ipv4HeaderLen, ipv4Protocol, ipv4Src, ipv4TotalLength } from '../../../models/wire/ipv4.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, computeTcpChecksum, parseTcp, tcpChecksum, type TcpRepr } from '../../../models/wire/tcp.js';
import { formatIpv4 } from '../../../models/wire/addr.js';
import { MS, type RecordingTap, type Seen } from '../helpers.js';

/** The namespace's TcpLayer, with `params` overriding its Linux defaults. */
export function tcpOf(ns: Netns, params: Partial<TcpParams> = {}): TcpLayer {
  Object.assign(ns.tcp.params, params);
  return ns.tcp;
}

export interface TcpFrame extends TcpRepr {
  t: number;
  dev: string;
  dir: 'in' | 'out';
  src: number;
  dst: number;
  payload: Uint8Array;
  /** The stored checksum equals a full recomputation over pseudo-header, header and payload. */
  checksumOk: boolean;
  headerLen: number;
}

/** The TCP frames of a capture, decoded (checksums recomputed in full, not trusted). */
export function tcpFrames(tap: RecordingTap, dev?: string, dir?: 'in' | 'out'): TcpFrame[] {
  const out: TcpFrame[] = [];
  for (const f of tap.frames) {
    if (dev !== undefined && f.dev !== dev) continue;
    if (dir !== undefined && f.dir !== dir) continue;
    const d = decodeTcp(f);
    if (d !== null) out.push(d);
  }
  return out;
}

export function decodeTcp(f: Seen): TcpFrame | null {
  const b = f.bytes;
  if (ethType(b, 0) !== ETHERTYPE_IPV4 || ipv4Protocol(b, ETH_HLEN) !== IPPROTO_TCP) return null;
  const hl = ipv4HeaderLen(b, ETH_HLEN);
  const tcp = ETH_HLEN + hl;
  const len = ipv4TotalLength(b, ETH_HLEN) - hl;
  const src = ipv4Src(b, ETH_HLEN);
  const dst = ipv4Dst(b, ETH_HLEN);
  const r = parseTcp(b, tcp, len, src, dst, { verifyChecksum: false });
  const headerLen = (b[tcp + 12]! >>> 4) * 4;
  return {
    ...r,
    t: f.t,
    dev: f.dev,
    dir: f.dir,
    src,
    dst,
    payload: b.subarray(tcp + headerLen, tcp + len),
    checksumOk: computeTcpChecksum(b, tcp, len, src, dst) === tcpChecksum(b, tcp),
    headerLen,
  };
}

export function flagString(flags: number): string {
  let s = '';
  if (flags & TCP_SYN) s += 'S';
  if (flags & TCP_FIN) s += 'F';
  if (flags & TCP_RST) s += 'R';
  if (flags & TCP_PSH) s += 'P';
  if (flags & TCP_ACK) s += '.';
  return s;
}

/** tcpdump -S style: "10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1, win 64240, length 0" (seq/ack absolute). */
export function tcpLine(f: TcpFrame): string {
  return (
    `${formatIpv4(f.src)}.${f.srcPort} > ${formatIpv4(f.dst)}.${f.dstPort}: Flags [${flagString(f.flags)}], seq ${f.seq}` +
    `${f.flags & TCP_ACK ? `, ack ${f.ack}` : ''}, win ${f.window}, length ${f.payload.length}`
  );
}

/** Milliseconds, for readable expectations. */
export function ms(t: number): number {
  return t / MS;
}
