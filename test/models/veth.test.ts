/**
 * veth pairs against drivers/net/veth.c and net/core/dev.c:
 * - veth_xmit hands the frame to the peer (veth_forward_skb -> __dev_forward_skb
 *   -> netif_rx) in the peer's namespace, bytes unchanged;
 * - __dev_forward_skb drops what the peer cannot take: is_skb_forwardable accepts
 *   up to mtu + hard_header_len + VLAN_HLEN (1500 + 14 + 4) bytes and nothing
 *   while the peer is down; veth_xmit counts the drop as the sender's tx_dropped;
 * - taps on the sender see the frame in dev_queue_xmit_nit, before veth_xmit
 *   decides, so a frame the peer refuses is still captured on the sender;
 * - eth_type_trans on the peer sets pkt_type from the destination MAC, and
 *   ip_rcv_core drops PACKET_OTHERHOST (SKB_DROP_REASON_OTHERHOST).
 */
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../models/devices/drop-reason.js';
import { ETHERTYPE_TEST, MS, TestNet, ip, rawFrame, sendUdp } from './helpers.js';
import { ETHERTYPE_IPV4 } from '../../models/wire/ethernet.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

function pair(opts: { mtuA?: number; mtuB?: number; delayNs?: number } = {}) {
  const net = new TestNet(1);
  const a = net.ns('a');
  const b = net.ns('b');
  const [ea, eb] = net.veth(a, 'eth0', A, b, 'eth0', B, { ...opts, cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  net.capture(ea, eb);
  return { net, a, b, ea, eb };
}

describe('veth', () => {
  it('delivers the frame unchanged to the peer, captured out on the sender and in on the peer', () => {
    const { net, a, ea, eb } = pair();
    const pkt = rawFrame(a, B, A, ETHERTYPE_TEST, 100, 7);
    const sent = pkt.bytes().slice();
    ea.xmit(pkt);
    expect(net.tap.frames.map((f) => `${f.dev} ${f.dir} ${f.t}`)).toEqual(['a/eth0 out 0', 'b/eth0 in 0']);
    expect(net.tap.frames[0]!.bytes).toEqual(sent);
    expect(net.tap.frames[1]!.bytes).toEqual(sent);
    expect([ea.counters.txPackets, ea.counters.txBytes, eb.counters.rxPackets, eb.counters.rxBytes]).toEqual([1, 114, 1, 114]);
  });

  it('arrives after the configured per-hop delay when there is one', () => {
    const { net, a, ea } = pair({ delayNs: 3 * MS });
    net.at(5 * MS, () => ea.xmit(rawFrame(a, B, A, ETHERTYPE_TEST)));
    net.run(20 * MS);
    expect(net.tap.frames.map((f) => `${f.dev} ${f.dir} ${f.t}`)).toEqual([`a/eth0 out ${5 * MS}`, `b/eth0 in ${8 * MS}`]);
  });

  it("accepts frames up to the peer's MTU + 14 + 4 (VLAN_HLEN) bytes and drops longer ones as the sender's tx_dropped", () => {
    const { net, a, ea, eb } = pair({ mtuA: 9000, mtuB: 1500 });
    ea.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 1500 + 4)); // 1518 bytes: forwardable
    ea.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 1500 + 5)); // 1519 bytes: too long
    expect(net.tap.frames.map((f) => `${f.dev} ${f.dir} ${f.bytes.length}`)).toEqual([
      'a/eth0 out 1518',
      'b/eth0 in 1518',
      'a/eth0 out 1519', // dev_queue_xmit_nit ran before veth_xmit refused it
    ]);
    expect(ea.counters.txDropped).toBe(1);
    expect(ea.counters.dropsByReason.get(DropReason.PKT_TOO_BIG)).toBe(1);
    expect(eb.counters.rxPackets).toBe(1);
    expect(net.dropsOf(a)).toEqual({ [DropReason.PKT_TOO_BIG]: 1 });
  });

  it('silently loses an IP datagram too big for the peer when the MTUs disagree', () => {
    const { net, a, b, ea } = pair({ mtuA: 9000, mtuB: 1500 });
    const got: number[] = [];
    b.udp.bind(9000, { onDatagram: (_p, _s, _sp, _d, _o, len) => got.push(len), onIcmpError: () => {} });
    net.at(0, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 1472)); // IP 1500: fits
    net.at(MS, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 1600)); // IP 1628: A's MTU allows it, B's does not
    net.run(10 * MS);
    expect(got).toEqual([1472]);
    expect(ea.counters.txDropped).toBe(1);
  });

  it('drops while the peer is down', () => {
    const { net, a, ea, eb } = pair();
    eb.up = false;
    ea.xmit(rawFrame(a, B, A, ETHERTYPE_TEST));
    expect(net.tap.frames.filter((f) => f.dev === 'b/eth0')).toEqual([]);
    expect(ea.counters.dropsByReason.get(DropReason.DEV_READY)).toBe(1);
  });

  it('classifies at the peer: an IPv4 frame for another MAC is dropped as OTHERHOST by ip_rcv', () => {
    const { net, a, b, ea, eb } = pair();
    const got: number[] = [];
    b.udp.bind(9000, { onDatagram: (_p, _s, _sp, _d, _o, len) => got.push(len), onIcmpError: () => {} });
    // Resolve first, then send one datagram whose Ethernet destination is rewritten to a stranger.
    net.at(0, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 10));
    net.at(MS, () => {
      const n = a.neighbour(ea, ip('10.0.0.2'))!;
      const real = n.mac;
      n.mac = 0x020000000099;
      sendUdp(a, ip('10.0.0.2'), 5555, 9000, 11);
      n.mac = real;
    });
    net.run(10 * MS);
    expect(got).toEqual([10]);
    expect(eb.counters.dropsByReason.get(DropReason.OTHERHOST)).toBe(1);
    expect(net.dropsOf(b)).toEqual({ [DropReason.OTHERHOST]: 1 });
    // The frame did reach the peer (it is captured there) before ip_rcv dropped it.
    const last = net.tap.frames[net.tap.frames.length - 1]!;
    expect(`${last.dev} ${last.dir}`).toBe('b/eth0 in');
    expect((last.bytes[12]! << 8) | last.bytes[13]!).toBe(ETHERTYPE_IPV4);
  });
});
