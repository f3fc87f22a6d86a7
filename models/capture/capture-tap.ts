import type { CaptureTap, NetDevice, CaptureDirection } from '../devices/net-device.js';
import type { Packet } from '../packet.js';
import type { CaptureWriter } from './capture-writer.js';

/** The interface description a capture point's IDB carries. */
export function captureDescription(point: string): string {
  return `podwire capture point ${point}`;
}

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
    /** The interface's index when the writer already declared it (one file for many capture points). */
    ifIndex?: number,
  ) {
    this.ifIndex = ifIndex ?? writer.addInterface(dev.path, captureDescription(dev.path));
  }

  // appendPacket: the index came from addInterface, the bytes are the packet's own.
  capture(_dev: NetDevice, pkt: Packet, direction: CaptureDirection): void {
    this.frames++;
    this.writer.appendPacket(this.ifIndex, this.now(), pkt.buf, pkt.off, pkt.len, direction);
  }
}
