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
 * 3/8 of the process's soft limit (`ulimit -n`). The writer thread holds as
 * many once it owns the files, and the sinks then hold none: the rest is left
 * to the process.
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
 * flushed `writeBehindAfter` bytes, the writer thread owns their files and
 * every sink writes into one staging buffer (Staging), which goes to the
 * writer whole. Only on the main thread (a partition's worker has no core to
 * spare) and only for captures big enough to pay for starting a thread
 * (~20 ms): the small captures of short runs are written in place.
 */
export const WRITE_BEHIND_AFTER_BYTES = 8 << 20;
let writeBehindAfter = isMainThread ? WRITE_BEHIND_AFTER_BYTES : Infinity;
let flushedBytes = 0;
let behind: WriteBehind | null = null;
let staging: Staging | null = null;
/** Live sinks by serial number, the tag of their file in the writer thread. */
const sinksBySerial = new Map<number, TempFileSink>();
let serials = 0;

/** The staging buffer's size (at most a quarter of the writer's ring). */
const STAGING_BYTES = 1 << 20;

/**
 * The one buffer all sinks write into while the writer thread owns their
 * files: a frame captured at any of 6,301 points lands in the same hot
 * buffer, not in one of 6,301 cold ones. It holds records (tag, length,
 * bytes) at 4-byte-aligned offsets, the format of WriteBehind.stage. The
 * open record is its owner's: the owner writes from its `pos` as into a
 * buffer of its own, and the record is closed (its length written) when
 * another sink reserves room or the buffer goes to the writer.
 */
class Staging {
  readonly buf: Uint8Array;
  readonly view: DataView;
  readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  /** End of the closed records. */
  private end = 0;
  /** The sink whose record is open, and where that record's header is. */
  owner: TempFileSink | null = null;
  private headerAt = 0;

  constructor(readonly capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.u32 = new Uint32Array(this.buf.buffer);
    this.i32 = new Int32Array(this.buf.buffer);
  }

  /**
   * Room for n contiguous bytes of `sink`'s file: returns where they start
   * (the sink's new `pos`). The sink's open record goes on when it has room.
   */
  reserve(sink: TempFileSink, tag: number, n: number): number {
    if (this.owner === sink && sink.pos + n <= this.capacity) return sink.pos;
    this.closeRecord();
    let at = (this.end + 3) & ~3;
    if (at + 8 + n > this.capacity) {
      this.send();
      at = 0;
    }
    if (8 + n > this.capacity) throw new RangeError(`capture: a block of ${n} bytes is larger than the staging buffer`);
    this.i32[at >> 2] = tag;
    this.headerAt = at;
    this.owner = sink;
    this.end = at + 8;
    return at + 8;
  }

  /** Hands everything staged to the writer thread. */
  send(): void {
    this.closeRecord();
    if (this.end > 0) behind!.stage(this.buf, this.end);
    this.end = 0;
  }

  /** Closes the open record if `sink` owns it (the sink is finishing or going). */
  release(sink: TempFileSink): void {
    if (this.owner === sink) this.closeRecord();
  }

  private closeRecord(): void {
    const owner = this.owner;
    if (owner === null) return;
    this.i32[(this.headerAt >> 2) + 1] = owner.pos - this.headerAt - 8;
    this.end = owner.pos;
    this.owner = null;
  }
}

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

/** Records queued for this thread's writer thread so far (0 with none running): what a test can count hand-offs by. */
export function writeBehindRecords(): number {
  return behind === null ? 0 : behind.records;
}

/** Starts the writer thread and gives it every live sink's file. */
function startWritingBehind(): void {
  behind = new WriteBehind({ maxOpenFiles: openSinkLimit });
  staging = new Staging(Math.min(STAGING_BYTES, behind.maxStagedBytes));
  for (const sink of sinksBySerial.values()) sink.handOver();
}

/**
 * Waits for this thread's writes behind and ends the writer thread (the next
 * big capture starts another). Sinks still open then fail at their next write.
 */
export function stopWritingBehind(): void {
  const b = behind;
  if (b === null) return;
  try {
    staging!.send();
    b.shutdown();
  } catch (err) {
    throw named(err);
  } finally {
    retire(new Error('capture: the writer thread was stopped'));
  }
}

/**
 * A WriteBehindError as the error of the file it was writing. The failed
 * writer is retired: the run that lost bytes aborts, and the next big capture
 * starts a new one.
 */
function named(err: unknown): unknown {
  if (!(err instanceof WriteBehindError)) return err;
  const sink = sinksBySerial.get(err.tag);
  const e = new Error(`capture: writing ${sink === undefined ? 'a capture file' : sink.tempPath} failed: ${err.reason}`, { cause: err });
  retire(e);
  return e;
}

/** Ends the writer thread (its files' descriptors closed); the live sinks it owned fail with `reason`. */
function retire(reason: Error): void {
  const b = behind;
  behind = null;
  staging = null;
  b?.abandon();
  for (const sink of sinksBySerial.values()) sink.lose(reason);
}

export interface TempFileSinkOptions {
  /** The buffer's starting size in bytes (default 16 KiB, less with many live sinks). */
  capacity?: number;
  /** The size it may double up to (default 1 MiB, less with many live sinks). */
  maxCapacity?: number;
  /** Write `<path>` itself, not `<path>.tmp` renamed on commit: for a folder staged as a whole. */
  inPlace?: boolean;
}

/**
 * A write-only file built in `<path>.tmp` through one reusable buffer, then
 * renamed to `<path>` on commit, so a reader never sees a half-written capture
 * under the final name and a capture of many GiB never sits in memory. A
 * caller whose whole folder is staged and moved into place when complete
 * (scenarios/run.ts) writes `<path>` in place instead (`inPlace`): a rename
 * per file would only cost (6,301 at the end of a 100 x 30 cluster's run).
 *
 * Writers reserve room for a whole block, fill `buf`/`view` from `pos`, then
 * advance `pos`, and never touch the buffer outside a reservation. Nothing is
 * allocated while the buffer has room. The buffer is the sink's own until the
 * writer thread takes the file; from then on it is the staging buffer all
 * sinks share, and `pos` is meaningful only right after `reserve`.
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
  /** finished: flushed and let go of, waiting for its commit (or discard); nothing more may be written. */
  private state: 'open' | 'finished' | 'committed' | 'discarded' = 'open';
  private readonly serial = ++serials | 0;
  /** The writer thread owns the file: bytes go through the staging buffer. */
  private staged = false;
  /** Why the file cannot be completed (its writer thread failed or was stopped). */
  private lost: Error | null = null;
  /** Written behind: where in the writer's queue this file's end is (WriteBehind.finish). */
  private endsAt = 0;
  private readonly maxCapacity: number;

  /**
   * The buffer starts small and doubles at each flush up to `maxCapacity` (or
   * this sink's share of BUFFER_BUDGET): a run with thousands of capture points
   * keeps a few KiB per quiet one, and a busy one soon writes in large blocks.
   * It starts smaller still once the live sinks' starting buffers would pass
   * the budget (at least MIN_START_SIZE): 300,000 capture points at 16 KiB
   * each would be 5 GB before a frame is written.
   */
  constructor(path: string, options: TempFileSinkOptions = {}) {
    this.maxCapacity = options.maxCapacity ?? 1 << 20;
    const capacity = Math.min(options.capacity ?? 16 << 10, Math.max(MIN_START_SIZE, Math.floor(BUFFER_BUDGET / (liveSinks + 1)) & ~3));
    this.path = path;
    this.tempPath = options.inPlace === true ? path : `${path}.tmp`;
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.u32 = new Uint32Array(this.buf.buffer, 0, capacity >>> 2);
    // Made (empty) at once, so a path that cannot be written fails here rather than mid-run;
    // its descriptor is taken only when there is something to write.
    closeSync(openSync(this.tempPath, 'w'));
    liveSinks++;
    sinksBySerial.set(this.serial, this);
    if (behind !== null) this.handOver();
  }

  /** Makes room for n contiguous bytes at `pos`, flushing (or growing for an oversized block). */
  reserve(n: number): void {
    if (this.state !== 'open') throw new Error(`capture: ${this.path} is already ${this.state}`);
    if (this.staged) {
      this.reserveStaged(n);
      return;
    }
    if (this.pos + n <= this.buf.length) return;
    const cap = Math.min(this.maxCapacity, Math.max(MIN_CAP_SIZE, BUFFER_BUDGET / liveSinks));
    const want = Math.max(n, Math.min(cap, this.buf.length * 2));
    this.flush();
    if (this.staged) this.reserveStaged(n);
    else if (want > this.buf.length) this.use(new Uint8Array(want));
  }

  private reserveStaged(n: number): void {
    if (this.lost !== null) throw this.lost;
    try {
      this.pos = staging!.reserve(this, this.serial, n);
    } catch (err) {
      throw named(err);
    }
  }

  /**
   * The writer thread takes this sink's file (startWritingBehind, or a sink
   * made after it started): a descriptor held is closed here (everything
   * written through it is written already; a descriptor that the writer
   * thread closed for this thread made Node warn "closed but not opened in
   * unmanaged mode"), buffered bytes are staged, and from now on `buf` is
   * the staging buffer.
   */
  handOver(): void {
    const b = behind!;
    this.closeFd();
    b.own(this.serial, this.tempPath);
    const pending = this.buf.subarray(0, this.pos);
    this.staged = true;
    this.use(staging!.buf, staging!);
    // In pieces the staging buffer takes (less a record header and alignment): a
    // file's bytes may be split across records.
    for (let at = 0; at < pending.length; ) {
      const n = Math.min(pending.length - at, staging!.capacity - 16);
      this.reserveStaged(n);
      this.buf.set(pending.subarray(at, at + n), this.pos);
      this.pos += n;
      at += n;
    }
  }

  /** Runs `op` with the writer thread that owns this file; a failure is this file's error. */
  private withWriter(op: (b: WriteBehind, st: Staging) => void): void {
    if (this.lost !== null) throw this.lost;
    try {
      op(behind!, staging!);
    } catch (err) {
      throw named(err);
    }
  }

  /** The file cannot be completed: later writes and the commit throw `reason`. */
  lose(reason: Error): void {
    if (this.staged && this.lost === null) this.lost = reason;
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

  /**
   * Writes the buffered bytes to the temporary file; written behind, hands
   * the staging buffer to the writer thread. The flush that passes
   * `writeBehindAfter` starts the writer thread instead (this sink's bytes
   * go to it with the rest).
   */
  flush(): void {
    if (this.staged) {
      this.withWriter((_, st) => st.send());
      return;
    }
    if (this.pos === 0) return;
    if (behind === null && flushedBytes + this.pos >= writeBehindAfter) {
      startWritingBehind();
      return;
    }
    flushedBytes += this.pos;
    const fd = this.descriptor();
    let done = 0;
    while (done < this.pos) done += writeSync(fd, this.buf, done, this.pos - done);
    this.pos = 0;
  }

  /**
   * Flushes and lets go of the file: what commit does before it waits for
   * the bytes and renames. Closing many files, finish them all first, so
   * that the writer thread is waited for once and not file by file.
   */
  finish(): void {
    if (this.state !== 'open') return;
    if (!this.staged) {
      // This flush may start the writer thread, which then owns the file.
      this.flush();
      if (!this.staged) this.closeFd();
    }
    if (this.staged) {
      this.withWriter((b, st) => {
        st.send();
        this.endsAt = b.finish(this.serial);
      });
    }
    // Once only: a commit after it must not queue the file's end again, which
    // made every commit wait for its own hand-off to the writer thread (6,301
    // round trips at the end of a file-per-point run, ~55 us each).
    this.state = 'finished';
  }

  /** Flushes, closes and atomically renames to the final path, once every byte of it is written. */
  commit(): void {
    if (this.state === 'committed') return;
    if (this.state === 'discarded') throw new Error(`capture: ${this.path} was aborted`);
    this.finish();
    // Only this file's end: the renames of closeAll go on while the writer ends the files after it.
    if (this.staged) this.withWriter((b) => b.waitPast(this.endsAt));
    if (this.tempPath !== this.path) renameSync(this.tempPath, this.path);
    this.state = 'committed';
    this.release();
  }

  /** Closes and removes the temporary file (finished or not); a committed file is left alone. */
  discard(): void {
    if (this.state !== 'open' && this.state !== 'finished') return;
    this.state = 'discarded';
    try {
      if (this.staged && this.lost === null) {
        // Its record closed where it ends; its staged records are skipped once the writer has dropped the file.
        staging!.release(this);
        const b = behind!;
        b.drop(this.serial);
        // The writer may still write out bytes queued before the drop, opening the
        // file to append: that would make it again after the unlink below.
        b.settle();
      } else this.closeFd();
    } finally {
      this.pos = 0;
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

  private use(buf: Uint8Array, views?: { view: DataView; u32: Uint32Array }): void {
    this.buf = buf;
    this.view = views?.view ?? new DataView(buf.buffer);
    this.u32 = views?.u32 ?? new Uint32Array(buf.buffer, 0, buf.length >>> 2);
  }

  /** Drops the buffer: a closed sink keeps no memory (its empty buffer sends any write to reserve, which throws). */
  private release(): void {
    staging?.release(this);
    this.use(new Uint8Array(0));
    liveSinks--;
    sinksBySerial.delete(this.serial);
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    withFd.delete(this);
    closeSync(fd);
  }
}
