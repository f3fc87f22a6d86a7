/**
 * ICMP against net/ipv4/icmp.c and ip_input.c:
 * - icmp_echo -> icmp_reply: the reply carries the request's identifier,
 *   sequence and data, comes from the address that was pinged
 *   (fib_compute_spec_dst), has the request's TOS byte, TTL
 *   net.ipv4.ip_default_ttl (64) and no DF (the ICMP socket uses
 *   IP_PMTUDISC_DONT); the reply's checksums are valid;
 * - icmp_rcv drops messages whose checksum is wrong (SKB_DROP_REASON_ICMP_CSUM);
 * - echo requests to a broadcast address are ignored
 *   (net.ipv4.icmp_echo_ignore_broadcasts=1, RFC 1122 3.2.2.6);
 * - ip_local_deliver_finish answers an unknown protocol with ICMP protocol
 *   unreachable (code 2).
 */
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../models/devices/drop-reason.js';
import { ETH_HLEN, ETHERTYPE_IPV4, emitEthernet } from '../../models/wire/ethernet.js';
import { IPPROTO_ICMP, IPV4_HEADER_LEN, emitIpv4 } from '../../models/wire/ipv4.js';
import { emitIcmp, type IcmpEchoRepr } from '../../models/wire/icmp.js';
import { internetChecksum, onesComplementSum } from '../../models/wire/checksum.js';
import { Packet } from '../../models/packet.js';
import type { PingReceiver } from '../../models/stack/icmp.js';
import { MS, SECOND, TestNet, addr, decode, frameLine, ip, route, sendIcmp } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

/** A (10.0.0.1) and B (10.0.0.2, plus 172.16.0.1 on another device); A routes 172.16.0.0/24 via B. */
function pair() {
  const net = new TestNet(1);
  const a = net.ns('a');
  const b = net.ns('b');
  const c = net.ns('c');
  const [ea, eb] = net.veth(a, 'eth0', A, b, 'eth0', B, { cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  net.veth(b, 'eth1', '02:00:00:00:00:0c', c, 'eth0', '02:00:00:00:00:0d', { cidrA: '172.16.0.1/24', cidrB: '172.16.0.2/24' });
  route(ea, '172.16.0.0/24', '10.0.0.2');
  net.capture(ea);
  const replies: string[] = [];
  const sock: PingReceiver = {
    onEchoReply: (_p, seq, ttl) => replies.push(`seq ${seq} ttl ${ttl}`),
    onIcmpError: (type, code) => replies.push(`error ${type}/${code}`),
  };
  a.icmp.openPing(0x1234, sock);
  return { net, a, b, ea, eb, replies };
}

const payload = Uint8Array.from({ length: 56 }, (_, i) => (i * 7 + 3) & 0xff);
const echo = (seq: number): IcmpEchoRepr => ({ type: 8, code: 0, ident: 0x1234, seq, payload });

describe('ICMP echo (icmp_echo, icmp_reply)', () => {
  it('replies with the same identifier, sequence and data, TTL 64, no DF, the TOS of the request', () => {
    const { net, a, replies } = pair();
    net.at(0, () => sendIcmp(a, ip('10.0.0.2'), echo(7), { ttl: 9, tos: 0xb8, df: true }));
    net.run(SECOND);
    const frames = net.tap.frames.filter((f) => decode(f.bytes).icmp !== undefined);
    expect(frames.map((f) => `${f.dir} ${frameLine(f.bytes)}`)).toEqual([
      `out ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 9 ICMP echo request id 4660 seq 7`,
      `in ${B} > ${A} IP 10.0.0.2 > 10.0.0.1 ttl 64 ICMP echo reply id 4660 seq 7`,
    ]);
    const [req, rep] = frames.map((f) => decode(f.bytes));
    expect(req!.ip!.dontFragment).toBe(true);
    expect(rep!.ip!.dontFragment).toBe(false);
    expect(rep!.ip!.dscpEcn).toBe(0xb8);
    expect(rep!.ip!.checksumOk && rep!.icmp!.checksumOk).toBe(true);
    expect((rep!.icmp as IcmpEchoRepr).payload).toEqual(payload);
    expect(rep!.ip!.totalLength).toBe(req!.ip!.totalLength);
    expect(replies).toEqual(['seq 7 ttl 64']);
  });

  it('replies from the address that was pinged, even one on another device', () => {
    const { net, a, replies } = pair();
    net.at(0, () => sendIcmp(a, ip('172.16.0.1'), echo(1)));
    net.run(SECOND);
    expect(net.tap.lines().filter((l) => l.includes('ICMP'))).toEqual([
      `out ${A} > ${B} IP 10.0.0.1 > 172.16.0.1 ttl 64 ICMP echo request id 4660 seq 1`,
      `in ${B} > ${A} IP 172.16.0.1 > 10.0.0.1 ttl 64 ICMP echo reply id 4660 seq 1`,
    ]);
    expect(replies).toEqual(['seq 1 ttl 64']);
  });

  it('delivers replies only to the socket with their identifier', () => {
    const { net, a, replies } = pair();
    const other: string[] = [];
    a.icmp.openPing(99, { onEchoReply: (_p, seq) => other.push(`seq ${seq}`), onIcmpError: () => {} });
    net.at(0, () => sendIcmp(a, ip('10.0.0.2'), { ...echo(1), ident: 99 }));
    net.at(MS, () => sendIcmp(a, ip('10.0.0.2'), echo(2)));
    net.at(2 * MS, () => sendIcmp(a, ip('10.0.0.2'), { ...echo(3), ident: 555 }));
    net.run(SECOND);
    expect(other).toEqual(['seq 1']);
    expect(replies).toEqual(['seq 2 ttl 64']);
    expect(() => a.icmp.openPing(99, { onEchoReply: () => {}, onIcmpError: () => {} })).toThrow(/already in use/);
  });

  it('drops a request with a bad ICMP checksum (ICMP_CSUM) and does not answer', () => {
    const { net, a, b, replies } = pair();
    net.at(0, () => sendIcmp(a, ip('10.0.0.2'), echo(1))); // resolves the neighbours
    net.at(MS, () => {
      const len = 8 + payload.length;
      const pkt = a.newPacket(IPV4_HEADER_LEN + len);
      const icmp = pkt.off + ETH_HLEN + IPV4_HEADER_LEN;
      emitIcmp(echo(2), pkt.buf, icmp);
      pkt.buf[icmp + 20]! ^= 0x01; // one payload bit flipped after the checksum was computed
      a.sendIp(pkt, IPPROTO_ICMP, 0, ip('10.0.0.2'), { dontFragment: true });
    });
    net.run(SECOND);
    expect(replies).toEqual(['seq 1 ttl 64']);
    expect(net.dropsOf(b)).toEqual({ [DropReason.ICMP_CSUM]: 1 });
  });

  it('ignores an echo request to a broadcast address (icmp_echo_ignore_broadcasts)', () => {
    const { net, a, b, ea, eb } = pair();
    const frame = Packet.alloc(ETH_HLEN + IPV4_HEADER_LEN + 8 + payload.length, a.ctx.newPacketId(), 0);
    emitEthernet({ dst: 0xffffffffffff, src: ea.mac, ethertype: ETHERTYPE_IPV4 }, frame.buf, frame.off);
    emitIpv4(
      {
        dscpEcn: 0, totalLength: IPV4_HEADER_LEN + 8 + payload.length, ident: 1, dontFragment: false, moreFragments: false,
        fragmentOffset: 0, ttl: 64, protocol: IPPROTO_ICMP, src: ip('10.0.0.1'), dst: ip('10.0.0.255'), headerLength: 20,
      },
      frame.buf,
      frame.off + ETH_HLEN,
    );
    emitIcmp(echo(1), frame.buf, frame.off + ETH_HLEN + IPV4_HEADER_LEN);
    ea.xmit(frame);
    net.run(SECOND);
    expect(eb.counters.rxPackets).toBe(1);
    expect(eb.counters.txPackets).toBe(0);
    expect(net.dropsOf(b)).toEqual({});
  });

  it('answers an unknown protocol with ICMP protocol unreachable from the destination', () => {
    const { net, a, b } = pair();
    addr(b.device('eth0'), '10.0.0.3/24');
    net.at(0, () => {
      const pkt = a.newPacket(IPV4_HEADER_LEN + 16);
      a.sendIp(pkt, 47, 0, ip('10.0.0.3'), { dontFragment: false }); // GRE: no handler in podwire
    });
    net.run(SECOND);
    expect(net.tap.lines().filter((l) => l.startsWith('in') && l.includes('IP '))).toEqual([
      `in ${B} > ${A} IP 10.0.0.3 > 10.0.0.1 ttl 64 ICMP unreachable code 2`,
    ]);
    expect(net.dropsOf(b)).toEqual({ [DropReason.IP_NOPROTO]: 1 });
  });
});

/**
 * The reply as icmp_reply builds it, from the request's ICMP message: type 0,
 * the rest as it was, the checksum computed afresh over the whole message.
 */
function expectedReply(reqIcmp: Uint8Array): number[] {
  const r = Uint8Array.from(reqIcmp);
  r[0] = 0;
  r[2] = 0;
  r[3] = 0;
  const c = internetChecksum(r, 0, r.length);
  r[2] = c >> 8;
  r[3] = c & 0xff;
  return [...r];
}

/** A payload of `n` bytes whose reply sums to `target` before the inversion (its last word chosen to get there). */
function payloadSummingTo(n: number, seed: number, code: number, seq: number, target: number): Uint8Array {
  const p = Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const msg = new Uint8Array(8 + n);
  msg[1] = code;
  msg[4] = 0x12;
  msg[5] = 0x34;
  msg[6] = seq >> 8;
  msg[7] = seq & 0xff;
  msg.set(p, 8);
  msg[msg.length - 2] = 0;
  msg[msg.length - 1] = 0;
  const sum = onesComplementSum(msg, 0, msg.length);
  // sum + last ≡ target (mod 0xffff), last a 16-bit word.
  const last = (target - sum + 0xffff) % 0xffff;
  p[n - 2] = last >> 8;
  p[n - 1] = last & 0xff;
  return p;
}

describe('ICMP echo reply bytes', () => {
  it('match a reply checksummed afresh, for any payload and code, also where the sum is at its edges', () => {
    const cases: { code: number; payload: Uint8Array }[] = [];
    for (let k = 0; k < 40; k++) {
      cases.push({ code: k % 3 === 0 ? k : 0, payload: Uint8Array.from({ length: (k * 13) % 97 }, (_, i) => (i * (k + 5) + k * 11) & 0xff) });
    }
    // Reply sums of 0xffff (checksum 0x0000) and 0xfffe, and a request whose own checksum is 0x0000.
    for (const target of [0xffff, 0xfffe, 0x0001]) cases.push({ code: 0, payload: payloadSummingTo(56, target & 0xff, 0, cases.length, target) });
    // The request's sum is the reply's plus 0x0800 (its type): this one's request checksum is 0x0000.
    cases.push({ code: 0, payload: payloadSummingTo(56, 3, 0, cases.length, 0xffff - 0x0800) });
    const { net, a } = pair();
    cases.forEach((c, i) => net.at(i * MS, () => sendIcmp(a, ip('10.0.0.2'), { type: 8, code: c.code, ident: 0x1234, seq: i, payload: c.payload })));
    net.run(SECOND);
    const icmpOf = (bytes: Uint8Array) => bytes.subarray(ETH_HLEN + IPV4_HEADER_LEN);
    const requests = net.tap.frames.filter((f) => f.dir === 'out' && decode(f.bytes).icmp?.type === 8);
    const replies = net.tap.frames.filter((f) => f.dir === 'in' && decode(f.bytes).icmp?.type === 0);
    expect(replies).toHaveLength(cases.length);
    const checksums = new Set<number>();
    requests.forEach((req, i) => {
      const got = icmpOf(replies[i]!.bytes);
      expect([...got]).toEqual(expectedReply(icmpOf(req.bytes)));
      checksums.add((got[2]! << 8) | got[3]!);
    });
    expect(checksums.has(0)).toBe(true);
    expect(requests.some((r) => icmpOf(r.bytes)[2] === 0 && icmpOf(r.bytes)[3] === 0)).toBe(true);
  });
});
