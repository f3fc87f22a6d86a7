/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are carried as plain numbers and folded with end-around carry; a
 * packet of up to 64 KiB adds at most 32768 words of 0xffff, far below 2^53,
 * so the loop needs no per-word fold.
 */

/** Folds a sum to 16 bits with end-around carry (csum_fold without the invert). */
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/**
 * One's complement sum of `len` bytes from `off`, added to `acc`; an odd last
 * byte is padded with a zero low byte (RFC 1071 4.1). Returns the folded,
 * not inverted, 16-bit sum, so calls chain (pseudo-header, then segment).
 */
export function onesComplementSum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  // A long range whose words start at even addresses is summed 32 bits at a time.
  if (len >= WORDS_FROM && ((buf.byteOffset + off) & 1) === 0) return wideSum(buf, off, len, acc);
  return fold(byteSum(buf, off, len, acc));
}

/** The sum of big-endian 16-bit words, unfolded. */
function byteSum(buf: Uint8Array, off: number, len: number, acc: number): number {
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i === end) acc += buf[i]! << 8;
  return acc;
}

/** Shorter ranges than this are summed a byte pair at a time: a word view costs more than it saves (break-even ~128 bytes here). */
const WORDS_FROM = 128;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * RFC 1071 2(C) and 2(B): the sum of 32-bit words folds to the sum of their
 * 16-bit halves (2^16 = 1 modulo 0xffff), and on a little-endian host the
 * halves are byte-swapped words, whose folded sum is the byte-swapped sum.
 * (Payloads are most of what podwire sums: 1,448-byte TCP segments twice or
 * more each.) `buf.byteOffset + off` is even, so no word straddles a 32-bit
 * block: two bytes first if the start is not 4-aligned.
 */
function wideSum(buf: Uint8Array, off: number, len: number, acc: number): number {
  const head = (buf.byteOffset + off) & 2;
  acc = byteSum(buf, off, head, acc);
  const start = off + head;
  const n = (len - head) >>> 2;
  const words = new Uint32Array(buf.buffer, buf.byteOffset + start, n);
  let s = 0;
  for (let k = 0; k < n; k++) s += words[k]!;
  let f = fold(s);
  if (LITTLE_ENDIAN) f = ((f & 0xff) << 8) | (f >>> 8);
  const done = head + (n << 2);
  return fold(byteSum(buf, off + done, len - done, acc + f));
}

/** Folds and inverts: the value that goes in the checksum field. */
export function finishChecksum(acc: number): number {
  return ~fold(acc) & 0xffff;
}

/** Checksum of a byte range; 0 when the range holds a correct checksum field. */
export function internetChecksum(buf: Uint8Array, off: number, len: number): number {
  return finishChecksum(onesComplementSum(buf, off, len));
}

/** Sum of the IPv4 pseudo-header of RFC 768 / RFC 9293 3.1 (src, dst, zero, protocol, length). */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * How a TCP/UDP checksum field is filled.
 * - 'full': the complete checksum, as a NIC without offload or a software path writes it.
 * - 'partial': only the folded pseudo-header sum, which Linux leaves in the field
 *   for CHECKSUM_PARTIAL skbs (`uh->check = ~csum_tcpudp_magic(src, dst, len, proto, 0)`
 *   in udp4_hwcsum, net/ipv4/udp.c; `__tcp_v4_send_check`). A capture on veth
 *   shows this value, e.g. the UDP datagram in kernel-ref/same-node.
 */
export type ChecksumMode = 'full' | 'partial';

/** The value Linux writes for CHECKSUM_PARTIAL: the folded pseudo-header sum, not inverted. */
export function partialChecksum(src: number, dst: number, protocol: number, length: number): number {
  return fold(pseudoHeaderSum(src, dst, protocol, length));
}

/**
 * RFC 1624 eqn 3, HC' = ~(~HC + ~m + m'): the checksum after one 16-bit word
 * changes from `old16` to `new16` (csum_replace2 in include/net/checksum.h).
 */
export function checksumReplace16(check: number, old16: number, new16: number): number {
  return ~fold((~check & 0xffff) + (~old16 & 0xffff) + new16) & 0xffff;
}

/** RFC 1624 eqn 3 for a 32-bit field (an address), word by word (csum_replace4). */
export function checksumReplace32(check: number, old32: number, new32: number): number {
  const sum =
    (~check & 0xffff) +
    (~(old32 >>> 16) & 0xffff) +
    (~old32 & 0xffff) +
    (new32 >>> 16) +
    (new32 & 0xffff);
  return ~fold(sum) & 0xffff;
}
