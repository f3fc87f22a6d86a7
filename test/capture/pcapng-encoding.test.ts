import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PcapngWriter, setLittleEndianHostForTesting } from '../../models/capture/pcapng-writer.js';
import { endianness } from 'node:os';
import type { PacketDirection } from '../../models/capture/capture-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'podwire-pcapng-enc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => setLittleEndianHostForTesting(endianness() === 'LE'));

/** Writes the same packets (every length 0-70 and a jumbo one, each direction, repeated and new times) through appendPacket and writePacket. */
function write(path: string): Buffer {
  const w = new PcapngWriter(path, { epochSeconds: 1_700_000_000 });
  const a = w.addInterface('n1/p1/eth0', 'podwire capture point n1/p1/eth0');
  const b = w.addInterface('n1/cni0');
  const frame = new Uint8Array(9100 + 64);
  for (let i = 0; i < frame.length; i++) frame[i] = (i * 31 + 7) & 255;
  let t = 2 ** 32 - 5_000;
  for (let len = 0; len <= 70; len++) {
    const direction = (len % 3) as PacketDirection;
    if (len % 4 === 0) t += 1_000; // times shared by several packets, crossing 2^32
    w.appendPacket(len % 2 === 0 ? a : b, t, frame, 64 + (len % 5), len, direction);
    w.writePacket(a, t, frame, len, len, direction);
  }
  w.appendPacket(b, t + 1, frame, 64, 9100, 2);
  w.close();
  return readFileSync(path);
}

describe('PcapngWriter encodings', () => {
  it('writes the same bytes through 32-bit words (little-endian host) as through DataView (big-endian host)', () => {
    setLittleEndianHostForTesting(true);
    const words = write(join(dir, 'words.pcapng'));
    setLittleEndianHostForTesting(false);
    const portable = write(join(dir, 'portable.pcapng'));
    expect(words.length).toBeGreaterThan(10_000);
    expect(words.equals(portable)).toBe(true);
  });

  it('pads every frame with zero bytes, also where the buffer held older data', () => {
    const path = join(dir, 'pad.pcapng');
    const w = new PcapngWriter(path);
    w.addInterface('eth0');
    const ones = new Uint8Array(200).fill(0xff);
    // Past the 2 MiB of growing buffers (16 KiB doubling to 1 MiB), so later blocks land on bytes written before.
    for (let i = 0; i < 30_000; i++) w.appendPacket(0, i, ones, 0, 61 + (i % 4), 1);
    w.close();
    const file = readFileSync(path);
    let p = 0;
    let frames = 0;
    while (p < file.length) {
      const type = file.readUInt32LE(p);
      const total = file.readUInt32LE(p + 4);
      if (type === 6) {
        const capLen = file.readUInt32LE(p + 20);
        for (let k = capLen; k % 4 !== 0; k++) expect(file[p + 28 + k]).toBe(0);
        frames++;
      }
      p += total;
    }
    expect(frames).toBe(30_000);
  });

  it('refuses packets after close', () => {
    const w = new PcapngWriter(join(dir, 'closed.pcapng'));
    w.addInterface('eth0');
    w.close();
    expect(() => w.appendPacket(0, 1, new Uint8Array(60), 0, 60, 1)).toThrow(/already committed/);
  });
});
