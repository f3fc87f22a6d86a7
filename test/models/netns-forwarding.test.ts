/**
 * IPv4 forwarding against net/ipv4/ip_input.c (ip_rcv_core, ip_rcv_finish),
 * net/ipv4/route.c (ip_route_input_slow, ip_error), net/ipv4/ip_forward.c
 * (ip_forward) and net/ipv4/icmp.c (__icmp_send, icmpv4_xrlim_allow):
 * - ip_rcv_core drops PACKET_OTHERHOST frames;
 * - without a route, ip_error sends ICMP net unreachable when forwarding is on;
 *   with net.ipv4.ip_forward=0 the route lookup fails with EHOSTUNREACH and
 *   ip_error only counts IPSTATS_MIB_INADDRERRORS, sending nothing;
 * - ip_forward: TTL <= 1 -> ICMP time exceeded; a DF datagram above the egress
 *   MTU -> ICMP fragmentation needed carrying that MTU; else ip_decrease_ttl
 *   (incremental checksum update, RFC 1624);
 * - __icmp_send: source = the route back's preferred source (the router's
 *   address towards the sender), TOS = (tos & IPTOS_TOS_MASK) | 0xc0, no DF,
 *   TTL 64, quoting as much of the datagram as fits in 576 bytes (RFC 1812
 *   4.3.2.3); never about an ICMP error; a per-destination token bucket
 *   (icmp_ratelimit 1 s, XRLIM_BURST_FACTOR 6) for the types in icmp_ratemask,
 *   except fragmentation needed ("Don't limit PMTU discovery").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTopology } from '../../scenarios/run.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { DIRECTION_INBOUND } from '../../models/capture/capture-writer.js';
import { crossNodeReference } from '../kernel/reference-topologies.js';
import { DropReason } from '../../models/devices/drop-reason.js';
import { MS, SECOND, TestNet, addr, decode, frameLine, ip, route, sendIcmp, sendUdp } from './helpers.js';
import type { UdpReceiver } from '../../models/stack/udp.js';
import type { IcmpErrorRepr } from '../../models/wire/icmp.js';

/**
 * A (10.0.1.2) - R1 (10.0.1.1 | 10.0.12.1) - R2 (10.0.12.2 | 10.0.2.1) - B (10.0.2.2),
 * veth links, both routers forwarding; captures on A, R1's eth1 and B.
 */
function chain(opts: { r1Forward?: boolean; r1Eth1Mtu?: number } = {}) {
  const net = new TestNet(1);
  const a = net.ns('a');
  const r1 = net.ns('r1', { forward: opts.r1Forward ?? true });
  const r2 = net.ns('r2', { forward: true });
  const b = net.ns('b');
  const mtu = opts.r1Eth1Mtu ?? 1500;
  const [ea] = net.veth(a, 'eth0', '02:00:00:00:00:0a', r1, 'eth0', '02:00:00:00:00:11', { cidrA: '10.0.1.2/24', cidrB: '10.0.1.1/24' });
  const [r1e1, r2e0] = net.veth(r1, 'eth1', '02:00:00:00:00:12', r2, 'eth0', '02:00:00:00:00:21', {
    cidrA: '10.0.12.1/24', cidrB: '10.0.12.2/24', mtuA: mtu, mtuB: mtu,
  });
  const [r2e1, eb] = net.veth(r2, 'eth1', '02:00:00:00:00:22', b, 'eth0', '02:00:00:00:00:0b', { cidrA: '10.0.2.1/24', cidrB: '10.0.2.2/24' });
  route(ea, '0.0.0.0/0', '10.0.1.1');
  route(r1e1, '10.0.2.0/24', '10.0.12.2');
  route(r2e0, '10.0.1.0/24', '10.0.12.1');
  route(eb, '0.0.0.0/0', '10.0.2.1');
  net.capture(ea, r1e1, eb);
  // Sockets at both ends, recording what reaches them.
  const atB: number[] = [];
  const errorsAtA: string[] = [];
  const sock = (tags: number[], errors: string[]): UdpReceiver => ({
    onDatagram: (pkt, _s, _sp, _d, off) => tags.push(((pkt.buf[off]! << 24) | (pkt.buf[off + 1]! << 16) | (pkt.buf[off + 2]! << 8) | pkt.buf[off + 3]!) >>> 0),
    onIcmpError: (type, code, from) => errors.push(`${type}/${code} from ${from >>> 24}.${(from >>> 16) & 255}.${(from >>> 8) & 255}.${from & 255}`),
  });
  b.udp.bind(9000, sock(atB, []));
  a.udp.bind(5555, sock([], errorsAtA));
  return { net, a, r1, r2, b, ea, r1e1, r2e1, eb, atB, errorsAtA };
}

/** ICMP messages A received, as lines. */
function icmpAtA(net: TestNet): string[] {
  return net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).icmp !== undefined).map((f) => frameLine(f.bytes));
}

const R1_TO_A = '02:00:00:00:00:11 > 02:00:00:00:00:0a';

describe('ip_forward', () => {
  it('decrements the TTL by one per router and keeps the header checksum valid', () => {
    const { net, a, atB } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 100, 7, { tos: 0x10 }));
    net.run(SECOND);
    expect(atB).toEqual([7]);
    const hops = net.tap.frames.filter((f) => decode(f.bytes).udp !== undefined);
    expect(hops.map((f) => `${f.dev} ${f.dir} ${frameLine(f.bytes)}`)).toEqual([
      'a/eth0 out 02:00:00:00:00:0a > 02:00:00:00:00:11 IP 10.0.1.2 > 10.0.2.2 ttl 64 UDP 5555 > 9000 len 100',
      'r1/eth1 out 02:00:00:00:00:12 > 02:00:00:00:00:21 IP 10.0.1.2 > 10.0.2.2 ttl 63 UDP 5555 > 9000 len 100',
      'b/eth0 in 02:00:00:00:00:22 > 02:00:00:00:00:0b IP 10.0.1.2 > 10.0.2.2 ttl 62 UDP 5555 > 9000 len 100',
    ]);
    const ips = hops.map((f) => decode(f.bytes).ip!);
    expect(ips.map((h) => h.checksumOk)).toEqual([true, true, true]);
    // Nothing but the TTL (and so the checksum) changes on the way.
    const strip = (h: (typeof ips)[number]) => ({ ...h, ttl: 0, checksumOk: true });
    expect(strip(ips[1]!)).toEqual(strip(ips[0]!));
    expect(strip(ips[2]!)).toEqual(strip(ips[0]!));
    expect(ips[0]!.dscpEcn).toBe(0x10);
    const payloads = hops.map((f) => Buffer.from(f.bytes.subarray(34)).toString('hex'));
    expect(new Set(payloads).size).toBe(1);
  });

  it('answers TTL 1 with ICMP time exceeded from the router address facing the sender, TOS 0xc0, quoting the datagram', () => {
    const { net, a, errorsAtA, atB } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 1000, 1, { ttl: 1, tos: 0x2c }));
    net.run(SECOND);
    expect(atB).toEqual([]);
    expect(icmpAtA(net)).toEqual([`${R1_TO_A} IP 10.0.1.1 > 10.0.1.2 ttl 64 ICMP time exceeded code 0`]);
    const sent = net.tap.frames.find((f) => f.dev === 'a/eth0' && f.dir === 'out' && decode(f.bytes).udp !== undefined)!;
    const err = decode(net.tap.frames.find((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).icmp !== undefined)!.bytes);
    expect(err.ip!.dscpEcn).toBe((0x2c & 0x1e) | 0xc0);
    expect(err.ip!.dontFragment).toBe(false);
    expect(err.ip!.checksumOk && err.icmp!.checksumOk).toBe(true);
    // As much of the original datagram as fits in 576 bytes: 576 - 20 - 8 = 548, starting with its header (TTL 1).
    const quoted = (err.icmp as IcmpErrorRepr & { checksumOk: boolean }).quoted;
    expect(quoted.length).toBe(548);
    expect(Buffer.from(quoted).equals(Buffer.from(sent.bytes.subarray(14, 14 + 548)))).toBe(true);
    expect(quoted[8]).toBe(1);
    expect(err.ip!.totalLength).toBe(20 + 8 + 548);
    expect(errorsAtA).toEqual(['11/0 from 10.0.1.1']);
  });

  it('quotes a short datagram whole', () => {
    const { net, a } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 12, 1, { ttl: 1 }));
    net.run(SECOND);
    const err = decode(net.tap.frames.find((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).icmp !== undefined)!.bytes);
    expect((err.icmp as IcmpErrorRepr).quoted.length).toBe(20 + 8 + 12);
  });

  it('sends time exceeded from the router where the TTL runs out, over the path back', () => {
    const { net, a, errorsAtA } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 8, 1, { ttl: 2 }));
    net.run(SECOND);
    expect(icmpAtA(net)).toEqual([`${R1_TO_A} IP 10.0.12.2 > 10.0.1.2 ttl 63 ICMP time exceeded code 0`]);
    expect(errorsAtA).toEqual(['11/0 from 10.0.12.2']);
  });

  it('answers a destination without a route with ICMP net unreachable', () => {
    const { net, a, r1, errorsAtA } = chain();
    net.at(0, () => sendUdp(a, ip('192.0.2.1'), 5555, 9000, 8));
    net.run(SECOND);
    expect(icmpAtA(net)).toEqual([`${R1_TO_A} IP 10.0.1.1 > 10.0.1.2 ttl 64 ICMP unreachable code 0`]);
    expect(errorsAtA).toEqual(['3/0 from 10.0.1.1']);
    expect(net.dropsOf(r1)).toEqual({ [DropReason.IP_INNOROUTES]: 1 });
  });

  it('with ip_forward=0 drops a datagram for another host as IP_INADDRERRORS and sends nothing', () => {
    const { net, a, r1, r1e1, atB } = chain({ r1Forward: false });
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 8));
    net.at(MS, () => sendUdp(a, ip('192.0.2.1'), 5555, 9000, 8));
    net.run(SECOND);
    expect(atB).toEqual([]);
    expect(icmpAtA(net)).toEqual([]);
    expect(r1e1.counters.txPackets).toBe(0);
    expect(net.dropsOf(r1)).toEqual({ [DropReason.IP_INADDRERRORS]: 2 });
  });

  it('answers DF datagrams above the egress MTU with fragmentation needed and the next-hop MTU, without rate limit', () => {
    const { net, a, r1, atB, errorsAtA } = chain({ r1Eth1Mtu: 1400 });
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 1400 - 28, 1)); // IP 1400: fits
    net.at(MS, () => {
      for (let i = 0; i < 10; i++) sendUdp(a, ip('10.0.2.2'), 5555, 9000, 1401 - 28, 2 + i); // IP 1401: too big, DF
    });
    net.run(SECOND);
    expect(atB).toEqual([1]);
    const errs = net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).icmp !== undefined).map((f) => decode(f.bytes));
    expect(errs.length).toBe(10);
    for (const e of errs) {
      expect([e.ip!.src, e.icmp!.type, e.icmp!.code, (e.icmp as IcmpErrorRepr).mtu]).toEqual([ip('10.0.1.1'), 3, 4, 1400]);
    }
    expect(errorsAtA.length).toBe(10);
    expect(net.dropsOf(r1)).toEqual({ [DropReason.PKT_TOO_BIG]: 10 });
  });

  it('drops a frame addressed to another MAC (OTHERHOST) instead of forwarding it', () => {
    const { net, a, r1, ea, atB } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 8, 1));
    net.at(MS, () => {
      const n = a.neighbour(ea, ip('10.0.1.1'))!;
      const mac = n.mac;
      n.mac = 0x020000000077;
      sendUdp(a, ip('10.0.2.2'), 5555, 9000, 8, 2);
      n.mac = mac;
    });
    net.run(SECOND);
    expect(atB).toEqual([1]);
    expect(net.dropsOf(r1)).toEqual({ [DropReason.OTHERHOST]: 1 });
    expect(icmpAtA(net)).toEqual([]);
  });
});

describe('ICMP errors from a router (__icmp_send)', () => {
  it('rate-limits per destination: a burst of 6, then one per second', () => {
    const { net, a, ea, r1 } = chain();
    addr(ea, '10.0.1.3/24'); // a second sender address: a second bucket
    const burst = (n: number, src: string) => {
      for (let i = 0; i < n; i++) sendUdp(a, ip('10.0.2.2'), 5555, 9000, 8, i, { ttl: 1, src: ip(src) });
    };
    net.at(0, () => burst(10, '10.0.1.2'));
    net.at(1 * SECOND, () => burst(3, '10.0.1.2'));
    net.at(3500 * MS, () => burst(5, '10.0.1.2'));
    net.at(3500 * MS, () => burst(10, '10.0.1.3'));
    net.run(5 * SECOND);
    const errs = net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).icmp !== undefined);
    const count = (dst: string, t: number) => errs.filter((f) => f.t === t && decode(f.bytes).ip!.dst === ip(dst)).length;
    expect([count('10.0.1.2', 0), count('10.0.1.2', SECOND), count('10.0.1.2', 3500 * MS)]).toEqual([6, 1, 2]);
    expect(count('10.0.1.3', 3500 * MS)).toBe(6);
    expect(errs.length).toBe(15);
    expect(r1.icmp.rateLimited).toBe(4 + 2 + 3 + 4);
    // Every datagram was still dropped for its TTL.
    expect(net.dropsOf(r1)).toEqual({ [DropReason.IP_TTL_EXPIRED]: 28 });
  });

  it('never sends an error about an ICMP error, but does about an echo request', () => {
    const { net, a } = chain();
    const quoted = new Uint8Array(28);
    quoted[0] = 0x45;
    net.at(0, () => sendIcmp(a, ip('10.0.2.2'), { type: 3, code: 3, quoted }, { ttl: 1 }));
    net.at(MS, () => sendIcmp(a, ip('10.0.2.2'), { type: 11, code: 0, quoted }, { ttl: 1 }));
    net.at(2 * MS, () => sendIcmp(a, ip('10.0.2.2'), { type: 8, code: 0, ident: 1, seq: 1, payload: new Uint8Array(8) }, { ttl: 1 }));
    net.run(SECOND);
    expect(icmpAtA(net)).toEqual([`${R1_TO_A} IP 10.0.1.1 > 10.0.1.2 ttl 64 ICMP time exceeded code 0`]);
    const quote = (decode(net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in').slice(-1)[0]!.bytes).icmp as IcmpErrorRepr).quoted;
    expect(quote[20]).toBe(8); // the echo request's type
  });
});

describe('the cross-node reference run (/work/shared/kernel-ref/cross-node/expected.md)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podwire-xnode-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('routes pod to pod over two nodes with the frames the kernel showed at each capture point', () => {
    const { captureFiles } = runTopology(crossNodeReference(), { outDir: dir });
    const at = (point: string) =>
      readCapture(captureFiles.get(point)!).packets.map((p) => `${p.direction === DIRECTION_INBOUND ? 'in' : 'out'} ${frameLine(p.data)}`);
    // Every capture point but br0 saw 9 frames: 2 ARP + 3 x (request, reply) + 1 UDP.
    for (const point of captureFiles.keys()) if (point !== 'underlay/br0') expect(at(point).length, point).toBe(9);
    // The bridge device sees only the broadcast, not unicast between its ports.
    expect(at('underlay/br0')).toEqual(['in 02:42:c0:a8:31:02 > ff:ff:ff:ff:ff:ff ARP who-has 192.168.49.3 tell 192.168.49.2']);
    const req = (ttl: number, seq: number, l2: string) => `${l2} IP 10.244.1.2 > 10.244.2.2 ttl ${ttl} ICMP echo request id 4660 seq ${seq}`;
    const rep = (ttl: number, seq: number, l2: string) => `${l2} IP 10.244.2.2 > 10.244.1.2 ttl ${ttl} ICMP echo reply id 4660 seq ${seq}`;
    const n1 = '02:42:c0:a8:31:02 > 02:42:c0:a8:31:03';
    const n2 = '02:42:c0:a8:31:03 > 02:42:c0:a8:31:02';
    expect(at('n1/eth0')).toEqual([
      'out 02:42:c0:a8:31:02 > ff:ff:ff:ff:ff:ff ARP who-has 192.168.49.3 tell 192.168.49.2',
      `in ${n2} ARP 192.168.49.3 is-at 02:42:c0:a8:31:03`,
      `out ${req(63, 1, n1)}`, `in ${rep(63, 1, n2)}`,
      `out ${req(63, 2, n1)}`, `in ${rep(63, 2, n2)}`,
      `out ${req(63, 3, n1)}`, `in ${rep(63, 3, n2)}`,
      `out ${n1} IP 10.244.1.2 > 10.244.2.2 ttl 63 UDP 5555 > 9000 len 20`,
    ]);
    const pod = '0a:58:0a:f4:01:02 > 0a:58:0a:f4:01:01';
    const gw = '0a:58:0a:f4:01:01 > 0a:58:0a:f4:01:02';
    expect(at('n1/p1/eth0')).toEqual([
      'out 0a:58:0a:f4:01:02 > ff:ff:ff:ff:ff:ff ARP who-has 10.244.1.1 tell 10.244.1.2',
      `in ${gw} ARP 10.244.1.1 is-at 0a:58:0a:f4:01:01`,
      `out ${req(64, 1, pod)}`, `in ${rep(62, 1, gw)}`,
      `out ${req(64, 2, pod)}`, `in ${rep(62, 2, gw)}`,
      `out ${req(64, 3, pod)}`, `in ${rep(62, 3, gw)}`,
      `out ${pod} IP 10.244.1.2 > 10.244.2.2 ttl 64 UDP 5555 > 9000 len 20`,
    ]);
    const cni = '0a:58:0a:f4:02:01 > 0a:58:0a:f4:02:02';
    const pod2 = '0a:58:0a:f4:02:02 > 0a:58:0a:f4:02:01';
    expect(at('n2/cni0')).toEqual([
      'out 0a:58:0a:f4:02:01 > ff:ff:ff:ff:ff:ff ARP who-has 10.244.2.2 tell 10.244.2.1',
      `in ${pod2} ARP 10.244.2.2 is-at 0a:58:0a:f4:02:02`,
      `out ${req(62, 1, cni)}`, `in ${rep(64, 1, pod2)}`,
      `out ${req(62, 2, cni)}`, `in ${rep(64, 2, pod2)}`,
      `out ${req(62, 3, cni)}`, `in ${rep(64, 3, pod2)}`,
      `out ${cni} IP 10.244.1.2 > 10.244.2.2 ttl 62 UDP 5555 > 9000 len 20`,
    ]);
  });
});
