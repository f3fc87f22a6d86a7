/**
 * Writing captures behind, on a thread of their own (models/capture/write-behind.ts):
 * every file must get exactly the bytes the synchronous path writes, in order,
 * whatever the ring's size and wherever records wrap; a failed write must come
 * back as an error naming the file; no descriptor may be left open.
 */
import { afterAll, afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WriteBehind, WriteBehindError } from '../../models/capture/write-behind.js';
import {
  maxOpenSinks,
  setMaxOpenSinks,
  TempFileSink,
  WRITE_BEHIND_AFTER_BYTES,
  setWriteBehindAfter,
  stopWritingBehind,
  writeBehindRecords,
  writingBehind,
} from '../../models/capture/temp-file-sink.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { expectSameOutput } from '../helpers/output-tree.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-write-behind-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  stopWritingBehind();
  setWriteBehindAfter(WRITE_BEHIND_AFTER_BYTES);
});

const hasProc = existsSync('/proc/self/fd');
if (!hasProc) console.warn('write-behind test: no /proc/self/fd here, so open descriptors are not checked');
const openFds = (): Set<string> => new Set(readdirSync('/proc/self/fd'));
/** Descriptors open now that were not open `before` (an ended thread may close some of its own meanwhile). */
const newFds = (before: Set<string>): string[] => [...openFds()].filter((fd) => !before.has(fd));

/** A deterministic byte pattern: `n` bytes of stream `id` from `at`. */
function bytes(id: number, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (id * 31 + (at + k) * 7 + ((at + k) >> 8)) & 0xff;
  return out;
}

/** A block of staged records for WriteBehind.stage: (tag, length, bytes), each 4-byte aligned. */
class Block {
  readonly buf: Uint8Array;
  private readonly i32: Int32Array;
  end = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.i32 = new Int32Array(this.buf.buffer);
  }
  room(n: number): boolean {
    return ((this.end + 3) & ~3) + 8 + n <= this.buf.length;
  }
  add(tag: number, data: Uint8Array): void {
    const at = (this.end + 3) & ~3;
    this.i32[at >> 2] = tag;
    this.i32[(at >> 2) + 1] = data.length;
    this.buf.set(data, at + 8);
    this.end = at + 8 + data.length;
  }
}

describe('WriteBehind', () => {
  it('writes the files it owns through a small ring, blocks wrapping at its end, each file in order', () => {
    const wb = new WriteBehind({ ringBytes: 4096 });
    const paths = [join(work, 'a.bin'), join(work, 'b.bin')];
    paths.forEach((p, i) => {
      closeSync(openSync(p, 'w'));
      wb.own(i, p);
    });
    const written = [0, 0];
    // Sizes around the header and alignment edges, up to what one block (a quarter of the ring) takes.
    const sizes = [1, 15, 16, 17, 100, 500, 1000, 0, 5, 333];
    let block = new Block(wb.maxStagedBytes);
    for (let round = 0; round < 12; round++) {
      for (const [i, n] of sizes.entries()) {
        const f = (i + round) % 2;
        const data = bytes(f, written[f]!, Math.min(n, wb.maxStagedBytes - 8));
        if (!block.room(data.length)) {
          wb.stage(block.buf, block.end);
          block = new Block(wb.maxStagedBytes);
        }
        block.add(f, data);
        written[f]! += data.length;
      }
    }
    wb.stage(block.buf, block.end);
    const before = hasProc ? openFds() : null;
    wb.finish(0);
    wb.finish(1);
    wb.drain();
    if (before !== null) expect(newFds(before)).toEqual([]);
    for (const [f, p] of paths.entries()) {
      const got = readFileSync(p);
      expect(got.length, p).toBe(written[f]);
      expect(got.equals(bytes(f, 0, written[f]!)), p).toBe(true);
    }
    wb.shutdown();
    expect(() => wb.own(3, join(work, 'late.bin'))).toThrow(/shut down/);
  });

  it('reports a failed write with its tag and the system error, and leaves no descriptor open', () => {
    const wb = new WriteBehind({ ringBytes: 4096 });
    // One file written first: the thread is running, with the descriptors of its own event loop.
    const warm = join(work, 'warm.bin');
    wb.own(1, warm);
    const block = new Block(64);
    block.add(1, new Uint8Array(3));
    wb.stage(block.buf, block.end);
    wb.finish(1);
    wb.drain();
    const before = hasProc ? openFds() : null;
    // The writer opens an owned file when it writes to it: here, in a folder that is not there.
    wb.own(42, join(work, 'no-such-folder', 'x.bin'));
    const failing = new Block(64);
    failing.add(42, new Uint8Array(10));
    wb.stage(failing.buf, failing.end);
    wb.finish(42);
    let caught: unknown;
    try {
      wb.drain();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WriteBehindError);
    expect((caught as WriteBehindError).tag).toBe(42);
    expect((caught as WriteBehindError).reason).toMatch(/ENOENT/);
    // Every later call repeats it: a capture that lost bytes must not be committed.
    expect(() => wb.finish(1)).toThrow(WriteBehindError);
    if (before !== null) expect(newFds(before)).toEqual([]);
    expect(() => wb.shutdown()).toThrow(WriteBehindError);
  });

  it('splits staged blocks into the files it owns, in order, and skips a dropped file', () => {
    const wb = new WriteBehind({ ringBytes: 1 << 16, maxOpenFiles: 1 });
    const paths = [0, 1, 2].map((i) => join(work, `owned-${i}.bin`));
    for (const p of paths) closeSync(openSync(p, 'w'));
    paths.forEach((p, i) => wb.own(100 + i, p));
    const block = new Uint8Array(wb.maxStagedBytes);
    const i32 = new Int32Array(block.buffer);
    const written = [0, 0, 0];
    for (let round = 0; round < 40; round++) {
      let end = 0;
      for (let f = 0; f < 3; f++) {
        // Lengths that leave every alignment; the next record starts 4-byte aligned.
        const n = (round * 7 + f * 13) % 300;
        i32[end >> 2] = 100 + f;
        i32[(end >> 2) + 1] = n;
        block.set(bytes(f, written[f]!, n), end + 8);
        written[f]! += n;
        end = (end + 8 + n + 3) & ~3;
      }
      wb.stage(block, end);
      if (round === 20) wb.drop(102);
    }
    // One descriptor at a time: the files take turns reopening to append.
    wb.finish(100);
    wb.finish(101);
    wb.drain();
    for (const f of [0, 1]) expect(readFileSync(paths[f]!).equals(bytes(f, 0, written[f]!)), paths[f]).toBe(true);
    // Dropped with 21 rounds staged: what reached the file is a prefix, nothing after the drop.
    const dropped = readFileSync(paths[2]!);
    expect(dropped.equals(bytes(2, 0, dropped.length))).toBe(true);
    expect(dropped.length).toBeLessThan(written[2]!);
    wb.shutdown();
  });

  it("waits for one file's end, not for what was queued after it", () => {
    const wb = new WriteBehind({ ringBytes: 1 << 20 });
    const paths = [0, 1].map((i) => join(work, `ends-${i}.bin`));
    for (const p of paths) closeSync(openSync(p, 'w'));
    paths.forEach((p, i) => wb.own(200 + i, p));
    // 1 MiB for each file, in 64 KiB records, then file 0's end and more for file 1.
    const block = new Block(wb.maxStagedBytes);
    const put = (tag: number, data: Uint8Array): void => {
      if (!block.room(data.length)) {
        wb.stage(block.buf, block.end);
        block.end = 0;
      }
      block.add(tag, data);
    };
    for (let k = 0; k < 16; k++) for (const f of [0, 1]) put(200 + f, bytes(f, k << 16, 1 << 16));
    wb.stage(block.buf, block.end);
    block.end = 0;
    const end0 = wb.finish(200);
    put(201, bytes(1, 16 << 16, 1 << 16));
    wb.stage(block.buf, block.end);
    wb.waitPast(end0);
    // File 0 is whole and closed now, whatever the writer still has for file 1.
    expect(readFileSync(paths[0]!).equals(bytes(0, 0, 16 << 16))).toBe(true);
    const end1 = wb.finish(201);
    wb.waitPast(end1);
    expect(readFileSync(paths[1]!).equals(bytes(1, 0, 17 << 16))).toBe(true);
    wb.shutdown();
  });

  it('rejects a ring that is not a power of two', () => {
    expect(() => new WriteBehind({ ringBytes: 5000 })).toThrow(/power of two/);
  });
});

/** Appends `data` through the sink's buffer, as the writers do (reserve, fill, advance). */
function put(s: TempFileSink, data: Uint8Array): void {
  s.reserve(data.length);
  s.buf.set(data, s.pos);
  s.pos += data.length;
}

/** `n` sinks with 64-byte buffers in a new folder, sink i given `rounds` writes of `size` bytes of stream i. */
function filledSinks(prefix: string, n: number, rounds: number, size: number): { files: string; sinks: TempFileSink[] } {
  const files = mkdtempSync(join(work, prefix));
  const sinks = Array.from({ length: n }, (_, i) => new TempFileSink(join(files, `f${i}.bin`), { capacity: 64, maxCapacity: 64 }));
  for (let round = 0; round < rounds; round++) for (let i = 0; i < n; i++) put(sinks[i]!, bytes(i, round * size, size));
  return { files, sinks };
}

describe('TempFileSink writing behind', () => {
  it('waits for a big capture (WRITE_BEHIND_AFTER_BYTES) before starting a thread', () => {
    const s = new TempFileSink(join(work, 'small.bin'), { capacity: 1024, maxCapacity: 1024 });
    for (let i = 0; i < 100; i++) put(s, bytes(1, i * 100, 100));
    s.commit();
    expect(writingBehind()).toBe(false);
    setWriteBehindAfter(4096);
    const big = new TempFileSink(join(work, 'big.bin'), { capacity: 1024, maxCapacity: 1024 });
    for (let i = 0; i < 100; i++) put(big, bytes(2, i * 100, 100));
    expect(writingBehind()).toBe(true);
    big.commit();
    expect(readFileSync(join(work, 'big.bin')).equals(bytes(2, 0, 10_000))).toBe(true);
  });

  it('writes three times as many files as it may hold open, each with its own bytes, and leaves no descriptor', () => {
    setWriteBehindAfter(0);
    const limit = setMaxOpenSinks(256);
    onTestFinished(() => {
      setMaxOpenSinks(limit);
    });
    // Start the thread first: its own event loop takes descriptors of its own.
    const first = new TempFileSink(join(work, 'first.bin'), { capacity: 64, maxCapacity: 64 });
    put(first, bytes(0, 0, 100));
    first.commit();
    expect(writingBehind()).toBe(true);
    const before = hasProc ? openFds() : null;
    const n = 3 * maxOpenSinks();
    const { files, sinks } = filledSinks('many-', n, 12, 40);
    for (const s of sinks) s.finish();
    for (const s of sinks) s.commit();
    if (before !== null) expect(newFds(before)).toEqual([]);
    for (let i = 0; i < n; i++) {
      expect(readFileSync(join(files, `f${i}.bin`)).equals(bytes(i, 0, 12 * 40)), `f${i}.bin`).toBe(true);
    }
    expect(readdirSync(files).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('ends each file once: commits after finishing every file queue nothing more for the writer', () => {
    setWriteBehindAfter(0);
    // Three 40-byte writes into 64-byte buffers: each sink flushes, and the first flush starts the writer.
    const { files, sinks } = filledSinks('finished-', 20, 3, 40);
    expect(writingBehind()).toBe(true);
    for (const s of sinks) s.finish();
    const queued = writeBehindRecords();
    // Finishing again changes nothing, and a finished file takes no more bytes.
    sinks[0]!.finish();
    expect(() => put(sinks[0]!, bytes(0, 120, 10))).toThrow(/already finished/);
    for (const s of sinks) s.commit();
    // Each commit would otherwise queue its file's end again and wait for the writer to act on it.
    expect(writeBehindRecords()).toBe(queued);
    for (let i = 0; i < sinks.length; i++) expect(readFileSync(join(files, `f${i}.bin`)).equals(bytes(i, 0, 120)), `f${i}.bin`).toBe(true);
    expect(readdirSync(files).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('discards a finished sink and leaves nothing, once the writer is done with it', () => {
    setWriteBehindAfter(0);
    // Full 64-byte buffers: the writer opens the file to write each out.
    const { files, sinks } = filledSinks('finished-discarded-', 50, 10, 60);
    for (const s of sinks) s.finish();
    for (const s of sinks) s.discard();
    expect(readdirSync(files)).toEqual([]);
    stopWritingBehind();
    expect(readdirSync(files)).toEqual([]);
  });

  it('ends a file whose last flush, at its finish, starts the writer thread', () => {
    setWriteBehindAfter(0);
    const path = join(work, 'started-at-finish.bin');
    // 100 bytes in a 128-byte buffer: nothing is written out before the finish.
    const s = new TempFileSink(path, { capacity: 64, maxCapacity: 128 });
    put(s, bytes(7, 0, 100));
    expect(writingBehind()).toBe(false);
    s.finish();
    expect(writingBehind()).toBe(true);
    s.commit();
    expect(readFileSync(path).equals(bytes(7, 0, 100))).toBe(true);
  });

  it('hands over a full buffer larger than the staging buffer when the writer starts', () => {
    // 4 KiB writes fill the 1 MiB buffer exactly; the third flush starts the writer
    // with the whole buffer to hand over, more than the staging buffer takes at once.
    setWriteBehindAfter(3 << 20);
    const s = new TempFileSink(join(work, 'handover.bin'), { capacity: 1 << 20, maxCapacity: 1 << 20 });
    const chunk = 4096;
    const total = (4 << 20) + 12_345;
    for (let at = 0; at < total; at += chunk) put(s, bytes(6, at, Math.min(chunk, total - at)));
    expect(writingBehind()).toBe(true);
    s.commit();
    expect(readFileSync(join(work, 'handover.bin')).equals(bytes(6, 0, total))).toBe(true);
  });

  it('discards a sink with writes still queued and leaves nothing', () => {
    setWriteBehindAfter(0);
    const s = new TempFileSink(join(work, 'dropped.bin'), { capacity: 64, maxCapacity: 64 });
    for (let i = 0; i < 50; i++) put(s, bytes(3, i * 50, 50));
    s.discard();
    stopWritingBehind();
    expect(existsSync(join(work, 'dropped.bin'))).toBe(false);
    expect(existsSync(join(work, 'dropped.bin.tmp'))).toBe(false);
  });

  it('names the file whose write failed, and the capture is not committed', () => {
    // The temporary file is a link to /dev/full: every write fails with ENOSPC.
    if (!existsSync('/dev/full')) {
      console.warn('write-behind test: no /dev/full here, so a failing write is not tried');
      return;
    }
    setWriteBehindAfter(0);
    const path = join(work, 'full.bin');
    symlinkSync('/dev/full', `${path}.tmp`);
    const s = new TempFileSink(path, { capacity: 64, maxCapacity: 64 });
    for (let i = 0; i < 10; i++) put(s, bytes(4, i * 50, 50));
    expect(() => s.commit()).toThrow(`capture: writing ${path}.tmp failed: ENOSPC`);
    expect(existsSync(path)).toBe(false);
    // The failed writer is retired; the next big capture gets a new one.
    expect(writingBehind()).toBe(false);
    s.discard();
    expect(existsSync(`${path}.tmp`)).toBe(false);
    const next = new TempFileSink(join(work, 'after-full.bin'), { capacity: 64, maxCapacity: 64 });
    put(next, bytes(5, 0, 50));
    put(next, bytes(5, 50, 50));
    expect(writingBehind()).toBe(true);
    next.commit();
    expect(readFileSync(join(work, 'after-full.bin')).equals(bytes(5, 0, 100))).toBe(true);
  });
});

describe('a run writing behind', () => {
  // 4 nodes x 3 pods with every interface captured: some 70 files, and a single file.
  const yaml = `
name: write-behind
seed: 3
duration: 200ms
scale: { nodes: 4, podsPerNode: 3 }
traffic:
  - udpAll: { pattern: cross-node, count: 30, rate: 300, requestSize: 300, responseSize: 900 }
  - pingAll: { pattern: ring, count: 4, interval: 20ms }
capture: all
`;
  const spec = () => expandScenario(parseScenario(yaml, 'write-behind.yaml'));

  it.each([
    ['a file per point', { singleCapture: false }],
    ['one file', { singleCapture: true }],
    ['classic pcap', { format: 'pcap' as const }],
  ])('gives the captures of a run writing in place, byte for byte (%s)', (label, options) => {
    const inPlace = join(work, `run-in-place-${label}`);
    setWriteBehindAfter(Infinity);
    runTopology(spec(), { outDir: inPlace, ...options });
    expect(writingBehind()).toBe(false);
    // The writer starts at the first flush and takes the files made before it...
    const behindDir = join(work, `run-behind-${label}`);
    setWriteBehindAfter(0);
    runTopology(spec(), { outDir: behindDir, ...options });
    expect(writingBehind()).toBe(true);
    expectSameOutput(behindDir, inPlace);
    expect(readdirSync(join(behindDir, 'captures')).length).toBeGreaterThan('singleCapture' in options && options.singleCapture ? 0 : 30);
    // ...and, still running, the files of the next run from their first byte.
    const again = join(work, `run-behind-again-${label}`);
    runTopology(spec(), { outDir: again, ...options });
    expectSameOutput(again, inPlace);
  });
});
