import { Worker } from 'node:worker_threads';

/**
 * Capture writes handed to a thread of their own, so that the kernel's side of
 * a write (copying into the page cache, and allocating its pages) runs beside
 * the simulation instead of inside it, as dumpcap writes for Wireshark.
 *
 * Records go through a ring in a SharedArrayBuffer, in order, for the files
 * the writer owns (`own`, `stage`, `finish`, `drop`): the sinks
 * (temp-file-sink.ts) write every capture file's bytes into one staging
 * buffer, tagged by file, and hand it over whole; the writer splits it into a
 * buffer per file and writes each when full, holding a bounded number of
 * descriptors. The simulation then writes into one hot buffer however many
 * files there are, and the scattered copies and the writes are here.
 * A file's bytes reach it in the order they were queued, so every file gets
 * the bytes the synchronous path writes, byte for byte; only when they reach
 * the kernel changes. Whatever must see them on disk (a rename to the final
 * name) waits for the ring to drain.
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
/** Set when the writer's loop has ended, for whatever reason: nothing queued after it will be done. */
const ENDED = 6;
const CONTROL_BYTES = 64;
const MESSAGE_BYTES = 1024;

/** Record header: op, a spare word, length, the caller's tag (16 bytes keeps every record 16-byte aligned). */
const HEADER_BYTES = 16;
const OP_WRAP = 0;
const OP_EXIT = 2;
/** The writer owns a file from now on: `tag` names it, the record's bytes are its path (UTF-8). */
const OP_OPEN = 3;
/** A block of staged bytes for the files the writer owns: records of (tag, length, bytes), each 4-byte aligned. */
const OP_STAGED = 4;
/** The file `tag` is complete: write out its buffer and close it. */
const OP_FINISH = 5;
/** The file `tag` is dropped: close it without writing what is buffered. */
const OP_DROP = 6;

/** Memory for the buffers of the files the writer owns (as temp-file-sink.ts budgets its own). */
const FILE_BUFFER_BUDGET = 64 << 20;
const FILE_BUFFER_MIN = 4 << 10;
const FILE_BUFFER_MAX = 1 << 20;

export interface WriteBehindOptions {
  /** Ring size in bytes, a power of two of at least 4 KiB. */
  ringBytes?: number;
  /** Descriptors the writer holds for the files it owns, at most (default 256): the least recently written is closed and reopened to append. */
  maxOpenFiles?: number;
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
  maxOpenFiles: number,
  layout: {
    head: number; tail: number; failed: number; failedTag: number; messageLen: number; ended: number;
    controlBytes: number; messageBytes: number; headerBytes: number;
    wrap: number; exit: number; open: number; staged: number; finish: number; drop: number;
    budget: number; bufferMin: number; bufferMax: number;
  },
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

  // The files this thread owns, by tag; `open` holds those with a descriptor, least recently written first.
  interface OwnedFile {
    tag: number;
    path: string;
    fd: number;
    buf: Uint8Array;
    pos: number;
  }
  const files = new Map<number, OwnedFile>();
  const open = new Set<OwnedFile>();
  // Files whose buffer is at least half full: written out while the ring is empty, so
  // that the end of a run (every file finished at once) has less left to write.
  const ripe = new Set<OwnedFile>();
  const closeFile = (f: OwnedFile): void => {
    if (f.fd < 0) return;
    open.delete(f);
    const fd = f.fd;
    f.fd = -1;
    try {
      fs.closeSync(fd);
    } catch (err) {
      fail(f.tag, err);
    }
  };
  const writeOut = (f: OwnedFile, data: Uint8Array, off: number, len: number): void => {
    if (len === 0 || Atomics.load(ctrl, layout.failed) !== 0) return;
    try {
      if (f.fd < 0) {
        if (open.size >= maxOpenFiles) closeFile(open.values().next().value!);
        f.fd = fs.openSync(f.path, 'a');
      } else open.delete(f);
      open.add(f);
      let done = 0;
      while (done < len) done += fs.writeSync(f.fd, data, off + done, len - done);
    } catch (err) {
      fail(f.tag, err);
    }
  };
  /** Writes out what the file's buffer holds. */
  const flushFile = (f: OwnedFile): void => {
    writeOut(f, f.buf, 0, f.pos);
    f.pos = 0;
    ripe.delete(f);
  };
  /** Appends to a file's buffer, writing it out when full; it doubles up to its share of the budget. */
  const append = (f: OwnedFile, data: Uint8Array, off: number, len: number): void => {
    if (f.pos + len > f.buf.length) {
      flushFile(f);
      const share = Math.max(layout.bufferMin, Math.min(layout.bufferMax, Math.floor(layout.budget / files.size)));
      if (f.buf.length < share) f.buf = new Uint8Array(Math.min(share, f.buf.length * 2));
      if (len > f.buf.length) {
        writeOut(f, data, off, len);
        return;
      }
    }
    f.buf.set(data.subarray(off, off + len), f.pos);
    f.pos += len;
    if (f.pos * 2 >= f.buf.length) ripe.add(f);
  };
  const decoder = new TextDecoder();

  try {
    for (;;) {
      const tail = Atomics.load(ctrl, layout.tail);
      if (tail === head) {
        if (ripe.size > 0) flushFile(ripe.values().next().value!);
        else Atomics.wait(ctrl, layout.tail, head);
        continue;
      }
      const at = head & mask;
      const op = words[at >> 2]!;
      const len = words[(at >> 2) + 2]!;
      const tag = words[(at >> 2) + 3]!;
      let size = layout.headerBytes;
      if (op === layout.wrap) size = ringBytes - at;
      else if (op === layout.open) {
        size += (len + 15) & ~15;
        const path = decoder.decode(ring.subarray(at + layout.headerBytes, at + layout.headerBytes + len));
        files.set(tag, { tag, path, fd: -1, buf: new Uint8Array(layout.bufferMin), pos: 0 });
      } else if (op === layout.staged) {
        size += (len + 15) & ~15;
        // A dropped file's records are skipped: it went while they were staged.
        const base = at + layout.headerBytes;
        let p = 0;
        while (p < len) {
          const t = words[(base + p) >> 2]!;
          const n = words[((base + p) >> 2) + 1]!;
          const f = files.get(t);
          if (f !== undefined) append(f, ring, base + p + 8, n);
          p = (p + 8 + n + 3) & ~3;
        }
      } else if (op === layout.finish || op === layout.drop) {
        const f = files.get(tag);
        if (f !== undefined) {
          if (op === layout.finish) flushFile(f);
          else ripe.delete(f);
          closeFile(f);
          files.delete(tag);
        }
      }
      head = (head + size) | 0;
      Atomics.store(ctrl, layout.head, head);
      Atomics.notify(ctrl, layout.head);
      if (op === layout.exit) {
        for (const f of [...open]) closeFile(f);
        return;
      }
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
  private queued = 0;
  private exited = false;

  constructor(options: WriteBehindOptions = {}) {
    const ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    if (!(ringBytes >= 4096 && (ringBytes & (ringBytes - 1)) === 0 && ringBytes <= 1 << 30)) {
      throw new RangeError(`write-behind: the ring must be a power of two from 4 KiB to 1 GiB, got ${ringBytes}`);
    }
    this.ringBytes = ringBytes;
    const shared = new SharedArrayBuffer(CONTROL_BYTES + MESSAGE_BYTES + ringBytes);
    this.ctrl = new Int32Array(shared, 0, CONTROL_BYTES >> 2);
    this.message = new Uint8Array(shared, CONTROL_BYTES, MESSAGE_BYTES);
    this.ring = new Uint8Array(shared, CONTROL_BYTES + MESSAGE_BYTES, ringBytes);
    this.words = new Int32Array(shared, CONTROL_BYTES + MESSAGE_BYTES, ringBytes >> 2);
    const layout = {
      head: HEAD, tail: TAIL, failed: FAILED, failedTag: FAILED_TAG, messageLen: MESSAGE_LEN, ended: ENDED,
      controlBytes: CONTROL_BYTES, messageBytes: MESSAGE_BYTES, headerBytes: HEADER_BYTES,
      wrap: OP_WRAP, exit: OP_EXIT,
      open: OP_OPEN, staged: OP_STAGED, finish: OP_FINISH, drop: OP_DROP,
      budget: FILE_BUFFER_BUDGET, bufferMin: FILE_BUFFER_MIN, bufferMax: FILE_BUFFER_MAX,
    };
    const maxOpenFiles = options.maxOpenFiles ?? 256;
    const source = `const { workerData: d } = require('node:worker_threads');
(${writerLoop.toString()})(require('node:fs'), d.shared, d.ringBytes, d.maxOpenFiles, d.layout);`;
    this.worker = new Worker(source, { eval: true, workerData: { shared, ringBytes, maxOpenFiles, layout } });
    // The writer never keeps a process alive: the sinks' commits drain it, and a
    // process that ends without committing leaves temporary files, as before.
    this.worker.unref();
  }

  /** Records queued so far, each a hand-off the writer must act on. */
  get records(): number {
    return this.queued;
  }

  /** The largest staged block `stage` takes (a quarter of the ring). */
  get maxStagedBytes(): number {
    return this.ringBytes >> 2;
  }

  /**
   * The writer owns the file at `path` from now on, named `tag` in staged
   * blocks; it opens it to append when it has bytes for it.
   */
  own(tag: number, path: string): void {
    this.check();
    const bytes = new TextEncoder().encode(path);
    if (bytes.length > this.maxStagedBytes) throw new RangeError(`write-behind: path of ${bytes.length} bytes is too long`);
    const at = this.reserve(recordBytes(bytes.length));
    this.ring.set(bytes, at + HEADER_BYTES);
    this.publish(at, OP_OPEN, bytes.length, tag);
  }

  /**
   * Queues a block of staged records, (tag: int32, length: int32, bytes),
   * each at a 4-byte-aligned offset of `data[0, len)`, for the files the
   * writer owns; at most maxStagedBytes. Records of unknown tags are skipped.
   */
  stage(data: Uint8Array, len: number): void {
    this.check();
    if (len > this.maxStagedBytes) throw new RangeError(`write-behind: a staged block of ${len} bytes is over ${this.maxStagedBytes}`);
    const at = this.reserve(recordBytes(len));
    this.ring.set(data.subarray(0, len), at + HEADER_BYTES);
    this.publish(at, OP_STAGED, len, 0);
  }

  /**
   * The owned file `tag` is complete: the writer writes out its buffer and
   * closes it. Returns the position to wait for (`waitPast`) before the file
   * is whole on disk.
   */
  finish(tag: number): number {
    this.check();
    this.publish(this.reserve(HEADER_BYTES), OP_FINISH, 0, tag);
    return this.tail;
  }

  /** The owned file `tag` is dropped: the writer closes it, writing nothing more (queued even after a failure). */
  drop(tag: number): void {
    if (this.exited) throw new Error('write-behind: already shut down');
    this.publish(this.reserve(HEADER_BYTES), OP_DROP, 0, tag);
  }

  /** Waits until every queued write and close is done; throws if one failed. */
  drain(): void {
    this.settle();
    this.check();
  }

  /**
   * Waits until the writer has acted on everything queued before `position`
   * (a value `finish` returned), not on what was queued after; throws if a
   * write failed. Committing many files, each waits for its own end while the
   * writer goes on with the next.
   */
  waitPast(position: number): void {
    while (((Atomics.load(this.ctrl, HEAD) - position) | 0) < 0) this.waitForProgress();
    this.check();
  }

  /** Waits until every queued write and close is done, whatever failed. */
  settle(): void {
    while (Atomics.load(this.ctrl, HEAD) !== this.tail) this.waitForProgress();
  }

  /** After a failure: waits for the queued records (closes still happen) and lets the thread end, throwing nothing. */
  abandon(): void {
    if (!this.exited) this.end();
  }

  /** Drains, then lets the thread end. Idempotent. */
  shutdown(): void {
    if (this.exited) return;
    try {
      this.drain();
    } finally {
      this.end();
    }
  }

  /** Queues the thread's exit after everything else and waits for it. */
  private end(): void {
    this.exited = true;
    this.publish(this.reserve(HEADER_BYTES), OP_EXIT, 0, 0);
    this.settle();
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
      this.publish(at, OP_WRAP, 0, 0, this.ringBytes - at);
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

  private publish(at: number, op: number, len: number, tag: number, size = recordBytes(len)): void {
    const w = at >> 2;
    this.words[w] = op;
    this.words[w + 2] = len;
    this.words[w + 3] = tag;
    this.tail = (this.tail + size) | 0;
    this.queued++;
    Atomics.store(this.ctrl, TAIL, this.tail);
    Atomics.notify(this.ctrl, TAIL);
  }
}

/** Bytes a record with `len` bytes after its header takes in the ring (16-byte aligned). */
function recordBytes(len: number): number {
  return HEADER_BYTES + ((len + 15) & ~15);
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

