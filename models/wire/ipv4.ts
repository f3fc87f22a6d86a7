/**
 * IPv4 header (RFC 791).
 *
 * Hot-path accessors read and write single fields in place; the ones that
 * change a covered field on a live packet (decrementTtl, setIpv4Src/Dst)
 * patch the header checksum incrementally (RFC 1624) as the kernel does.
 * parse checks what ip_rcv_core (net/ipv4/ip_input.c) checks, in its order.
 */
import { read16, read32, write16, write32 } from './bytes.js';
import { checksumReplace32, finishChecksum, internetChecksum, onesComplementSum } from './checksum.js';
import { checkLen, hex16, WireError } from './errors.js';

export const IPV4_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

const VER_IHL = 0;
const TOS = 1;
const LENGTH = 2;
const IDENT = 4;
const FLG_OFF = 6;
const TTL = 8;
const PROTOCOL = 9;
const CHECKSUM = 10;
const SRC = 12;
const DST = 16;

const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

export function ipv4Version(buf: Uint8Array, off: number): number {
  return buf[off + VER_IHL]! >>> 4;
}
/** Header length in 32-bit words. */
export function ipv4Ihl(buf: Uint8Array, off: number): number {
  return buf[off + VER_IHL]! & 0x0f;
}
/** Header length in bytes. */
export function ipv4HeaderLen(buf: Uint8Array, off: number): number {
  return (buf[off + VER_IHL]! & 0x0f) << 2;
}
/** The whole second byte: DSCP (6 bits) and ECN (2 bits). */
export function ipv4DscpEcn(buf: Uint8Array, off: number): number {
  return buf[off + TOS]!;
}
export function ipv4TotalLength(buf: Uint8Array, off: number): number {
  return read16(buf, off + LENGTH);
}
export function setIpv4TotalLength(buf: Uint8Array, off: number, len: number): void {
  write16(buf, off + LENGTH, len);
}
export function ipv4Ident(buf: Uint8Array, off: number): number {
  return read16(buf, off + IDENT);
}
export function setIpv4Ident(buf: Uint8Array, off: number, ident: number): void {
  write16(buf, off + IDENT, ident);
}
/** The three flag bits (reserved, DF, MF) as a number 0..7. */
export function ipv4Flags(buf: Uint8Array, off: number): number {
  return buf[off + FLG_OFF]! >>> 5;
}
export function ipv4DontFragment(buf: Uint8Array, off: number): boolean {
  return (read16(buf, off + FLG_OFF) & FLAG_DF) !== 0;
}
export function ipv4MoreFragments(buf: Uint8Array, off: number): boolean {
  return (read16(buf, off + FLG_OFF) & FLAG_MF) !== 0;
}
/** Fragment offset in bytes (the field counts 8-byte units). */
export function ipv4FragmentOffset(buf: Uint8Array, off: number): number {
  return (read16(buf, off + FLG_OFF) & OFFSET_MASK) << 3;
}
export function ipv4Ttl(buf: Uint8Array, off: number): number {
  return buf[off + TTL]!;
}
/** Raw write; the checksum is left stale (use decrementTtl when forwarding). */
export function setIpv4Ttl(buf: Uint8Array, off: number, ttl: number): void {
  buf[off + TTL] = ttl;
}
export function ipv4Protocol(buf: Uint8Array, off: number): number {
  return buf[off + PROTOCOL]!;
}
export function ipv4Checksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + CHECKSUM);
}
export function setIpv4Checksum(buf: Uint8Array, off: number, check: number): void {
  write16(buf, off + CHECKSUM, check);
}
export function ipv4Src(buf: Uint8Array, off: number): number {
  return read32(buf, off + SRC);
}
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return read32(buf, off + DST);
}

/**
 * Rewrites the source address and patches the header checksum (RFC 1624),
 * as SNAT does with csum_replace4. The TCP/UDP checksum also covers the
 * address through the pseudo-header; fixing it is the caller's job.
 */
export function setIpv4Src(buf: Uint8Array, off: number, addr: number): void {
  const old = read32(buf, off + SRC);
  write32(buf, off + SRC, addr);
  write16(buf, off + CHECKSUM, checksumReplace32(read16(buf, off + CHECKSUM), old, addr >>> 0));
}

/** Rewrites the destination address and patches the header checksum; see setIpv4Src. */
export function setIpv4Dst(buf: Uint8Array, off: number, addr: number): void {
  const old = read32(buf, off + DST);
  write32(buf, off + DST, addr);
  write16(buf, off + CHECKSUM, checksumReplace32(read16(buf, off + CHECKSUM), old, addr >>> 0));
}

/**
 * Decrements the TTL and patches the checksum; returns the new TTL.
 * Mirrors ip_decrease_ttl (include/net/ip.h): the TTL is the high byte of
 * its 16-bit word, so the checksum grows by 0x0100, with end-around carry.
 * The caller checks TTL <= 1 first (ip_forward sends ICMP time exceeded).
 */
export function decrementTtl(buf: Uint8Array, off: number): number {
  let check = read16(buf, off + CHECKSUM) + 0x0100;
  check += check >= 0xffff ? 1 : 0;
  write16(buf, off + CHECKSUM, check);
  const ttl = (buf[off + TTL]! - 1) & 0xff;
  buf[off + TTL] = ttl;
  return ttl;
}

/** Computes and stores the header checksum over IHL*4 bytes. */
/**
 * Writes a 20-byte header without options (unfragmented, DF as given) and its
 * checksum: the stack's output path, which builds one per packet and should
 * not build a repr object to do it.
 */
export function writeIpv4Header(
  buf: Uint8Array,
  off: number,
  tos: number,
  totalLength: number,
  ident: number,
  dontFragment: boolean,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  buf[off + VER_IHL] = 0x45;
  buf[off + TOS] = tos;
  write16(buf, off + LENGTH, totalLength);
  write16(buf, off + IDENT, ident);
  write16(buf, off + FLG_OFF, dontFragment ? FLAG_DF : 0);
  buf[off + TTL] = ttl;
  buf[off + PROTOCOL] = protocol;
  write32(buf, off + SRC, src);
  write32(buf, off + DST, dst);
  // The checksum from the field values (as the bytes hold them), not by reading the 20 bytes back.
  const sum =
    0x4500 + (tos & 0xff) + (totalLength & 0xffff) + (ident & 0xffff) + (dontFragment ? FLAG_DF : 0) +
    ((ttl & 0xff) << 8) + (protocol & 0xff) +
    ((src >>> 16) & 0xffff) + (src & 0xffff) + ((dst >>> 16) & 0xffff) + (dst & 0xffff);
  write16(buf, off + CHECKSUM, finishChecksum(sum));
}

export function fillIpv4Checksum(buf: Uint8Array, off: number): void {
  write16(buf, off + CHECKSUM, 0);
  write16(buf, off + CHECKSUM, internetChecksum(buf, off, ipv4HeaderLen(buf, off)));
}

export function ipv4ChecksumValid(buf: Uint8Array, off: number): boolean {
  return internetChecksum(buf, off, ipv4HeaderLen(buf, off)) === 0;
}

export interface Ipv4Repr {
  /** The TOS byte: DSCP << 2 | ECN. */
  dscpEcn: number;
  totalLength: number;
  ident: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** In bytes, a multiple of 8. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  /** 20..60, a multiple of 4. */
  headerLength: number;
  /**
   * The option bytes (headerLength - 20 of them), uninterpreted; present only
   * when headerLength > 20. parse returns a view into the packet.
   */
  options?: Uint8Array;
}

export interface Ipv4ParseOptions {
  /** Default true. */
  verifyChecksum?: boolean;
}

/** `len` is the bytes available from `off`; the payload is at `off + headerLength`. */
export function parseIpv4(buf: Uint8Array, off: number, len: number, opts: Ipv4ParseOptions = {}): Ipv4Repr {
  checkLen('ipv4', 'header', len, IPV4_HEADER_LEN);
  const version = ipv4Version(buf, off);
  if (version !== 4) throw new WireError('ipv4', 'version', `${version} is not 4`);
  const headerLength = ipv4HeaderLen(buf, off);
  if (headerLength < IPV4_HEADER_LEN) {
    throw new WireError('ipv4', 'header length', `${headerLength} (IHL ${headerLength >>> 2}) is below 20`);
  }
  if (headerLength > len) throw new WireError('ipv4', 'header length', `${headerLength} exceeds buffer (${len})`);
  if ((opts.verifyChecksum ?? true) && internetChecksum(buf, off, headerLength) !== 0) {
    const want = expectedChecksum(buf, off, headerLength);
    throw new WireError('ipv4', 'checksum', `${hex16(ipv4Checksum(buf, off))} is wrong (expected ${hex16(want)})`);
  }
  const totalLength = ipv4TotalLength(buf, off);
  if (totalLength > len) throw new WireError('ipv4', 'total length', `${totalLength} exceeds buffer (${len})`);
  if (totalLength < headerLength) {
    throw new WireError('ipv4', 'total length', `${totalLength} is less than header length (${headerLength})`);
  }
  const flgOff = read16(buf, off + FLG_OFF);
  const repr: Ipv4Repr = {
    dscpEcn: ipv4DscpEcn(buf, off),
    totalLength,
    ident: ipv4Ident(buf, off),
    dontFragment: (flgOff & FLAG_DF) !== 0,
    moreFragments: (flgOff & FLAG_MF) !== 0,
    fragmentOffset: (flgOff & OFFSET_MASK) << 3,
    ttl: ipv4Ttl(buf, off),
    protocol: ipv4Protocol(buf, off),
    src: ipv4Src(buf, off),
    dst: ipv4Dst(buf, off),
    headerLength,
  };
  if (headerLength > IPV4_HEADER_LEN) repr.options = buf.subarray(off + IPV4_HEADER_LEN, off + headerLength);
  return repr;
}

/** Bytes emitIpv4 writes: the header, options included. */
export function ipv4BufferLen(repr: Ipv4Repr): number {
  return repr.headerLength;
}

/**
 * Writes the header (IHL from headerLength, options copied and zero-padded,
 * reserved flag 0) and its checksum. The payload is not touched.
 */
export function emitIpv4(repr: Ipv4Repr, buf: Uint8Array, off: number): void {
  buf[off + VER_IHL] = 0x40 | (repr.headerLength >>> 2);
  buf[off + TOS] = repr.dscpEcn;
  write16(buf, off + LENGTH, repr.totalLength);
  write16(buf, off + IDENT, repr.ident);
  write16(
    buf,
    off + FLG_OFF,
    (repr.dontFragment ? FLAG_DF : 0) |
      (repr.moreFragments ? FLAG_MF : 0) |
      ((repr.fragmentOffset >>> 3) & OFFSET_MASK),
  );
  buf[off + TTL] = repr.ttl;
  buf[off + PROTOCOL] = repr.protocol;
  write32(buf, off + SRC, repr.src);
  write32(buf, off + DST, repr.dst);
  if (repr.headerLength > IPV4_HEADER_LEN) {
    buf.fill(0, off + IPV4_HEADER_LEN, off + repr.headerLength); // 0 is End of Option List
    if (repr.options !== undefined) {
      buf.set(repr.options.subarray(0, repr.headerLength - IPV4_HEADER_LEN), off + IPV4_HEADER_LEN);
    }
  }
  fillIpv4Checksum(buf, off);
}

/** The checksum the header should carry: the sum with the stored field taken back out. */
function expectedChecksum(buf: Uint8Array, off: number, headerLength: number): number {
  return finishChecksum(onesComplementSum(buf, off, headerLength) + (~ipv4Checksum(buf, off) & 0xffff));
}
