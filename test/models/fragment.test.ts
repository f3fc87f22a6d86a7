/**
 * IPv4 fragmentation and reassembly against the kernel:
 * - ip_do_fragment (net/ipv4/ip_output.c): payloads of (mtu - ihl) & ~7 bytes
 *   but the last, MF on all but the last, offsets in 8-byte units, the
 *   datagram's ident, a fresh header checksum; done in ip_finish_output,
 *   after FORWARD and POST_ROUTING saw the whole datagram; a DF datagram gets
 *   ICMP fragmentation needed instead (ip_forward / ip_fragment);
 * - ip_defrag (net/ipv4/ip_fragment.c) in ip_local_deliver: any arrival
 *   order; a duplicate is dropped alone, an overlap discards the queue
 *   (RFC 5722 section 4); ip_expire after ipfrag_time (30 s from the queue's
 *   creation) sends ICMP time exceeded, code 1, only if the first fragment
 *   arrived;
 * - nf_defrag_ipv4: with conntrack, PRE_ROUTING sees whole datagrams and
 *   output refragments to the largest original fragment (frag_max_size).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MS, SECOND, TestNet, ip, route, sendIcmp, sendUdp, type Seen } from './helpers.js';
import { Netns } from '../../models/stack/netns.js';
import type { NetDevice } from '../../models/devices/net-device.js';
import { DropReason } from '../../models/devices/drop-reason.js';
import { Packet } from '../../models/packet.js';
import { ipFragment } from '../../models/stack/fragment.js';
import { attachNetfilter } from '../../models/stack/netfilter-env.js';
import type { UdpReceiver } from '../../models/stack/udp.js';
import { ETH_HLEN, ETHERTYPE_IPV4, emitEthernet } from '../../models/wire/ethernet.js';
import {
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  ipv4ChecksumValid,
  ipv4FragmentOffset,
  ipv4Ident,
  ipv4MoreFragments,
  parseIpv4,
  writeIpv4Header,
} from '../../models/wire/ipv4.js';
import { UDP_HEADER_LEN, emitUdp } from '../../models/wire/udp.js';
import { ICMP_ECHO, ICMP_HEADER_LEN, parseIcmp } from '../../models/wire/icmp.js';
import { finishChecksum, onesComplementSum } from '../../models/wire/checksum.js';
import { PcapngWriter } from '../../models/capture/pcapng-writer.js';
import { DIRECTION_INBOUND, DIRECTION_OUTBOUND } from '../../models/capture/capture-writer.js';
import { checkCaptureWithTshark, tsharkFields, tsharkPath } from '../helpers/tshark.js';

const A_MAC = '02:00:00:00:00:0a';
const RA_MAC = '02:00:00:00:00:11';
const RB_MAC = '02:00:00:00:00:12';
const B_MAC = '02:00:00:00:00:0b';

/**
 * A (10.0.1.2) -[mtu mtuA]- R (10.0.1.1 | 10.0.2.1) -[mtu 1500]- B (10.0.2.2),
 * point-to-point wires, R forwarding; every device captured.
 */
function chain(opts: { mtuA?: number } = {}) {
  const net = new TestNet(1);
  const a = net.ns('a');
  const r = net.ns('r', { forward: true });
  const b = net.ns('b');
  const [ea, ra] = net.wire(a, 'eth0', A_MAC, r, 'eth0', RA_MAC, { mtu: opts.mtuA ?? 9000, cidrA: '10.0.1.2/24', cidrB: '10.0.1.1/24' });
  const [rb, eb] = net.wire(r, 'eth1', RB_MAC, b, 'eth0', B_MAC, { mtu: 1500, cidrA: '10.0.2.1/24', cidrB: '10.0.2.2/24' });
  route(ea, '0.0.0.0/0', '10.0.1.1');
  route(eb, '0.0.0.0/0', '10.0.2.1');
  net.capture(ea, ra, rb, eb);
  const atB: Uint8Array[] = [];
  const errorsAtA: string[] = [];
  const sock = (got: Uint8Array[], errors: string[]): UdpReceiver => ({
    onDatagram: (pkt, _s, _sp, _d, off, len) => got.push(pkt.buf.slice(off, off + len)),
    onIcmpError: (type, code) => errors.push(`${type}/${code}`),
  });
  b.udp.bind(9000, sock(atB, []));
  a.udp.bind(5555, sock([], errorsAtA));
  return { net, a, r, b, ea, ra, rb, eb, atB, errorsAtA };
}

/** The bytes sendUdp puts in a payload: i & 0xff, the first four replaced by the tag. */
function expectedPayload(len: number, tag: number): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = i & 0xff;
  p[0] = tag >>> 24;
  p[1] = (tag >>> 16) & 0xff;
  p[2] = (tag >>> 8) & 0xff;
  p[3] = tag & 0xff;
  return p;
}

function framesAt(net: TestNet, dev: string, dir: 'in' | 'out'): Seen[] {
  return net.tap.frames.filter((f) => f.dev === dev && f.dir === dir && f.bytes[12] === 0x08 && f.bytes[13] === 0x00);
}

/** The IPv4 header of a captured frame, and its checksum recomputed from scratch (field taken as 0). */
function ipOf(f: Seen) {
  const h = parseIpv4(f.bytes, ETH_HLEN, f.bytes.length - ETH_HLEN, { verifyChecksum: false });
  const stored = (f.bytes[ETH_HLEN + 10]! << 8) | f.bytes[ETH_HLEN + 11]!;
  const recomputed = finishChecksum(onesComplementSum(f.bytes, ETH_HLEN, h.headerLength) + (~stored & 0xffff));
  return { ...h, stored, recomputed, payload: f.bytes.subarray(ETH_HLEN + h.headerLength, ETH_HLEN + h.totalLength) };
}

/** A UDP datagram from `src` to `dst` (ident, DF off), as a frame addressed to `dstMac`. */
function udpDatagram(ns: Netns, src: number, dst: number, dataLen: number, ident: number, dstMac: string): Packet {
  const len = UDP_HEADER_LEN + dataLen;
  const pkt = ns.newPacket(IPV4_HEADER_LEN + len);
  const b = pkt.buf;
  const ipo = pkt.off + ETH_HLEN;
  const udp = ipo + IPV4_HEADER_LEN;
  for (let i = 0; i < dataLen; i++) b[udp + UDP_HEADER_LEN + i] = (i * 7) & 0xff;
  writeIpv4Header(b, ipo, 0, IPV4_HEADER_LEN + len, ident, false, 64, IPPROTO_UDP, src, dst);
  emitUdp({ srcPort: 5555, dstPort: 9000, length: len }, b, udp, src, dst);
  emitEthernet({ dst: Number.parseInt(dstMac.replaceAll(':', ''), 16), src: 0x020000000099, ethertype: ETHERTYPE_IPV4 }, b, pkt.off);
  return pkt;
}

/** Hands fragments to B's eth0 receive path at the given times, in the given order. */
function inject(net: TestNet, b: Netns, dev: NetDevice, frags: Packet[], order: number[], times: number[]): void {
  order.forEach((k, i) => net.at(times[i]!, () => b.netifReceive(dev, frags[k]!)));
}

describe('ip_fragment on the forward path', () => {
  it('splits a 3000-byte UDP datagram over a 1500-byte hop into 1480/1480/48 payload bytes, reassembled at the socket', () => {
    const { net, a, r, b, atB } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 3000, 0xc0ffee01, { df: false }));
    net.run(SECOND);

    const [orig] = framesAt(net, 'a/eth0', 'out').map(ipOf);
    expect(orig!.totalLength).toBe(3028);
    expect(orig!.dontFragment).toBe(false);

    // R's egress and B's ingress carry the same three fragments.
    for (const dev of ['r/eth1', 'b/eth0']) {
      const frags = framesAt(net, dev, dev === 'r/eth1' ? 'out' : 'in').map(ipOf);
      expect(frags.map((h) => [h.totalLength, h.fragmentOffset, h.moreFragments, h.dontFragment])).toEqual([
        [1500, 0, true, false],
        [1500, 1480, true, false],
        [68, 2960, false, false],
      ]);
      expect(frags.map((h) => h.payload.length)).toEqual([1480, 1480, 48]);
      for (const h of frags) {
        expect(h.ident).toBe(orig!.ident);
        expect(h.ttl).toBe(63);
        expect(h.protocol).toBe(IPPROTO_UDP);
        expect(h.src).toBe(ip('10.0.1.2'));
        expect(h.dst).toBe(ip('10.0.2.2'));
        expect(h.headerLength).toBe(20);
        expect(h.stored).toBe(h.recomputed);
      }
      // The fragments' payloads, end to end, are the original IP payload.
      const joined = new Uint8Array(3008);
      for (const h of frags) joined.set(h.payload, h.fragmentOffset);
      expect(joined).toEqual(orig!.payload);
    }

    expect(atB.length).toBe(1);
    expect(atB[0]).toEqual(expectedPayload(3000, 0xc0ffee01));
    expect(r.fragStats).toEqual({ fragOKs: 1, fragFails: 0, fragCreates: 3 });
    expect(b.ipfrag.stats).toMatchObject({ reasmReqds: 3, reasmOKs: 1, reasmFails: 0 });
    expect(b.ipfrag.pending).toBe(0);
    expect(net.drops.total).toBe(0);
  });

  it('still answers a DF datagram above the egress MTU with fragmentation needed (mtu 1500)', () => {
    const { net, a, r, atB, errorsAtA } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 3000, 1, { df: true }));
    net.run(SECOND);
    expect(atB).toEqual([]);
    expect(errorsAtA).toEqual(['3/4']);
    const icmp = framesAt(net, 'a/eth0', 'in').map((f) => parseIcmp(f.bytes, ETH_HLEN + 20, f.bytes.length - ETH_HLEN - 20));
    expect(icmp.map((c) => ('mtu' in c ? c.mtu : undefined))).toEqual([1500]);
    expect(framesAt(net, 'r/eth1', 'out')).toEqual([]);
    expect(net.dropsOf(r)).toEqual({ [DropReason.PKT_TOO_BIG]: 1 });
    expect(r.fragStats.fragOKs).toBe(0);
  });
});

describe('ip_fragment on local output', () => {
  it('fragments a non-DF datagram larger than the route MTU; DF ones fail with EMSGSIZE', () => {
    const { net, r, b, atB } = chain();
    let dfSent: string | null | undefined;
    net.at(0, () => sendUdp(r, ip('10.0.2.2'), 5555, 9000, 2000, 7, { df: false }));
    net.at(1, () => (dfSent = sendUdp(r, ip('10.0.2.2'), 5555, 9000, 2000, 8, { df: true })));
    net.run(SECOND);
    const frags = framesAt(net, 'r/eth1', 'out').map(ipOf);
    expect(frags.map((h) => [h.totalLength, h.fragmentOffset, h.moreFragments, h.ttl])).toEqual([
      [1500, 0, true, 64],
      [548, 1480, false, 64],
    ]);
    expect(atB).toEqual([expectedPayload(2000, 7)]);
    expect(dfSent).toBe('EMSGSIZE');
    expect(net.dropsOf(r)).toEqual({ [DropReason.PKT_TOO_BIG]: 1 });
    expect(b.ipfrag.stats.reasmOKs).toBe(1);
  });

  it('a large echo request without DF is answered with a fragmented reply that reassembles at the pinger', () => {
    const { net, a, b } = chain();
    const replies: number[] = [];
    a.icmp.openPing(77, { onEchoReply: (pkt, seq) => replies.push(seq, pkt.len), onIcmpError: () => {} });
    const payload = new Uint8Array(4000).map((_, i) => (i * 13) & 0xff);
    net.at(0, () => sendIcmp(a, ip('10.0.2.2'), { type: ICMP_ECHO, code: 0, ident: 77, seq: 3, payload }, { df: false }));
    net.run(SECOND);
    // Request: fragmented by R towards B; reply: fragmented by B (local output), passed through R as fragments.
    // 8 + 4000 ICMP bytes: 1480 + 1480 + 1048.
    expect(framesAt(net, 'r/eth1', 'out').map(ipOf).map((h) => h.totalLength)).toEqual([1500, 1500, 1068]);
    expect(framesAt(net, 'a/eth0', 'in').map(ipOf).map((h) => h.totalLength)).toEqual([1500, 1500, 1068]);
    expect(replies).toEqual([3, ETH_HLEN + IPV4_HEADER_LEN + ICMP_HEADER_LEN + 4000]);
    expect(b.ipfrag.stats.reasmOKs).toBe(1);
    expect(a.ipfrag.stats.reasmOKs).toBe(1);
    expect(net.drops.total).toBe(0);
  });
});

/**
 * Path MTU discovery for sockets (ipv4_sk_update_pmtu -> __ip_rt_update_pmtu):
 * "fragmentation needed" quoting a datagram of one of this host's sockets
 * lowers the MTU of the route to its destination, never below
 * ip_rt_min_pmtu (552), for ip_rt_mtu_expires (600 s); a socket's next
 * datagram is sized against it (IP_PMTUDISC_WANT: fragmented here, no DF).
 */
describe('path MTU learned from fragmentation needed', () => {
  it('fragments the next datagram to the learned MTU at the sender', () => {
    const { net, a, errorsAtA, atB } = chain();
    net.at(0, () => a.udp.send(5555, ip('10.0.2.2'), 9000, 2000));
    net.at(10 * MS, () => a.udp.send(5555, ip('10.0.2.2'), 9000, 2000));
    net.run(SECOND);
    const out = framesAt(net, 'a/eth0', 'out').map(ipOf);
    expect(out.map((h) => [h.totalLength, h.dontFragment, h.moreFragments, h.fragmentOffset])).toEqual([
      [2028, true, false, 0], // fits A's 9000-byte link: DF; R answers fragmentation needed (mtu 1500)
      [1500, false, true, 0],
      [548, false, false, 1480],
    ]);
    expect(errorsAtA).toEqual(['3/4']);
    expect(atB).toHaveLength(1);
    expect(a.pathMtu(a.device('eth0'), ip('10.0.2.2'))).toBe(1500);
    expect(a.pathMtu(a.device('eth0'), ip('10.0.2.3'))).toBe(9000);
  });

  it('never raises a path MTU, floors it at 552, and forgets it after 10 minutes', () => {
    const { net, a } = chain();
    const eth0 = a.device('eth0');
    const dst = ip('10.0.2.2');
    const seen: number[] = [];
    net.at(0, () => {
      a.updatePmtu(dst, 1400);
      seen.push(a.pathMtu(eth0, dst));
      a.updatePmtu(dst, 1450);
      seen.push(a.pathMtu(eth0, dst));
      a.updatePmtu(dst, 300);
      seen.push(a.pathMtu(eth0, dst));
    });
    net.at(599 * SECOND, () => seen.push(a.pathMtu(eth0, dst)));
    net.at(600 * SECOND, () => seen.push(a.pathMtu(eth0, dst)));
    net.run(601 * SECOND);
    expect(seen).toEqual([1400, 1400, 552, 552, 9000]);
  });

  it('learns nothing from an error about a datagram no socket of ours sent', () => {
    const { net, a } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 7777, 9000, 2000, 1, { df: true }));
    net.run(SECOND);
    expect(framesAt(net, 'a/eth0', 'in').map(ipOf).some((h) => h.protocol === 1)).toBe(true); // the error came back
    expect(a.pathMtu(a.device('eth0'), ip('10.0.2.2'))).toBe(9000);
  });
});

describe('ip_defrag at local delivery', () => {
  function fragsFor(net: TestNet, a: Netns, dataLen: number, ident: number, mtu: number): Packet[] {
    const whole = udpDatagram(a, ip('10.0.1.2'), ip('10.0.2.2'), dataLen, ident, B_MAC);
    void net;
    return ipFragment(whole, mtu)!;
  }

  it('reassembles fragments arriving in any order', () => {
    const { net, a, b, eb, atB } = chain();
    const frags = fragsFor(net, a, 3000, 0x1234, 1000); // 976 + 976 + 976 + 80 payload bytes
    expect(frags.length).toBe(4);
    inject(net, b, eb, frags, [3, 1, 0, 2], [0, 1000, 2000, 3000]);
    net.run(SECOND);
    expect(atB.length).toBe(1);
    expect(atB[0]).toEqual(new Uint8Array(3000).map((_, i) => (i * 7) & 0xff));
    expect(b.ipfrag.stats).toMatchObject({ reasmReqds: 4, reasmOKs: 1, reasmFails: 0 });
    expect(b.ipfrag.pending).toBe(0);
  });

  it('drops a duplicate fragment alone and still completes the datagram', () => {
    const { net, a, b, eb, atB } = chain();
    const frags = fragsFor(net, a, 3000, 0x1235, 1500);
    const dup = frags[0]!.clone();
    inject(net, b, eb, [...frags, dup], [0, 3, 2, 1], [0, 1, 2, 3]);
    net.run(SECOND);
    expect(atB.length).toBe(1);
    expect(net.dropsOf(b)).toEqual({ [DropReason.DUP_FRAG]: 1 });
  });

  it('discards the whole queue when a fragment overlaps queued data (RFC 5722)', () => {
    const { net, a, b, eb, atB } = chain();
    const frags = fragsFor(net, a, 3000, 0x1236, 1500); // offsets 0, 1480, 2960
    // A second fragmentation at 1000 bytes: its second fragment covers [976, 1952), across 1480.
    const other = fragsFor(net, a, 3000, 0x1236, 1000);
    inject(net, b, eb, [frags[0]!, other[1]!, frags[1]!, frags[2]!], [0, 1, 2, 3], [0, 1, 2, 3]);
    net.run(SECOND);
    expect(atB).toEqual([]);
    expect(b.ipfrag.stats.reasmOverlaps).toBe(1);
    // The first fragment and the overlapping one go; the two after it start a new queue that never completes.
    expect(net.dropsOf(b)).toEqual({ [DropReason.IP_FRAG_OVERLAP]: 2 });
    expect(b.ipfrag.pending).toBe(1);
  });

  it('expires an incomplete queue 30 s after its first fragment arrived, with ICMP time exceeded code 1 to the sender', () => {
    const { net, a, b, eb, atB, errorsAtA } = chain();
    const frags = fragsFor(net, a, 3000, 0x4242, 1500);
    inject(net, b, eb, frags, [0, 2], [0, 5 * SECOND]);
    net.run(30 * SECOND - 1);
    expect(framesAt(net, 'b/eth0', 'out')).toEqual([]);
    expect(b.ipfrag.pending).toBe(1);
    net.run(31 * SECOND);
    expect(atB).toEqual([]);
    const out = framesAt(net, 'b/eth0', 'out');
    expect(out.length).toBe(1);
    // ip_expire runs at exactly 30 s; B first resolves its gateway (ARP request and reply, 1 us each way).
    const firstOut = net.tap.frames.find((f) => f.dev === 'b/eth0' && f.dir === 'out')!;
    expect(firstOut.t).toBe(30 * SECOND);
    expect(out[0]!.t).toBe(30 * SECOND + 2000);
    const h = ipOf(out[0]!);
    expect([h.src, h.dst, h.protocol]).toEqual([ip('10.0.2.2'), ip('10.0.1.2'), 1]);
    const icmp = parseIcmp(out[0]!.bytes, ETH_HLEN + 20, h.totalLength - 20);
    expect([icmp.type, icmp.code]).toEqual([11, 1]);
    // It quotes the first fragment's header: same ident, MF set, offset 0.
    const q = (icmp as { quoted: Uint8Array }).quoted;
    expect([ipv4Ident(q, 0), ipv4MoreFragments(q, 0), ipv4FragmentOffset(q, 0), ipv4ChecksumValid(q, 0)]).toEqual([0x4242, true, 0, true]);
    expect(q.length).toBe(576 - 20 - 8); // icmp_send quotes what fits in 576 bytes
    expect(errorsAtA).toEqual(['11/1']);
    expect(net.dropsOf(b)).toEqual({ [DropReason.FRAG_REASM_TIMEOUT]: 2 });
    expect(b.ipfrag.stats).toMatchObject({ reasmReqds: 2, reasmOKs: 0, reasmFails: 1, reasmTimeout: 1 });
    expect(b.ipfrag.pending).toBe(0);
  });

  it('expires silently when the first fragment never arrived', () => {
    const { net, a, b, eb } = chain();
    const frags = fragsFor(net, a, 3000, 0x4243, 1500);
    inject(net, b, eb, frags, [1, 2], [0, 1]);
    net.run(40 * SECOND);
    expect(framesAt(net, 'b/eth0', 'out')).toEqual([]);
    expect(net.dropsOf(b)).toEqual({ [DropReason.FRAG_REASM_TIMEOUT]: 2 });
    expect(b.ipfrag.stats.reasmTimeout).toBe(1);
  });
});

describe('nf_defrag_ipv4 under conntrack', () => {
  const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate INVALID -j DROP
COMMIT
`;

  it('reassembles at PRE_ROUTING so no fragment is INVALID, and refragments to the largest original fragment', () => {
    // A-R MTU 1000: A fragments locally at 1000; R-B is 1500, but R refragments at frag_max_size 1000.
    const { net, a, r, atB } = chain({ mtuA: 1000 });
    attachNetfilter(r).restore(RULES, 'rules');
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 3000, 5, { df: false }));
    net.run(SECOND);
    const sizes = (dev: string, dir: 'in' | 'out') => framesAt(net, dev, dir).map(ipOf).map((h) => [h.totalLength, h.fragmentOffset, h.moreFragments]);
    const expected = [[996, 0, true], [996, 976, true], [996, 1952, true], [100, 2928, false]];
    expect(sizes('a/eth0', 'out')).toEqual(expected);
    expect(sizes('r/eth1', 'out')).toEqual(expected);
    expect(framesAt(net, 'r/eth1', 'out').map(ipOf).every((h) => h.ttl === 63 && h.stored === h.recomputed)).toBe(true);
    expect(atB).toEqual([expectedPayload(3000, 5)]);
    expect(r.ipfrag.stats).toMatchObject({ reasmReqds: 4, reasmOKs: 1 });
    expect(net.drops.total).toBe(0);
  });

  it('without conntrack the router forwards the fragments as they are', () => {
    const { net, a, r, atB } = chain({ mtuA: 1000 });
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 3000, 5, { df: false }));
    net.run(SECOND);
    expect(framesAt(net, 'r/eth1', 'out').map(ipOf).map((h) => h.totalLength)).toEqual([996, 996, 996, 100]);
    expect(r.ipfrag.stats.reasmReqds).toBe(0);
    expect(atB.length).toBe(1);
  });
});

const tshark = tsharkPath();
if (tshark === null) console.warn('fragment.test.ts: tshark not installed (not on PATH); skipping the tshark checks');

describe.skipIf(tshark === null)('tshark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'podwire-frag-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the fragments cleanly and reassembles the datagram from them', async () => {
    const { net, a } = chain();
    net.at(0, () => sendUdp(a, ip('10.0.2.2'), 5555, 9000, 3000, 9, { df: false }));
    net.run(SECOND);
    const path = join(dir, 'b.eth0.pcapng');
    const w = new PcapngWriter(path, { epochSeconds: 0 });
    const ifb = w.addInterface('b/eth0');
    for (const f of net.tap.frames.filter((x) => x.dev === 'b/eth0')) {
      w.writePacket(ifb, f.t, f.bytes, 0, f.bytes.length, f.dir === 'in' ? DIRECTION_INBOUND : DIRECTION_OUTBOUND);
    }
    w.close();
    const check = await checkCaptureWithTshark(path);
    expect(check.problems).toEqual([]);
    const rows = await tsharkFields(path, ['ip.len', 'ip.flags.mf', 'ip.frag_offset', 'ip.reassembled.length', 'udp.length'], {
      filter: 'ip',
    });
    // tshark 4.0 shows ip.frag_offset in 8-byte units, as the header field holds it.
    expect(rows).toEqual([
      ['1500', '1', '0', '', ''],
      ['1500', '1', String(1480 / 8), '', ''],
      ['68', '0', String(2960 / 8), '3008', '3008'],
    ]);
  });
});
