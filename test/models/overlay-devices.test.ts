/**
 * The tunnel devices on their own (models/devices/vxlan.ts, ipip.ts): two
 * nodes joined by one wire, each with flannel's state for the other, and the
 * bytes checked field by field — the outer headers Linux writes, the inner
 * frame carried unchanged — plus what the kernel drops and why.
 */
import { describe, expect, test } from 'vitest';
import { TestNet, addr, ip, sendUdp } from './helpers.js';
import type { Netns } from '../../models/stack/netns.js';
import { VxlanDevice } from '../../models/devices/vxlan.js';
import { IpipDevice } from '../../models/devices/ipip.js';
import { parseMac } from '../../models/wire/addr.js';
import { read16, read32 } from '../../models/wire/bytes.js';
import { ipv4ChecksumValid } from '../../models/wire/ipv4.js';
import { computeUdpChecksum } from '../../models/wire/udp.js';

const MS = 1_000_000;
const MAC1 = parseMac('0e:f1:c0:a8:31:02');
const MAC2 = parseMac('0e:f1:c0:a8:31:03');

interface Pair {
  net: TestNet;
  n1: Netns;
  n2: Netns;
}

/** n1 (192.168.49.2) and n2 (.3) on one wire; `tunnel` adds the overlay devices. */
function nodes(tunnel: (n: Netns, self: 1 | 2) => void): Pair {
  const net = new TestNet();
  const n1 = net.ns('n1', { component: 'n1', forward: true });
  const n2 = net.ns('n2', { component: 'n2', forward: true });
  net.wire(n1, 'eth0', '02:42:c0:a8:31:02', n2, 'eth0', '02:42:c0:a8:31:03', { cidrA: '192.168.49.2/24', cidrB: '192.168.49.3/24', delayNs: 20_000 });
  tunnel(n1, 1);
  tunnel(n2, 2);
  return { net, n1, n2 };
}

/** flannel's vxlan state: flannel.1 with 10.244.<self>.0/32, FDB + permanent neighbour + onlink route for the other node. */
function vxlan(opts: { vni?: (self: number) => number; fdb?: boolean } = {}) {
  return (n: Netns, self: 1 | 2) => {
    const other = 3 - self;
    const dev = new VxlanDevice(n, 'flannel.1', self === 1 ? MAC1 : MAC2, 1450, { vni: opts.vni?.(self) ?? 1, local: ip(`192.168.49.${self + 1}`) });
    n.attach(dev);
    addr(dev, `10.244.${self}.0/32`);
    if (opts.fdb ?? true) dev.addFdb(other === 1 ? MAC1 : MAC2, ip(`192.168.49.${other + 1}`));
    n.neigh.addPermanent(dev, ip(`10.244.${other}.0`), other === 1 ? MAC1 : MAC2);
    n.addRoute(ip(`10.244.${other}.0`), 24, dev, ip(`10.244.${other}.0`), 0, 0, true);
  };
}

function ipip(n: Netns, self: 1 | 2): void {
  const other = 3 - self;
  const dev = new IpipDevice(n, 'flannel.ipip', 1480, { local: ip(`192.168.49.${self + 1}`) });
  n.attach(dev);
  addr(dev, `10.244.${self}.0/32`);
  n.addRoute(ip(`10.244.${other}.0`), 24, dev, ip(`192.168.49.${other + 1}`), 0, 0, true);
}

describe('VxlanDevice', () => {
  test('a datagram crosses: outer Ethernet/IPv4/UDP/VXLAN as Linux writes them around the unchanged inner frame', () => {
    const { net, n1, n2 } = nodes(vxlan());
    const tap = net.capture(n1.device('flannel.1'), n1.device('eth0'), n2.device('flannel.1'));
    const got: number[] = [];
    n2.udp.bind(9000, { onDatagram: (_p, src, _sp, _d, _o, len) => got.push(src, len), onIcmpError: () => {} });
    net.at(1 * MS, () => sendUdp(n1, ip('10.244.2.0'), 5555, 9000, 100, 0x1234, { tos: 0x03 }));
    net.run(10 * MS);
    expect(got).toEqual([ip('10.244.1.0'), 100]);
    const inner = tap.frames.filter((f) => f.dev === 'n1/flannel.1');
    const outer = tap.frames.filter((f) => f.dev === 'n1/eth0' && f.bytes.length > 42);
    const decap = tap.frames.filter((f) => f.dev === 'n2/flannel.1');
    expect([inner.length, outer.length, decap.length]).toEqual([1, 1, 1]);
    const i = inner[0]!.bytes;
    const o = outer[0]!.bytes;
    expect(o.length).toBe(i.length + 50);
    // Inner frame: VTEP MACs from the permanent neighbour, untouched through the tunnel.
    expect([...i.subarray(0, 12)]).toEqual([0x0e, 0xf1, 0xc0, 0xa8, 0x31, 0x03, 0x0e, 0xf1, 0xc0, 0xa8, 0x31, 0x02]);
    expect(o.subarray(50)).toEqual(i);
    expect(decap[0]!.bytes).toEqual(i);
    // Outer IPv4: no DF (VXLAN_DF_UNSET), TTL 64, UDP, node addresses, ECN from the inner CE -> ECT(0).
    expect(read16(o, 12)).toBe(0x0800);
    expect(o[14]).toBe(0x45);
    expect(o[15]).toBe(0x02);
    expect(read16(o, 16)).toBe(o.length - 14);
    expect(read16(o, 20)).toBe(0);
    expect([o[22], o[23]]).toEqual([64, 17]);
    expect(ipv4ChecksumValid(o, 14)).toBe(true);
    expect([read32(o, 26), read32(o, 30)]).toEqual([ip('192.168.49.2'), ip('192.168.49.3')]);
    // Outer UDP: hashed source port, 8472, length, a valid checksum over the whole inner frame.
    expect(read16(o, 34)).toBeGreaterThanOrEqual(32768);
    expect(read16(o, 36)).toBe(8472);
    expect(read16(o, 38)).toBe(o.length - 34);
    expect(read16(o, 40)).toBe(computeUdpChecksum(o, 34, ip('192.168.49.2'), ip('192.168.49.3')));
    // VXLAN: I flag, VNI 1.
    expect([...o.subarray(42, 50)]).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
    expect(net.drops.toJSON()).toEqual({});
  });

  test('without a FDB entry for the destination MAC the frame is dropped at flannel.1 (VXLAN_NO_REMOTE)', () => {
    const { net, n1 } = nodes(vxlan({ fdb: false }));
    net.at(1 * MS, () => sendUdp(n1, ip('10.244.2.0'), 5555, 9000, 10));
    net.run(10 * MS);
    expect(net.dropsOf(n1)).toEqual({ VXLAN_NO_REMOTE: 1 });
    expect(n1.device('flannel.1').counters.toJSON()).toMatchObject({ tx: { packets: 0, dropped: 1 } });
  });

  test('a VNI the receiver does not have is dropped there (VXLAN_VNI_NOT_FOUND)', () => {
    const { net, n1, n2 } = nodes(vxlan({ vni: (self) => self }));
    net.at(1 * MS, () => sendUdp(n1, ip('10.244.2.0'), 5555, 9000, 10));
    net.run(10 * MS);
    expect(net.dropsOf(n1)).toEqual({});
    expect(net.dropsOf(n2)).toEqual({ VXLAN_VNI_NOT_FOUND: 1 });
  });

  test('a header without the I flag is dropped (VXLAN_INVALID_HDR)', () => {
    const { net, n1, n2 } = nodes(vxlan());
    // A plain datagram to port 8472: its first payload bytes are 0, 1, 2, ... (no I flag).
    net.at(1 * MS, () => sendUdp(n1, ip('192.168.49.3'), 40000, 8472, 64));
    net.run(10 * MS);
    expect(net.dropsOf(n2)).toEqual({ VXLAN_INVALID_HDR: 1 });
  });
});

describe('IpipDevice', () => {
  test('a datagram crosses with a 20-byte outer header: protocol 4, DF, inner TTL, node addresses', () => {
    const { net, n1, n2 } = nodes(ipip);
    const tap = net.capture(n1.device('eth0'), n2.device('flannel.ipip'));
    const got: number[] = [];
    n2.udp.bind(9000, { onDatagram: (_p, src, _sp, _d, _o, len) => got.push(src, len), onIcmpError: () => {} });
    net.at(1 * MS, () => sendUdp(n1, ip('10.244.2.0'), 5555, 9000, 100, 0, { ttl: 17, df: false }));
    net.run(10 * MS);
    expect(got).toEqual([ip('10.244.1.0'), 100]);
    const o = tap.frames.find((f) => f.dev === 'n1/eth0' && f.bytes.length > 42)!.bytes;
    const d = tap.frames.find((f) => f.dev === 'n2/flannel.ipip')!.bytes;
    expect(o.length).toBe(14 + 20 + 20 + 8 + 100);
    expect([o[22], o[23]]).toEqual([17, 4]);
    expect(read16(o, 20)).toBe(0x4000);
    expect([read32(o, 26), read32(o, 30)]).toEqual([ip('192.168.49.2'), ip('192.168.49.3')]);
    expect(ipv4ChecksumValid(o, 14)).toBe(true);
    // Received on the tunnel: a zeroed link-layer header, then the inner datagram byte for byte.
    expect(d.subarray(14)).toEqual(o.subarray(34));
    expect([...d.subarray(0, 14)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0]);
    expect(net.drops.toJSON()).toEqual({});
  });

  test('protocol 4 to an address no tunnel has as local: ICMP port unreachable (tunnel4_rcv), dropped', () => {
    const { net, n1, n2 } = nodes(ipip);
    const tap = net.capture(n1.device('flannel.ipip'));
    // Inner packet IP-in-IP to n2's tunnel address 10.244.2.0: decapsulated once, the inner protocol-4
    // packet is for 10.244.2.0, which is not flannel.ipip's local 192.168.49.3.
    net.at(1 * MS, () => {
      const pkt = n1.newPacket(20 + 20 + 8 + 10);
      const b = pkt.buf;
      const inner = pkt.off + 14 + 20;
      b.set([0x45, 0, 0, 38, 0, 1, 0, 0, 64, 17, 0, 0, 10, 244, 1, 0, 10, 244, 2, 0], inner);
      b.set([0x15, 0xb3, 0x23, 0x28, 0, 18, 0, 0], inner + 20);
      n1.sendIp(pkt, 4, 0, ip('10.244.2.0'), { dontFragment: false });
    });
    net.run(10 * MS);
    expect(net.dropsOf(n2)).toEqual({ NOT_SPECIFIED: 1 });
    // The error comes back through the tunnel: ICMP type 3 code 3 from 10.244.2.0 to 10.244.1.0.
    const back = tap.frames.filter((f) => f.dir === 'in').map((f) => f.bytes);
    expect(back.length).toBe(1);
    expect([back[0]![23], back[0]![34], back[0]![35]]).toEqual([1, 3, 3]);
    expect([read32(back[0]!, 26), read32(back[0]!, 30)]).toEqual([ip('10.244.2.0'), ip('10.244.1.0')]);
  });
});
