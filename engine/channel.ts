import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';

/**
 * A one-way channel from one partition to another: timestamped records
 * (target, time, key, three numeric tags, payload bytes) written during a window
 * and read by the other side after the window's barrier. Nothing here knows
 * what a record means; models/devices/remote-wire.ts puts frames in it.
 *
 * The records live in a SharedArrayBuffer split into two halves used in turn by
 * window parity: the writer fills half `k & 1` during window k, the reader
 * drains it after barrier k, and the writer comes back to it only in window
 * k + 2, after barrier k + 1, which the reader reaches only once it has read.
 * So the halves need no lock; the barrier's Atomics order the accesses.
 *
 * A window that sends more than a half holds spills into one structured-clone
 * message on a MessagePort (posted before the barrier, so it is already queued
 * when the reader looks) instead of blocking, which could deadlock.
 *
 * Half layout: int32 bytes used, int32 spilled (0/1), then 8-byte aligned
 * records: u32 size, u32 target, f64 time, f64 key, f64 tagA, f64 tagB,
 * u32 payload length, u32 unused, f64 tagC, payload.
 */
const HALF_HEADER = 8;
const RECORD_HEADER = 56;

export interface ChannelRecordHandler {
  (target: number, time: number, key: number, tagA: number, tagB: number, payload: Uint8Array, tagC: number): void;
}

/** The shared parts of a channel, passed to both sides (workerData clones SABs by reference). */
export interface ChannelShared {
  buffer: SharedArrayBuffer;
  /** The writer's end for spills. */
  spillOut: MessagePort;
  /** The reader's end for spills. */
  spillIn: MessagePort;
}

export function channelBytes(halfBytes: number): number {
  return 2 * (HALF_HEADER + halfBytes);
}

class Half {
  readonly header: Int32Array;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  constructor(buffer: SharedArrayBuffer, offset: number, size: number) {
    this.header = new Int32Array(buffer, offset, 2);
    this.view = new DataView(buffer, offset + HALF_HEADER, size);
    this.bytes = new Uint8Array(buffer, offset + HALF_HEADER, size);
  }
}

function halves(buffer: SharedArrayBuffer): [Half, Half] {
  const size = buffer.byteLength / 2 - HALF_HEADER;
  return [new Half(buffer, 0, size), new Half(buffer, HALF_HEADER + size, size)];
}

function recordSize(payload: number): number {
  return (RECORD_HEADER + payload + 7) & ~7;
}

export class ChannelWriter {
  private readonly halves: [Half, Half];
  private half: Half;
  private used = 0;
  /** Records that did not fit this window, as one growable byte array. */
  private spill: Uint8Array | null = null;
  private spillUsed = 0;
  /** Earliest record time written this window (Infinity when none). */
  minTime = Infinity;
  records = 0;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly spillPort: MessagePort,
  ) {
    this.halves = halves(buffer);
    this.half = this.halves[0];
  }

  write(target: number, time: number, key: number, tagA: number, tagB: number, payload: Uint8Array, tagC = 0): void {
    const size = recordSize(payload.length);
    let view: DataView;
    let bytes: Uint8Array;
    let at: number;
    if (this.spill === null && this.used + size <= this.half.bytes.length) {
      view = this.half.view;
      bytes = this.half.bytes;
      at = this.used;
      this.used += size;
    } else {
      if (this.spill === null || this.spillUsed + size > this.spill.length) this.growSpill(size);
      bytes = this.spill!;
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      at = this.spillUsed;
      this.spillUsed += size;
    }
    view.setUint32(at, size, true);
    view.setUint32(at + 4, target, true);
    view.setFloat64(at + 8, time, true);
    view.setFloat64(at + 16, key, true);
    view.setFloat64(at + 24, tagA, true);
    view.setFloat64(at + 32, tagB, true);
    view.setUint32(at + 40, payload.length, true);
    view.setFloat64(at + 48, tagC, true);
    bytes.set(payload, at + RECORD_HEADER);
    if (time < this.minTime) this.minTime = time;
    this.records++;
  }

  /**
   * Ends window `window`: publishes what was written (before the barrier) and
   * switches to the other half for the next window. Returns the earliest time written.
   */
  flush(window: number): number {
    const h = this.half;
    Atomics.store(h.header, 1, this.spill !== null ? 1 : 0);
    if (this.spill !== null) {
      this.spillPort.postMessage(this.spill.slice(0, this.spillUsed));
      this.spill = null;
      this.spillUsed = 0;
    }
    Atomics.store(h.header, 0, this.used);
    const min = this.minTime;
    this.minTime = Infinity;
    this.used = 0;
    this.half = this.halves[(window + 1) & 1];
    return min;
  }

  private growSpill(size: number): void {
    const n = Math.max(1 << 16, (this.spill?.length ?? 0) * 2, this.spillUsed + size);
    const next = new Uint8Array(n);
    if (this.spill !== null) next.set(this.spill.subarray(0, this.spillUsed));
    this.spill = next;
  }
}

export class ChannelReader {
  private readonly halves: [Half, Half];

  constructor(
    buffer: SharedArrayBuffer,
    private readonly spillPort: MessagePort,
  ) {
    this.halves = halves(buffer);
  }

  /** Reads what the writer sent in window `window` (call after that window's barrier), in write order. */
  read(window: number, onRecord: ChannelRecordHandler): void {
    const h = this.halves[window & 1];
    const used = Atomics.load(h.header, 0);
    readRecords(h.view, h.bytes, used, onRecord);
    if (Atomics.load(h.header, 1) === 1) {
      const spill = this.receiveSpill();
      readRecords(new DataView(spill.buffer, spill.byteOffset, spill.byteLength), spill, spill.length, onRecord);
    }
  }

  private receiveSpill(): Uint8Array {
    // postMessage queued it before the barrier; the loop only guards against a
    // port implementation that delivers a little later.
    for (let tries = 0; ; tries++) {
      const m = receiveMessageOnPort(this.spillPort);
      if (m !== undefined) return m.message as Uint8Array;
      if (tries > 1_000_000) throw new Error('partition channel: a spilled window never arrived');
    }
  }
}

function readRecords(view: DataView, bytes: Uint8Array, used: number, onRecord: ChannelRecordHandler): void {
  for (let at = 0; at < used; ) {
    const size = view.getUint32(at, true);
    const len = view.getUint32(at + 40, true);
    onRecord(
      view.getUint32(at + 4, true),
      view.getFloat64(at + 8, true),
      view.getFloat64(at + 16, true),
      view.getFloat64(at + 24, true),
      view.getFloat64(at + 32, true),
      bytes.subarray(at + RECORD_HEADER, at + RECORD_HEADER + len),
      view.getFloat64(at + 48, true),
    );
    at += size;
  }
}
