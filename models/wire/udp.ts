/**
 * UDP (RFC 768). The checksum covers the IPv4 pseudo-header, so parse and
 * emit take the addresses, as smoltcp's UdpRepr does.
 */
import { read16, write16 } from './bytes.js';
import { type ChecksumMode, finishChecksum, onesComplementSum, partialChecksum, pseudoHeaderSum } from './checksum.js';
import { checkLen, hex16, WireError } from './errors.js';
import { IPPROTO_UDP } from './ipv4.js';

export const UDP_HEADER_LEN = 8;

const SRC_PORT = 0;
const DST_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;

export function udpSrcPort(buf: Uint8Array, off: number): number {
  return read16(buf, off + SRC_PORT);
}
export function setUdpSrcPort(buf: Uint8Array, off: number, port: number): void {
  write16(buf, off + SRC_PORT, port);
}
export function udpDstPort(buf: Uint8Array, off: number): number {
  return read16(buf, off + DST_PORT);
}
export function setUdpDstPort(buf: Uint8Array, off: number, port: number): void {
  write16(buf, off + DST_PORT, port);
}
/** Header plus payload, in bytes. */
export function udpLength(buf: Uint8Array, off: number): number {
  return read16(buf, off + LENGTH);
}
export function setUdpLength(buf: Uint8Array, off: number, len: number): void {
  write16(buf, off + LENGTH, len);
}
export function udpChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + CHECKSUM);
}
export function setUdpChecksum(buf: Uint8Array, off: number, check: number): void {
  write16(buf, off + CHECKSUM, check);
}

/**
 * The checksum over pseudo-header, header and payload (`udpLength` bytes),
 * with the stored field counted as zero. A result of 0 is returned as 0xffff,
 * since 0 on the wire means "no checksum" (RFC 768; CSUM_MANGLED_0 in Linux).
 */
export function computeUdpChecksum(buf: Uint8Array, off: number, src: number, dst: number): number {
  const length = udpLength(buf, off);
  const sum = onesComplementSum(buf, off, length, pseudoHeaderSum(src, dst, IPPROTO_UDP, length));
  const check = finishChecksum(sum + (~udpChecksum(buf, off) & 0xffff));
  return check === 0 ? 0xffff : check;
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Header plus payload, in bytes. */
  length: number;
}

export interface UdpParseOptions {
  /** Verify a nonzero checksum. Default true. */
  verifyChecksum?: boolean;
}

/**
 * `len` is the bytes available from `off` (the IP payload length); the
 * payload is at `off + UDP_HEADER_LEN` for `length - 8` bytes. Checks follow
 * __udp4_lib_rcv (net/ipv4/udp.c): length within the packet and >= 8.
 */
export function parseUdp(
  buf: Uint8Array,
  off: number,
  len: number,
  src: number,
  dst: number,
  opts: UdpParseOptions = {},
): UdpRepr {
  checkLen('udp', 'header', len, UDP_HEADER_LEN);
  const length = udpLength(buf, off);
  if (length > len) throw new WireError('udp', 'length', `${length} exceeds buffer (${len})`);
  if (length < UDP_HEADER_LEN) throw new WireError('udp', 'length', `${length} is less than the header (8)`);
  const check = udpChecksum(buf, off);
  if ((opts.verifyChecksum ?? true) && check !== 0) {
    const want = computeUdpChecksum(buf, off, src, dst);
    if (want !== check) {
      throw new WireError('udp', 'checksum', `${hex16(check)} is wrong (expected ${hex16(want)})`);
    }
  }
  return { srcPort: udpSrcPort(buf, off), dstPort: udpDstPort(buf, off), length };
}

export interface UdpEmitOptions {
  /** Default 'full'; 'partial' writes what Linux leaves for checksum offload (see ChecksumMode). */
  checksum?: ChecksumMode;
}

/**
 * Writes the header and the checksum. The payload (`repr.length - 8` bytes)
 * must already be at `off + UDP_HEADER_LEN`; `src`/`dst` are the IPv4
 * addresses of the enclosing packet.
 */
export function emitUdp(
  repr: UdpRepr,
  buf: Uint8Array,
  off: number,
  src: number,
  dst: number,
  opts: UdpEmitOptions = {},
): void {
  setUdpSrcPort(buf, off, repr.srcPort);
  setUdpDstPort(buf, off, repr.dstPort);
  setUdpLength(buf, off, repr.length);
  setUdpChecksum(
    buf,
    off,
    opts.checksum === 'partial'
      ? partialChecksum(src, dst, IPPROTO_UDP, repr.length)
      : computeUdpChecksum(buf, off, src, dst),
  );
}
