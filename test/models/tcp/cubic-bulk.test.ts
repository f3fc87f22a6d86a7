/**
 * CUBIC with HyStart (cubic.ts) against Reno on podwire issue #5's bulk
 * transfer: 1 Gbit/s, 20 ms RTT, a 1000-frame sender queue, 20 MB. Reno's
 * slow start doubles cwnd past what the path and the queue hold and loses a
 * burst in the qdisc; HyStart sees the RTT rise as the queue fills (or the
 * ACK train span half the minimum RTT) and leaves slow start before any drop.
 */
import { describe, expect, it } from 'vitest';
import { Cubic } from '../../../models/stack/tcp/cubic.js';
import { MS, SECOND } from '../helpers.js';
import { bulkTransfer } from './topo.js';

const RTT = 20 * MS;
/**
 * net.ipv4.tcp_wmem raised to 32 MiB: with the default 4 MiB the send buffer
 * caps the flight at what the path and the queue hold (2.5 MB + 1.5 MB), and
 * Linux never overshoots; the overshoot needs a larger buffer, as on a host
 * tuned for long fat paths.
 */
const LARGE_WMEM: [number, number, number] = [4096, 16384, 32 << 20];

function bulk(congestionControl: 'reno' | 'cubic', total: number) {
  const { net, a, client: c, startAt, doneAt } = bulkTransfer(total, RTT, { congestionControl, wmem: LARGE_WMEM }, { recordCwnd: true });
  const maxCwnd = Math.max(...c.stats.cwndLog.map((e) => e[1]));
  return { seconds: (doneAt - startAt) / SECOND, drops: net.dropsOf(a)['QDISC_DROP'] ?? 0, stats: c.stats, doneAt, cc: c.cc, maxCwnd };
}

describe('CUBIC with HyStart on a bulk transfer over a queue (issue #5)', () => {
  it('leaves slow start on the RTT rise without the qdisc drops Reno overshoots into', () => {
    const total = 20_000_000;
    const reno = bulk('reno', total);
    const cubic = bulk('cubic', total);
    console.log(`bulk ${total} B, 1 Gbit/s, RTT 20 ms, txqueuelen 1000:`
      + ` Reno ${reno.seconds.toFixed(3)} s (${reno.drops} qdisc drops, ${reno.stats.retransmits} retransmits, ${reno.stats.timeouts} RTOs, max cwnd ${reno.maxCwnd});`
      + ` CUBIC ${cubic.seconds.toFixed(3)} s (${cubic.drops} qdisc drops, ${cubic.stats.retransmits} retransmits, ${cubic.stats.timeouts} RTOs, max cwnd ${cubic.maxCwnd},`
      + ` HyStart (${(cubic.cc as Cubic).hystartExit}) exit at cwnd ${cubic.cc.ssthresh})`);
    expect(reno.doneAt).toBeGreaterThan(0);
    expect(cubic.doneAt).toBeGreaterThan(0);
    expect(reno.drops).toBeGreaterThan(20);
    expect(cubic.cc).toBeInstanceOf(Cubic);
    expect((cubic.cc as Cubic).hystartFound).toBe(true);
    expect(cubic.drops).toBe(0);
    expect(cubic.stats.retransmits).toBe(0);
    // Serialisation alone takes total x 8 / 1e9 s.
    expect(cubic.seconds).toBeGreaterThan((total * 8) / 1e9);
  });
});
