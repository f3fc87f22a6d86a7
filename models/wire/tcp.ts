/**
 * TCP header (RFC 9293 3.1) with the options Linux sends: MSS (RFC 9293
 * 3.2), window scale and timestamps (RFC 7323), SACK-permitted and SACK
 * blocks (RFC 2018, D-SACK RFC 2883). emit lays options out as
 * tcp_options_write (net/ipv4/tcp_output.c) does, so a SYN comes out as
 * Linux sends it:
 *
 *     MSS(4) | SACK_PERM TS(12) | NOP WS(4)        20 bytes
 *
 * and without SACK: `NOP NOP TS`; SACK without TS: `NOP NOP SACK_PERM`.
 * An established segment with SACK blocks (RFC 2018 section 3):
 *
 *     NOP NOP TS(12) | NOP NOP SACK len=2+8n | n x (left edge, right edge)
 *
 * at most 3 blocks beside the timestamp, 4 without (40 bytes of option space;
 * tcp_established_options). parse reads options in any order and skips kinds
 * it does not model (MD5, ...); it is stricter than tcp_parse_options, which
 * silently stops at a malformed option, because every frame podwire parses
 * it emitted.
 */
import { read16, read32, write16, write32 } from './bytes.js';
import { type ChecksumMode, finishChecksum, onesComplementSum, partialChecksum, pseudoHeaderSum } from './checksum.js';
import { checkLen, hex16, WireError } from './errors.js';
import { IPPROTO_TCP } from './ipv4.js';

export const TCP_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** Option kinds and lengths (include/net/tcp.h names). */
const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2;
const TCPOPT_WINDOW = 3;
const TCPOPT_SACK_PERM = 4;
const TCPOPT_SACK = 5;
const TCPOPT_TIMESTAMP = 8;
const TCPOLEN_MSS = 4;
const TCPOLEN_WINDOW = 3;
const TCPOLEN_SACK_PERM = 2;
const TCPOLEN_TIMESTAMP = 10;
const TCPOLEN_SACK_BASE = 2;
const TCPOLEN_SACK_PERBLOCK = 8;
/** MAX_TCP_OPTION_SPACE */
const MAX_OPTION_SPACE = 40;
/** TCP_NUM_SACKS: the most blocks one option can hold (4 x 8 + 2 = 34 of the 40 bytes). */
export const TCP_MAX_SACK_BLOCKS = 4;
/** The fixed length each modelled option must have. */
const OPTION_LEN: Record<number, number> = {
  [TCPOPT_MSS]: TCPOLEN_MSS,
  [TCPOPT_WINDOW]: TCPOLEN_WINDOW,
  [TCPOPT_SACK_PERM]: TCPOLEN_SACK_PERM,
  [TCPOPT_TIMESTAMP]: TCPOLEN_TIMESTAMP,
};

const SRC_PORT = 0;
const DST_PORT = 2;
const SEQ = 4;
const ACK = 8;
const DATA_OFF = 12;
const FLAGS = 13;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT = 18;

export function tcpSrcPort(buf: Uint8Array, off: number): number {
  return read16(buf, off + SRC_PORT);
}
export function setTcpSrcPort(buf: Uint8Array, off: number, port: number): void {
  write16(buf, off + SRC_PORT, port);
}
export function tcpDstPort(buf: Uint8Array, off: number): number {
  return read16(buf, off + DST_PORT);
}
export function setTcpDstPort(buf: Uint8Array, off: number, port: number): void {
  write16(buf, off + DST_PORT, port);
}
export function tcpSeq(buf: Uint8Array, off: number): number {
  return read32(buf, off + SEQ);
}
export function tcpAck(buf: Uint8Array, off: number): number {
  return read32(buf, off + ACK);
}
/** Header length in bytes, from the data offset. */
export function tcpHeaderLen(buf: Uint8Array, off: number): number {
  return (buf[off + DATA_OFF]! >>> 4) << 2;
}
/** CWR..FIN (the AE bit of RFC 3168 / AccECN is not modelled). */
export function tcpFlags(buf: Uint8Array, off: number): number {
  return buf[off + FLAGS]!;
}
export function tcpWindow(buf: Uint8Array, off: number): number {
  return read16(buf, off + WINDOW);
}
export function tcpChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + CHECKSUM);
}
export function setTcpChecksum(buf: Uint8Array, off: number, check: number): void {
  write16(buf, off + CHECKSUM, check);
}
export function tcpUrgent(buf: Uint8Array, off: number): number {
  return read16(buf, off + URGENT);
}

/**
 * Checksum over pseudo-header and `segLen` bytes (header + payload) with the
 * stored field counted as zero. Unlike UDP, 0 is a valid TCP checksum.
 */
export function computeTcpChecksum(buf: Uint8Array, off: number, segLen: number, src: number, dst: number): number {
  const sum = onesComplementSum(buf, off, segLen, pseudoHeaderSum(src, dst, IPPROTO_TCP, segLen));
  return finishChecksum(sum + (~tcpChecksum(buf, off) & 0xffff));
}

/** One SACK block (RFC 2018 section 3): wire sequence numbers, unsigned 32-bit, right edge exclusive. */
export interface SackBlock {
  left: number;
  right: number;
}

export interface TcpOptions {
  mss?: number;
  /** Shift count, as sent (Linux clamps values above 14 on receipt, not here). */
  wscale?: number;
  sackPermitted?: true;
  timestamp?: { tsval: number; tsecr: number };
  /** SACK blocks (1 to 4), in the order sent: a D-SACK block first, then the most recent. */
  sack?: readonly SackBlock[];
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  /** Unsigned 32-bit. */
  seq: number;
  /** Unsigned 32-bit; meaningful when flags has TCP_ACK. */
  ack: number;
  /** TCP_FIN | TCP_SYN | ... */
  flags: number;
  window: number;
  urgent: number;
  options: TcpOptions;
}

/** Bytes of options emitTcp writes (a multiple of 4; see the layout above). */
export function tcpOptionsLen(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.timestamp !== undefined) n += 12; // SACK_PERM rides in the timestamp word when both are set
  else if (o.sackPermitted) n += 4;
  if (o.wscale !== undefined) n += 4;
  if (o.sack !== undefined && o.sack.length > 0) n += 4 + TCPOLEN_SACK_PERBLOCK * o.sack.length; // NOP NOP SACK len + blocks
  if (n > MAX_OPTION_SPACE) throw new Error(`tcp: options need ${n} bytes, more than the ${MAX_OPTION_SPACE}-byte option space`);
  return n;
}

/** Bytes emitTcp writes: the header with options. */
export function tcpBufferLen(repr: TcpRepr): number {
  return TCP_HEADER_LEN + tcpOptionsLen(repr.options);
}

export interface TcpParseOptions {
  /** Default true. */
  verifyChecksum?: boolean;
}

/**
 * `len` is the segment length (the IP payload: header + data); the data is
 * at `off + tcpHeaderLen(buf, off)`. The checksum covers all `len` bytes.
 */
export function parseTcp(
  buf: Uint8Array,
  off: number,
  len: number,
  src: number,
  dst: number,
  opts: TcpParseOptions = {},
): TcpRepr {
  checkLen('tcp', 'header', len, TCP_HEADER_LEN);
  const headerLen = tcpHeaderLen(buf, off);
  if (headerLen < TCP_HEADER_LEN) {
    throw new WireError('tcp', 'data offset', `${headerLen >>> 2} words is below 5`);
  }
  if (headerLen > len) throw new WireError('tcp', 'data offset', `header length ${headerLen} exceeds segment (${len})`);
  if (opts.verifyChecksum ?? true) {
    const want = computeTcpChecksum(buf, off, len, src, dst);
    const check = tcpChecksum(buf, off);
    if (want !== check) {
      throw new WireError('tcp', 'checksum', `${hex16(check)} is wrong (expected ${hex16(want)})`);
    }
  }
  return {
    srcPort: tcpSrcPort(buf, off),
    dstPort: tcpDstPort(buf, off),
    seq: tcpSeq(buf, off),
    ack: tcpAck(buf, off),
    flags: tcpFlags(buf, off),
    window: tcpWindow(buf, off),
    urgent: tcpUrgent(buf, off),
    options: parseTcpOptions(buf, off + TCP_HEADER_LEN, off + headerLen),
  };
}

function parseTcpOptions(buf: Uint8Array, start: number, end: number): TcpOptions {
  const o: TcpOptions = {};
  let i = start;
  while (i < end) {
    const kind = buf[i]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) throw new WireError('tcp', 'option', `kind ${kind} at byte ${i - start} has no length`);
    const size = buf[i + 1]!;
    if (size < 2 || i + size > end) {
      const detail = `kind ${kind} length ${size} does not fit the ${end - start}-byte option space`;
      throw new WireError('tcp', 'option', detail);
    }
    const want = OPTION_LEN[kind];
    if (want !== undefined && size !== want) {
      throw new WireError('tcp', 'option', `kind ${kind} length ${size}, expected ${want}`);
    }
    switch (kind) {
      case TCPOPT_MSS:
        o.mss = read16(buf, i + 2);
        break;
      case TCPOPT_WINDOW:
        o.wscale = buf[i + 2]!;
        break;
      case TCPOPT_SACK_PERM:
        o.sackPermitted = true;
        break;
      case TCPOPT_TIMESTAMP:
        o.timestamp = { tsval: read32(buf, i + 2), tsecr: read32(buf, i + 6) };
        break;
      case TCPOPT_SACK: {
        // tcp_parse_options: a whole number of 8-byte blocks, at least one.
        const blocks = (size - TCPOLEN_SACK_BASE) / TCPOLEN_SACK_PERBLOCK;
        if (blocks < 1 || !Number.isInteger(blocks)) {
          throw new WireError('tcp', 'option', `SACK length ${size} is not 2 + 8 x (1 to 4) blocks`);
        }
        const sack: SackBlock[] = [];
        for (let b = i + 2; b < i + size; b += TCPOLEN_SACK_PERBLOCK) sack.push({ left: read32(buf, b), right: read32(buf, b + 4) });
        o.sack = sack;
        break;
      }
      default:
        break; // not modelled: skipped, like tcp_parse_options does
    }
    i += size;
  }
  return o;
}

export interface TcpEmitOptions {
  /** Default 'full'; 'partial' writes what Linux leaves for checksum offload (see ChecksumMode). */
  checksum?: ChecksumMode;
  /**
   * The payload's one's complement sum (onesComplementSum of its bytes), when
   * the caller knows it without reading them: the full checksum then reads
   * only the header.
   */
  payloadSum?: number;
}

/**
 * Writes the header with options, then the checksum over the header and the
 * `payloadLen` bytes that must already follow it in `buf`.
 */
export function emitTcp(
  repr: TcpRepr,
  buf: Uint8Array,
  off: number,
  src: number,
  dst: number,
  payloadLen: number,
  opts: TcpEmitOptions = {},
): void {
  const headerLen = tcpBufferLen(repr);
  setTcpSrcPort(buf, off, repr.srcPort);
  setTcpDstPort(buf, off, repr.dstPort);
  write32(buf, off + SEQ, repr.seq);
  write32(buf, off + ACK, repr.ack);
  buf[off + DATA_OFF] = (headerLen >>> 2) << 4;
  buf[off + FLAGS] = repr.flags;
  write16(buf, off + WINDOW, repr.window);
  write16(buf, off + URGENT, repr.urgent);
  writeTcpOptions(repr.options, buf, off + TCP_HEADER_LEN);
  const segLen = headerLen + payloadLen;
  let check: number;
  if (opts.checksum === 'partial') check = partialChecksum(src, dst, IPPROTO_TCP, segLen);
  else if (opts.payloadSum === undefined) check = computeTcpChecksum(buf, off, segLen, src, dst);
  else {
    // The header's length is a multiple of 4, so the payload's words continue the header's.
    setTcpChecksum(buf, off, 0);
    check = finishChecksum(onesComplementSum(buf, off, headerLen, pseudoHeaderSum(src, dst, IPPROTO_TCP, segLen) + opts.payloadSum));
  }
  setTcpChecksum(buf, off, check);
}

/** tcp_options_write order: MSS, [SACK_PERM|NOP NOP] TS, NOP NOP SACK_PERM, NOP WS, NOP NOP SACK blocks. */
function writeTcpOptions(o: TcpOptions, buf: Uint8Array, p: number): void {
  if (o.mss !== undefined) {
    buf[p] = TCPOPT_MSS;
    buf[p + 1] = TCPOLEN_MSS;
    write16(buf, p + 2, o.mss);
    p += 4;
  }
  if (o.timestamp !== undefined) {
    if (o.sackPermitted) {
      buf[p] = TCPOPT_SACK_PERM;
      buf[p + 1] = TCPOLEN_SACK_PERM;
    } else {
      buf[p] = TCPOPT_NOP;
      buf[p + 1] = TCPOPT_NOP;
    }
    buf[p + 2] = TCPOPT_TIMESTAMP;
    buf[p + 3] = TCPOLEN_TIMESTAMP;
    write32(buf, p + 4, o.timestamp.tsval);
    write32(buf, p + 8, o.timestamp.tsecr);
    p += 12;
  } else if (o.sackPermitted) {
    buf[p] = TCPOPT_NOP;
    buf[p + 1] = TCPOPT_NOP;
    buf[p + 2] = TCPOPT_SACK_PERM;
    buf[p + 3] = TCPOLEN_SACK_PERM;
    p += 4;
  }
  if (o.wscale !== undefined) {
    buf[p] = TCPOPT_NOP;
    buf[p + 1] = TCPOPT_WINDOW;
    buf[p + 2] = TCPOLEN_WINDOW;
    buf[p + 3] = o.wscale;
    p += 4;
  }
  if (o.sack !== undefined && o.sack.length > 0) {
    buf[p] = TCPOPT_NOP;
    buf[p + 1] = TCPOPT_NOP;
    buf[p + 2] = TCPOPT_SACK;
    buf[p + 3] = TCPOLEN_SACK_BASE + TCPOLEN_SACK_PERBLOCK * o.sack.length;
    p += 4;
    for (const b of o.sack) {
      write32(buf, p, b.left);
      write32(buf, p + 4, b.right);
      p += TCPOLEN_SACK_PERBLOCK;
    }
  }
}
