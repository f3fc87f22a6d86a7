/**
 * UDP against net/ipv4/udp.c and Documentation/networking/ip-sysctl.rst:
 * - __udp4_lib_rcv: a datagram whose checksum is wrong is dropped
 *   (SKB_DROP_REASON_UDP_CSUM) before the socket lookup, so even a closed port
 *   sends nothing; a zero checksum means "none" (RFC 768); no socket ->
 *   icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH) from the address the
 *   datagram was sent to, and the sender's socket learns of it (__udp4_lib_err);
 * - autobind picks a port in net.ipv4.ip_local_port_range (32768 60999);
 *   binding a port twice fails (EADDRINUSE);
 * - sockets default to IP_PMTUDISC_WANT (__ip_make_skb): a datagram that fits
 *   the route MTU carries DF; a larger one is fragmented locally, without DF
 *   (checked on this kernel: 1473 bytes of UDP over a 1500-byte veth left as
 *   1500 + 21 bytes, flags [+] and [none]).
 */
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../models/devices/drop-reason.js';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { IPPROTO_UDP, IPV4_HEADER_LEN, parseIpv4 } from '../../models/wire/ipv4.js';
import { UDP_HEADER_LEN, emitUdp } from '../../models/wire/udp.js';
import type { UdpReceiver } from '../../models/stack/udp.js';
import type { Netns } from '../../models/stack/netns.js';
import type { IcmpErrorRepr } from '../../models/wire/icmp.js';
import { MS, SECOND, TestNet, decode, ip } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

function pair(seed = 1) {
  const net = new TestNet(seed);
  const a = net.ns('a');
  const b = net.ns('b');
  const [ea, eb] = net.veth(a, 'eth0', A, b, 'eth0', B, { cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  net.capture(ea);
  return { net, a, b, ea, eb };
}

/** A socket recording datagrams ("src:port len payload-hex-prefix") and errors. */
function socket(ns: Netns, port: number) {
  const got: string[] = [];
  const errors: string[] = [];
  const r: UdpReceiver = {
    onDatagram: (pkt, src, sport, dst, off, len) =>
      got.push(`${src === ip('10.0.0.1') ? 'a' : src}:${sport} -> ${dst === ip('10.0.0.2') ? 'b' : dst} ${len} ${Buffer.from(pkt.buf.subarray(off, off + Math.min(len, 4))).toString('hex')}`),
    onIcmpError: (type, code, from, dport) => errors.push(`${type}/${code} from ${from === ip('10.0.0.2') ? 'b' : from} port ${dport}`),
  };
  const bound = ns.udp.bind(port, r);
  return { got, errors, bound };
}

/** Sends a datagram whose checksum field is forced to `check` after it was computed. */
function sendWithChecksum(ns: Netns, dst: number, sport: number, dport: number, payloadLen: number, check: (computed: number) => number): void {
  const len = UDP_HEADER_LEN + payloadLen;
  const pkt = ns.newPacket(IPV4_HEADER_LEN + len);
  const udp = pkt.off + ETH_HLEN + IPV4_HEADER_LEN;
  pkt.buf.fill(0xab, udp + 8, udp + len);
  ns.sendIp(pkt, IPPROTO_UDP, 0, dst, { dontFragment: true }, (src) => {
    emitUdp({ srcPort: sport, dstPort: dport, length: len }, pkt.buf, udp, src, dst);
    const c = check((pkt.buf[udp + 6]! << 8) | pkt.buf[udp + 7]!);
    pkt.buf[udp + 6] = c >> 8;
    pkt.buf[udp + 7] = c & 0xff;
  });
}

describe('UDP', () => {
  it('delivers a datagram to the bound socket with its addresses, ports and payload; DF set, checksum valid', () => {
    const { net, a, b } = pair();
    const sb = socket(b, 9000);
    net.at(0, () => a.udp.send(5555, ip('10.0.0.2'), 9000, 20, (buf, off) => buf.set([1, 2, 3, 4], off)));
    net.run(SECOND);
    expect(sb.got).toEqual(['a:5555 -> b 20 01020304']);
    const d = decode(net.tap.frames.find((f) => decode(f.bytes).udp !== undefined)!.bytes);
    expect(d.ip!.dontFragment).toBe(true);
    expect(d.udp!.length).toBe(28);
    expect(d.udp!.checksum).not.toBe(0);
  });

  it('answers a closed port with ICMP port unreachable from the destination, and tells the sending socket', () => {
    const { net, a } = pair();
    const sa = socket(a, 5555);
    net.at(0, () => a.udp.send(5555, ip('10.0.0.2'), 9999, 20));
    net.run(SECOND);
    expect(net.tap.lines().filter((l) => l.includes(' IP '))).toEqual([
      `out ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 UDP 5555 > 9999 len 20`,
      `in ${B} > ${A} IP 10.0.0.2 > 10.0.0.1 ttl 64 ICMP unreachable code 3`,
    ]);
    const err = decode(net.tap.frames.slice(-1)[0]!.bytes);
    expect((err.icmp as IcmpErrorRepr).quoted.length).toBe(20 + 8 + 20);
    expect(sa.errors).toEqual(['3/3 from b port 9999']);
  });

  it('drops a datagram with a wrong checksum (UDP_CSUM): not delivered, no port unreachable', () => {
    const { net, a, b } = pair();
    const sb = socket(b, 9000);
    net.at(0, () => a.udp.send(5555, ip('10.0.0.2'), 9000, 8)); // resolves the neighbours
    net.at(MS, () => sendWithChecksum(a, ip('10.0.0.2'), 5555, 9000, 8, (c) => c ^ 0x0100));
    net.at(2 * MS, () => sendWithChecksum(a, ip('10.0.0.2'), 5555, 9999, 8, (c) => c ^ 0x0100));
    net.run(SECOND);
    expect(sb.got.length).toBe(1);
    expect(net.dropsOf(b)).toEqual({ [DropReason.UDP_CSUM]: 2 });
    expect(net.tap.lines().filter((l) => l.includes('ICMP'))).toEqual([]);
  });

  it('accepts a zero checksum as "no checksum"', () => {
    const { net, a, b } = pair();
    const sb = socket(b, 9000);
    net.at(0, () => sendWithChecksum(a, ip('10.0.0.2'), 5555, 9000, 8, () => 0));
    net.run(SECOND);
    expect(sb.got).toEqual(['a:5555 -> b 8 abababab']);
  });

  it('picks ephemeral ports in 32768..60999, distinct, the same for the same seed', () => {
    const ports = (seed: number) => {
      const { a } = pair(seed);
      return Array.from({ length: 200 }, () => a.udp.bind(0, { onDatagram: () => {}, onIcmpError: () => {} }));
    };
    const p1 = ports(1);
    expect(p1.every((p) => p >= 32768 && p <= 60999)).toBe(true);
    expect(new Set(p1).size).toBe(200);
    expect(ports(1)).toEqual(p1);
    expect(ports(2)).not.toEqual(p1);
  });

  it('refuses to bind a port twice (EADDRINUSE)', () => {
    const { b } = pair();
    socket(b, 9000);
    expect(() => socket(b, 9000)).toThrow(/EADDRINUSE/);
  });

  it('sends a datagram that fits the route MTU with DF, and fragments a larger one without it (IP_PMTUDISC_WANT)', () => {
    const { net, a, b } = pair();
    const sb = socket(b, 9000);
    let errs: (string | null)[] = [];
    net.at(0, () => (errs = [a.udp.send(5555, ip('10.0.0.2'), 9000, 1472), a.udp.send(5555, ip('10.0.0.2'), 9000, 1473)]));
    net.run(SECOND);
    expect(errs).toEqual([null, null]);
    // Headers only: a first fragment's UDP length covers bytes the fragment does not hold.
    const ipv4 = net.tap.frames.filter((f) => f.bytes[12] === 0x08 && f.bytes[13] === 0x00);
    const sent = ipv4.map((f) => parseIpv4(f.bytes, ETH_HLEN, f.bytes.length - ETH_HLEN, { verifyChecksum: true })).filter((h) => h.src === ip('10.0.0.1'));
    expect(sent.map((h) => [h.totalLength, h.dontFragment, h.moreFragments, h.fragmentOffset])).toEqual([
      [1500, true, false, 0],
      [1500, false, true, 0],
      [21, false, false, 1480],
    ]);
    expect(sent[1]!.ident).toBe(sent[2]!.ident);
    expect(sent[1]!.ident).not.toBe(sent[0]!.ident);
    expect(sb.got.map((g) => g.split(' ')[3])).toEqual(['1472', '1473']);
  });
});
