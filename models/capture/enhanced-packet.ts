import { endianness } from 'node:os';
import { checkEpochSeconds, checkTimeNs } from './capture-writer.js';
import { CAPTURE_SNAPLEN, EPB_FLAGS, OPT_ENDOFOPT, PCAPNG_ENHANCED_PACKET } from './format.js';
import { copyBytes } from './temp-file-sink.js';

/**
 * The pcapng Enhanced Packet Block (draft-ietf-opsawg-pcapng 4.3) as podwire
 * writes it: nanosecond timestamp, the frame cut at the snap length, and the
 * direction in epb_flags when it is known. Shared by the writer of one file
 * (pcapng-writer.ts) and the capture points that each write a file of their
 * own through one staging buffer (point-capture.ts).
 */

const TWO_32 = 4294967296;
/** Fixed part of an EPB: type, total length, interface id, ts high, ts low, captured len, original len, trailing total length. */
const EPB_FIXED_LEN = 32;
/** epb_flags option (4-byte header + 4-byte value) and opt_endofopt. */
const EPB_FLAGS_OPTION_LEN = 12;
/** The epb_flags option's code and length as one little-endian word. */
const EPB_FLAGS_OPTION_HEADER = EPB_FLAGS | (4 << 16);

let littleEndianHost = endianness() === 'LE';

/** Whether EPBs go through host-order words (putEnhancedPacket) rather than a DataView. */
export function isLittleEndianHost(): boolean {
  return littleEndianHost;
}

/** Tests only: pick the word (little-endian host) or DataView (big-endian host) encoding. */
export function setLittleEndianHostForTesting(le: boolean): void {
  littleEndianHost = le;
}

/** Bytes of the EPB of a frame of `len` bytes (cut at the snap length), with epb_flags unless the direction is 0. */
export function enhancedPacketLength(len: number, direction: number): number {
  const capLen = len < CAPTURE_SNAPLEN ? len : CAPTURE_SNAPLEN;
  return EPB_FIXED_LEN + ((capLen + 3) & ~3) + (direction !== 0 ? EPB_FLAGS_OPTION_LEN : 0);
}

/**
 * Simulated time as an EPB's two timestamp words: epoch + time in nanoseconds,
 * split into 32-bit halves without BigInt. Many frames share a time (one event
 * captures on several devices), so the split is redone only when it changes.
 */
export class EpbClock {
  private readonly epochHi: number;
  private readonly epochLo: number;
  /** The last time split (NaN: none yet, equal to no time). */
  private lastTimeNs = NaN;
  /** As int32 (the same bits once stored in a Uint32Array): V8 keeps the fields untagged. */
  hi = 0;
  lo = 0;

  constructor(readonly epochSeconds = 0) {
    const epochNs = BigInt(checkEpochSeconds(epochSeconds)) * 1_000_000_000n;
    this.epochHi = Number(epochNs >> 32n);
    this.epochLo = Number(epochNs & 0xffffffffn);
    if (this.epochHi >= TWO_32) throw new RangeError(`capture: epochSeconds ${epochSeconds} overflows 64-bit nanoseconds`);
  }

  /** Sets `hi` and `lo` to timeNs after the epoch. */
  set(timeNs: number): void {
    if (timeNs === this.lastTimeNs) return;
    checkTimeNs(timeNs);
    // timeNs < 2^53 splits exactly at 2^32 (division by a power of two is
    // exact), then the low halves add with carry.
    const tHi = Math.floor(timeNs / TWO_32);
    let lo = timeNs - tHi * TWO_32 + this.epochLo;
    let hi = tHi + this.epochHi;
    if (lo >= TWO_32) {
      lo -= TWO_32;
      hi += 1;
    }
    if (hi >= TWO_32) throw new RangeError(`capture: time ${timeNs} ns after the epoch overflows 64 bits`);
    this.lastTimeNs = timeNs;
    this.hi = hi | 0;
    this.lo = lo | 0;
  }
}

/**
 * Writes the EPB of data[off, off+len) at byte `at` of a buffer seen as host-order
 * words `w` (little-endian hosts; `at` 4-byte aligned, `total` bytes of room from
 * enhancedPacketLength) and returns the offset after it. `clock` holds the time.
 */
export function putEnhancedPacket(
  w: Uint32Array,
  buf: Uint8Array,
  at: number,
  total: number,
  ifIndex: number,
  clock: EpbClock,
  data: Uint8Array,
  off: number,
  len: number,
  direction: number,
): number {
  const capLen = len < CAPTURE_SNAPLEN ? len : CAPTURE_SNAPLEN;
  const dataWords = (capLen + 3) >>> 2;
  let q = at >>> 2;
  w[q] = PCAPNG_ENHANCED_PACKET;
  w[q + 1] = total;
  w[q + 2] = ifIndex;
  w[q + 3] = clock.hi;
  w[q + 4] = clock.lo;
  w[q + 5] = capLen;
  w[q + 6] = len;
  q += 7;
  // Zero the last data word first: the frame overwrites all of it but the padding.
  if (dataWords > 0) w[q + dataWords - 1] = 0;
  copyBytes(buf, q << 2, data, off, capLen);
  q += dataWords;
  if (direction !== 0) {
    w[q] = EPB_FLAGS_OPTION_HEADER;
    w[q + 1] = direction;
    w[q + 2] = OPT_ENDOFOPT;
    q += 3;
  }
  w[q] = total;
  return (q + 1) << 2;
}

/** putEnhancedPacket through a DataView, for a big-endian host. */
export function putEnhancedPacketPortable(
  v: DataView,
  buf: Uint8Array,
  at: number,
  total: number,
  ifIndex: number,
  clock: EpbClock,
  data: Uint8Array,
  off: number,
  len: number,
  direction: number,
): number {
  const capLen = len < CAPTURE_SNAPLEN ? len : CAPTURE_SNAPLEN;
  let p = at;
  v.setUint32(p, PCAPNG_ENHANCED_PACKET, true);
  v.setUint32(p + 4, total, true);
  v.setUint32(p + 8, ifIndex, true);
  v.setUint32(p + 12, clock.hi, true);
  v.setUint32(p + 16, clock.lo, true);
  v.setUint32(p + 20, capLen, true);
  v.setUint32(p + 24, len, true);
  copyBytes(buf, p + 28, data, off, capLen);
  p += 28 + capLen;
  for (let pad = -capLen & 3; pad > 0; pad--) buf[p++] = 0;
  if (direction !== 0) {
    v.setUint16(p, EPB_FLAGS, true);
    v.setUint16(p + 2, 4, true);
    v.setUint32(p + 4, direction, true);
    v.setUint32(p + 8, OPT_ENDOFOPT, true);
    p += EPB_FLAGS_OPTION_LEN;
  }
  v.setUint32(p, total, true);
  return p + 4;
}
