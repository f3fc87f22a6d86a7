import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

/**
 * Buffer memory shared by the open sinks: with thousands of files (one per
 * capture point) each grows to only BUFFER_BUDGET / open sinks, at least
 * MIN_CAP_SIZE, so a run does not page in GiBs of buffers it fills once; a
 * single file gets the whole maxCapacity.
 */
const BUFFER_BUDGET = 64 << 20;
const MIN_CAP_SIZE = 64 << 10;
let openSinks = 0;

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
  private fd: number;
  private state: 'open' | 'committed' | 'discarded' = 'open';

  /**
   * The buffer starts small and doubles at each flush up to `maxCapacity` (or
   * this sink's share of BUFFER_BUDGET): a run with thousands of capture points
   * keeps a few KiB per quiet one, and a busy one soon writes in large blocks.
   */
  constructor(
    path: string,
    capacity = 16 << 10,
    private readonly maxCapacity = 1 << 20,
  ) {
    this.path = path;
    this.tempPath = `${path}.tmp`;
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
    this.u32 = new Uint32Array(this.buf.buffer, 0, capacity >>> 2);
    this.fd = openSync(this.tempPath, 'w');
    openSinks++;
  }

  /** Makes room for n contiguous bytes at `pos`, flushing (or growing for an oversized block). */
  reserve(n: number): void {
    if (this.state !== 'open') throw new Error(`capture: ${this.path} is already ${this.state}`);
    if (this.pos + n <= this.buf.length) return;
    const cap = Math.min(this.maxCapacity, Math.max(MIN_CAP_SIZE, BUFFER_BUDGET / openSinks));
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

  /** Writes the buffered bytes to the temporary file. */
  flush(): void {
    let done = 0;
    while (done < this.pos) done += writeSync(this.fd, this.buf, done, this.pos - done);
    this.pos = 0;
  }

  /** Flushes, closes and atomically renames to the final path. */
  commit(): void {
    if (this.state === 'committed') return;
    if (this.state === 'discarded') throw new Error(`capture: ${this.path} was aborted`);
    this.flush();
    this.closeFd();
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
      this.closeFd();
    } finally {
      unlinkSync(this.tempPath);
      this.release();
    }
  }

  private use(buf: Uint8Array): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer);
    this.u32 = new Uint32Array(buf.buffer, 0, buf.length >>> 2);
  }

  /** Drops the buffer: a closed sink keeps no memory (its empty buffer sends any write to reserve, which throws). */
  private release(): void {
    this.use(new Uint8Array(0));
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    openSinks--;
    closeSync(fd);
  }
}
