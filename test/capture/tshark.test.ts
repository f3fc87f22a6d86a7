import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapngWriter, PcapWriter, type PacketDirection } from '../../models/capture/index.js';
import { checkCaptureWithTshark, TSHARK_CHECKSUM_PREFS, tsharkFields, tsharkPath } from '../helpers/tshark.js';

const tshark = tsharkPath();
if (!tshark) console.warn('capture/tshark: skipping: tshark is not on PATH (apt-get install tshark)');

// Frames built by hand so this test does not depend on models/wire.
const MAC_A = [0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x02];
const MAC_B = [0x0a, 0x58, 0x0a, 0xf4, 0x01, 0x01];
const IP_A = [10, 244, 1, 2];
const IP_B = [10, 244, 1, 1];

/** RFC 1071 one's-complement sum of 16-bit words, folded and inverted. */
function inetChecksum(bytes: number[], initial = 0): number {
  let sum = initial;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
const be16 = (v: number) => [v >>> 8, v & 0xff];

function ethernet(dst: number[], src: number[], etherType: number, payload: number[]): Uint8Array {
  return Uint8Array.from([...dst, ...src, ...be16(etherType), ...payload]);
}

/** RFC 826 ARP for IPv4 over Ethernet. */
function arp(op: 1 | 2, sha: number[], spa: number[], tha: number[], tpa: number[]): number[] {
  return [...be16(1), ...be16(0x0800), 6, 4, ...be16(op), ...sha, ...spa, ...tha, ...tpa];
}

/** RFC 791 header without options; the checksum is right unless told otherwise. */
function ipv4(proto: number, src: number[], dst: number[], payload: number[], opts: { badChecksum?: boolean; extraTotalLength?: number } = {}): number[] {
  const h = [0x45, 0, ...be16(20 + payload.length + (opts.extraTotalLength ?? 0)), ...be16(0x1234), 0x40, 0, 64, proto, 0, 0, ...src, ...dst];
  const sum = inetChecksum(h) ^ (opts.badChecksum ? 0x0101 : 0);
  h[10] = sum >>> 8;
  h[11] = sum & 0xff;
  return [...h, ...payload];
}

/** Checksum over the RFC 768 / RFC 793 pseudo-header and the segment. */
function transportChecksum(proto: number, src: number[], dst: number[], segment: number[]): number {
  const pseudo = [...src, ...dst, 0, proto, ...be16(segment.length)];
  return inetChecksum([...pseudo, ...segment]);
}

function icmpEcho(seq: number): number[] {
  const m = [8, 0, 0, 0, ...be16(0x1234), ...be16(seq), 1, 2, 3, 4, 5, 6, 7, 8];
  const sum = inetChecksum(m);
  m[2] = sum >>> 8;
  m[3] = sum & 0xff;
  return m;
}

function udp(src: number[], dst: number[], data: number[], badChecksum = false): number[] {
  const u = [...be16(5555), ...be16(9000), ...be16(8 + data.length), 0, 0, ...data];
  const sum = transportChecksum(17, src, dst, u) ^ (badChecksum ? 0x0f0f : 0);
  u[6] = sum >>> 8;
  u[7] = sum & 0xff;
  return u;
}

function tcpSyn(src: number[], dst: number[]): number[] {
  const t = [...be16(40000), ...be16(80), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, ...be16(64240), 0, 0, 0, 0];
  const sum = transportChecksum(6, src, dst, t);
  t[16] = sum >>> 8;
  t[17] = sum & 0xff;
  return t;
}

const EPOCH = 1_700_000_000;

interface Frame {
  ifIndex: number;
  timeNs: number;
  direction: PacketDirection;
  bytes: Uint8Array;
}

const validFrames: Frame[] = [
  { ifIndex: 0, timeNs: 123, direction: 2, bytes: ethernet([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], MAC_A, 0x0806, arp(1, MAC_A, IP_A, [0, 0, 0, 0, 0, 0], IP_B)) },
  { ifIndex: 1, timeNs: 1_000_000_007, direction: 1, bytes: ethernet(MAC_A, MAC_B, 0x0806, arp(2, MAC_B, IP_B, MAC_A, IP_A)) },
  { ifIndex: 0, timeNs: 2_000_000_000, direction: 0, bytes: ethernet(MAC_B, MAC_A, 0x0800, ipv4(1, IP_A, IP_B, icmpEcho(1))) },
  { ifIndex: 1, timeNs: 2_999_999_999, direction: 2, bytes: ethernet(MAC_B, MAC_A, 0x0800, ipv4(17, IP_A, IP_B, udp(IP_A, IP_B, [104, 105, 33]))) },
  { ifIndex: 0, timeNs: 86_400_000_000_001, direction: 1, bytes: ethernet(MAC_A, MAC_B, 0x0800, ipv4(6, IP_B, IP_A, tcpSyn(IP_B, IP_A))) },
];

describe.skipIf(!tshark)('captures checked by tshark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podwire-tshark-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function writePcapng(name: string, frames: Frame[]): string {
    const path = join(dir, name);
    const w = new PcapngWriter(path, { epochSeconds: EPOCH });
    w.addInterface('n1/p1/eth0', 'pod p1 eth0');
    // The second interface is declared after the first packet: its IDB still precedes its EPBs.
    let second = false;
    for (const f of frames) {
      if (f.ifIndex === 1 && !second) second = w.addInterface('n1/cni0') === 1;
      w.writePacket(f.ifIndex, f.timeNs, f.bytes, 0, f.bytes.length, f.direction);
    }
    w.close();
    return path;
  }

  it('reads a pcapng of valid frames with interface names, directions and nanosecond times, and finds no problem', async () => {
    const path = writePcapng('valid.pcapng', validFrames);
    const rows = await tsharkFields(
      path,
      ['frame.number', 'frame.interface_name', 'frame.interface_description', 'frame.packet_flags_direction', 'frame.p2p_dir', 'frame.time_epoch', 'frame.protocols', 'ip.checksum.status', 'icmp.checksum.status', 'udp.checksum.status', 'tcp.checksum.status'],
      { args: TSHARK_CHECKSUM_PREFS },
    );
    const p2p = (d: PacketDirection) => (d === 1 ? '1' : d === 2 ? '0' : ''); // Wireshark: 1 received, 0 sent
    const flags = (d: PacketDirection) => (d === 0 ? '' : `0x0000000${d}`);
    expect(rows.map((r) => r.slice(0, 6))).toEqual(
      validFrames.map((f, i) => [
        String(i + 1),
        f.ifIndex === 0 ? 'n1/p1/eth0' : 'n1/cni0',
        f.ifIndex === 0 ? 'pod p1 eth0' : '',
        flags(f.direction),
        p2p(f.direction),
        `${EPOCH + Math.floor(f.timeNs / 1e9)}.${String(f.timeNs % 1e9).padStart(9, '0')}`,
      ]),
    );
    expect(rows.map((r) => r[6])).toEqual(['eth:ethertype:arp', 'eth:ethertype:arp', 'eth:ethertype:ip:icmp:data', 'eth:ethertype:ip:udp:data', 'eth:ethertype:ip:tcp']);
    // Status 1 is "Good": the checks ran (2 would be "Unverified").
    expect(rows.slice(2).map((r) => r.slice(7).filter((s) => s !== ''))).toEqual([['1', '1'], ['1', '1'], ['1', '1']]);

    const check = await checkCaptureWithTshark(path);
    expect(check).toEqual({ frames: validFrames.length, problems: [], warnings: [] });
  });

  it('reads the classic pcap writer output with nanosecond times', async () => {
    const path = join(dir, 'valid.pcap');
    const w = new PcapWriter(path, { epochSeconds: EPOCH });
    w.addInterface('eth0');
    for (const f of validFrames) w.writePacket(0, f.timeNs, f.bytes, 0, f.bytes.length, f.direction);
    w.close();
    const rows = await tsharkFields(path, ['frame.time_epoch', 'frame.len']);
    expect(rows).toEqual(validFrames.map((f) => [`${EPOCH + Math.floor(f.timeNs / 1e9)}.${String(f.timeNs % 1e9).padStart(9, '0')}`, String(f.bytes.length)]));
    expect(await checkCaptureWithTshark(path)).toEqual({ frames: validFrames.length, problems: [], warnings: [] });
  });

  it('reports a wrong IPv4 header checksum, a wrong UDP checksum and a malformed frame, each with its frame number', async () => {
    const badIp = ethernet(MAC_B, MAC_A, 0x0800, ipv4(1, IP_A, IP_B, icmpEcho(2), { badChecksum: true }));
    const badUdp = ethernet(MAC_B, MAC_A, 0x0800, ipv4(17, IP_A, IP_B, udp(IP_A, IP_B, [1, 2, 3, 4], true)));
    const truncated = ethernet(MAC_B, MAC_A, 0x0800, ipv4(1, IP_A, IP_B, icmpEcho(3), { extraTotalLength: 40 }));
    const cutHeader = ethernet(MAC_B, MAC_A, 0x0800, ipv4(1, IP_A, IP_B, icmpEcho(4)).slice(0, 10));
    const frames: Frame[] = [
      validFrames[0]!,
      { ifIndex: 0, timeNs: 10, direction: 2, bytes: badIp },
      validFrames[2]!,
      { ifIndex: 0, timeNs: 20, direction: 2, bytes: badUdp },
      { ifIndex: 0, timeNs: 30, direction: 2, bytes: truncated },
      { ifIndex: 0, timeNs: 40, direction: 2, bytes: cutHeader },
    ];
    const check = await checkCaptureWithTshark(writePcapng('bad.pcapng', frames));
    expect(check.frames).toBe(6);
    // Frames 1 and 3 are valid; every other frame is reported, under its own number.
    expect(check.problems).toEqual([
      expect.stringMatching(/^frame 2: \[Error\/Checksum\] Bad checksum .*\(bad: ip\)$/),
      expect.stringMatching(/^frame 4: \[Error\/Checksum\] Bad checksum .*\(bad: udp\)$/),
      expect.stringMatching(/^frame 5: \[Error\] IPv4 total length exceeds packet length/),
      expect.stringMatching(/^frame 6: \[Error\] IPv4 total length exceeds packet length/),
      expect.stringMatching(/^frame 6: \[Error\/Malformed\] Malformed Packet/),
    ]);
  });

  it('reports a file tshark cannot read to the end', async () => {
    const path = writePcapng('whole.pcapng', validFrames);
    const cut = join(dir, 'cut.pcapng');
    const bytes = readFileSync(path);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    const check = await checkCaptureWithTshark(cut);
    expect(check.frames).toBe(validFrames.length - 1);
    expect(check.problems.some((p) => p.startsWith('tshark:'))).toBe(true);
  });
});
