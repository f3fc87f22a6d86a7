/**
 * Loss recovery and congestion control:
 * - a bulk transfer over a 10 Mbit/s wire with seeded 0.5 % loss: cwnd grows
 *   from the initial 10 segments in slow start, halves on the first loss
 *   (RFC 5681 3.2: ssthresh = max(cwnd / 2, 2), cwnd = ssthresh + 3 during
 *   fast recovery, ssthresh after it; with SACK, cwnd brought down by PRR,
 *   RFC 6937, never above the window before the loss, and ssthresh after
 *   it), and every byte arrives; a retransmitted segment
 *   repeats the original bytes;
 * - a data segment that is not ACKed is retransmitted after the RTO
 *   (SRTT + max(4 RTTVAR, 200 ms)), then after twice and four times that.
 */
import { describe, expect, it } from 'vitest';
import { ip, MS, SECOND } from '../helpers.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { tcpFrames, tcpLine } from './tcp-helpers.js';
import { pair } from './topo.js';

describe('TCP congestion control and retransmission', () => {
  it.each([
    ['NewReno (no SACK)', false],
    ['SACK (RACK and PRR)', true],
  ])('grows cwnd in slow start and halves it on a loss during a bulk transfer: %s', (_name, sack) => {
    const { net, a, ta, tb } = pair({ bandwidthBps: 10e6, delayNs: 5 * MS, loss: 0.005, seed: 3, params: { sack, congestionControl: 'reno' } }); // Reno's halving (cubic.test.ts has CUBIC's)
    const total = 1_000_000;
    let server: Connection | null = null;
    let doneAt = -1;
    tb.listen(5001, {
      onAccept: (c) => {
        server = c;
        return { onData: (conn) => { if (conn.bytesReceived === total) doneAt = net.sim.now; } };
      },
    });
    let client: Connection | null = null;
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 5001, {
        onConnected: (c) => {
          c.recordCwnd = true;
          c.send(total);
        },
      });
    });
    net.run(30 * SECOND);
    const c = client! as Connection;
    const s = server! as Connection;
    expect(s.bytesReceived).toBe(total);
    expect(c.stats.bytesAcked).toBe(total);
    expect(c.stats.bytesSent).toBe(total);
    expect(c.stats.retransmits).toBeGreaterThan(0);
    expect(c.stats.fastRetransmits).toBeGreaterThan(0);
    expect(net.dropsOf(a)['LINK_LOSS']).toBeGreaterThan(0);
    // 1 MB at 10 Mbit/s is 0.8 s of serialisation at least.
    expect(doneAt).toBeGreaterThan(800 * MS);

    const log = c.stats.cwndLog;
    const firstLoss = log.findIndex((e) => e[2] !== 0x7fffffff);
    expect(firstLoss).toBeGreaterThan(0);
    const growth = log.slice(0, firstLoss).map((e) => e[1]);
    for (let i = 1; i < growth.length; i++) expect(growth[i]!).toBeGreaterThan(growth[i - 1]!);
    expect(growth[0]!).toBeGreaterThan(10);
    const before = growth[growth.length - 1]!;
    const [, cwndAtLoss, ssthresh] = log[firstLoss]!;
    expect(ssthresh).toBe(Math.max(before >> 1, 2));
    // Fast retransmit (cwnd = ssthresh + 3; with SACK what PRR sets, in flight plus what it
    // lets go, at most the window before) or a timeout (cwnd = 1).
    const fast = !sack ? cwndAtLoss === ssthresh + 3 : cwndAtLoss > 1 && cwndAtLoss <= before;
    expect(fast || cwndAtLoss === 1).toBe(true);
    // Recovery ends at ssthresh: half the window before the loss.
    if (fast) {
      expect(log.slice(firstLoss).some((e) => e[1] === ssthresh && e[2] === ssthresh)).toBe(true);
    }

    // A retransmission carries the same bytes as the original.
    const data = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.payload.length > 0);
    const bySeq = new Map<number, Uint8Array>();
    let repeats = 0;
    for (const f of data) {
      const prev = bySeq.get(f.seq);
      if (prev !== undefined && prev.length === f.payload.length) {
        expect(Buffer.from(f.payload).equals(Buffer.from(prev))).toBe(true);
        repeats++;
      }
      bySeq.set(f.seq, f.payload.slice());
      expect(f.checksumOk, tcpLine(f)).toBe(true);
    }
    expect(repeats).toBeGreaterThan(0);
    expect(tcpFrames(net.tap, 'b/eth0', 'out').every((f) => f.checksumOk)).toBe(true);
  });

  it('retransmits unACKed data after the RTO with exponential backoff', () => {
    const { net, nb, ta, tb } = pair();
    tb.listen(80, { onAccept: () => ({}) });
    let client: Connection | null = null;
    let rto = 0;
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 80, {});
      client.recordRtt = true;
    });
    net.at(100 * MS, () => {
      nb.up = false;
      const c = client! as Connection;
      rto = c.rto.timeoutNs;
      c.send(1000);
    });
    net.at(2 * SECOND, () => { nb.up = true; });
    net.run(4 * SECOND);
    const c = client! as Connection;
    // The handshake's RTT sample (4 ms with ARP) gives SRTT + max(4 RTTVAR, 200 ms).
    expect(c.stats.rttSamplesNs.length).toBeGreaterThan(0);
    expect(rto).toBe(4 * MS + 200 * MS);
    const sends = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.payload.length === 1000).map((f) => f.t - 100 * MS);
    // 0, then +rto, +2 rto, +4 rto (the last at 1.528 s), then one after the device is back.
    expect(sends.slice(0, 4)).toEqual([0, rto, 3 * rto, 7 * rto]);
    expect(sends.length).toBe(5);
    expect(sends[4]).toBe(15 * rto);
    expect(c.stats.timeouts).toBe(4);
    expect(c.stats.bytesAcked).toBe(1000);
    expect(c.inFlight).toBe(0);
  });
});
