import { closeSync, openSync, readSync } from 'node:fs';
import type { CaptureDirection, CaptureTap, NetDevice } from '../devices/net-device.js';
import type { Packet } from '../packet.js';
import { PCAPNG_ENHANCED_PACKET } from './format.js';
import type { PcapngWriter } from './pcapng-writer.js';
import { TempFileSink } from './temp-file-sink.js';

/**
 * One capture file for all capture points of a partitioned run. Each partition
 * writes its frames to a part (a pcapng with every capture point's interface,
 * so indices agree) and, beside it, the event key of each frame (float64s in
 * a .keys file). A sequential run writes frames in (time, event key) order
 * and, within one event, in the order the event captured them; `mergeParts`
 * restores exactly that: parts are each in that order, and one event's frames
 * all come from one partition.
 */

/** The part of partition `k`: capture and keys file names in the staging folder. */
export function partFiles(dir: string, k: number): { capture: string; keys: string } {
  return { capture: `${dir}/.part${k}.pcapng`, keys: `${dir}/.part${k}.keys` };
}

/** A capture point's tap into a partition's part, recording each frame's event key. */
export class PartTap implements CaptureTap {
  frames = 0;

  constructor(
    private readonly writer: PcapngWriter,
    private readonly ifIndex: number,
    private readonly keys: TempFileSink,
    private readonly clock: { now: number; currentKey: number },
  ) {}

  capture(_dev: NetDevice, pkt: Packet, direction: CaptureDirection): void {
    this.frames++;
    // appendPacket: the index came from addInterface, the bytes are the packet's own.
    this.writer.appendPacket(this.ifIndex, this.clock.now, pkt.buf, pkt.off, pkt.len, direction);
    const k = this.keys;
    k.reserve(8);
    k.view.setFloat64(k.pos, this.clock.currentKey, true);
    k.pos += 8;
  }
}

/** Reads a file in large chunks, handing out byte ranges of known length. */
class ChunkReader {
  private readonly fd: number;
  private buf = new Uint8Array(1 << 20);
  private start = 0;
  private end = 0;
  private eof = false;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
  }

  /** The next n bytes (valid until the next call), or null at end of file. */
  take(n: number): Uint8Array | null {
    if (this.end - this.start < n) this.fill(n);
    if (this.end - this.start < n) {
      if (this.end > this.start) throw new Error(`capture merge: ${this.path} ends inside a record`);
      return null;
    }
    const out = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return out;
  }

  /** The next n bytes without consuming them. */
  peek(n: number): Uint8Array | null {
    const b = this.take(n);
    if (b !== null) this.start -= n;
    return b;
  }

  private fill(n: number): void {
    if (this.eof) return;
    if (this.buf.length < n) {
      const bigger = new Uint8Array(Math.max(n, this.buf.length * 2));
      bigger.set(this.buf.subarray(this.start, this.end));
      this.end -= this.start;
      this.start = 0;
      this.buf = bigger;
    } else {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    while (this.end < this.buf.length) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (got === 0) {
        this.eof = true;
        break;
      }
      this.end += got;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The EPBs of one part, each with its timestamp halves and event key. */
class PartCursor {
  private readonly blocks: ChunkReader;
  private readonly keys: ChunkReader;
  hi = 0;
  lo = 0;
  key = 0;
  block: Uint8Array | null = null;

  constructor(files: { capture: string; keys: string }) {
    this.blocks = new ChunkReader(files.capture);
    this.keys = new ChunkReader(files.keys);
  }

  /** Moves to the next EPB (skipping the section header and interface blocks); false at the end. */
  advance(): boolean {
    for (;;) {
      const head = this.blocks.peek(8);
      if (head === null) {
        this.block = null;
        return false;
      }
      const dv = new DataView(head.buffer, head.byteOffset, 8);
      const type = dv.getUint32(0, true);
      const len = dv.getUint32(4, true);
      const block = this.blocks.take(len)!;
      if (type !== PCAPNG_ENHANCED_PACKET) continue;
      const bv = new DataView(block.buffer, block.byteOffset, block.byteLength);
      this.hi = bv.getUint32(12, true);
      this.lo = bv.getUint32(16, true);
      const k = this.keys.take(8);
      if (k === null) throw new Error(`capture merge: ${this.blocks.path} has more frames than keys`);
      this.key = new DataView(k.buffer, k.byteOffset, 8).getFloat64(0, true);
      this.block = block;
      return true;
    }
  }

  before(o: PartCursor): boolean {
    if (this.hi !== o.hi) return this.hi < o.hi;
    if (this.lo !== o.lo) return this.lo < o.lo;
    return this.key < o.key;
  }

  close(): void {
    this.blocks.close();
    this.keys.close();
  }
}

/**
 * Appends the EPBs of `parts` to `out` (which already declared the same
 * interfaces) in (timestamp, event key) order. Returns the frames written.
 */
export function mergeParts(parts: { capture: string; keys: string }[], out: PcapngWriter): number {
  const cursors = parts.map((p) => new PartCursor(p));
  let frames = 0;
  try {
    const live = cursors.filter((c) => c.advance());
    while (live.length > 0) {
      let best = 0;
      for (let i = 1; i < live.length; i++) if (live[i]!.before(live[best]!)) best = i;
      const c = live[best]!;
      out.appendBlock(c.block!);
      frames++;
      if (!c.advance()) live.splice(best, 1);
    }
  } finally {
    for (const c of cursors) c.close();
  }
  return frames;
}
