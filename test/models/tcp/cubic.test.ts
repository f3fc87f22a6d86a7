/**
 * CUBIC (cubic.ts) against RFC 9438 and net/ipv4/tcp_cubic.c: the cubic
 * function, the multiplicative decrease, fast convergence, the TCP-friendly
 * region, and HyStart's two exits from slow start. An ACK clock delivers one
 * ACK per segment, spread evenly over each RTT.
 */
import { describe, expect, it } from 'vitest';
import { Cubic, cubicRoot, HYSTART_ACK_TRAIN, HYSTART_DELAY } from '../../../models/stack/tcp/cubic.js';

const MS = 1e6;
const SECOND = 1e9;
/** RFC 9438 4.1 / 4.6 constants (Linux: bic_scale 41 -> 0.4004, beta 717 / 1024). */
const C = 0.4;
const BETA = 0.7;

/** W_cubic(t) = C (t - K)^3 + W_max, K = cbrt(W_max (1 - beta) / C) (RFC 9438 eq. 1-2, cwnd after the loss = beta W_max). */
function wCubic(t: number, wMax: number): number {
  const k = Math.cbrt((wMax * (1 - BETA)) / C);
  return C * (t - k) ** 3 + wMax;
}

/**
 * Delivers ACKs, one per segment of cwnd each RTT, from startNs to endNs; each carries an RTT sample.
 * Returns the cwnd at the end of each round as [round end time, cwnd].
 */
function ackClock(cc: Cubic, startNs: number, endNs: number, rttNs: number, seq = { una: 0 }): [number, number][] {
  const out: [number, number][] = [];
  let t = startNs;
  while (t < endNs) {
    const n = cc.cwnd;
    const roundEnd = seq.una + n;
    for (let i = 0; i < n; i++) {
      const now = t + ((i + 1) * rttNs) / n;
      seq.una++;
      cc.onAckRtt(rttNs, now, seq.una, roundEnd + n);
      cc.onAck(1, true, now);
    }
    t += rttNs;
    out.push([t, cc.cwnd]);
  }
  return out;
}

/** A Cubic that saw delay_min = rtt, then lost at cwnd wMax with SACK (cwnd = ssthresh at once), at time atNs. */
function afterLoss(wMax: number, rttNs: number): Cubic {
  const cc = new Cubic(10, { hystart: false });
  cc.onAckRtt(rttNs, 0, 1, 10);
  cc.cwnd = wMax;
  cc.ssthresh = wMax;
  cc.enterSackRecovery();
  cc.exitRecovery();
  return cc;
}

describe('CUBIC', () => {
  it('cubic_root is within 1% of the cube root (table lookup and one Newton step)', () => {
    for (const a of [0, 1, 7, 63, 64, 1000, 123456, 2 ** 33 + 12345, 75 * 2681735677, 2 ** 50, 2 ** 60 + 7]) {
      const exact = Math.cbrt(a);
      expect(Math.abs(cubicRoot(BigInt(a)) - exact)).toBeLessThanOrEqual(Math.max(1, exact * 0.01));
    }
  });

  it('reduces cwnd to beta x cwnd on loss (717/1024), cwnd + 3 with NewReno, 1 on a timeout', () => {
    const sack = new Cubic(10);
    sack.cwnd = 100;
    sack.enterSackRecovery();
    expect(sack.ssthresh).toBe(Math.floor((100 * 717) / 1024));
    expect(sack.cwnd).toBe(70);
    sack.exitRecovery();
    expect(sack.cwnd).toBe(70);
    const reno = new Cubic(10);
    reno.cwnd = 1000;
    reno.enterRecovery();
    expect(reno.ssthresh).toBe(700);
    expect(reno.cwnd).toBe(703);
    const rto = new Cubic(10);
    rto.cwnd = 2;
    rto.onRto(0, 0);
    expect(rto.ssthresh).toBe(2);
    expect(rto.cwnd).toBe(1);
  });

  it('follows W_cubic(t) = C (t - K)^3 + W_max: concave up to W_max at K, convex beyond', () => {
    const rtt = 100 * MS;
    const wMax = 1000;
    const cc = afterLoss(wMax, rtt);
    expect(cc.cwnd).toBe(700);
    const rounds = ackClock(cc, 0, 14 * SECOND, rtt);
    const k = Math.cbrt((wMax * (1 - BETA)) / C);
    expect(cc.k / 1024).toBeCloseTo(k, 1);
    // The epoch starts at the first ACK; Linux aims one delay_min ahead (RFC 9438 4.2: W_cubic(t + RTT)),
    // and cwnd moves one ACK at a time, so cwnd sits between W_cubic(t) and W_cubic(t + RTT) (2% slack).
    for (const t of [0.5, 1, 2, 4, 6, 8, k, 10, 12, 14]) {
      const [, cwnd] = rounds.find(([at]) => at >= t * SECOND - 1)!;
      expect(cwnd).toBeGreaterThanOrEqual(Math.floor(wCubic(t - 2 * rtt / SECOND, wMax) * 0.98));
      expect(cwnd).toBeLessThanOrEqual(Math.ceil(wCubic(t + rtt / SECOND, wMax) * 1.02));
    }
    // Plateau around W_max, then growth again.
    const at = (t: number) => rounds.find(([x]) => x >= t * SECOND - 1)![1];
    expect(at(k + 0.5) - at(k - 0.5)).toBeLessThan(3);
    expect(at(2) - at(1)).toBeGreaterThan(60);
    expect(at(14) - at(13)).toBeGreaterThan(15);
  });

  it('fast convergence: a loss below the last W_max lowers W_max to cwnd (1 + beta) / 2', () => {
    const cc = new Cubic(10, { hystart: false });
    cc.cwnd = 1000;
    cc.enterSackRecovery();
    expect(cc.lastMaxCwnd).toBe(1000);
    cc.exitRecovery();
    cc.cwnd = 800; // lost again before regaining 1000
    cc.enterSackRecovery();
    expect(cc.lastMaxCwnd).toBe(Math.floor((800 * (1024 + 717)) / 2048));
    expect(cc.cwnd).toBe(Math.floor((800 * 717) / 1024));
    cc.exitRecovery();
    // The next epoch heads for the lowered W_max.
    ackClock(cc, 0, 300 * MS, 100 * MS);
    expect(cc.originPoint).toBe(680);
    // A loss above W_max sets it to cwnd.
    cc.cwnd = 900;
    cc.enterSackRecovery();
    expect(cc.lastMaxCwnd).toBe(900);
  });

  it('in the TCP-friendly region follows Reno\'s AIMD estimate, 3 (1 - beta) / (1 + beta) segments per RTT', () => {
    // A short RTT: W_cubic grows slowly in RTTs, Reno's estimate leads.
    const rtt = 2 * MS;
    const wMax = 100;
    const cc = afterLoss(wMax, rtt);
    const rounds = ackClock(cc, 0, 400 * rtt, rtt);
    const alpha = (3 * (1 - BETA)) / (1 + BETA);
    for (const n of [100, 200, 400]) {
      const cwnd = rounds[n - 1]![1];
      const est = 70 + alpha * n;
      expect(cwnd).toBeGreaterThanOrEqual(Math.floor(est * 0.93));
      expect(cwnd).toBeLessThanOrEqual(Math.ceil(est * 1.05));
      // And well above the cubic function at that time.
      expect(cwnd).toBeGreaterThan(wCubic((n * rtt) / SECOND + rtt / SECOND, wMax) + 10);
    }
    // Without the friendly region (a long RTT), the same time gives W_cubic instead.
  });

  it('HyStart delay detection: the round\'s least RTT over delay_min + clamp(delay_min / 8, 4, 16 ms) ends slow start', () => {
    const cc = new Cubic(10, { hystartDetect: HYSTART_DELAY });
    const seq = { una: 0 };
    ackClock(cc, 0, 80 * MS, 20 * MS, seq); // 10 -> 160, samples at 20 ms
    expect(cc.hystartFound).toBe(false);
    expect(cc.inSlowStart).toBe(true);
    expect(cc.delayMinUs).toBe(20000);
    // +3 ms: under the 4 ms floor of the threshold, slow start goes on.
    ackClock(cc, 80 * MS, 103 * MS, 23 * MS, seq);
    expect(cc.hystartFound).toBe(false);
    const before = cc.cwnd;
    // +5 ms: after 8 samples in a round, the exit; ssthresh = cwnd at that moment.
    const n = 12;
    seq.una += 2 * before; // a new round
    for (let i = 0; i < n; i++) {
      seq.una++;
      cc.onAckRtt(25 * MS, 110 * MS + i * 1e5, seq.una, seq.una + before);
      cc.onAck(1, true, 110 * MS + i * 1e5);
    }
    expect(cc.hystartFound).toBe(true);
    expect(cc.hystartExit).toBe('delay');
    expect(cc.inSlowStart).toBe(false);
    expect(cc.ssthresh).toBeLessThanOrEqual(before + n);
    expect(cc.ssthresh).toBeGreaterThan(before + 8 - 2);
  });

  it('HyStart ACK train: closely spaced ACKs spanning more than delay_min / 2 in a round end slow start', () => {
    const cc = new Cubic(10, { hystartDetect: HYSTART_ACK_TRAIN });
    cc.onAckRtt(20 * MS, 0, 0, 10);
    cc.cwnd = 100;
    // A round starts at 1 s (the first ACK beyond end_seq) with ACKs every 0.1 ms: past 10 ms, slow start ends.
    let una = 20;
    const exitAt: number[] = [];
    for (let i = 0; i < 200 && !cc.hystartFound; i++) {
      const now = SECOND + i * 0.1 * MS;
      cc.onAckRtt(20 * MS, now, ++una, 400);
      cc.onAck(1, true, now);
      if (cc.hystartFound) exitAt.push(now - SECOND);
    }
    expect(cc.hystartExit).toBe('ack-train');
    expect(exitAt[0]! / MS).toBeGreaterThan(10);
    expect(exitAt[0]! / MS).toBeLessThan(10.2);
    expect(cc.ssthresh).toBe(cc.cwnd);
    // ACKs 3 ms apart are no train: nothing is detected.
    const spread = new Cubic(10, { hystartDetect: HYSTART_ACK_TRAIN });
    spread.onAckRtt(20 * MS, 0, 0, 10);
    spread.cwnd = 100;
    for (let i = 0; i < 30; i++) spread.onAckRtt(20 * MS, SECOND + i * 3 * MS, 20 + i, 400);
    expect(spread.hystartFound).toBe(false);
  });

  it('HyStart waits for hystart_low_window (16) segments', () => {
    const cc = new Cubic(10, { hystartDetect: HYSTART_DELAY });
    for (let i = 0; i < 30; i++) cc.onAckRtt((i < 3 ? 10 : 40) * MS, i * MS, i + 1, 100);
    expect(cc.hystartFound).toBe(false);
    cc.cwnd = 16;
    for (let i = 30; i < 60; i++) cc.onAckRtt(40 * MS, i * MS, i + 1, 100);
    expect(cc.hystartFound).toBe(true);
  });
});
