/**
 * TempFileSink with many files at once: a capture file per point means one
 * sink per interface, far more than the process may hold open, so at most
 * maxOpenSinks() keep a descriptor and the others reopen to append. Every
 * file must still hold exactly its bytes, in order.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maxOpenSinks, setMaxOpenSinks, TempFileSink } from '../../models/capture/temp-file-sink.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-sinks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const openFds = (): number => readdirSync('/proc/self/fd').length;
const hasProc = existsSync('/proc/self/fd');
if (!hasProc) console.warn('temp-file-sink test: no /proc/self/fd here, so the count of open descriptors is not checked');

/** Appends `bytes` through the sink's buffer, as the writers do (reserve, fill, advance). */
function put(s: TempFileSink, bytes: Uint8Array): void {
  s.reserve(bytes.length);
  s.buf.set(bytes, s.pos);
  s.pos += bytes.length;
}

describe('TempFileSink', () => {
  // The limit follows `ulimit -n` (up to 8,192); 256 keeps the test's thousands of files few.
  let limit = 0;
  beforeEach(() => {
    limit = setMaxOpenSinks(256);
  });
  afterEach(() => {
    setMaxOpenSinks(limit);
  });

  it('may hold 3/8 of the soft limit on open files, from 64 to 8,192', () => {
    setMaxOpenSinks(limit);
    const soft = hasProc ? /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8')) : null;
    const expected = soft === null ? 384 : Math.max(64, Math.min(8192, Math.floor((Number(soft[1]) * 3) / 8)));
    expect(maxOpenSinks()).toBe(expected);
    expect(() => setMaxOpenSinks(0)).toThrow(/positive integer/);
  });

  it('writes three times as many files as it may hold open, each with its own bytes, never holding more', () => {
    const n = 3 * maxOpenSinks();
    const before = hasProc ? openFds() : 0;
    // 64-byte buffers: each sink flushes (and so needs a descriptor) every few writes.
    const sinks = Array.from({ length: n }, (_, i) => new TempFileSink(join(work, `f${i}.bin`), { capacity: 64, maxCapacity: 64 }));
    let most = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < n; i++) put(sinks[i]!, Uint8Array.from({ length: 40 }, (_, k) => (i + round + k) & 0xff));
      if (hasProc) most = Math.max(most, openFds() - before);
    }
    if (hasProc) expect(most).toBeLessThanOrEqual(maxOpenSinks());
    for (const s of sinks) s.commit();
    if (hasProc) expect(openFds()).toBe(before);
    for (let i = 0; i < n; i++) {
      const expected = new Uint8Array(12 * 40);
      for (let round = 0; round < 12; round++) for (let k = 0; k < 40; k++) expected[round * 40 + k] = (i + round + k) & 0xff;
      expect(readFileSync(join(work, `f${i}.bin`)).equals(expected), `f${i}.bin`).toBe(true);
    }
    expect(readdirSync(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('commits an empty file for a sink never written to, and a discarded sink leaves nothing', () => {
    // The file is there from the start, without a descriptor held.
    const before = hasProc ? openFds() : 0;
    const empty = new TempFileSink(join(work, 'empty.bin'));
    expect(existsSync(join(work, 'empty.bin.tmp'))).toBe(true);
    if (hasProc) expect(openFds()).toBe(before);
    empty.commit();
    expect(readFileSync(join(work, 'empty.bin')).length).toBe(0);
    const gone = new TempFileSink(join(work, 'gone.bin'), { capacity: 64, maxCapacity: 64 });
    put(gone, new Uint8Array(100).fill(7));
    gone.discard();
    const quiet = new TempFileSink(join(work, 'quiet.bin'));
    quiet.discard();
    expect(readdirSync(work).filter((f) => f.startsWith('gone') || f.startsWith('quiet'))).toEqual([]);
  });

  it('writes in place under the final name when asked, with no temporary name at any point; a discard removes it', () => {
    const dir = mkdtempSync(join(work, 'in-place-'));
    const kept = new TempFileSink(join(dir, 'kept.bin'), { capacity: 64, maxCapacity: 64, inPlace: true });
    expect(readdirSync(dir)).toEqual(['kept.bin']);
    put(kept, new Uint8Array(50).fill(3));
    put(kept, new Uint8Array(50).fill(3));
    // Past the 64-byte buffer: the first 50 bytes are in the file already, under its own name.
    expect(readFileSync(join(dir, 'kept.bin')).length).toBeGreaterThan(0);
    kept.commit();
    expect(readdirSync(dir)).toEqual(['kept.bin']);
    expect(readFileSync(join(dir, 'kept.bin')).equals(Buffer.alloc(100, 3))).toBe(true);
    const dropped = new TempFileSink(join(dir, 'dropped.bin'), { capacity: 64, maxCapacity: 64, inPlace: true });
    put(dropped, new Uint8Array(100).fill(4));
    dropped.discard();
    expect(readdirSync(dir)).toEqual(['kept.bin']);
  });

  it('takes no bytes once finished; a finished sink commits, or discards leaving nothing', () => {
    const kept = new TempFileSink(join(work, 'finished-kept.bin'), { capacity: 64, maxCapacity: 64 });
    put(kept, Uint8Array.of(1, 2, 3));
    kept.finish();
    expect(() => put(kept, Uint8Array.of(4))).toThrow(/already finished/);
    kept.commit();
    expect([...readFileSync(join(work, 'finished-kept.bin'))]).toEqual([1, 2, 3]);
    const dropped = new TempFileSink(join(work, 'finished-dropped.bin'), { capacity: 64, maxCapacity: 64 });
    put(dropped, Uint8Array.of(5));
    dropped.finish();
    dropped.discard();
    expect(existsSync(join(work, 'finished-dropped.bin'))).toBe(false);
    expect(existsSync(join(work, 'finished-dropped.bin.tmp'))).toBe(false);
  });

  it('starts smaller buffers once the live ones would pass the 64 MiB budget', () => {
    const sinks = Array.from({ length: 5000 }, (_, i) => new TempFileSink(join(work, `b${i}.bin`)));
    try {
      expect(sinks[0]!.buf.length).toBe(16 << 10);
      // The 5,000th starts at its share of the budget, not at 16 KiB.
      expect(sinks[4999]!.buf.length).toBeLessThanOrEqual((64 << 20) / 5000);
      expect(sinks.reduce((n, x) => n + x.buf.length, 0)).toBeLessThanOrEqual(2 * (64 << 20));
    } finally {
      for (const x of sinks) x.discard();
    }
  });
});
