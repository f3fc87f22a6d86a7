import type { CaptureTap, NetDevice, CaptureDirection } from '../devices/net-device.js';
import type { Packet } from '../packet.js';
import type { CaptureWriter } from './capture-writer.js';

/**
 * Records the frames seen at one device into one capture file (one interface
 * description, named after the capture point, e.g. "n1/p1/eth0").
 */
export class FileTap implements CaptureTap {
  private readonly ifIndex: number;
  frames = 0;

  constructor(
    dev: NetDevice,
    readonly writer: CaptureWriter,
    private readonly now: () => number,
  ) {
    this.ifIndex = writer.addInterface(dev.path, `podwire capture point ${dev.path}`);
  }

  capture(_dev: NetDevice, pkt: Packet, direction: CaptureDirection): void {
    this.frames++;
    this.writer.writePacket(this.ifIndex, this.now(), pkt.buf, pkt.off, pkt.len, direction);
  }
}
