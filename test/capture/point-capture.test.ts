/**
 * A capture point with a file of its own (models/capture/point-capture.ts):
 * whether its frames go through its PcapngWriter or straight into the staging
 * buffer the writer thread takes, every file must hold the bytes a
 * PcapngWriter writes for the same frames, and a finished or aborted point
 * must take no more.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PointCapture } from '../../models/capture/point-capture.js';
import { EpbClock, setLittleEndianHostForTesting } from '../../models/capture/enhanced-packet.js';
import { PcapngWriter } from '../../models/capture/pcapng-writer.js';
import { captureDescription } from '../../models/capture/capture-tap.js';
import { closeAll } from '../../models/capture/capture-writer.js';
import {
  WRITE_BEHIND_AFTER_BYTES,
  setWriteBehindAfter,
  stopWritingBehind,
  writingBehind,
} from '../../models/capture/temp-file-sink.js';
import type { NetDevice } from '../../models/devices/net-device.js';
import type { Packet } from '../../models/packet.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-point-capture-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => {
  stopWritingBehind();
  setWriteBehindAfter(WRITE_BEHIND_AFTER_BYTES);
  setLittleEndianHostForTesting(endianness() === 'LE');
});

const EPOCH = 1_700_000_000;
const POINTS = ['n1/p1/eth0', 'n1/veth1', 'n1/cni0'];

/** What a tap sees: the device (only its path is read) and a frame in a buffer with headroom. */
const device = (path: string) => ({ path }) as NetDevice;
const frame = (buf: Uint8Array, off: number, len: number) => ({ buf, off, len }) as Packet;

interface Frame {
  point: number;
  timeNs: number;
  off: number;
  len: number;
  direction: 1 | 2;
}

/** Frames over the points, in turns and in runs of one point, at times shared and new (crossing 2^32 ns). */
function frames(n: number): Frame[] {
  const out: Frame[] = [];
  let t = 2 ** 32 - 50_000;
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) t += 1_000;
    const point = i % 7 < 3 ? 0 : i % 3;
    out.push({ point, timeNs: t, off: 64 + (i % 5), len: 14 + ((i * 37) % 1500), direction: i % 2 === 0 ? 1 : 2 });
  }
  return out;
}

const bytes = new Uint8Array(1600 + 64);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 255;

/** The files of `list` written by one PcapngWriter per point, as FileTap wrote them. */
function reference(dir: string, list: Frame[]): Buffer[] {
  const writers = POINTS.map((p) => {
    const w = new PcapngWriter(join(dir, `${p.replaceAll('/', '.')}.pcapng`), { epochSeconds: EPOCH });
    w.addInterface(p, captureDescription(p));
    return w;
  });
  for (const f of list) writers[f.point]!.appendPacket(0, f.timeNs, bytes, f.off, f.len, f.direction);
  closeAll(writers);
  return POINTS.map((p) => readFileSync(join(dir, `${p.replaceAll('/', '.')}.pcapng`)));
}

/** The same frames through PointCaptures sharing one clock. */
function throughPoints(dir: string, list: Frame[]): Buffer[] {
  let now = 0;
  const clock = new EpbClock(EPOCH);
  const points = POINTS.map((p) => new PointCapture(device(p), join(dir, `${p.replaceAll('/', '.')}.pcapng`), clock, () => now));
  for (const f of list) {
    now = f.timeNs;
    points[f.point]!.capture(device(POINTS[f.point]!), frame(bytes, f.off, f.len), f.direction);
  }
  expect(points.reduce((n, p) => n + p.frames, 0)).toBe(list.length);
  closeAll(points);
  return POINTS.map((p) => readFileSync(join(dir, `${p.replaceAll('/', '.')}.pcapng`)));
}

describe('PointCapture', () => {
  const list = frames(3000);
  const expected = reference(mkdtempSync(join(work, 'ref-')), list);

  it('writes in place the bytes a PcapngWriter writes', () => {
    const got = throughPoints(mkdtempSync(join(work, 'in-place-')), list);
    expect(writingBehind()).toBe(false);
    for (let i = 0; i < POINTS.length; i++) expect(got[i]!.equals(expected[i]!), POINTS[i]).toBe(true);
  });

  it('writes the same bytes through the staging buffer, written behind from the start', () => {
    setWriteBehindAfter(0);
    const got = throughPoints(mkdtempSync(join(work, 'behind-')), list);
    expect(writingBehind()).toBe(true);
    for (let i = 0; i < POINTS.length; i++) expect(got[i]!.equals(expected[i]!), POINTS[i]).toBe(true);
  });

  it('writes the same bytes when the writer thread takes the files mid-run', () => {
    // About a third of the frames are flushed before the thread starts.
    setWriteBehindAfter(400_000);
    const got = throughPoints(mkdtempSync(join(work, 'mid-')), list);
    expect(writingBehind()).toBe(true);
    for (let i = 0; i < POINTS.length; i++) expect(got[i]!.equals(expected[i]!), POINTS[i]).toBe(true);
  });

  it('writes the same bytes on a big-endian host, written behind (through its writer)', () => {
    setWriteBehindAfter(0);
    setLittleEndianHostForTesting(false);
    const got = throughPoints(mkdtempSync(join(work, 'portable-')), list);
    for (let i = 0; i < POINTS.length; i++) expect(got[i]!.equals(expected[i]!), POINTS[i]).toBe(true);
  });

  for (const behind of [false, true]) {
    it(`refuses frames once finished${behind ? ', written behind' : ''}`, () => {
      if (behind) setWriteBehindAfter(0);
      const dir = mkdtempSync(join(work, 'finished-'));
      const p = new PointCapture(device('n1/eth0'), join(dir, 'p.pcapng'), new EpbClock(0), () => 5);
      p.capture(device('n1/eth0'), frame(bytes, 64, 60), 1);
      p.finish();
      expect(() => p.capture(device('n1/eth0'), frame(bytes, 64, 60), 1)).toThrow(/already finished/);
      p.close();
      expect(() => p.capture(device('n1/eth0'), frame(bytes, 64, 60), 1)).toThrow(/already committed/);
      expect(readdirSync(dir)).toEqual(['p.pcapng']);
    });
  }

  it('drops an aborted point written behind, and the points beside it keep their bytes', () => {
    setWriteBehindAfter(0);
    const dir = mkdtempSync(join(work, 'abort-'));
    const clock = new EpbClock(EPOCH);
    let now = 0;
    const kept = new PointCapture(device(POINTS[0]!), join(dir, 'kept.pcapng'), clock, () => now);
    const gone = new PointCapture(device(POINTS[1]!), join(dir, 'gone.pcapng'), clock, () => now);
    const ref = new PcapngWriter(join(dir, 'ref.pcapng'), { epochSeconds: EPOCH });
    ref.addInterface(POINTS[0]!, captureDescription(POINTS[0]!));
    for (const f of list.slice(0, 500)) {
      now = f.timeNs;
      // The aborted point's frames sit in the staging buffer between the kept one's.
      (f.point === 0 ? kept : gone).capture(device(''), frame(bytes, f.off, f.len), f.direction);
      if (f.point === 0) ref.appendPacket(0, f.timeNs, bytes, f.off, f.len, f.direction);
    }
    gone.abort();
    expect(() => gone.capture(device(''), frame(bytes, 64, 60), 1)).toThrow(/already discarded/);
    now += 1;
    kept.capture(device(''), frame(bytes, 64, 60), 2);
    ref.appendPacket(0, now, bytes, 64, 60, 2);
    closeAll([kept, ref]);
    expect(existsSync(join(dir, 'gone.pcapng'))).toBe(false);
    expect(existsSync(join(dir, 'gone.pcapng.tmp'))).toBe(false);
    expect(readFileSync(join(dir, 'kept.pcapng')).equals(readFileSync(join(dir, 'ref.pcapng')))).toBe(true);
  });
});
