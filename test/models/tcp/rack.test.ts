/**
 * RACK loss detection (RFC 8985 6; net/ipv4/tcp_recovery.c, tcp_recovery = 1):
 * the retransmit queue's marks and counters, RACK's rules on their own, and
 * two things only RACK does on a connection: a hole with fewer than three
 * segments SACKed above it is resent when the reordering timer fires, and a
 * lost retransmission is found when data sent after it is SACKed, not by the RTO.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import { Rack, sentAfter } from '../../../models/stack/tcp/rack.js';
import { EVER_RETRANS, LOST, RETRANS_OUT, RetransmitQueue, SACKED } from '../../../models/stack/tcp/rtx-queue.js';
import { ip, MS, SECOND } from '../helpers.js';
import { dropFirstSends } from './drop-first-sends.js';
import { tcpFrames } from './tcp-helpers.js';
import { lossyTransfer, pair } from './topo.js';

const MSS = 1448;
const US = 1000;

/** A queue of `n` segments of 100 bytes from offset 1, the k-th sent at k µs. */
function queue(n: number): RetransmitQueue {
  const q = new RetransmitQueue();
  for (let k = 0; k < n; k++) q.push(1 + 100 * k, 101 + 100 * k, k * US);
  return q;
}
const seg = (k: number): [number, number] => [1 + 100 * k, 101 + 100 * k];

describe('RetransmitQueue', () => {
  it('keeps lost_out, retrans_out and sacked_out through loss, resend, SACK and ACK', () => {
    const q = queue(4);
    expect(q.detectLost((_at, end) => (end <= seg(1)[1] ? 0 : 5))).toBe(5); // 0 and 1 lost, the rest wait 5
    expect([q.lostOut, q.flagsAt(seg(0)[0]), q.flagsAt(seg(2)[0])]).toEqual([200, LOST, 0]);
    expect(q.nextLost()).toEqual(seg(0));
    q.retransmitted(...seg(0), 10 * US);
    expect([q.retransOut, q.flagsAt(seg(0)[0])]).toEqual([100, LOST | RETRANS_OUT | EVER_RETRANS]);
    expect(q.nextLost()).toEqual(seg(1));
    // A lost resend: marked lost again, its retransmission no longer in flight.
    q.detectLost(() => 0);
    expect([q.lostOut, q.retransOut, q.flagsAt(seg(0)[0])]).toEqual([400, 0, LOST | EVER_RETRANS]);
    // A SACK clears LOST (tcp_sacktag_one), and reports reordering only for a segment never resent below prior_fack.
    const reord = q.markSacked(seg(0)[0], seg(2)[1], () => true, seg(3)[1], null);
    expect(reord).toBe(seg(1)[0]);
    expect([q.lostOut, q.sackedOut, q.flagsAt(seg(1)[0])]).toEqual([100, 3, SACKED]);
    // The cumulative ACK takes the rest off.
    q.ackTo(seg(3)[1], null);
    expect([q.size, q.lostOut, q.retransOut, q.sackedOut]).toEqual([0, 0, 0, 0]);
  });

  it('an ACK inside a record trims it, and the counters follow', () => {
    const q = queue(2);
    q.detectLost(() => 0);
    q.ackTo(51, null);
    expect([q.size, q.lostOut, q.records()[0]]).toEqual([2, 150, [51, 101]]);
    expect(q.ackedLastAt).toBe(-1);
  });

  it('the ACK tells of each record delivered that was not SACKed, and the newest send time', () => {
    const q = queue(3);
    q.markSacked(...seg(1), () => true, seg(1)[0], null);
    const seen: number[] = [];
    q.ackTo(seg(2)[1], { delivered: (_f, end) => seen.push(end) });
    expect(seen).toEqual([seg(0)[1], seg(2)[1]]);
    expect([q.ackedLastAt, q.ackedRetrans, q.ackedOriginalLow]).toEqual([2 * US, false, seg(0)[0]]);
  });
});

describe('Rack', () => {
  it('orders sends by time, then by sequence (tcp_skb_sent_after)', () => {
    expect(sentAfter(2, 1, 0, 9)).toBe(true);
    expect(sentAfter(1, 1, 10, 9)).toBe(true);
    expect(sentAfter(1, 1, 9, 9)).toBe(false);
  });

  it('remembers the latest send delivered, and ignores a resend delivered sooner than min_rtt', () => {
    const r = new Rack();
    r.at(100 * US, 50 * US);
    r.delivered(0, 201, 20 * US);
    r.delivered(0, 101, 10 * US);
    expect([r.sentAt, r.endSeq, r.rttNs, r.advanced]).toEqual([20 * US, 201, 90 * US, true]);
    const s = new Rack();
    s.at(100 * US, 50 * US);
    s.delivered(EVER_RETRANS, 301, 80 * US); // 20 µs after its resend: the original arrived
    expect([s.sentAt, s.advanced]).toEqual([-1, false]);
  });

  it('reordering window: 0 in recovery or with `reordering` segments SACKed until reordering is seen, else min_rtt / 4 up to SRTT', () => {
    const r = new Rack();
    r.at(0, 8 * MS);
    expect(r.reoWnd(true, 0, 10 * MS)).toBe(0);
    expect(r.reoWnd(false, 3, 10 * MS)).toBe(0);
    expect(r.reoWnd(false, 2, 10 * MS)).toBe(2 * MS);
    expect(r.reoWnd(false, 2, 1 * MS)).toBe(1 * MS);
    r.reorderingSeen(1 + 1448, 1 + 6 * 1448, 1448); // 5 segments below the highest SACK
    expect([r.reordSeen, r.reordering]).toEqual([true, 5]);
    expect(r.reoWnd(true, 9, 10 * MS)).toBe(2 * MS);
  });

  it('marks lost what was sent before the latest delivered send once its RTT and the window have passed', () => {
    const q = queue(4); // sent at 0, 1, 2, 3 µs
    q.markSacked(...seg(2), () => true, seg(0)[0], null);
    const r = new Rack();
    r.at(100 * US, 50 * US);
    r.delivered(0, seg(2)[1], 2 * US); // RTT 98 µs
    // Segment 0: 98 + 5 - 100 = 3 µs left; segment 1: 98 + 5 - 99 = 4 µs left; segment 3 was sent later.
    expect(r.detectLoss(q, 100 * US, 5 * US)).toBe(4 * US);
    expect(q.lostOut).toBe(0);
    expect(r.detectLoss(q, 103 * US, 5 * US)).toBe(1 * US);
    expect([q.flagsAt(seg(0)[0]), q.flagsAt(seg(1)[0]), q.flagsAt(seg(3)[0])]).toEqual([LOST, 0, 0]);
  });
});

/** `total` bytes over a 2 ms RTT; the first `times` sends of the segments at `drop` are lost. */
function transfer(total: number, drop: number[], times = 1, params: Partial<TcpParams> = {}) {
  return lossyTransfer(total, drop, { times, params });
}

describe('RACK on a connection', () => {
  it('a hole with one segment SACKed above it is resent when the reordering timer fires: min_rtt / 4 in whole ms, + 2 ms', () => {
    const hole = 1 + MSS;
    const r = transfer(3 * MSS, [hole]);
    const sackAt = r.acks.find((f) => (f.options.sack?.length ?? 0) > 0)!.t;
    const resend = r.data.find((d) => d.off === hole)!; // the capture sees no dropped send
    const minRtt = Math.min(...r.c.stats.rttSamplesNs);
    expect(resend.t - sackAt).toBe(Math.ceil(minRtt / 4 / MS) * MS + 2 * MS);
    expect(r.data.filter((d) => d.off !== hole).length).toBe(2); // nothing else went again
    expect([r.c.stats.fastRetransmits, r.c.stats.lossProbes, r.c.stats.timeouts]).toEqual([1, 0, 0]);
  });

  it('a lost retransmission is found lost when data sent after it is SACKed, long before the RTO', () => {
    const hole = 1 + 2 * MSS;
    const r = transfer(40 * MSS, [hole], 2);
    expect(r.dropped.map((d) => d.off)).toEqual([hole, hole]);
    const sends = r.data.filter((d) => d.off === hole); // the capture sees no dropped send
    expect(sends.length).toBe(1);
    // The third send comes about one RTT after the second: RACK, not the RTO's 200 ms.
    expect(sends[0]!.t - r.dropped[1]!.t).toBeLessThan(10 * MS);
    expect(r.c.stats.timeouts).toBe(0);
    expect(r.doneAt).toBeGreaterThan(0);
    expect(r.doneAt - r.dropped[0]!.t).toBeLessThan(30 * MS);
    // Every other segment went once.
    const others = r.data.filter((d) => d.off !== hole);
    expect(new Set(others.map((d) => d.off)).size).toBe(others.length);
  });
});

describe('Proportional Rate Reduction (RFC 6937, tcp_cwnd_reduction)', () => {
  it('in recovery, new data goes out at about ssthresh / prior cwnd of what is delivered, from the first ACK on', () => {
    // Slow start to a window of a few dozen segments, then one segment lost.
    const hole = 1 + 100 * MSS;
    const { net, na, ta, tb } = pair({ delayNs: 5 * MS, params: { congestionControl: 'reno' } });
    const total = 400 * MSS;
    let client: Connection | null = null;
    tb.listen(5001, { onAccept: () => ({}) });
    dropFirstSends(na, () => client, [hole], () => net.sim.now);
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 5001, { onConnected: (c) => { c.recordCwnd = true; c.send(total); } });
    });
    net.run(5 * SECOND);
    const c = client! as Connection;
    expect(c.stats.fastRetransmits).toBe(1);
    expect(c.stats.timeouts).toBe(0);
    const off = (seq: number): number => (seq - c.iss) >>> 0;
    const lossAt = c.stats.cwndLog.findIndex((e) => e[2] !== 0x7fffffff);
    const ssthresh = c.stats.cwndLog[lossAt]![2];
    const priorCwnd = c.stats.cwndLog[lossAt - 1]![1];
    expect(ssthresh).toBe(priorCwnd >> 1);
    // The client's frames in the order it saw them: the ACKs of recovery, from the one that found
    // the loss to the one that ACKs the hole, and what each let go (the link has no serialisation,
    // so a frame sent for an ACK is seen before the next ACK).
    const all = tcpFrames(net.tap, 'a/eth0');
    const resent = all.findIndex((f) => f.dir === 'out' && f.payload.length > 0 && off(f.seq) === hole);
    let from = resent;
    while (all[from]!.dir !== 'in') from--;
    const to = all.findIndex((f) => f.dir === 'in' && off(f.ack) > hole);
    // While more than ssthresh is in flight, each ACK delivers one segment (the receiver ACKs
    // out-of-order data at once) and PRR lets ssthresh / prior cwnd of a segment go for it: over
    // the first prior - ssthresh ACKs, in flight stays above ssthresh. RFC 6675's cwnd = ssthresh
    // at once would send nothing but the retransmission in all that time.
    const k = priorCwnd - ssthresh;
    let acks = 0;
    let sent = 0;
    let sentEarly = -1;
    for (let i = from; i < to; i++) {
      const f = all[i]!;
      if (f.dir === 'in') {
        if (acks === k) sentEarly = sent;
        acks++;
      } else if (f.payload.length > 0) sent++;
    }
    expect(acks).toBeGreaterThan(k);
    const due = (ssthresh * k) / priorCwnd;
    expect(sentEarly).toBeGreaterThanOrEqual(Math.floor(due));
    expect(sentEarly).toBeLessThanOrEqual(Math.ceil(due));
    // At that rate until the flight is down to ssthresh (then PRR-SSRB: about one per delivered).
    expect(sent - sentEarly).toBeGreaterThanOrEqual(Math.floor(((acks - k) * ssthresh) / priorCwnd));
    expect(sent).toBeLessThan(acks);
    // Recovery ends with cwnd = ssthresh (tcp_end_cwnd_reduction).
    expect(c.stats.cwndLog.some((e) => e[1] === ssthresh && e[2] === ssthresh)).toBe(true);
  });
});

describe('a retransmission timeout with SACKed data (tcp_enter_loss, tcp_timeout_mark_lost)', () => {
  const hole = 1 + 2 * MSS;

  it('resends only what was lost: what the peer SACKed is not sent again', () => {
    // An initial window of 20, every other segment lost twice: the fast retransmissions are lost
    // too, and with nothing sent after them only the timeout finds them. Six SACKed ranges then,
    // more than an ACK's three blocks can tell again, so a sender that forgot them (RFC 2018 8)
    // would resend some of the SACKed segments.
    const holes = [1, 3, 5, 7, 9, 11].map((k) => 1 + k * MSS);
    const r = transfer(20 * MSS, holes, 2, { initCwnd: 20 });
    expect(r.c.stats.timeouts).toBe(1);
    expect(r.dropped.length).toBe(12);
    expect(r.doneAt).toBeGreaterThan(0);
    const sends = new Map<number, number>();
    for (const d of r.data) sends.set(d.off, (sends.get(d.off) ?? 0) + 1);
    expect([...sends.values()].every((n) => n === 1)).toBe(true); // the capture sees no dropped send
    expect(sends.size).toBe(20);
    expect(r.c.stats.retransmits).toBe(12);
  });

  it('a timeout in recovery, and another with no progress since, leave ssthresh as recovery set it', () => {
    const { net, na, ta, tb } = pair({ delayNs: MS, params: { congestionControl: 'reno' } });
    let client: Connection | null = null;
    tb.listen(5001, { onAccept: () => ({}) });
    dropFirstSends(na, () => client, [hole], () => net.sim.now, 3);
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 5001, { onConnected: (c) => { c.recordCwnd = true; c.send(10 * MSS); } });
    });
    net.run(10 * SECOND);
    const c = client! as Connection;
    expect(c.stats.timeouts).toBe(2);
    expect(c.stats.bytesAcked).toBe(10 * MSS);
    const thresholds = new Set(c.stats.cwndLog.map((e) => e[2]).filter((t) => t !== 0x7fffffff));
    const lossAt = c.stats.cwndLog.findIndex((e) => e[2] !== 0x7fffffff);
    const before = lossAt > 0 ? c.stats.cwndLog[lossAt - 1]![1] : 10;
    expect([...thresholds]).toEqual([before >> 1]); // Reno: half the window at the loss, once
    expect(c.stats.cwndLog.filter((e) => e[1] === 1).length).toBe(2); // cwnd collapsed at each timeout
  });
});
