import { readFileSync } from 'node:fs';
import type { PacketDirection } from './capture-writer.js';
import {
  EPB_FLAGS,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSOFFSET,
  IF_TSRESOL,
  OPT_ENDOFOPT,
  PCAP_FILE_HEADER_LEN,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LEN,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_ENHANCED_PACKET,
  PCAPNG_INTERFACE_DESCRIPTION,
  PCAPNG_PACKET,
  PCAPNG_SECTION_HEADER,
  PCAPNG_SIMPLE_PACKET,
} from './format.js';

export interface CaptureInterface {
  /** pcapng if_name; classic pcap has none. */
  name?: string;
  /** pcapng if_description. */
  description?: string;
  linkType: number;
  snaplen: number;
  /** Nanoseconds per timestamp unit: 1 for if_tsresol 9, 1000 for microseconds (and pcapng's default). */
  tsresolNs: number;
}

export interface CapturedPacket {
  /** Index into Capture.interfaces, counted across all sections of a pcapng file. */
  ifIndex: number;
  /** Nanoseconds since 1970-01-01, if_tsoffset applied; 0n for Simple Packet Blocks, which carry no time. */
  timeNs: bigint;
  /** The captured bytes: a view into the file's buffer, not a copy. */
  data: Uint8Array;
  /** Length on the wire, which exceeds data.length when the snap length cut the frame. */
  origLen: number;
  direction: PacketDirection;
}

export interface Capture {
  format: 'pcapng' | 'pcap';
  interfaces: CaptureInterface[];
  packets: CapturedPacket[];
}

/**
 * Reads a whole pcapng file (any if_tsresol, either byte order, several
 * sections, unknown blocks skipped) or classic pcap file (microsecond or
 * nanosecond magic, either byte order). Meant for tests and for comparing with
 * tcpdump's captures of the kernel, so it reads everything into memory.
 */
export function readCapture(source: string | Uint8Array): Capture {
  const bytes = typeof source === 'string' ? toUint8Array(readFileSync(source)) : source;
  const what = typeof source === 'string' ? source : 'capture buffer';
  if (bytes.length < 4) throw new Error(`${what}: ${bytes.length} bytes is too short for a capture file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic === PCAPNG_SECTION_HEADER) return readPcapng(bytes, dv, what);
  return readPcap(bytes, dv, magic, what);
}

function toUint8Array(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Converts an interface's timestamp units to nanoseconds: ns = units * mul / div + offset. */
interface TickScale {
  mul: bigint;
  div: bigint;
  offsetNs: bigint;
}

function readPcapng(bytes: Uint8Array, dv: DataView, what: string): Capture {
  const interfaces: CaptureInterface[] = [];
  const scales: TickScale[] = [];
  const packets: CapturedPacket[] = [];
  const text = new TextDecoder();
  let le = true;
  let sectionBase = 0; // global index of the current section's interface 0
  let off = 0;

  while (off < bytes.length) {
    if (off + 12 > bytes.length) throw new Error(`${what}: truncated pcapng block header at offset ${off}`);
    // The SHB type reads the same in either byte order.
    const type = dv.getUint32(off, le);
    if (type === PCAPNG_SECTION_HEADER) {
      // The byte-order magic decides how this and every later block of the section is read.
      const bom = dv.getUint32(off + 8, true);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new Error(`${what}: bad pcapng byte-order magic 0x${bom.toString(16)} at offset ${off}`);
      sectionBase = interfaces.length;
    }
    const total = dv.getUint32(off + 4, le);
    if (total < 12 || total % 4 !== 0 || off + total > bytes.length) {
      throw new Error(`${what}: bad pcapng block length ${total} at offset ${off}`);
    }
    const trailer = dv.getUint32(off + total - 4, le);
    if (trailer !== total) {
      throw new Error(`${what}: pcapng block at offset ${off} has lengths ${total} and ${trailer}`);
    }
    const body = off + 8;
    const end = off + total - 4; // start of the trailing length

    if (type === PCAPNG_INTERFACE_DESCRIPTION) {
      const iface: CaptureInterface = { linkType: dv.getUint16(body, le), snaplen: dv.getUint32(body + 4, le), tsresolNs: 1000 };
      const scale: TickScale = { mul: 1000n, div: 1n, offsetNs: 0n };
      forEachOption(dv, body + 8, end, le, (code, at, len) => {
        if (code === IF_NAME) iface.name = text.decode(bytes.subarray(at, at + len));
        else if (code === IF_DESCRIPTION) iface.description = text.decode(bytes.subarray(at, at + len));
        else if (code === IF_TSRESOL && len >= 1) setTsresol(iface, scale, bytes[at]!);
        else if (code === IF_TSOFFSET && len >= 8) scale.offsetNs = dv.getBigInt64(at, le) * 1_000_000_000n;
      });
      interfaces.push(iface);
      scales.push(scale);
    } else if (type === PCAPNG_ENHANCED_PACKET || type === PCAPNG_PACKET) {
      // EPB: u32 interface id. Obsolete Packet Block: u16 interface id, u16 drops count.
      const localId = type === PCAPNG_ENHANCED_PACKET ? dv.getUint32(body, le) : dv.getUint16(body, le);
      const ifIndex = sectionBase + localId;
      const scale = scales[ifIndex];
      if (localId >= interfaces.length - sectionBase || !scale) {
        throw new Error(`${what}: packet at offset ${off} names interface ${localId}, not described before it`);
      }
      const units = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
      const capLen = dv.getUint32(body + 12, le);
      const origLen = dv.getUint32(body + 16, le);
      const dataAt = body + 20;
      const optAt = dataAt + capLen + (-capLen & 3);
      if (optAt > end) throw new Error(`${what}: packet at offset ${off} claims ${capLen} bytes, more than its block holds`);
      let direction: PacketDirection = 0;
      // epb_flags and the obsolete pack_flags share code 2 and layout.
      forEachOption(dv, optAt, end, le, (code, at, len) => {
        if (code === EPB_FLAGS && len >= 4) {
          const d = dv.getUint32(at, le) & 3;
          direction = d === 3 ? 0 : (d as PacketDirection);
        }
      });
      packets.push({
        ifIndex,
        timeNs: (units * scale.mul) / scale.div + scale.offsetNs,
        data: bytes.subarray(dataAt, dataAt + capLen),
        origLen,
        direction,
      });
    } else if (type === PCAPNG_SIMPLE_PACKET) {
      // Simple Packet Block (draft 4.4): interface 0 of the section, no time;
      // captured length is the smaller of the original length and the snap length.
      const iface = interfaces[sectionBase];
      if (!iface) throw new Error(`${what}: simple packet at offset ${off} before any interface`);
      const origLen = dv.getUint32(body, le);
      const capLen = Math.min(origLen, iface.snaplen === 0 ? origLen : iface.snaplen, end - (body + 4));
      packets.push({ ifIndex: sectionBase, timeNs: 0n, data: bytes.subarray(body + 4, body + 4 + capLen), origLen, direction: 0 });
    }
    // Section headers are handled above; every other block type is skipped.
    off += total;
  }
  return { format: 'pcapng', interfaces, packets };
}

/** if_tsresol (draft 4.2): high bit clear means 10^-n seconds, set means 2^-n seconds. */
function setTsresol(iface: CaptureInterface, scale: TickScale, v: number): void {
  const n = v & 0x7f;
  if (v & 0x80) {
    scale.mul = 1_000_000_000n;
    scale.div = 1n << BigInt(n);
    iface.tsresolNs = 1e9 / 2 ** n;
  } else if (n <= 9) {
    scale.mul = 10n ** BigInt(9 - n);
    scale.div = 1n;
    iface.tsresolNs = 10 ** (9 - n);
  } else {
    scale.mul = 1n;
    scale.div = 10n ** BigInt(n - 9);
    iface.tsresolNs = 10 ** (9 - n);
  }
}

/** Calls fn for each option in [at, end) until opt_endofopt; values are padded to 32 bits. */
function forEachOption(
  dv: DataView,
  at: number,
  end: number,
  le: boolean,
  fn: (code: number, valueAt: number, len: number) => void,
): void {
  while (at + 4 <= end) {
    const code = dv.getUint16(at, le);
    const len = dv.getUint16(at + 2, le);
    if (code === OPT_ENDOFOPT) return;
    if (at + 4 + len > end) throw new Error(`pcapng: option ${code} at offset ${at} runs past its block`);
    fn(code, at + 4, len);
    at += 4 + len + (-len & 3);
  }
}

function readPcap(bytes: Uint8Array, dv: DataView, magicLe: number, what: string): Capture {
  let le: boolean;
  let nano: boolean;
  if (magicLe === PCAP_MAGIC_MICROSECONDS || magicLe === PCAP_MAGIC_NANOSECONDS) {
    le = true;
    nano = magicLe === PCAP_MAGIC_NANOSECONDS;
  } else {
    const magicBe = dv.getUint32(0, false);
    if (magicBe !== PCAP_MAGIC_MICROSECONDS && magicBe !== PCAP_MAGIC_NANOSECONDS) {
      throw new Error(`${what}: not a pcap or pcapng file (magic 0x${magicLe.toString(16)})`);
    }
    le = false;
    nano = magicBe === PCAP_MAGIC_NANOSECONDS;
  }
  if (bytes.length < PCAP_FILE_HEADER_LEN) throw new Error(`${what}: truncated pcap file header`);
  const snaplen = dv.getUint32(16, le);
  // The link-type field's upper bits carry FCS information (draft-ietf-opsawg-pcap 4).
  const linkType = dv.getUint32(20, le) & 0xffff;
  const fracNs = nano ? 1n : 1000n;
  const packets: CapturedPacket[] = [];
  let off = PCAP_FILE_HEADER_LEN;
  while (off < bytes.length) {
    if (off + PCAP_RECORD_HEADER_LEN > bytes.length) throw new Error(`${what}: truncated pcap record header at offset ${off}`);
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const capLen = dv.getUint32(off + 8, le);
    const origLen = dv.getUint32(off + 12, le);
    const dataAt = off + PCAP_RECORD_HEADER_LEN;
    if (dataAt + capLen > bytes.length) throw new Error(`${what}: pcap record at offset ${off} is cut short`);
    packets.push({
      ifIndex: 0,
      timeNs: BigInt(sec) * 1_000_000_000n + BigInt(frac) * fracNs,
      data: bytes.subarray(dataAt, dataAt + capLen),
      origLen,
      direction: 0,
    });
    off = dataAt + capLen;
  }
  return { format: 'pcap', interfaces: [{ linkType, snaplen, tsresolNs: nano ? 1 : 1000 }], packets };
}
