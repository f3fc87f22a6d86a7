import type { CaptureDirection, CaptureTap, NetDevice } from '../devices/net-device.js';
import type { Packet } from '../packet.js';
import type { CaptureFile } from './capture-writer.js';
import { captureDescription } from './capture-tap.js';
import { enhancedPacketLength, isLittleEndianHost, putEnhancedPacket, type EpbClock } from './enhanced-packet.js';
import { PcapngWriter } from './pcapng-writer.js';
import { currentStaging, type StagingOwner } from './temp-file-sink.js';

/**
 * A capture point with a pcapng file of its own (`capture: all`, the
 * default): the device's tap and its file in one object.
 *
 * With a file per point, a frame captured at any of thousands of points
 * (6,301 on 100 nodes of 30 pods) reaches that point's own objects, cold
 * ones. A FileTap writing through a PcapngWriter and its TempFileSink made
 * three per frame; once the writer thread owns the files (temp-file-sink.ts,
 * write-behind.ts), this tap writes the frame's block straight into the
 * staging buffer every sink shares, under its file's tag, with a time split
 * shared by all points (`clock`): one cold object per frame, as with a single
 * file. Before that, and on a big-endian host, the frame goes through the
 * point's PcapngWriter; both paths write the same bytes in the same order.
 */
export class PointCapture implements CaptureTap, CaptureFile, StagingOwner {
  frames = 0;
  /** End of this point's open record in the staging buffer (StagingOwner). */
  pos = 0;
  private open = true;
  private readonly writer: PcapngWriter;
  /** The file's tag among staged records. */
  private readonly tag: number;

  /**
   * Starts `path` with its section header and one interface, named after the
   * device's capture point. `clock` is shared by the points of one run (the
   * epoch is the run's) and `now` gives the simulated time; `inPlace` as in
   * CaptureWriterOptions.
   */
  constructor(
    dev: NetDevice,
    path: string,
    private readonly clock: EpbClock,
    private readonly now: () => number,
    options: { inPlace?: boolean } = {},
  ) {
    this.writer = new PcapngWriter(path, { epochSeconds: clock.epochSeconds, inPlace: options.inPlace });
    this.writer.addInterface(dev.path, captureDescription(dev.path));
    this.tag = this.writer.fileTag;
  }

  capture(_dev: NetDevice, pkt: Packet, direction: CaptureDirection): void {
    this.frames++;
    const timeNs = this.now();
    const st = currentStaging();
    if (st === null || !this.open || !isLittleEndianHost()) {
      // Not written behind (yet), or finished: the writer writes, or refuses.
      this.writer.appendPacket(0, timeNs, pkt.buf, pkt.off, pkt.len, direction);
      return;
    }
    const clock = this.clock;
    clock.set(timeNs);
    const total = enhancedPacketLength(pkt.len, direction);
    const at = st.reserve(this, this.tag, total);
    this.pos = putEnhancedPacket(st.u32, st.buf, at, total, 0, clock, pkt.buf, pkt.off, pkt.len, direction);
  }

  finish(): void {
    this.letGo();
    this.writer.finish();
  }

  close(): void {
    this.letGo();
    this.writer.close();
  }

  abort(): void {
    this.letGo();
    this.writer.abort();
  }

  /** No more frames through the staging buffer; its open record, if this point's, ends where this point left it. */
  private letGo(): void {
    this.open = false;
    currentStaging()?.release(this);
  }
}
