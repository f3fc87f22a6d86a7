/**
 * The ping application against iputils ping (ping/ping_common.c, ping/ping.c):
 * - `ping -c COUNT -i INTERVAL -s SIZE`: COUNT echo requests INTERVAL apart,
 *   icmp_seq from 1, one identifier;
 * - the payload: bytes 0, 1, 2, ... (the default fill "for (i = 0; i < datalen;
 *   ++i) *p++ = i"), with a struct timeval (tv_sec, tv_usec; 8 bytes each,
 *   little-endian on x86_64) over the first 16 bytes when SIZE >= 16, taken at
 *   send time (ping4_send_probe);
 * - RTT = reply arrival - request send; a reply later than the timeout counts
 *   as late, not received; a second reply to one sequence is a duplicate
 *   ("DUP!"); ICMP errors about our requests are counted by kind.
 */
import { describe, expect, it } from 'vitest';
import { PingApp, type PingOptions } from '../../models/apps/ping.js';
import { FlowStats } from '../../models/stats/flow-stats.js';
import { MS, SECOND, TestNet, decode, frameLine, ip } from './helpers.js';
import type { IcmpEchoRepr } from '../../models/wire/icmp.js';
import { Packet } from '../../models/packet.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const EPOCH = 1_767_225_600;

/** A and B on a wire with `delayNs` each way; A pings B. */
function pinger(delayNs: number, opts: Partial<PingOptions>) {
  const net = new TestNet(1);
  const a = net.ns('a', { component: 'ca' });
  const b = net.ns('b', { component: 'cb' });
  const [ea, eb] = net.wire(a, 'eth0', A, b, 'eth0', B, { delayNs, cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  net.capture(ea);
  const stats = new FlowStats('ping', 'ping', 'a', '10.0.0.2', 'rtt');
  const o: PingOptions = { dst: ip('10.0.0.2'), count: 3, intervalNs: SECOND, size: 56, broadcast: false, ident: 0x4d2, startNs: 0, timeoutNs: SECOND, epochSeconds: EPOCH, ...opts, name: opts.name ?? 'ping' };
  new PingApp(a, o, stats);
  return { net, a, b, ea, eb, stats };
}

function u64le(b: Uint8Array, off: number): number {
  let v = 0;
  for (let i = 7; i >= 0; i--) v = v * 256 + b[off + i]!;
  return v;
}

const requests = (net: TestNet) => net.tap.frames.filter((f) => f.dir === 'out' && decode(f.bytes).icmp?.type === 8);

describe('ping', () => {
  it('sends COUNT requests INTERVAL apart with icmp_seq from 1, one identifier, and records each RTT', () => {
    const { net, stats } = pinger(10 * MS, { startNs: 1500 * MS });
    net.run(10 * SECOND);
    // The first request waits for ARP (20 ms round trip); the others go at once.
    expect(requests(net).map((f) => `${f.t / MS} ${frameLine(f.bytes)}`)).toEqual([
      `1520 ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 ICMP echo request id 1234 seq 1`,
      `2500 ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 ICMP echo request id 1234 seq 2`,
      `3500 ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 ICMP echo request id 1234 seq 3`,
    ]);
    expect(requests(net).every((f) => f.bytes.length === 98 && decode(f.bytes).ip!.dontFragment)).toBe(true);
    const j = stats.toJSON() as { sent: number; received: number; lost: number; latencyNs: { min: number; max: number; mean: number } };
    expect([j.sent, j.received, j.lost]).toEqual([3, 3, 0]);
    expect([j.latencyNs.min, j.latencyNs.max]).toEqual([20 * MS, 40 * MS]);
    expect(j.latencyNs.mean).toBe(Math.round((40 + 20 + 20) * MS / 3));
  });

  it("lays the payload out as iputils does: a timeval at send time, then the 0, 1, 2, ... fill", () => {
    const { net } = pinger(10 * MS, { startNs: 1500 * MS + 250 * 1000 + 7, count: 2 });
    net.run(5 * SECOND);
    const payloads = requests(net).map((f) => (decode(f.bytes).icmp as IcmpEchoRepr).payload);
    expect(payloads.length).toBe(2);
    const sentAt = [1500 * MS + 250 * 1000 + 7, 2500 * MS + 250 * 1000 + 7];
    payloads.forEach((p, i) => {
      expect(p.length).toBe(56);
      expect(u64le(p, 0)).toBe(EPOCH + Math.floor(sentAt[i]! / SECOND));
      expect(u64le(p, 8)).toBe(Math.floor((sentAt[i]! % SECOND) / 1000));
      expect([...p.subarray(16)]).toEqual(Array.from({ length: 40 }, (_, k) => 16 + k));
    });
  });

  it('fills a payload shorter than a timeval with the pattern only', () => {
    const { net } = pinger(MS, { size: 8, count: 1 });
    net.run(SECOND);
    const p = (decode(requests(net)[0]!.bytes).icmp as IcmpEchoRepr).payload;
    expect([...p]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('counts replies later than the timeout as late, not received', () => {
    const { net, stats } = pinger(600 * MS, { count: 2, timeoutNs: SECOND });
    net.run(10 * SECOND);
    expect([stats.sent, stats.received, stats.late, stats.lost]).toEqual([2, 0, 2, 2]);
    expect(stats.toJSON().latencyNs).toBeNull();
  });

  it('counts a second reply to the same sequence as a duplicate', () => {
    const { net, b, eb, stats } = pinger(MS, { count: 1 });
    net.at(500 * MS, () => {
      const reply = net.tap.frames.find((f) => f.dir === 'in' && decode(f.bytes).icmp?.type === 0)!.bytes;
      const copy = Packet.alloc(reply.length, b.ctx.newPacketId(), b.now());
      copy.buf.set(reply, copy.off);
      eb.xmit(copy);
    });
    net.run(SECOND);
    expect([stats.received, stats.duplicates]).toEqual([1, 1]);
  });

  it('counts errors by kind: no route, and ICMP errors quoting its requests', () => {
    const noRoute = pinger(MS, { dst: ip('192.0.2.1'), count: 2 });
    noRoute.net.run(5 * SECOND);
    expect([noRoute.stats.sent, noRoute.stats.received]).toEqual([2, 0]);
    expect(Object.fromEntries(noRoute.stats.errors)).toEqual({ 'network unreachable': 2 });

    const unresolved = pinger(MS, { dst: ip('10.0.0.99'), count: 2, intervalNs: 200 * MS });
    unresolved.net.run(5 * SECOND);
    expect(Object.fromEntries(unresolved.stats.errors)).toEqual({ 'destination host unreachable': 2 });
  });
});
