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
  LINKTYPE_ETHERNET,
  PCAP_FILE_HEADER_LEN,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LEN,
} from './format.js';
import { TempFileSink } from './temp-file-sink.js';

const NS_PER_S = 1_000_000_000;
const TWO_32 = 4294967296;

/**
 * Writes a classic libpcap file (pcap-savefile(5)) with the nanosecond magic
 * 0xa1b23c4d, as `tcpdump --time-stamp-precision=nano -w` does. Classic pcap
 * has one link and no interface names or directions: addInterface may be
 * called once, and the direction argument is accepted but not stored.
 */
export class PcapWriter implements CaptureWriter {
  private readonly sink: TempFileSink;
  private readonly epochSeconds: number;
  private ifCount = 0;

  constructor(path: string, options: CaptureWriterOptions = {}) {
    this.epochSeconds = checkEpochSeconds(options.epochSeconds ?? 0);
    if (this.epochSeconds >= TWO_32) throw new RangeError(`capture: epochSeconds ${this.epochSeconds} does not fit pcap's 32-bit seconds`);
    this.sink = new TempFileSink(path, { inPlace: options.inPlace });
    this.writeFileHeader();
  }

  /** File header: magic, version 2.4, thiszone 0, sigfigs 0, snaplen, link type. */
  private writeFileHeader(): void {
    const s = this.sink;
    s.reserve(PCAP_FILE_HEADER_LEN);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, PCAP_MAGIC_NANOSECONDS, true);
    v.setUint16(p + 4, 2, true);
    v.setUint16(p + 6, 4, true);
    v.setInt32(p + 8, 0, true);
    v.setUint32(p + 12, 0, true);
    v.setUint32(p + 16, CAPTURE_SNAPLEN, true);
    v.setUint32(p + 20, LINKTYPE_ETHERNET, true);
    s.pos = p + PCAP_FILE_HEADER_LEN;
  }

  /** The single Ethernet link; the name and description have nowhere to go in classic pcap. */
  addInterface(_name: string, _description?: string): number {
    if (this.ifCount > 0) throw new Error('capture: classic pcap holds one interface; use PcapngWriter for more');
    return this.ifCount++;
  }

  writePacket(ifIndex: number, timeNs: number, data: Uint8Array, off: number, len: number, direction: PacketDirection): void {
    checkPacketArgs(ifIndex, this.ifCount, timeNs, data, off, len, direction);
    this.appendPacket(ifIndex, timeNs, data, off, len, direction);
  }

  appendPacket(_ifIndex: number, timeNs: number, data: Uint8Array, off: number, len: number, _direction: PacketDirection): void {
    checkTimeNs(timeNs);
    // Seconds and nanoseconds of timeNs (< 2^53): the float quotient may be off
    // by one next to a whole second, so fix the remainder up exactly.
    let sec = Math.floor(timeNs / NS_PER_S);
    let nsec = timeNs - sec * NS_PER_S;
    if (nsec < 0) {
      sec -= 1;
      nsec += NS_PER_S;
    } else if (nsec >= NS_PER_S) {
      sec += 1;
      nsec -= NS_PER_S;
    }
    sec += this.epochSeconds;
    if (sec >= TWO_32) throw new RangeError(`capture: time ${timeNs} ns after the epoch overflows pcap's 32-bit seconds`);

    const capLen = len < CAPTURE_SNAPLEN ? len : CAPTURE_SNAPLEN;
    const s = this.sink;
    s.reserve(PCAP_RECORD_HEADER_LEN + capLen);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, sec, true);
    v.setUint32(p + 4, nsec, true);
    v.setUint32(p + 8, capLen, true);
    v.setUint32(p + 12, len, true);
    s.copyIn(p + PCAP_RECORD_HEADER_LEN, data, off, capLen);
    s.pos = p + PCAP_RECORD_HEADER_LEN + capLen;
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
