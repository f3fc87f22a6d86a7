import { checkPacketArgs, type CaptureWriter, type CaptureWriterOptions, type PacketDirection } from './capture-writer.js';
import {
  CAPTURE_SNAPLEN,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSRESOL,
  LINKTYPE_ETHERNET,
  OPT_ENDOFOPT,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_INTERFACE_DESCRIPTION,
  PCAPNG_SECTION_HEADER,
  SHB_USERAPPL,
  TSRESOL_NANOSECONDS,
} from './format.js';
import {
  EpbClock,
  enhancedPacketLength,
  isLittleEndianHost,
  putEnhancedPacket,
  putEnhancedPacketPortable,
} from './enhanced-packet.js';
import { TempFileSink, copyBytes } from './temp-file-sink.js';

export { setLittleEndianHostForTesting } from './enhanced-packet.js';

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
  private readonly clock: EpbClock;
  private ifCount = 0;

  constructor(path: string, options: CaptureWriterOptions = {}) {
    this.clock = new EpbClock(options.epochSeconds ?? 0);
    this.sink = new TempFileSink(path, { inPlace: options.inPlace });
    this.writeSectionHeader();
  }

  /** The file's tag among staged records (TempFileSink.serial): what point-capture.ts writes its blocks under. */
  get fileTag(): number {
    return this.sink.serial;
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
    const clock = this.clock;
    clock.set(timeNs);
    const total = enhancedPacketLength(len, direction);
    const s = this.sink;
    s.reserve(total);
    // Every block starts and ends 4-byte aligned, so on a little-endian host the
    // header and trailer words go through a Uint32Array.
    s.pos = isLittleEndianHost()
      ? putEnhancedPacket(s.u32, s.buf, s.pos, total, ifIndex, clock, data, off, len, direction)
      : putEnhancedPacketPortable(s.view, s.buf, s.pos, total, ifIndex, clock, data, off, len, direction);
  }

  /** Appends a whole block written elsewhere (an EPB of a partition's part file, see capture-parts.ts). */
  appendBlock(block: Uint8Array): void {
    const s = this.sink;
    s.reserve(block.length);
    copyBytes(s.buf, s.pos, block, 0, block.length);
    s.pos += block.length;
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
