import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelRefDir } from '../helpers/kernel-ref.js';
import { PcapngWriter, readCapture, type CapturedPacket } from '../../models/capture/index.js';
import { ascii, block, concat, epb, idb, opb, pcapFile, shb, spb, u32, u64 } from './capture-bytes.js';

const frame = (n: number, len = 14) => new Uint8Array(len).fill(n);
const summary = (ps: CapturedPacket[]) => ps.map((p) => [p.ifIndex, p.timeNs, p.direction, Array.from(p.data), p.origLen]);

describe('readCapture: pcapng', () => {
  for (const le of [true, false]) {
    it(`reads a ${le ? 'little' : 'big'}-endian section with mixed resolutions, offsets and block kinds`, () => {
      const flags = (d: number) => [2, u32(le, d)] as [number, Uint8Array];
      const file = concat(
        shb(le, [[4, ascii('hand-built')]]),
        idb(le, 1, 65535, [[2, ascii('us-default')]]), // no if_tsresol: microseconds
        idb(le, 1, 0, [[2, ascii('ns')], [3, ascii('described')], [9, Uint8Array.of(9)]]),
        idb(le, 101, 1500, [[9, Uint8Array.of(0x80 | 10)]]), // 2^-10 s units, raw IP link type
        idb(le, 1, 1500, [[9, Uint8Array.of(12)], [14, u64(le, 100n)]]), // picoseconds, +100 s offset
        block(le, 0x0bad, new Uint8Array(8).fill(0xee)), // unknown block: skipped
        epb(le, 0, 5n, frame(1), 60, [flags(1)]),
        epb(le, 1, 0x1_0000_0000n + 7n, frame(2, 3), 3, [flags(2), [1, ascii('a comment')]]),
        epb(le, 2, 1536n, frame(3, 1)), // 1.5 s in 2^-10 units
        epb(le, 3, 2_500_000_000_001n, frame(4, 5), 5, [flags(3)]), // 2.5 s + 1 ps; direction 3 is invalid
        opb(le, 1, 42n, frame(5, 2), [flags(2)]),
        spb(le, frame(6, 9)),
      );
      const cap = readCapture(file);
      expect(cap.format).toBe('pcapng');
      expect(cap.interfaces).toEqual([
        { name: 'us-default', linkType: 1, snaplen: 65535, tsresolNs: 1000 },
        { name: 'ns', description: 'described', linkType: 1, snaplen: 0, tsresolNs: 1 },
        { linkType: 101, snaplen: 1500, tsresolNs: 1e9 / 1024 },
        { linkType: 1, snaplen: 1500, tsresolNs: 0.001 },
      ]);
      expect(summary(cap.packets)).toEqual([
        [0, 5000n, 1, Array.from(frame(1)), 60],
        [1, 0x1_0000_0007n, 2, Array.from(frame(2, 3)), 3],
        [2, 1_500_000_000n, 0, Array.from(frame(3, 1)), 1],
        [3, 102_500_000_000n, 0, Array.from(frame(4, 5)), 5],
        [1, 42n, 2, Array.from(frame(5, 2)), 2],
        [0, 0n, 0, Array.from(frame(6, 9)), 9],
      ]);
    });
  }

  it('reads several sections of different byte order, numbering interfaces across them', () => {
    const file = concat(
      shb(true),
      idb(true, 1, 0, [[2, ascii('s1-a')], [9, Uint8Array.of(9)]]),
      epb(true, 0, 10n, frame(1)),
      shb(false),
      idb(false, 1, 0, [[2, ascii('s2-a')], [9, Uint8Array.of(9)]]),
      idb(false, 1, 0, [[2, ascii('s2-b')], [9, Uint8Array.of(6)]]),
      epb(false, 1, 20n, frame(2)),
      epb(false, 0, 30n, frame(3)),
    );
    const cap = readCapture(file);
    expect(cap.interfaces.map((i) => i.name)).toEqual(['s1-a', 's2-a', 's2-b']);
    expect(cap.packets.map((p) => [p.ifIndex, p.timeNs])).toEqual([[0, 10n], [2, 20_000n], [1, 30n]]);
  });

  it('rejects damaged files instead of misreading them', () => {
    const good = concat(shb(true), idb(true, 1, 0), epb(true, 0, 1n, frame(1)));
    const badTrailer = good.slice();
    new DataView(badTrailer.buffer).setUint32(badTrailer.length - 4, 999, true);
    expect(() => readCapture(badTrailer)).toThrow(/lengths/);
    expect(() => readCapture(good.subarray(0, good.length - 4))).toThrow(/block length/);
    expect(() => readCapture(concat(shb(true), epb(true, 0, 1n, frame(1))))).toThrow(/interface 0/);
    const badBom = good.slice();
    badBom[8] = 0;
    expect(() => readCapture(badBom)).toThrow(/byte-order/);
    expect(() => readCapture(new Uint8Array(24).fill(7))).toThrow(/not a pcap/);
  });
});

describe('readCapture: classic pcap', () => {
  for (const le of [true, false]) {
    for (const nano of [true, false]) {
      it(`reads ${le ? 'little' : 'big'}-endian ${nano ? 'nanosecond' : 'microsecond'} files`, () => {
        const cap = readCapture(pcapFile(le, nano, 1, [[1_700_000_000, 123, frame(1, 60)], [4_294_967_295, 999_999, frame(2, 1)]]));
        const unit = nano ? 1n : 1000n;
        expect(cap.format).toBe('pcap');
        expect(cap.interfaces).toEqual([{ linkType: 1, snaplen: 65535, tsresolNs: nano ? 1 : 1000 }]);
        expect(summary(cap.packets)).toEqual([
          [0, 1_700_000_000_000_000_000n + 123n * unit, 0, Array.from(frame(1, 60)), 60],
          [0, 4_294_967_295_000_000_000n + 999_999n * unit, 0, [2], 1],
        ]);
      });
    }
  }

  it('rejects a record cut short', () => {
    const f = pcapFile(true, true, 1, [[1, 2, frame(1, 60)]]);
    expect(() => readCapture(f.subarray(0, f.length - 1))).toThrow(/cut short/);
  });
});

// The kernel reference captures: tcpdump -Q in|out --time-stamp-precision=nano
// writes the raw classic pcaps; shared/kernel-ref/lib/pcapmerge.py (an
// independent Python writer) merged them into one pcapng per interface.
const kernelRef = kernelRefDir();
if (!kernelRef) console.warn('capture-reader: skipping kernel reference captures: no shared/kernel-ref beside the repository');
const scenarios = kernelRef ? readdirSync(kernelRef).filter((d) => existsSync(join(kernelRef, d, 'pcap', 'raw'))) : [];

describe.skipIf(!kernelRef)('readCapture on the kernel reference captures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podwire-kref-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds reference scenarios', () => {
    expect(scenarios.length).toBeGreaterThan(0);
  });

  for (const scenario of scenarios) {
    const pcapDir = join(kernelRef!, scenario, 'pcap');

    it(`${scenario}: reads every tcpdump raw pcap with the packet count tcpdump reported`, () => {
      // capture-stats.txt lines: "ref-n1_eth0.in: 4 packets captured 0 packets dropped by kernel"
      const stats = new Map<string, number>();
      for (const m of readFileSync(join(pcapDir, 'capture-stats.txt'), 'utf8').matchAll(/^(\S+): (\d+) packets? captured/gm)) {
        stats.set(m[1]!, Number(m[2]));
      }
      const raws = readdirSync(join(pcapDir, 'raw')).filter((f) => f.endsWith('.pcap'));
      expect(raws.length).toBeGreaterThan(0);
      for (const f of raws) {
        const cap = readCapture(join(pcapDir, 'raw', f));
        expect(cap.format, f).toBe('pcap');
        expect(cap.interfaces, f).toEqual([{ linkType: 1, snaplen: 262144, tsresolNs: 1 }]);
        expect(cap.packets.length, f).toBe(stats.get(f.replace(/\.pcap$/, '')));
        for (const p of cap.packets) {
          expect(p.data.length, f).toBe(p.origLen);
          expect(p.timeNs, f).toBeGreaterThan(1_600_000_000n * 1_000_000_000n); // wall-clock times, whole ns
        }
      }
    });

    it(`${scenario}: each merged pcapng equals its in+out raw pcaps, and PcapngWriter reproduces its blocks byte for byte`, () => {
      const merged = readdirSync(pcapDir).filter((f) => f.endsWith('.pcapng'));
      expect(merged.length).toBeGreaterThan(0);
      for (const f of merged) {
        const base = f.replace(/\.pcapng$/, '');
        const ref = readCapture(join(pcapDir, f));
        const [ns, ifName] = [base.slice(0, base.indexOf('_')), base.slice(base.indexOf('_') + 1)];
        expect(ref.interfaces, f).toEqual([{ name: `${ns}/${ifName}`, linkType: 1, snaplen: 262144, tsresolNs: 1 }]);

        const expected: CapturedPacket[] = [];
        for (const [suffix, direction] of [['in', 1], ['out', 2]] as const) {
          const raw = join(pcapDir, 'raw', `${base}.${suffix}.pcap`);
          if (existsSync(raw)) expected.push(...readCapture(raw).packets.map((p) => ({ ...p, direction })));
        }
        expected.sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : a.direction - b.direction));
        expect(summary(ref.packets), f).toEqual(summary(expected));

        // Rewrite with our writer: everything after the SHB (IDB, EPBs) must match pcapmerge.py's bytes.
        if (ref.packets.length === 0) continue;
        const epochSeconds = Number(ref.packets[0]!.timeNs / 1_000_000_000n);
        const out = join(dir, `${scenario}-${f}`);
        const w = new PcapngWriter(out, { epochSeconds });
        w.addInterface(ref.interfaces[0]!.name!);
        for (const p of ref.packets) {
          w.writePacket(0, Number(p.timeNs - BigInt(epochSeconds) * 1_000_000_000n), p.data, 0, p.data.length, p.direction);
        }
        w.close();
        const ours = readFileSync(out);
        const theirs = readFileSync(join(pcapDir, f));
        const afterShb = (b: Buffer) => b.subarray(b.readUInt32LE(4));
        expect(Buffer.compare(afterShb(ours), afterShb(theirs)), f).toBe(0);
      }
    });
  }
});
