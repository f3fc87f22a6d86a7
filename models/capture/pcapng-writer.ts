import { endianness } from 'node:os';
import {
  checkEpochSeconds,
  checkPacketArgs,
  checkTimeNs,
  type CaptureWriter,
  type CaptureWriterOptions,
  type PacketDirection,
} from './capture-writer.js';
import {
  CAPTURE_SNAPLEN,
  EPB_FLAGS,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSRESOL,
  LINKTYPE_ETHERNET,
  OPT_ENDOFOPT,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_ENHANCED_PACKET,
  PCAPNG_INTERFACE_DESCRIPTION,
  PCAPNG_SECTION_HEADER,
  SHB_USERAPPL,
  TSRESOL_NANOSECONDS,
} from './format.js';
import { TempFileSink } from './temp-file-sink.js';

const TWO_32 = 4294967296;
/** Fixed part of an EPB: type, total length, interface id, ts high, ts low, captured len, original len, trailing total length. */
const EPB_FIXED_LEN = 32;
/** epb_flags option (4-byte header + 4-byte value) and opt_endofopt. */
const EPB_FLAGS_OPTION_LEN = 12;

/** The epb_flags option's code and length as one little-endian word. */
const EPB_FLAGS_OPTION_HEADER = EPB_FLAGS | (4 << 16);
let littleEndianHost = endianness() === 'LE';

/** Tests only: pick the word (little-endian host) or DataView (big-endian host) encoding. */
export function setLittleEndianHostForTesting(le: boolean): void {
  littleEndianHost = le;
}

const utf8 = new TextEncoder();
/** Option values every file repeats, encoded once (a run may open thousands of files). */
const SHB_APPLICATION = utf8.encode('podwire');
const TSRESOL_OPTION = Uint8Array.of(TSRESOL_NANOSECONDS);

/**
 * Writes a little-endian pcapng file (draft-ietf-opsawg-pcapng): one Section
 * Header Block, an Interface Description Block per capture point (Ethernet,
 * nanosecond timestamps) and an Enhanced Packet Block per frame, with the
 * direction in epb_flags, which tshark shows as frame.p2p_dir.
 */
export class PcapngWriter implements CaptureWriter {
  private readonly sink: TempFileSink;
  /** epochSeconds * 1e9 split into 32-bit halves once, so packets need no BigInt. */
  private readonly epochHi: number;
  private readonly epochLo: number;
  private ifCount = 0;
  /** The last packet time and its timestamp halves (NaN: none yet, equal to no time). */
  private lastTimeNs = NaN;
  private tsHi = 0;
  private tsLo = 0;

  constructor(path: string, options: CaptureWriterOptions = {}) {
    const epochNs = BigInt(checkEpochSeconds(options.epochSeconds ?? 0)) * 1_000_000_000n;
    this.epochHi = Number(epochNs >> 32n);
    this.epochLo = Number(epochNs & 0xffffffffn);
    if (this.epochHi >= TWO_32) throw new RangeError(`capture: epochSeconds ${options.epochSeconds} overflows 64-bit nanoseconds`);
    this.sink = new TempFileSink(path, { inPlace: options.inPlace });
    this.writeSectionHeader();
  }

  /** Section Header Block (draft 4.1): byte-order magic, version 1.0, unknown section length. */
  private writeSectionHeader(): void {
    const appl = SHB_APPLICATION;
    const total = 24 + optionLen(appl.length) + 4 + 4;
    const s = this.sink;
    s.reserve(total);
    const v = s.view;
    let p = s.pos;
    v.setUint32(p, PCAPNG_SECTION_HEADER, true);
    v.setUint32(p + 4, total, true);
    v.setUint32(p + 8, PCAPNG_BYTE_ORDER_MAGIC, true);
    v.setUint16(p + 12, 1, true); // major version
    v.setUint16(p + 14, 0, true); // minor version
    v.setInt32(p + 16, -1, true); // section length -1: not given (64-bit, both halves all ones)
    v.setInt32(p + 20, -1, true);
    p = putOption(s, p + 24, SHB_USERAPPL, appl);
    v.setUint32(p, OPT_ENDOFOPT, true);
    v.setUint32(p + 4, total, true);
    s.pos = p + 8;
  }

  /**
   * Interface Description Block (draft 4.2). Written at once, so it precedes
   * every EPB that names it; adding interfaces between packets is allowed.
   */
  addInterface(name: string, description?: string): number {
    const nameBytes = utf8.encode(name);
    const descBytes = description === undefined ? undefined : utf8.encode(description);
    const total =
      16 + optionLen(nameBytes.length) + (descBytes ? optionLen(descBytes.length) : 0) + optionLen(1) + 4 + 4;
    const s = this.sink;
    s.reserve(total);
    const v = s.view;
    let p = s.pos;
    v.setUint32(p, PCAPNG_INTERFACE_DESCRIPTION, true);
    v.setUint32(p + 4, total, true);
    v.setUint16(p + 8, LINKTYPE_ETHERNET, true);
    v.setUint16(p + 10, 0, true); // reserved
    v.setUint32(p + 12, CAPTURE_SNAPLEN, true);
    p = putOption(s, p + 16, IF_NAME, nameBytes);
    if (descBytes) p = putOption(s, p, IF_DESCRIPTION, descBytes);
    p = putOption(s, p, IF_TSRESOL, TSRESOL_OPTION);
    v.setUint32(p, OPT_ENDOFOPT, true);
    v.setUint32(p + 4, total, true);
    s.pos = p + 8;
    return this.ifCount++;
  }

  /** Enhanced Packet Block (draft 4.3); epb_flags only when the direction is known. */
  writePacket(ifIndex: number, timeNs: number, data: Uint8Array, off: number, len: number, direction: PacketDirection): void {
    checkPacketArgs(ifIndex, this.ifCount, timeNs, data, off, len, direction);
    this.appendPacket(ifIndex, timeNs, data, off, len, direction);
  }

  appendPacket(ifIndex: number, timeNs: number, data: Uint8Array, off: number, len: number, direction: PacketDirection): void {
    // Many frames share a simulated time (one event captures on several
    // devices), so the split is redone only when the time changes. Inline: a
    // call would box the double argument.
    if (timeNs !== this.lastTimeNs) {
      checkTimeNs(timeNs);
      // 64-bit epoch + time without BigInt: timeNs < 2^53 splits exactly at
      // 2^32 (division by a power of two is exact), then the low halves add with carry.
      const tHi = Math.floor(timeNs / TWO_32);
      let lo = timeNs - tHi * TWO_32 + this.epochLo;
      let hi = tHi + this.epochHi;
      if (lo >= TWO_32) {
        lo -= TWO_32;
        hi += 1;
      }
      if (hi >= TWO_32) throw new RangeError(`capture: time ${timeNs} ns after the epoch overflows 64 bits`);
      this.lastTimeNs = timeNs;
      // As int32 (the same bits once stored in the Uint32Array): V8 keeps the fields untagged.
      this.tsHi = hi | 0;
      this.tsLo = lo | 0;
    }
    const capLen = len < CAPTURE_SNAPLEN ? len : CAPTURE_SNAPLEN;
    const dataWords = (capLen + 3) >>> 2;
    const total = EPB_FIXED_LEN + dataWords * 4 + (direction !== 0 ? EPB_FLAGS_OPTION_LEN : 0);
    const s = this.sink;
    s.reserve(total);
    if (!littleEndianHost) {
      this.putPacketPortable(total, ifIndex, data, off, len, capLen, direction);
      return;
    }
    // Every block starts and ends 4-byte aligned, so the header and trailer
    // words go through a Uint32Array in the host's (little-endian) order.
    const w = s.u32;
    let q = s.pos >>> 2;
    w[q] = PCAPNG_ENHANCED_PACKET;
    w[q + 1] = total;
    w[q + 2] = ifIndex;
    w[q + 3] = this.tsHi;
    w[q + 4] = this.tsLo;
    w[q + 5] = capLen;
    w[q + 6] = len;
    q += 7;
    // Zero the last data word first: the frame overwrites all of it but the padding.
    if (dataWords > 0) w[q + dataWords - 1] = 0;
    s.copyIn(q << 2, data, off, capLen);
    q += dataWords;
    if (direction !== 0) {
      w[q] = EPB_FLAGS_OPTION_HEADER;
      w[q + 1] = direction;
      w[q + 2] = OPT_ENDOFOPT;
      q += 3;
    }
    w[q] = total;
    s.pos = (q + 1) << 2;
  }

  /** The same EPB through DataView, for a big-endian host. */
  private putPacketPortable(total: number, ifIndex: number, data: Uint8Array, off: number, len: number, capLen: number, direction: number): void {
    const s = this.sink;
    const v = s.view;
    let p = s.pos;
    v.setUint32(p, PCAPNG_ENHANCED_PACKET, true);
    v.setUint32(p + 4, total, true);
    v.setUint32(p + 8, ifIndex, true);
    v.setUint32(p + 12, this.tsHi, true);
    v.setUint32(p + 16, this.tsLo, true);
    v.setUint32(p + 20, capLen, true);
    v.setUint32(p + 24, len, true);
    s.copyIn(p + 28, data, off, capLen);
    p += 28 + capLen;
    for (let pad = -capLen & 3; pad > 0; pad--) s.buf[p++] = 0;
    if (direction !== 0) {
      v.setUint16(p, EPB_FLAGS, true);
      v.setUint16(p + 2, 4, true);
      v.setUint32(p + 4, direction, true);
      v.setUint32(p + 8, OPT_ENDOFOPT, true);
      p += EPB_FLAGS_OPTION_LEN;
    }
    v.setUint32(p, total, true);
    s.pos = p + 4;
  }

  /** Appends a whole block written elsewhere (an EPB of a partition's part file, see capture-parts.ts). */
  appendBlock(block: Uint8Array): void {
    this.sink.reserve(block.length);
    this.sink.copyIn(this.sink.pos, block, 0, block.length);
    this.sink.pos += block.length;
  }

  finish(): void {
    this.sink.finish();
  }

  close(): void {
    this.sink.commit();
  }

  abort(): void {
    this.sink.discard();
  }
}

/** Bytes an option takes: 4-byte code/length header plus the value padded to 32 bits. */
function optionLen(valueLen: number): number {
  return 4 + valueLen + (-valueLen & 3);
}

/** Writes one option at p and returns the offset after its padding (zeroed). */
function putOption(s: TempFileSink, p: number, code: number, value: Uint8Array): number {
  if (value.length > 0xffff) throw new RangeError(`capture: option ${code} is ${value.length} bytes, over 65535`);
  s.view.setUint16(p, code, true);
  s.view.setUint16(p + 2, value.length, true);
  s.buf.set(value, p + 4);
  const end = p + optionLen(value.length);
  s.buf.fill(0, p + 4 + value.length, end);
  return end;
}
