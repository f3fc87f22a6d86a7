/**
 * The tbf qdisc against net/sched/sch_tbf.c and tc-tbf(8), without peakrate:
 * - tokens are time: the bucket holds burst·1e9/rate ns and refills with
 *   elapsed time, capped at the bucket (tbf_dequeue: min(now - t_c, buffer));
 * - the head frame leaves when the tokens cover its length (the whole frame,
 *   qdisc_pkt_len), else the watchdog fires when they will;
 * - the waiting frames are a byte FIFO (bfifo): one that would take the backlog
 *   past `limit` is dropped (SKB_DROP_REASON_QDISC_DROP), and so is one longer
 *   than the bucket (max_size);
 * - taps see a frame when the qdisc lets it go (dev_hard_start_xmit);
 * - the ifb path (tc ingress mirred to an ifb with a root tbf) is tapped on
 *   arrival and delays the rest of the receive path.
 * Here the rate is 1,000,000 bytes/s: a 1000-byte frame costs exactly 1 ms.
 */
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../models/devices/drop-reason.js';
import { TbfQdisc } from '../../models/devices/tbf.js';
import { ETHERTYPE_TEST, MS, TestNet, rawFrame } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const C = '02:00:00:00:00:0c';
const RATE = 1_000_000; // bytes/s
const FRAME = 1000; // bytes, Ethernet header included

function shaped(burstBytes = 3000, limitBytes = 5000) {
  const net = new TestNet(1);
  const a = net.ns('a');
  const b = net.ns('b');
  const [ea, eb] = net.veth(a, 'eth0', A, b, 'eth0', B);
  const tbf = new TbfQdisc(a, { rateBytesPerSec: RATE, burstBytes, limitBytes });
  ea.setQdisc(tbf);
  net.capture(ea, eb);
  const send = (n: number, len = FRAME): void => {
    for (let i = 0; i < n; i++) ea.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, len - 14, i));
  };
  const times = (dev: string): number[] => net.tap.frames.filter((f) => f.dev === dev).map((f) => f.t);
  return { net, a, ea, eb, tbf, send, times };
}

describe('tbf qdisc', () => {
  it('lets a full bucket go at once, then paces the rest at the rate and drops past the byte limit', () => {
    const { net, ea, eb, tbf, send, times } = shaped();
    net.at(0, () => send(10));
    net.run(50 * MS);
    // 3 frames use the 3 ms bucket; 5 wait (5000 bytes = limit); 2 are dropped.
    const expected = [0, 0, 0, 1 * MS, 2 * MS, 3 * MS, 4 * MS, 5 * MS];
    expect(times('a/eth0')).toEqual(expected); // tapped as they leave the qdisc
    expect(times('b/eth0')).toEqual(expected);
    expect(ea.counters.txPackets).toBe(8);
    expect(ea.counters.txDropped).toBe(2);
    expect(ea.counters.dropsByReason.get(DropReason.QDISC_DROP)).toBe(2);
    expect(net.dropsOf(ea.ns)).toEqual({ QDISC_DROP: 2 });
    expect(eb.counters.rxPackets).toBe(8);
    expect([tbf.sent, tbf.dropped, tbf.queueLength, tbf.backlogBytes]).toEqual([8, 2, 0, 0]);
    // The frames that left are the first eight, in order (FIFO).
    expect(net.tap.frames.filter((f) => f.dev === 'b/eth0').map((f) => f.bytes[14])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('refills the bucket with idle time, up to the burst and no further', () => {
    const { net, send, times } = shaped();
    net.at(0, () => send(4)); // 0, 0, 0, 1 ms: the bucket is empty at 1 ms
    net.at(20 * MS, () => send(4)); // 19 ms idle refills only 3 ms of tokens
    net.at(22.5 * MS, () => send(2)); // 1.5 ms after the last departure: 1.5 frames of tokens
    net.run(50 * MS);
    expect(times('b/eth0')).toEqual([0, 0, 0, 1 * MS, 20 * MS, 20 * MS, 20 * MS, 21 * MS, 22.5 * MS, 23 * MS]);
  });

  it('charges each frame its own length', () => {
    const { net, send, times } = shaped(1500, 10_000);
    net.at(0, () => {
      send(1, 1500); // empties the 1.5 ms bucket
      send(1, 500); // 0.5 ms
      send(1, 250); // 0.25 ms later
      send(1, 1250); // 1.25 ms later
    });
    net.run(50 * MS);
    expect(times('b/eth0')).toEqual([0, 0.5 * MS, 0.75 * MS, 2 * MS]);
  });

  it('drops a frame longer than the bucket even when idle (max_size)', () => {
    const { net, ea, send, times } = shaped(1000, 10_000);
    net.at(0, () => {
      send(1, 1001);
      send(1, 1000);
    });
    net.run(10 * MS);
    expect(times('b/eth0')).toEqual([0]);
    expect(times('a/eth0')).toEqual([0]); // the dropped frame never reached the tap
    expect(ea.counters.dropsByReason.get(DropReason.QDISC_DROP)).toBe(1);
  });

  it('as an ifb on a bridge port: tapped on arrival, forwarded at the rate, drops counted on the port', () => {
    const net = new TestNet(1);
    const a = net.ns('a');
    const b = net.ns('b');
    const c = net.ns('c');
    const [ea, eb] = net.veth(a, 'eth0', A, b, 'veth-a', '02:00:00:00:01:0a');
    const [ec1, ec] = net.veth(b, 'veth-c', '02:00:00:00:01:0c', c, 'eth0', C);
    const br = net.bridge(b, 'br0', '02:00:00:00:01:00');
    br.addPort(eb, false);
    br.addPort(ec1, false);
    eb.setIngressShaper(new TbfQdisc(b, { rateBytesPerSec: RATE, burstBytes: 2000, limitBytes: 2000 }));
    net.capture(eb, ec);
    net.at(0, () => {
      for (let i = 0; i < 6; i++) ea.xmit(rawFrame(a, C, A, ETHERTYPE_TEST, FRAME - 14, i));
    });
    net.run(50 * MS);
    const at = (dev: string): number[] => net.tap.frames.filter((f) => f.dev === dev).map((f) => f.t);
    expect(at('b/veth-a')).toEqual([0, 0, 0, 0, 0, 0]); // taps run before tc ingress
    expect(at('c/eth0')).toEqual([0, 0, 1 * MS, 2 * MS]);
    expect(eb.counters.rxPackets).toBe(6);
    expect(eb.counters.rxDropped).toBe(2);
    expect(eb.counters.dropsByReason.get(DropReason.QDISC_DROP)).toBe(2);
    expect(ec.counters.rxPackets).toBe(4);
  });

  it('refuses a second root qdisc and nonsense parameters', () => {
    const { a, ea } = shaped();
    expect(() => ea.setQdisc(new TbfQdisc(a, { rateBytesPerSec: RATE, burstBytes: 1, limitBytes: 1 }))).toThrow('a/eth0: already has a root qdisc');
    expect(() => new TbfQdisc(a, { rateBytesPerSec: 0, burstBytes: 1, limitBytes: 1 })).toThrow('tbf: rate must be positive');
    expect(() => new TbfQdisc(a, { rateBytesPerSec: 1, burstBytes: 0, limitBytes: 1 })).toThrow('tbf: burst must be positive');
  });
});
