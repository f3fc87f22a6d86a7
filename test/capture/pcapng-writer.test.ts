import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPTURE_SNAPLEN, PcapngWriter, readCapture, type PacketDirection } from '../../models/capture/index.js';

const dir = mkdtempSync(join(tmpdir(), 'podwire-pcapng-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const newPath = () => join(dir, `t${fileNo++}.pcapng`);

/** Deterministic bytes, different for every packet. */
function payload(seed: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('PcapngWriter round trip through readCapture', () => {
  it('keeps interface names, descriptions, tsresol, link type and snaplen', () => {
    const path = newPath();
    const w = new PcapngWriter(path);
    expect(w.addInterface('n1/p1/eth0')).toBe(0);
    expect(w.addInterface('n1/cni0', 'bridge on node n1')).toBe(1);
    w.close();
    const cap = readCapture(path);
    expect(cap.format).toBe('pcapng');
    expect(cap.interfaces).toEqual([
      { name: 'n1/p1/eth0', linkType: 1, snaplen: CAPTURE_SNAPLEN, tsresolNs: 1 },
      { name: 'n1/cni0', description: 'bridge on node n1', linkType: 1, snaplen: CAPTURE_SNAPLEN, tsresolNs: 1 },
    ]);
    expect(cap.packets).toEqual([]);
  });

  it('keeps nanosecond timestamps exactly with a large epoch, including carries between the 32-bit halves', () => {
    const epochSeconds = 1_700_000_000;
    const epochNs = BigInt(epochSeconds) * 1_000_000_000n;
    // epochNs's low half is 0x7ec40000 ... choose times that do and do not carry into the high half.
    const epochLo = Number(epochNs & 0xffffffffn);
    const times = [0, 1, 999_999_999, 1_000_000_000, 2 ** 32 - 1, 2 ** 32, 2 ** 32 - epochLo, 2 ** 32 - epochLo - 1, 2 ** 53 - 1, 123_456_789_012_345];
    const path = newPath();
    const w = new PcapngWriter(path, { epochSeconds });
    w.addInterface('eth0');
    times.forEach((t, i) => w.writePacket(0, t, payload(i, 60), 0, 60, 1));
    w.close();
    expect(readCapture(path).packets.map((p) => p.timeNs)).toEqual(times.map((t) => epochNs + BigInt(t)));
  });

  it('keeps directions, interface indexes, bytes and original lengths; slices use off/len', () => {
    const path = newPath();
    const w = new PcapngWriter(path);
    const a = w.addInterface('a');
    const big = payload(7, 100);
    w.writePacket(a, 10, big, 0, 100, 0);
    const b = w.addInterface('b'); // an interface added between packets
    w.writePacket(b, 20, big, 3, 41, 1);
    w.writePacket(a, 30, big, 99, 1, 2);
    w.writePacket(b, 40, big, 50, 0, 2);
    w.close();
    const cap = readCapture(path);
    expect(cap.interfaces.map((i) => i.name)).toEqual(['a', 'b']);
    expect(cap.packets.map((p) => [p.ifIndex, p.timeNs, p.direction, Array.from(p.data), p.origLen])).toEqual([
      [0, 10n, 0, Array.from(big), 100],
      [1, 20n, 1, Array.from(big.subarray(3, 44)), 41],
      [0, 30n, 2, [big[99]], 1],
      [1, 40n, 2, [], 0],
    ]);
  });

  it('cuts frames at the snap length and keeps the original length', () => {
    const path = newPath();
    const w = new PcapngWriter(path);
    w.addInterface('jumbo');
    const data = payload(3, CAPTURE_SNAPLEN + 5);
    w.writePacket(0, 0, data, 0, data.length, 2);
    w.close();
    const [p] = readCapture(path).packets;
    expect(p!.origLen).toBe(CAPTURE_SNAPLEN + 5);
    expect(p!.data.length).toBe(CAPTURE_SNAPLEN);
    expect(Buffer.compare(p!.data, data.subarray(0, CAPTURE_SNAPLEN))).toBe(0);
  });

  it('streams many packets across buffer flushes (about 3 MiB through a 1 MiB buffer)', () => {
    const path = newPath();
    const w = new PcapngWriter(path, { epochSeconds: 1_800_000_000 });
    w.addInterface('x', 'first');
    w.addInterface('y');
    const n = 4500;
    const lens: number[] = [];
    for (let i = 0; i < n; i++) {
      const len = (i * 389) % 1515; // 0..1514, every residue mod 4
      lens.push(len);
      const buf = payload(i, len + 8);
      w.writePacket(i % 2, i * 1_000_003, buf, 8, len, ((i % 3) as PacketDirection));
    }
    w.close();
    const cap = readCapture(path);
    expect(readFileSync(path).length).toBeGreaterThan(3 << 20);
    expect(cap.packets.length).toBe(n);
    const wrong: number[] = [];
    cap.packets.forEach((p, i) => {
      const want = payload(i, lens[i]! + 8).subarray(8);
      const ok =
        p.ifIndex === i % 2 &&
        p.timeNs === 1_800_000_000n * 1_000_000_000n + BigInt(i * 1_000_003) &&
        p.direction === i % 3 &&
        p.origLen === lens[i] &&
        Buffer.compare(p.data, want) === 0;
      if (!ok) wrong.push(i);
    });
    expect(wrong).toEqual([]);
  });

  it('property: any packets, times below 2^53 and epochs round-trip exactly', () => {
    const packet = fc.record({
      ifIndex: fc.nat(2),
      timeNs: fc.maxSafeNat(),
      data: fc.uint8Array({ maxLength: 80 }),
      direction: fc.constantFrom<PacketDirection>(0, 1, 2),
    });
    fc.assert(
      fc.property(fc.nat(4_000_000_000), fc.array(packet, { maxLength: 20 }), (epochSeconds, packets) => {
        const path = newPath();
        const w = new PcapngWriter(path, { epochSeconds });
        for (const name of ['i0', 'i1', 'i2']) w.addInterface(name);
        for (const p of packets) w.writePacket(p.ifIndex, p.timeNs, p.data, 0, p.data.length, p.direction);
        w.close();
        const got = readCapture(path).packets;
        rmSync(path);
        expect(got.map((p) => [p.ifIndex, p.timeNs, p.direction, Array.from(p.data)])).toEqual(
          packets.map((p) => [p.ifIndex, BigInt(epochSeconds) * 1_000_000_000n + BigInt(p.timeNs), p.direction, Array.from(p.data)]),
        );
      }),
      { numRuns: 60 },
    );
  });
});

describe('PcapngWriter block layout (byte level)', () => {
  it('writes SHB, IDB and EPB exactly as the pcapng draft lays them out', () => {
    const path = newPath();
    const w = new PcapngWriter(path, { epochSeconds: 0 });
    w.addInterface('n1/p1/eth0', 'pod');
    w.writePacket(0, 0x1_0000_0002, Uint8Array.of(0xaa, 0xbb, 0xcc), 0, 3, 2);
    w.writePacket(0, 5, Uint8Array.of(1, 2, 3, 4), 0, 4, 0);
    w.close();
    const hex = Buffer.from(readFileSync(path)).toString('hex');
    const expected = [
      // SHB: type, total 44, byte-order magic, v1.0, section length -1,
      // shb_userappl "podwire" (7 bytes + 1 pad), opt_endofopt, total 44.
      '0a0d0d0a', '2c000000', '4d3c2b1a', '0100', '0000', 'ffffffffffffffff',
      '0400', '0700', '706f6477697265', '00', '00000000', '2c000000',
      // IDB: type 1, total 56, LINKTYPE_ETHERNET, reserved, snaplen 262144,
      // if_name "n1/p1/eth0" (10 + 2 pad), if_description "pod" (3 + 1 pad),
      // if_tsresol 9 (1 + 3 pad), opt_endofopt, total 56.
      '01000000', '38000000', '0100', '0000', '00000400',
      '0200', '0a00', '6e312f70312f65746830', '0000',
      '0300', '0300', '706f64', '00',
      '0900', '0100', '09', '000000',
      '00000000', '38000000',
      // EPB: type 6, total 48, interface 0, ts high 1, ts low 2, caplen 3, len 3,
      // data + 1 pad, epb_flags = 2 (outbound), opt_endofopt, total 48.
      '06000000', '30000000', '00000000', '01000000', '02000000', '03000000', '03000000',
      'aabbcc', '00', '0200', '0400', '02000000', '00000000', '30000000',
      // EPB without options (direction unknown): total 36, no padding needed.
      '06000000', '24000000', '00000000', '00000000', '05000000', '04000000', '04000000',
      '01020304', '24000000',
    ].join('');
    expect(hex).toBe(expected);
  });

  it('every block has equal lengths at both ends and zeroed 32-bit padding, even after the buffer is reused', () => {
    const path = newPath();
    const w = new PcapngWriter(path);
    w.addInterface('odd-name', 'desc!');
    // Non-zero bytes everywhere so stale buffer content would show up in padding.
    const junk = new Uint8Array(2000).fill(0xff);
    for (let i = 0; i < 2500; i++) w.writePacket(0, i, junk, 0, (i * 7) % 1500, ((i % 3) as PacketDirection));
    w.close();
    const bytes = readFileSync(path);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let off = 0;
    let epbs = 0;
    while (off < bytes.length) {
      const type = dv.getUint32(off, true);
      const total = dv.getUint32(off + 4, true);
      expect(total % 4).toBe(0);
      expect(dv.getUint32(off + total - 4, true)).toBe(total);
      if (type === 6) {
        const capLen = dv.getUint32(off + 20, true);
        const padEnd = off + 28 + capLen + (-capLen & 3);
        for (let p = off + 28 + capLen; p < padEnd; p++) expect(bytes[p]).toBe(0);
        const dir = epbs % 3;
        expect(total).toBe(32 + capLen + (-capLen & 3) + (dir ? 12 : 0));
        epbs++;
      }
      off += total;
    }
    expect(off).toBe(bytes.length);
    expect(epbs).toBe(2500);
  });
});

describe('PcapngWriter temporary file', () => {
  it('writes to <path>.tmp and renames on close, leaving no .tmp', () => {
    const path = newPath();
    const w = new PcapngWriter(path);
    w.addInterface('eth0');
    w.writePacket(0, 1, new Uint8Array(60), 0, 60, 1);
    expect(existsSync(`${path}.tmp`)).toBe(true);
    expect(existsSync(path)).toBe(false);
    w.close();
    expect(existsSync(path)).toBe(true);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    w.close(); // idempotent
    w.abort(); // a finished capture is not removed
    expect(existsSync(path)).toBe(true);
    expect(() => w.writePacket(0, 2, new Uint8Array(60), 0, 60, 1)).toThrow(/committed/);
  });

  it('abort leaves neither the file nor the .tmp', () => {
    const sub = mkdtempSync(join(dir, 'abort-'));
    const path = join(sub, 'x.pcapng');
    const w = new PcapngWriter(path);
    w.addInterface('eth0');
    for (let i = 0; i < 20_000; i++) w.writePacket(0, i, new Uint8Array(100), 0, 100, 2); // past one flush
    w.abort();
    expect(readdirSync(sub)).toEqual([]);
    expect(() => w.close()).toThrow(/aborted/);
  });

  it('rejects bad arguments without writing anything', () => {
    const path = newPath();
    const w = new PcapngWriter(path);
    const buf = new Uint8Array(10);
    expect(() => w.writePacket(0, 0, buf, 0, 10, 0)).toThrow(/interface 0/);
    w.addInterface('eth0');
    expect(() => w.writePacket(1, 0, buf, 0, 10, 0)).toThrow(/interface 1/);
    expect(() => w.writePacket(0, -1, buf, 0, 10, 0)).toThrow(/time/);
    expect(() => w.writePacket(0, 1.5, buf, 0, 10, 0)).toThrow(/time/);
    expect(() => w.writePacket(0, 2 ** 53, buf, 0, 10, 0)).toThrow(/time/);
    expect(() => w.writePacket(0, 0, buf, 5, 6, 0)).toThrow(/outside/);
    expect(() => w.writePacket(0, 0, buf, 0, 10, 3 as PacketDirection)).toThrow(/direction/);
    w.close();
    expect(readCapture(path).packets).toEqual([]);
    expect(() => new PcapngWriter(newPath(), { epochSeconds: -1 })).toThrow(/epochSeconds/);
    expect(() => new PcapngWriter(newPath(), { epochSeconds: 1.5 })).toThrow(/epochSeconds/);
  });
});
