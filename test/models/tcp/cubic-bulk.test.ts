/**
 * CUBIC with HyStart (cubic.ts) against Reno on podwire issue #5's bulk
 * transfer: 1 Gbit/s, 20 ms RTT, a 1000-frame sender queue, 20 MB. Reno's
 * slow start doubles cwnd past what the path and the queue hold and loses a
 * burst in the qdisc; HyStart sees the RTT rise as the queue fills (or the
 * ACK train span half the minimum RTT) and leaves slow start before any drop.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { Cubic } from '../../../models/stack/tcp/cubic.js';
import { ip, MS, SECOND } from '../helpers.js';
import { pair } from './topo.js';

const RTT = 20 * MS;

function bulk(congestionControl: 'reno' | 'cubic', total: number) {
  const { net, a, ta, tb } = pair({ bandwidthBps: 1e9, delayNs: RTT / 2, txQueueLen: 1000, params: { congestionControl } });
  let client: Connection | null = null;
  let startAt = -1;
  let doneAt = -1;
  tb.listen(5001, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === total) doneAt = net.sim.now; } }) });
  net.at(0, () => {
    client = ta.connect(ip('10.0.0.2'), 5001, {
      onConnected: (c) => {
        startAt = net.sim.now;
        c.recordCwnd = true;
        c.send(total);
      },
    });
  });
  net.run(60 * SECOND);
  const c = client! as Connection;
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
