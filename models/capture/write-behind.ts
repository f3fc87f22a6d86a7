import { Worker } from 'node:worker_threads';

/**
 * Capture writes handed to a thread of their own, so that the kernel's side of
 * a write (copying into the page cache, and allocating its pages) runs beside
 * the simulation instead of inside it, as dumpcap writes for Wireshark.
 *
 * The sinks keep their own buffers. A flush copies the buffered bytes into a
 * ring in a SharedArrayBuffer (a memcpy into memory that stays resident: ~40 ms
 * per GiB here) and goes on; the writer thread takes records off the ring in
 * order and writes them with writeSync. Closing a descriptor is a record too,
 * so it happens after that descriptor's writes, and a file reopened for
 * appending gets its new bytes after the old ones. Whatever must see the bytes
 * on disk (a rename to the final name, an unlink) waits for the ring to drain.
 *
 * Order is the ring's, so every file gets the bytes the synchronous path
 * writes, byte for byte; only when they reach the kernel changes.
 *
 * The protocol is a single-producer, single-consumer ring: the producer
 * advances TAIL after writing a record, the consumer advances HEAD after
 * acting on one, each with Atomics.store + notify; a side waits (Atomics.wait)
 * only on the other side's counter, so neither can wait for the other at once.
 * Counters are byte offsets that wrap at 2^32 (int32 arithmetic); RING_BYTES is
 * a power of two, so `counter & (RING_BYTES - 1)` is the offset in the ring.
 */

/** Control words at the start of the shared buffer. */
const HEAD = 0;
const TAIL = 1;
/** Set by the writer on the first failure; its message is in the message area. */
const FAILED = 2;
const FAILED_TAG = 3;
const MESSAGE_LEN = 4;
/** Descriptors the writer has closed (the producer counts those it queued). */
const CLOSED = 5;
/** Set when the writer's loop has ended, for whatever reason: nothing queued after it will be done. */
const ENDED = 6;
const CONTROL_BYTES = 64;
const MESSAGE_BYTES = 1024;

/** Record header: op, fd, length, the caller's tag (16 bytes keeps every record 16-byte aligned). */
const HEADER_BYTES = 16;
const OP_WRAP = 0;
const OP_WRITE = 1;
const OP_CLOSE = 2;
const OP_EXIT = 3;

export interface WriteBehindOptions {
  /** Ring size in bytes, a power of two of at least 4 KiB. */
  ringBytes?: number;
  /** Descriptors queued for closing but not yet closed, at most: they still count against `ulimit -n` (default 256). */
  maxPendingCloses?: number;
}

const DEFAULT_RING_BYTES = 8 << 20;

/**
 * The writer thread's loop, run from its source text (a Worker with `eval`),
 * so it needs no built file beside the TypeScript sources: it may use only its
 * arguments.
 */
function writerLoop(
  fs: typeof import('node:fs'),
  shared: SharedArrayBuffer,
  ringBytes: number,
  layout: { head: number; tail: number; failed: number; failedTag: number; messageLen: number; closed: number; ended: number; controlBytes: number; messageBytes: number; headerBytes: number; wrap: number; write: number; close: number; exit: number },
): void {
  const ctrl = new Int32Array(shared, 0, layout.controlBytes >> 2);
  const message = new Uint8Array(shared, layout.controlBytes, layout.messageBytes);
  const ringOffset = layout.controlBytes + layout.messageBytes;
  const ring = new Uint8Array(shared, ringOffset, ringBytes);
  const words = new Int32Array(shared, ringOffset, ringBytes >> 2);
  const mask = ringBytes - 1;
  let head = Atomics.load(ctrl, layout.head);
  const fail = (tag: number, err: unknown): void => {
    if (Atomics.load(ctrl, layout.failed) !== 0) return;
    const text = new TextEncoder().encode(String(err instanceof Error ? err.message : err)).subarray(0, layout.messageBytes);
    message.set(text);
    Atomics.store(ctrl, layout.messageLen, text.length);
    Atomics.store(ctrl, layout.failedTag, tag);
    Atomics.store(ctrl, layout.failed, 1);
  };
  try {
    for (;;) {
      const tail = Atomics.load(ctrl, layout.tail);
      if (tail === head) {
        Atomics.wait(ctrl, layout.tail, head);
        continue;
      }
      const at = head & mask;
      const op = words[at >> 2]!;
      const fd = words[(at >> 2) + 1]!;
      const len = words[(at >> 2) + 2]!;
      const tag = words[(at >> 2) + 3]!;
      let size = layout.headerBytes;
      if (op === layout.wrap) size = ringBytes - at;
      else if (op === layout.write) {
        size += (len + 15) & ~15;
        // After a failure the run is lost: writes are skipped, closes still done.
        if (Atomics.load(ctrl, layout.failed) === 0) {
          try {
            let done = 0;
            while (done < len) done += fs.writeSync(fd, ring, at + layout.headerBytes + done, len - done);
          } catch (err) {
            fail(tag, err);
          }
        }
      } else if (op === layout.close) {
        try {
          fs.closeSync(fd);
        } catch (err) {
          fail(tag, err);
        }
        Atomics.add(ctrl, layout.closed, 1);
      }
      head = (head + size) | 0;
      Atomics.store(ctrl, layout.head, head);
      Atomics.notify(ctrl, layout.head);
      if (op === layout.exit) return;
    }
  } finally {
    Atomics.store(ctrl, layout.ended, 1);
    Atomics.notify(ctrl, layout.head);
  }
}

export class WriteBehind {
  private readonly ctrl: Int32Array;
  private readonly message: Uint8Array;
  private readonly ring: Uint8Array;
  private readonly words: Int32Array;
  private readonly ringBytes: number;
  private readonly worker: Worker;
  private tail = 0;
  private closesQueued = 0;
  private readonly maxPendingCloses: number;
  private exited = false;

  constructor(options: WriteBehindOptions = {}) {
    const ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    if (!(ringBytes >= 4096 && (ringBytes & (ringBytes - 1)) === 0 && ringBytes <= 1 << 30)) {
      throw new RangeError(`write-behind: the ring must be a power of two from 4 KiB to 1 GiB, got ${ringBytes}`);
    }
    this.ringBytes = ringBytes;
    this.maxPendingCloses = options.maxPendingCloses ?? 256;
    const shared = new SharedArrayBuffer(CONTROL_BYTES + MESSAGE_BYTES + ringBytes);
    this.ctrl = new Int32Array(shared, 0, CONTROL_BYTES >> 2);
    this.message = new Uint8Array(shared, CONTROL_BYTES, MESSAGE_BYTES);
    this.ring = new Uint8Array(shared, CONTROL_BYTES + MESSAGE_BYTES, ringBytes);
    this.words = new Int32Array(shared, CONTROL_BYTES + MESSAGE_BYTES, ringBytes >> 2);
    const layout = {
      head: HEAD, tail: TAIL, failed: FAILED, failedTag: FAILED_TAG, messageLen: MESSAGE_LEN, closed: CLOSED, ended: ENDED,
      controlBytes: CONTROL_BYTES, messageBytes: MESSAGE_BYTES, headerBytes: HEADER_BYTES,
      wrap: OP_WRAP, write: OP_WRITE, close: OP_CLOSE, exit: OP_EXIT,
    };
    const source = `const { workerData } = require('node:worker_threads');
(${writerLoop.toString()})(require('node:fs'), workerData.shared, workerData.ringBytes, workerData.layout);`;
    this.worker = new Worker(source, { eval: true, workerData: { shared, ringBytes, layout } });
    // The writer never keeps a process alive: the sinks' commits drain it, and a
    // process that ends without committing leaves temporary files, as before.
    this.worker.unref();
  }

  /**
   * Queues `data[off, off + len)` for writing to `fd`; returns once the bytes
   * are copied. `tag` comes back in a WriteBehindError if the write fails.
   */
  write(fd: number, data: Uint8Array, off: number, len: number, tag: number): void {
    this.check();
    // A record holds at most a quarter of the ring, so a free region for it always comes.
    const chunk = this.ringBytes >> 2;
    while (len > 0) {
      const n = len < chunk ? len : chunk;
      const at = this.reserve(HEADER_BYTES + ((n + 15) & ~15));
      this.ring.set(data.subarray(off, off + n), at + HEADER_BYTES);
      this.publish(at, OP_WRITE, fd, n, tag);
      off += n;
      len -= n;
    }
  }

  /**
   * Queues closing `fd` after its writes. The caller must not use `fd` again.
   * Queued even after a failure (the writer skips writes then, not closes),
   * so discarding after an error leaks no descriptor.
   */
  close(fd: number, tag: number): void {
    if (this.exited) throw new Error('write-behind: already shut down');
    // Queued closes still hold descriptors: keep them few.
    while (this.closesQueued - Atomics.load(this.ctrl, CLOSED) >= this.maxPendingCloses) this.waitForProgress();
    this.closesQueued++;
    this.publish(this.reserve(HEADER_BYTES), OP_CLOSE, fd, 0, tag);
  }

  /** Waits until every queued write and close is done; throws if one failed. */
  drain(): void {
    this.settle();
    this.check();
  }

  /** Waits until every queued write and close is done, whatever failed. */
  private settle(): void {
    while (Atomics.load(this.ctrl, HEAD) !== this.tail) this.waitForProgress();
  }

  /** After a failure: waits for the queued records (closes still happen) and lets the thread end, throwing nothing. */
  abandon(): void {
    if (this.exited) return;
    this.exited = true;
    this.publish(this.reserve(HEADER_BYTES), OP_EXIT, 0, 0, 0);
    this.settle();
  }

  /** Drains, then lets the thread end. Idempotent. */
  shutdown(): void {
    if (this.exited) return;
    try {
      this.drain();
    } finally {
      this.exited = true;
      this.publish(this.reserve(HEADER_BYTES), OP_EXIT, 0, 0, 0);
      this.settle();
    }
  }

  /** Throws the first failed write or close as a WriteBehindError (and again at every later call). */
  private check(): void {
    if (this.exited) throw new Error('write-behind: already shut down');
    if (Atomics.load(this.ctrl, FAILED) === 0) return;
    const tag = Atomics.load(this.ctrl, FAILED_TAG);
    const text = new TextDecoder().decode(this.message.slice(0, Atomics.load(this.ctrl, MESSAGE_LEN)));
    throw new WriteBehindError(tag, text);
  }

  /** Offset of `size` contiguous free bytes at the tail, waiting for the writer as needed (wrapping at the end). */
  private reserve(size: number): number {
    let at = this.tail & (this.ringBytes - 1);
    if (at + size > this.ringBytes) {
      // Not enough room before the end: a wrap record sends the reader back to the start.
      this.waitForRoom(this.ringBytes - at);
      this.publish(at, OP_WRAP, 0, 0, 0, this.ringBytes - at);
      at = 0;
    }
    this.waitForRoom(size);
    return at;
  }

  private waitForRoom(size: number): void {
    while (this.ringBytes - ((this.tail - Atomics.load(this.ctrl, HEAD)) | 0) < size) this.waitForProgress();
  }

  private waitForProgress(): void {
    const head = Atomics.load(this.ctrl, HEAD);
    if (head === this.tail) return;
    if (Atomics.load(this.ctrl, ENDED) !== 0) throw new Error('write-behind: the writer thread ended with writes still queued');
    // Timed, so that a writer that died between the two loads is noticed at the next call.
    Atomics.wait(this.ctrl, HEAD, head, 1000);
  }

  private publish(at: number, op: number, fd: number, len: number, tag: number, size = HEADER_BYTES + ((len + 15) & ~15)): void {
    const w = at >> 2;
    this.words[w] = op;
    this.words[w + 1] = fd;
    this.words[w + 2] = len;
    this.words[w + 3] = tag;
    this.tail = (this.tail + size) | 0;
    Atomics.store(this.ctrl, TAIL, this.tail);
    Atomics.notify(this.ctrl, TAIL);
  }
}

/** A write or close the writer thread could not do. */
export class WriteBehindError extends Error {
  constructor(
    /** The tag of the failed record's write or close. */
    readonly tag: number,
    readonly reason: string,
  ) {
    super(`write-behind: ${reason}`);
  }
}

