import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPTURE_SNAPLEN, PcapWriter, readCapture } from '../../models/capture/index.js';

const dir = mkdtempSync(join(tmpdir(), 'podwire-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const newPath = () => join(dir, `t${fileNo++}.pcap`);

describe('PcapWriter (classic libpcap, nanosecond magic)', () => {
  it('writes the file header and records byte for byte', () => {
    const path = newPath();
    const w = new PcapWriter(path, { epochSeconds: 1_700_000_000 });
    w.addInterface('eth0');
    w.writePacket(0, 2_000_000_007, Uint8Array.of(9, 8, 7, 6, 5), 1, 3, 2);
    w.close();
    const hex = Buffer.from(readFileSync(path)).toString('hex');
    expect(hex).toBe(
      [
        // magic 0xa1b23c4d, version 2.4, thiszone 0, sigfigs 0, snaplen 262144, LINKTYPE_ETHERNET
        '4d3cb2a1', '0200', '0400', '00000000', '00000000', '00000400', '01000000',
        // 1_700_000_002 s = 0x6553f102, 7 ns, caplen 3, len 3, data (no padding in classic pcap)
        '02f15365', '07000000', '03000000', '03000000', '080706',
      ].join(''),
    );
  });

  it('round-trips nanosecond times (whole-second edges included), bytes and lengths', () => {
    const path = newPath();
    const epochSeconds = 1_799_999_999;
    const times = [0, 1, 999_999_999, 1_000_000_000, 1_000_000_001, 2 ** 53 - 1];
    const w = new PcapWriter(path, { epochSeconds });
    expect(w.addInterface('only')).toBe(0);
    times.forEach((t, i) => w.writePacket(0, t, new Uint8Array(i + 1).fill(i), 0, i + 1, 1));
    const big = new Uint8Array(CAPTURE_SNAPLEN + 1).fill(0x5a);
    w.writePacket(0, 5, big, 0, big.length, 0);
    w.close();
    const cap = readCapture(path);
    expect(cap.format).toBe('pcap');
    expect(cap.interfaces).toEqual([{ linkType: 1, snaplen: CAPTURE_SNAPLEN, tsresolNs: 1 }]);
    expect(cap.packets.map((p) => p.timeNs)).toEqual([...times, 5].map((t) => BigInt(epochSeconds) * 1_000_000_000n + BigInt(t)));
    expect(cap.packets.slice(0, -1).map((p) => Array.from(p.data))).toEqual(times.map((_, i) => new Array(i + 1).fill(i)));
    const last = cap.packets[cap.packets.length - 1]!;
    expect([last.data.length, last.origLen]).toEqual([CAPTURE_SNAPLEN, CAPTURE_SNAPLEN + 1]);
    // Classic pcap has no direction: the reader reports unknown.
    expect(new Set(cap.packets.map((p) => p.direction))).toEqual(new Set([0]));
  });

  it('holds one interface only, and rejects times past 32-bit seconds', () => {
    const w = new PcapWriter(newPath(), { epochSeconds: 4_294_967_295 });
    w.addInterface('a');
    expect(() => w.addInterface('b')).toThrow(/one interface/);
    w.writePacket(0, 999_999_999, new Uint8Array(1), 0, 1, 0);
    expect(() => w.writePacket(0, 1_000_000_000, new Uint8Array(1), 0, 1, 0)).toThrow(/32-bit seconds/);
    w.abort();
  });

  it('uses a temporary file: close renames it, abort removes it', () => {
    const sub = mkdtempSync(join(dir, 'tmp-'));
    const kept = join(sub, 'kept.pcap');
    const w = new PcapWriter(kept);
    w.addInterface('eth0');
    w.writePacket(0, 0, new Uint8Array(64), 0, 64, 0);
    expect(readdirSync(sub)).toEqual(['kept.pcap.tmp']);
    w.close();
    expect(readdirSync(sub)).toEqual(['kept.pcap']);

    const dropped = join(sub, 'dropped.pcap');
    const a = new PcapWriter(dropped);
    a.addInterface('eth0');
    for (let i = 0; i < 12_000; i++) a.writePacket(0, i, new Uint8Array(100), 0, 100, 0); // past one flush
    a.abort();
    expect(existsSync(dropped)).toBe(false);
    expect(readdirSync(sub)).toEqual(['kept.pcap']);
  });
});
