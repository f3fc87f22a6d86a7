/**
 * TCP small queues (tcp_small_queue_check, tcp_wfree, tcp_tsq_handler): a
 * socket stops sending while more than about a millisecond of data at its
 * pacing rate (at most tcp_limit_output_bytes) is still in this host's queues,
 * and goes on as soon as some of it leaves. So a bulk sender whose own qdisc
 * is the bottleneck keeps that qdisc nearly empty and loses nothing there,
 * while a pod's sender, whose packets stop counting at its veth (skb_orphan),
 * fills its node's qdisc until it drops. tsq.kernel.test.ts compares the first
 * case with the kernel.
 */
import { describe, expect, it } from 'vitest';
import { SECOND } from '../helpers.js';
import { TSQ_TBF, tbfBulk } from './tbf-bulk.js';

describe('TCP small queues', () => {
  it('a sender behind its own tbf keeps it to about a millisecond of data at its pacing rate, and loses nothing', () => {
    (globalThis as any).TSQDBG = true;
    const own = tbfBulk(false);
    (globalThis as any).TSQDBG = false;
    expect(own.doneAt).toBeGreaterThan(0);
    expect(own.drops).toBe(0);
    expect(own.client.stats.retransmits).toBe(0);
    // 100 Mbit/s: the pacing rate is 1.2-2x that, so ~15-25 KB a millisecond, plus a burst of up to 64 KB.
    expect(own.maxBacklog).toBeLessThan(200_000);
    // At the line rate all the same: serialisation alone is TOTAL / 12.5 MB/s = 2.4 s.
    expect(own.doneAt / SECOND).toBeLessThan(2.6);
  });

  it("a pod's sender is not held back: its node's tbf fills to its limit and drops", () => {
    const pod = tbfBulk(true);
    expect(pod.doneAt).toBeGreaterThan(0);
    expect(pod.drops).toBeGreaterThan(0);
    expect(pod.maxBacklog).toBeGreaterThan(TSQ_TBF.limitBytes - 2 * 1514);
  });
});
