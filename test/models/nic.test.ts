/**
 * A NIC on a point-to-point wire:
 * - serialisation at the line rate of the frame padded to the 60-byte minimum,
 *   plus 4 bytes FCS and 20 bytes preamble, SFD and inter-frame gap (IEEE 802.3
 *   clause 4.4: 8-byte preamble+SFD, 12-byte IFG), then the propagation delay;
 * - a drop-tail transmit queue of txqueuelen frames (pfifo_fast's limit,
 *   `ip link set txqueuelen`) behind the frame on the wire: what does not fit is
 *   dropped (SKB_DROP_REASON_QDISC_DROP) before dev_queue_xmit_nit, so tcpdump
 *   never sees it; the tap sees a frame when it leaves the queue;
 * - seeded per-direction loss: the same seed loses the same frames;
 * - a wire delivers in order.
 */
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../models/devices/drop-reason.js';
import { ETHERTYPE_TEST, MS, TestNet, rawFrame } from './helpers.js';
import type { WireParams } from '../../models/devices/nic.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const US = 1000;

function wired(params: Partial<WireParams> & { mtu?: number }, seed = 1) {
  const net = new TestNet(seed);
  const a = net.ns('a', { component: 'ca' });
  const b = net.ns('b', { component: 'cb' });
  const [na, nb] = net.wire(a, 'eth0', A, b, 'eth0', B, params);
  net.capture(na, nb);
  /** Frames of `len` bytes each, payload tagged with their index. */
  const burst = (n: number, len: number) => {
    for (let i = 0; i < n; i++) na.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, len - 14, i));
  };
  return { net, a, b, na, nb, burst };
}

const tagOf = (bytes: Uint8Array) => bytes[14]!;

describe('NIC and wire', () => {
  it('delays each frame by (max(len, 60) + 24) * 8 / bandwidth, then the propagation delay', () => {
    const { net, na, nb, a } = wired({ delayNs: 10 * US, bandwidthBps: 1e9 });
    net.at(0, () => na.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 100 - 14)));
    net.at(MS, () => na.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 42 - 14))); // a short frame is padded to 60
    net.at(2 * MS, () => na.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 1514 - 14)));
    net.run(10 * MS);
    const arrivals = net.tap.frames.filter((f) => f.dev === 'b/eth0').map((f) => f.t);
    expect(arrivals).toEqual([
      (100 + 24) * 8 + 10 * US,
      MS + (60 + 24) * 8 + 10 * US,
      2 * MS + (1514 + 24) * 8 + 10 * US,
    ]);
    expect(nb.counters.rxPackets).toBe(3);
  });

  it('sends back-to-back frames one serialisation time apart and captures each as it starts', () => {
    const { net, burst } = wired({ delayNs: 5 * US, bandwidthBps: 100e6 });
    net.at(0, () => burst(4, 1000));
    net.run(MS);
    const ser = ((1000 + 24) * 8 * 1e9) / 100e6; // 81920 ns at 100 Mbit/s
    const out = net.tap.frames.filter((f) => f.dir === 'out').map((f) => f.t);
    const arrive = net.tap.frames.filter((f) => f.dir === 'in').map((f) => f.t);
    expect(out).toEqual([0, ser, 2 * ser, 3 * ser]);
    expect(arrive).toEqual([ser + 5 * US, 2 * ser + 5 * US, 3 * ser + 5 * US, 4 * ser + 5 * US]);
  });

  it('has no serialisation delay at bandwidth 0: only propagation', () => {
    const { net, burst } = wired({ delayNs: 7 * US, bandwidthBps: 0 });
    net.at(0, () => burst(3, 1514));
    net.run(MS);
    expect(net.tap.frames.filter((f) => f.dir === 'in').map((f) => f.t)).toEqual([7 * US, 7 * US, 7 * US]);
  });

  it('drops a burst beyond txqueuelen at the queue (QDISC_DROP), uncaptured; the rest goes out in order', () => {
    const { net, na, a, burst } = wired({ delayNs: US, bandwidthBps: 1e9, txQueueLen: 4 });
    net.at(0, () => burst(10, 200));
    net.run(MS);
    // One frame is on the wire at once, four wait in the queue, five are dropped.
    expect(net.tap.frames.filter((f) => f.dev === 'a/eth0').map((f) => tagOf(f.bytes))).toEqual([0, 1, 2, 3, 4]);
    expect(net.tap.frames.filter((f) => f.dev === 'b/eth0').map((f) => tagOf(f.bytes))).toEqual([0, 1, 2, 3, 4]);
    expect(na.counters.txDropped).toBe(5);
    expect(na.counters.txPackets).toBe(5);
    expect(na.maxQueueLen).toBe(4);
    expect(net.dropsOf(a)).toEqual({ [DropReason.QDISC_DROP]: 5 });
  });

  it('accepts new frames once the queue drains', () => {
    const { net, na, burst } = wired({ delayNs: US, bandwidthBps: 1e9, txQueueLen: 2 });
    const ser = (200 + 24) * 8;
    net.at(0, () => burst(3, 200)); // 1 on the wire + 2 queued: nothing dropped
    net.at(3 * ser, () => burst(3, 200)); // the queue is empty again exactly then
    net.run(MS);
    expect(na.counters.txDropped).toBe(0);
    expect(net.tap.frames.filter((f) => f.dev === 'b/eth0').map((f) => tagOf(f.bytes))).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('drops frames larger than the MTU (PKT_TOO_BIG)', () => {
    const { net, na, a } = wired({ delayNs: US, mtu: 1500 });
    na.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 1501));
    net.run(MS);
    expect(net.tap.frames).toEqual([]);
    expect(na.counters.dropsByReason.get(DropReason.PKT_TOO_BIG)).toBe(1);
  });

  it('loses frames with probability p, reproducibly for a seed, captured at the sender but not received', () => {
    const run = (seed: number) => {
      const { net, na, burst } = wired({ delayNs: US, bandwidthBps: 1e9, loss: 0.25, txQueueLen: 5000 }, seed);
      net.at(0, () => {
        for (let k = 0; k < 8; k++) burst(250, 100); // 2000 frames, tags repeat every 250
      });
      net.run(100 * MS);
      const received = net.tap.frames.filter((f) => f.dev === 'b/eth0').map((f) => f.t);
      const sent = net.tap.frames.filter((f) => f.dev === 'a/eth0').length;
      return { received, sent, lost: na.counters.dropsByReason.get(DropReason.LINK_LOSS) ?? 0 };
    };
    const first = run(42);
    const again = run(42);
    const other = run(43);
    expect(first.sent).toBe(2000);
    expect(first.received.length + first.lost).toBe(2000);
    // 2000 Bernoulli(0.25) trials: sd ~ 19.4; allow 5 sd.
    expect(Math.abs(first.lost - 500)).toBeLessThan(97);
    expect(again).toEqual(first);
    expect(other.received).not.toEqual(first.received);
  });

  it('delivers in order, each direction on its own', () => {
    const { net, na, nb, a, b } = wired({ delayNs: 50 * US, bandwidthBps: 10e6 });
    net.at(0, () => {
      for (let i = 0; i < 20; i++) na.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 46 + ((i * 37) % 500), i));
      for (let i = 0; i < 20; i++) nb.xmit(rawFrame(b, A, B, ETHERTYPE_TEST, 46 + ((i * 53) % 500), 100 + i));
    });
    net.run(100 * MS);
    const atB = net.tap.frames.filter((f) => f.dev === 'b/eth0' && f.dir === 'in');
    const atA = net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in');
    expect(atB.map((f) => tagOf(f.bytes))).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(atA.map((f) => tagOf(f.bytes))).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(atB.every((f, i) => i === 0 || f.t > atB[i - 1]!.t)).toBe(true);
  });

  it('refuses to build a wire without a positive delay', () => {
    const net = new TestNet(1);
    expect(() => net.wire(net.ns('a'), 'eth0', A, net.ns('b'), 'eth0', B, { delayNs: 0 })).toThrow(/delay must be positive/);
  });

  it('keeps its in-flight FIFO as small as what is in flight on a wire that never drains', () => {
    // A frame every 10 us on a 25 us wire: two or three always in flight, 20,000 in all.
    const { net, a, na, nb } = wired({ delayNs: 25 * US });
    for (let i = 0; i < 20_000; i++) net.at(i * 10 * US, () => na.xmit(rawFrame(a, B, A, ETHERTYPE_TEST, 46, i & 0xff)));
    net.run(20_000 * 10 * US + MS);
    expect(nb.counters.rxPackets).toBe(20_000);
    const tags = net.tap.frames.filter((f) => f.dev === 'b/eth0').map((f) => tagOf(f.bytes));
    expect(tags).toEqual(Array.from({ length: 20_000 }, (_, i) => i & 0xff));
    expect((nb as unknown as { flight: unknown[] }).flight.length).toBeLessThanOrEqual(8);
  });
});
