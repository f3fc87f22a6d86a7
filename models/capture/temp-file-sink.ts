import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { WriteBehind, WriteBehindError } from './write-behind.js';

/**
 * Buffer memory shared by the live sinks: with thousands of files (one per
 * capture point) each grows to only BUFFER_BUDGET / live sinks, at least
 * MIN_CAP_SIZE, so a run does not page in GiBs of buffers it fills once; a
 * single file gets the whole maxCapacity.
 */
const BUFFER_BUDGET = 64 << 20;
const MIN_CAP_SIZE = 64 << 10;
/** The smallest starting buffer: a section header and a few interface descriptions. */
const MIN_START_SIZE = 1 << 10;
let liveSinks = 0;

/**
 * Sinks holding an open descriptor, least recently written first. A run with
 * a capture file per point has one sink per interface (300,000 on 5,000
 * nodes of 30 pods), far beyond the process's file limit: at most
 * `maxOpenSinks()` keep theirs, and a sink that must write while the set is
 * full takes the place of the least recently written one, which reopens its
 * file for appending when it next writes. Files written in turn are LRU's
 * worst case (every write past the limit reopens), so the limit is generous:
 * 3/8 of the process's soft limit (`ulimit -n`), the writer thread may hold
 * a third as many queued for closing, and half is left to the rest of the
 * process.
 */
let openSinkLimit = openSinkBudget();

/** 3/8 of the soft RLIMIT_NOFILE (from /proc/self/limits; 1,024 where it cannot be read), from 64 to 8,192. */
function openSinkBudget(): number {
  let soft = 1024;
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m !== null) soft = Number(m[1]);
  } catch {
    // Not Linux: the common default.
  }
  return Math.max(64, Math.min(8192, Math.floor((soft * 3) / 8)));
}

/** How many sinks may hold a descriptor at once. */
export function maxOpenSinks(): number {
  return openSinkLimit;
}

/** Sets how many sinks may hold a descriptor (for tests); returns the previous limit. */
export function setMaxOpenSinks(n: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`capture: the open-sink limit must be a positive integer, got ${n}`);
  const previous = openSinkLimit;
  openSinkLimit = n;
  return previous;
}
const withFd = new Set<TempFileSink>();

/**
 * Writing behind (write-behind.ts): once the sinks of this thread have
 * flushed `writeBehindAfter` bytes, their writes go to a writer thread. Only
 * on the main thread (a partition's worker has no core to spare) and only
 * for captures big enough to pay for starting a thread (~20 ms): the small
 * captures of short runs are written in place.
 */
export const WRITE_BEHIND_AFTER_BYTES = 8 << 20;
let writeBehindAfter = isMainThread ? WRITE_BEHIND_AFTER_BYTES : Infinity;
let flushedBytes = 0;
let behind: WriteBehind | null = null;
/** Live sinks by serial number: a failed write behind names its file by the tag it was queued with. */
const sinksBySerial = new Map<number, TempFileSink>();
let serials = 0;

/**
 * Where this thread's sinks start writing behind: after `bytes` flushed
 * (Infinity: never). For tests and benchmarks; the default is
 * WRITE_BEHIND_AFTER_BYTES on the main thread.
 */
export function setWriteBehindAfter(bytes: number): void {
  writeBehindAfter = bytes;
  flushedBytes = 0;
}

/** Whether this thread's sinks write behind now. */
export function writingBehind(): boolean {
  return behind !== null;
}

/** Waits for this thread's writes behind, and ends the writer thread (the next big flush starts another). */
export function stopWritingBehind(): void {
  const b = behind;
  if (b === null) return;
  behind = null;
  try {
    b.shutdown();
  } catch (err) {
    throw named(err);
  }
}

/**
 * A WriteBehindError as the error of the file it was writing. The failed
 * writer is retired (its queued closes done, its thread ended): the run that
 * lost bytes aborts, and the next big capture starts a new one.
 */
function named(err: unknown): unknown {
  if (!(err instanceof WriteBehindError)) return err;
  const failed = behind;
  behind = null;
  failed?.abandon();
  const sink = sinksBySerial.get(err.tag);
  return new Error(`capture: writing ${sink === undefined ? 'a capture file' : sink.tempPath} failed: ${err.reason}`, { cause: err });
}

/**
 * A write-only file built in `<path>.tmp` through one reusable buffer, then
 * renamed to `<path>` on commit, so a reader never sees a half-written capture
 * under the final name and a capture of many GiB never sits in memory.
 *
 * Writers reserve room for a whole block, fill `buf`/`view` from `pos`, then
 * advance `pos`. Nothing is allocated while the buffer has room.
 */
export class TempFileSink {
  readonly path: string;
  readonly tempPath: string;
  buf: Uint8Array;
  view: DataView;
  /** `buf` as host-order 32-bit words (pcapng blocks are 4-byte aligned). */
  u32: Uint32Array;
  pos = 0;
  /** The descriptor while this sink is in `withFd`, else -1 (the file is then reopened to append). */
  private fd = -1;
  private state: 'open' | 'committed' | 'discarded' = 'open';
  private readonly serial = ++serials | 0;

  /**
   * The buffer starts small and doubles at each flush up to `maxCapacity` (or
   * this sink's share of BUFFER_BUDGET): a run with thousands of capture points
   * keeps a few KiB per quiet one, and a busy one soon writes in large blocks.
   * It starts smaller still once the live sinks' starting buffers would pass
   * the budget (at least MIN_START_SIZE): 300,000 capture points at 16 KiB
   * each would be 5 GB before a frame is written.
   */
  constructor(
    path: string,
    capacity = 16 << 10,
    private readonly maxCapacity = 1 << 20,
  ) {
    capacity = Math.min(capacity, Math.max(MIN_START_SIZE, Math.floor(BUFFER_BUDGET / (liveSinks + 1)) & ~3));
    this.path = path;
    this.tempPath = `${path}.tmp`;
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.u32 = new Uint32Array(this.buf.buffer, 0, capacity >>> 2);
    // Made (empty) at once, so a path that cannot be written fails here rather than mid-run;
    // its descriptor is taken only when there is something to write.
    closeSync(openSync(this.tempPath, 'w'));
    liveSinks++;
    sinksBySerial.set(this.serial, this);
  }

  /** Makes room for n contiguous bytes at `pos`, flushing (or growing for an oversized block). */
  reserve(n: number): void {
    if (this.state !== 'open') throw new Error(`capture: ${this.path} is already ${this.state}`);
    if (this.pos + n <= this.buf.length) return;
    const cap = Math.min(this.maxCapacity, Math.max(MIN_CAP_SIZE, BUFFER_BUDGET / liveSinks));
    const want = Math.max(n, Math.min(cap, this.buf.length * 2));
    this.flush();
    if (want > this.buf.length) this.use(new Uint8Array(want));
  }

  /**
   * Copies data[off, off+len) to `at`. A whole-array copy allocates nothing; a
   * slice needs a subarray view (a small young-generation object), which on
   * Node 20 measured faster than a byte loop even for 64-byte frames.
   */
  copyIn(at: number, data: Uint8Array, off: number, len: number): void {
    if (off === 0 && len === data.length) this.buf.set(data, at);
    else this.buf.set(data.subarray(off, off + len), at);
  }

  /** Writes the buffered bytes to the temporary file (or hands them to the writer thread). */
  flush(): void {
    if (this.pos === 0) return;
    const fd = this.descriptor();
    flushedBytes += this.pos;
    if (behind === null && flushedBytes >= writeBehindAfter) behind = new WriteBehind({ maxPendingCloses: Math.ceil(openSinkLimit / 3) });
    if (behind !== null) {
      try {
        behind.write(fd, this.buf, 0, this.pos, this.serial);
      } catch (err) {
        throw named(err);
      }
    } else {
      let done = 0;
      while (done < this.pos) done += writeSync(fd, this.buf, done, this.pos - done);
    }
    this.pos = 0;
  }

  /**
   * Flushes and lets go of the descriptor: what commit does before it waits
   * for the bytes and renames. Closing many files, finish them all first, so
   * that their writes behind are waited for once and not file by file.
   */
  finish(): void {
    if (this.state !== 'open') return;
    this.flush();
    this.closeFd();
  }

  /** Flushes, closes and atomically renames to the final path, once every byte of it is written. */
  commit(): void {
    if (this.state === 'committed') return;
    if (this.state === 'discarded') throw new Error(`capture: ${this.path} was aborted`);
    this.finish();
    try {
      behind?.drain();
    } catch (err) {
      throw named(err);
    }
    renameSync(this.tempPath, this.path);
    this.state = 'committed';
    this.release();
  }

  /** Closes and removes the temporary file; a committed file is left alone. */
  discard(): void {
    if (this.state !== 'open') return;
    this.state = 'discarded';
    this.pos = 0;
    try {
      // Behind, its queued writes land in the unlinked file, which goes with its last descriptor.
      this.closeFd();
    } finally {
      unlinkSync(this.tempPath);
      this.release();
    }
  }

  /** This sink's open descriptor, opening (or reopening, to append) its file and making room among maxOpenSinks(). */
  private descriptor(): number {
    if (this.fd >= 0) {
      // Most recently written: to the back of the set.
      withFd.delete(this);
      withFd.add(this);
      return this.fd;
    }
    while (withFd.size >= openSinkLimit) withFd.values().next().value!.closeFd();
    this.fd = openSync(this.tempPath, 'a');
    withFd.add(this);
    return this.fd;
  }

  private use(buf: Uint8Array): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer);
    this.u32 = new Uint32Array(buf.buffer, 0, buf.length >>> 2);
  }

  /** Drops the buffer: a closed sink keeps no memory (its empty buffer sends any write to reserve, which throws). */
  private release(): void {
    this.use(new Uint8Array(0));
    liveSinks--;
    sinksBySerial.delete(this.serial);
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    withFd.delete(this);
    // Behind: closed after its queued writes. The descriptor stays taken until then,
    // so a file reopened to append gets a new one and its bytes come after.
    if (behind !== null) {
      try {
        behind.close(fd, this.serial);
      } catch (err) {
        throw named(err);
      }
    } else closeSync(fd);
  }
}
