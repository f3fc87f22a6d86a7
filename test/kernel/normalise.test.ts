/**
 * The frame normaliser and capture comparison of the kernel harness, on frames
 * written byte by byte here (no root needed).
 */
import { describe, expect, it } from 'vitest';
import { type CapturedFrame, mergeByTime } from './kernel-capture.js';
import { compareCapturePoints, frameDifferences, type NormalisedFrame, normaliseFrame, summariseFrame } from './normalise.js';

function hex(...parts: string[]): Uint8Array {
  return Uint8Array.from(Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex'));
}

const P1 = '0a580af40102';
const P2 = '0a580af40103';
const ETH_P1_TO_P2 = `${P2}${P1}0800`;
const payload = (n: number) => 'a5'.repeat(n);

// ARP request who-has 10.244.1.3 tell 10.244.1.2 (RFC 826 layout).
const arpRequest = hex('ffffffffffff', P1, '0806', '0001 0800 06 04 0001', P1, '0af40102', '000000000000', '0af40103');
// ICMP echo request id 0x1234 seq 1, TTL 64, DF, 56 bytes of data; ident and checksums are junk on purpose.
const echoRequest = hex(ETH_P1_TO_P2, '4500 0054 beef 4000 40 01 ffff 0af40102 0af40103', '0800 ffff 1234 0001', payload(56));
// UDP 5555 -> 9000, 20 bytes of payload, TTL 63, DF.
const udp = hex(ETH_P1_TO_P2, '4500 0030 0001 4000 3f 11 0000 0af40102 0af40203', '15b3 2328 001c 0000', payload(20));
// TCP SYN-ACK 80 -> 49152 with a 4-byte IP option (IHL 6).
const synAck = hex(ETH_P1_TO_P2, '4600 002c 0000 0000 40 06 0000 0af40103 0af40102 01010101',
  '0050 c000 00000001 00000002 50 12 ffff 0000 0000');
// ICMP port unreachable quoting a UDP datagram 10.244.1.2 -> 10.244.1.3.
const portUnreachable = hex(ETH_P1_TO_P2, '45c0 0038 0000 0000 40 01 0000 0af40103 0af40102', '0303 0000 00000000',
  '4500 0030 0001 4000 40 11 0000 0af40102 0af40103', '15b3 2328 001c 0000');

describe('normaliseFrame', () => {
  it('reads every ARP field', () => {
    expect(normaliseFrame(arpRequest, 'out')).toEqual({
      dir: 'out',
      ethSrc: '0a:58:0a:f4:01:02',
      ethDst: 'ff:ff:ff:ff:ff:ff',
      ethType: 0x0806,
      arp: { op: 1, senderMac: '0a:58:0a:f4:01:02', senderIp: '10.244.1.2', targetMac: '00:00:00:00:00:00', targetIp: '10.244.1.3' },
    });
  });

  it('reads IPv4 and ICMP echo fields, leaving out ident and checksums', () => {
    expect(normaliseFrame(echoRequest, 2)).toEqual({
      dir: 'out',
      ethSrc: '0a:58:0a:f4:01:02',
      ethDst: '0a:58:0a:f4:01:03',
      ethType: 0x0800,
      ipv4: { src: '10.244.1.2', dst: '10.244.1.3', ttl: 64, protocol: 1, df: true, totalLength: 84 },
      icmp: { type: 8, code: 0, id: 0x1234, seq: 1 },
    });
    const otherIdent = echoRequest.slice();
    otherIdent[18] = 0x00; // IPv4 identification
    otherIdent[24] = 0x00; // IPv4 checksum
    otherIdent[40] = 0x00; // echo payload (iputils' timestamp)
    expect(normaliseFrame(otherIdent, 2)).toEqual(normaliseFrame(echoRequest, 2));
  });

  it('leaves out a VXLAN packet\'s source port, a keyed hash of the inner flow, and keeps the rest', () => {
    // UDP 51703 -> 8472 carrying 8 bytes of VXLAN header (VNI 1).
    const vxlan = (sport: string, dport = '2118') => hex(ETH_P1_TO_P2, '4500 0024 0001 0000 40 11 0000 c0a83103 c0a83102', `${sport} ${dport} 0010 0000`, '0800000000000100');
    expect(normaliseFrame(vxlan('c9f7'), 1).udp).toEqual({ srcPort: 0, dstPort: 8472, length: 16 });
    expect(normaliseFrame(vxlan('af1d'), 1)).toEqual(normaliseFrame(vxlan('c9f7'), 1));
    // The IANA port too; any other destination keeps its source port.
    expect(normaliseFrame(vxlan('c9f7', '12b5'), 1).udp!.srcPort).toBe(0);
    expect(normaliseFrame(vxlan('c9f7', '2119'), 1).udp!.srcPort).toBe(0xc9f7);
  });

  it('reads UDP ports and length', () => {
    const f = normaliseFrame(udp, 1);
    expect(f.dir).toBe('in');
    expect(f.ipv4).toEqual({ src: '10.244.1.2', dst: '10.244.2.3', ttl: 63, protocol: 17, df: true, totalLength: 48 });
    expect(f.udp).toEqual({ srcPort: 5555, dstPort: 9000, length: 28 });
  });

  it('reads TCP ports and flags behind IP options', () => {
    const f = normaliseFrame(synAck, 'in');
    expect(f.tcp).toEqual({ srcPort: 80, dstPort: 49152, flags: 'S.' });
    expect(f.ipv4!.df).toBe(false);
  });

  it('reads what an ICMP error quotes', () => {
    expect(normaliseFrame(portUnreachable, 'in').icmp).toEqual({
      type: 3,
      code: 3,
      quoted: { src: '10.244.1.2', dst: '10.244.1.3', protocol: 17 },
    });
  });

  it('marks fragments and reads no transport header past the first', () => {
    const first = udp.slice();
    first[20] = 0x20; // MF, offset 0
    first[21] = 0x00;
    expect(normaliseFrame(first, 'out').ipv4).toMatchObject({ mf: true, fragOffset: 0, df: false });
    expect(normaliseFrame(first, 'out').udp).toBeDefined();
    const later = udp.slice();
    later[20] = 0x00;
    later[21] = 0xb9; // offset 185 * 8 = 1480
    const f = normaliseFrame(later, 'out');
    expect(f.ipv4).toMatchObject({ mf: false, fragOffset: 1480 });
    expect(f.udp).toBeUndefined();
  });

  it('flags frames shorter than their headers', () => {
    expect(normaliseFrame(arpRequest.subarray(0, 30), 'in').truncated).toBe(true);
    expect(normaliseFrame(arpRequest.subarray(0, 10), 'in')).toMatchObject({ truncated: true, ethType: 0 });
    const cut = normaliseFrame(udp.subarray(0, 38), 'in');
    expect(cut.truncated).toBe(true);
    expect(cut.udp).toBeUndefined();
  });

  it('prints one line per frame in the manner of tcpdump -e -n', () => {
    expect(summariseFrame(normaliseFrame(arpRequest, 'out'))).toBe(
      'out 0a:58:0a:f4:01:02 > ff:ff:ff:ff:ff:ff, ARP, Request who-has 10.244.1.3 tell 10.244.1.2 (0a:58:0a:f4:01:02, target-mac 00:00:00:00:00:00)',
    );
    expect(summariseFrame(normaliseFrame(echoRequest, 'out'))).toBe(
      'out 0a:58:0a:f4:01:02 > 0a:58:0a:f4:01:03, IPv4 (ttl 64, DF, length 84) 10.244.1.2 > 10.244.1.3: ICMP echo request, id 4660, seq 1',
    );
    expect(summariseFrame(normaliseFrame(udp, 'in'))).toBe(
      'in  0a:58:0a:f4:01:02 > 0a:58:0a:f4:01:03, IPv4 (ttl 63, DF, length 48) 10.244.1.2.5555 > 10.244.2.3.9000: UDP, length 20',
    );
    expect(summariseFrame(normaliseFrame(synAck, 'in'))).toContain('10.244.1.3.80 > 10.244.1.2.49152: Flags [S.]');
  });
});

describe('compareCapturePoints', () => {
  const a = [normaliseFrame(arpRequest, 'out'), normaliseFrame(echoRequest, 'out'), normaliseFrame(udp, 'out')];

  it('finds nothing when both sides hold the same frames', () => {
    const r = compareCapturePoints(new Map([['n1/p1/eth0', a]]), new Map([['n1/p1/eth0', a.map((f) => ({ ...f }))]]));
    expect(r).toEqual({ equal: true, differences: [], text: '' });
  });

  it('reports the first differing frame of each point with both sides and the fields', () => {
    const b: NormalisedFrame[] = a.map((f) => structuredClone(f));
    b[1]!.ipv4!.ttl = 63;
    b[2]!.dir = 'in';
    const r = compareCapturePoints(new Map([['n1/p1/eth0', a], ['n1/cni0', []]]), new Map([['n1/p1/eth0', b], ['n1/cni0', []]]));
    expect(r.equal).toBe(false);
    expect(r.differences).toHaveLength(1);
    expect(r.differences[0]).toMatchObject({ point: 'n1/p1/eth0', index: 1, kernelCount: 3, podwireCount: 3, reasons: ['ipv4.ttl: 64 != 63'] });
    expect(r.text).toContain('n1/p1/eth0: first difference at frame 2');
    expect(r.text).toContain(`kernel : ${summariseFrame(a[1]!)}`);
    expect(r.text).toContain(`podwire: ${summariseFrame(b[1]!)}`);
  });

  it('reports missing and extra frames and missing points', () => {
    const r = compareCapturePoints(
      new Map([['n1/p1/eth0', a], ['n1/vethp1', a]]),
      new Map([['n1/p1/eth0', a.slice(0, 2)], ['n1/p2/eth0', []]]),
    );
    expect(r.differences.map((d) => [d.point, d.index, d.reasons[0]])).toEqual([
      ['n1/p1/eth0', 2, 'missing on the podwire side'],
      ['n1/p2/eth0', 0, 'capture point missing on the kernel side'],
      ['n1/vethp1', 0, 'capture point missing on the podwire side'],
    ]);
  });

  describe('ephemeral ports', () => {
    const withPorts = (f: NormalisedFrame, src: number, dst: number): NormalisedFrame => ({ ...f, udp: { ...f.udp!, srcPort: src, dstPort: dst } });
    const u = normaliseFrame(udp, 'out');
    const reply = { ...u, dir: 'in' as const };
    const kernel = new Map([
      ['n1/p1/eth0', [withPorts(u, 44256, 9000), withPorts(reply, 9000, 44256)]],
      ['n1/vethp1', [withPorts({ ...u, dir: 'in' }, 44256, 9000)]],
    ]);

    it('match when they differ consistently across frames and points', () => {
      const podwire = new Map([
        ['n1/p1/eth0', [withPorts(u, 43226, 9000), withPorts(reply, 9000, 43226)]],
        ['n1/vethp1', [withPorts({ ...u, dir: 'in' }, 43226, 9000)]],
      ]);
      expect(compareCapturePoints(kernel, podwire).text).toBe('');
      expect(compareCapturePoints(kernel, podwire, { ephemeralPorts: 'exact' }).differences.map((d) => d.reasons)).toEqual([
        ['udp.srcPort: 44256 != 43226'],
        ['udp.srcPort: 44256 != 43226'],
      ]);
    });

    it('differ when one kernel port stands for two podwire ports, or outside the ephemeral range', () => {
      const podwire = new Map([
        ['n1/p1/eth0', [withPorts(u, 43226, 9000), withPorts(reply, 9000, 43227)]],
        ['n1/vethp1', [withPorts({ ...u, dir: 'in' }, 43226, 9001)]],
      ]);
      expect(compareCapturePoints(kernel, podwire).differences.map((d) => [d.point, d.index, d.reasons])).toEqual([
        ['n1/p1/eth0', 1, ['udp.dstPort: 44256 != 43227']],
        ['n1/vethp1', 0, ['udp.dstPort: 9000 != 9001']],
      ]);
    });
    it("pair-nat pairs ports from 1024 too (MASQUERADE --random-fully), and only those", () => {
      const natKernel = new Map([['n1/eth0', [withPorts(u, 15169, 8080), withPorts(reply, 8080, 15169)]]]);
      const natPodwire = new Map([['n1/eth0', [withPorts(u, 26097, 8080), withPorts(reply, 8080, 26097)]]]);
      expect(compareCapturePoints(natKernel, natPodwire).equal).toBe(false);
      expect(compareCapturePoints(natKernel, natPodwire, { ephemeralPorts: 'pair-nat' }).text).toBe('');
      const low = new Map([['n1/eth0', [withPorts(u, 1000, 8080)]]]);
      const lowPodwire = new Map([['n1/eth0', [withPorts(u, 1001, 8080)]]]);
      expect(compareCapturePoints(low, lowPodwire, { ephemeralPorts: 'pair-nat' }).equal).toBe(false);
    });
  });

  it('lists a field present on one side only', () => {
    const withUdp = normaliseFrame(udp, 'out');
    const { udp: _ignored, ...without } = withUdp;
    expect(frameDifferences(withUdp, without)).toEqual(['udp: {"srcPort":5555,"dstPort":9000,"length":28} != undefined']);
  });
});

describe('mergeByTime', () => {
  const frame = (t: number, dir: 'in' | 'out'): CapturedFrame => ({ timeNs: BigInt(t), dir, data: new Uint8Array([t]) });

  it('interleaves received and sent frames by timestamp, received first on a tie', () => {
    const merged = mergeByTime([frame(1, 'in'), frame(5, 'in'), frame(9, 'in')], [frame(2, 'out'), frame(5, 'out'), frame(10, 'out')]);
    expect(merged.map((f) => `${f.timeNs}${f.dir}`)).toEqual(['1in', '2out', '5in', '5out', '9in', '10out']);
  });
});
