/**
 * The case of podwire issue #5: a bulk sender at 1 Gbit/s with a 20 ms RTT
 * overshoots its own 1000-frame transmit queue in slow start and loses a
 * burst of segments in one window. With SACK (and RACK) the holes are
 * resent within about one RTT; NewReno finds one hole per RTT.
 */
import { describe, expect, it } from 'vitest';
import { MS, SECOND } from '../helpers.js';
import { tcpFrames } from './tcp-helpers.js';
import { bulkTransfer } from './topo.js';

const RTT = 20 * MS;
/**
 * net.ipv4.tcp_wmem raised to 32 MiB: with the default 4 MiB the send buffer
 * caps the flight at what the path and the queue hold (2.5 MB + 1.5 MB), and
 * Linux never overshoots; the overshoot needs a larger buffer, as on a host
 * tuned for long fat paths.
 */
const LARGE_WMEM: [number, number, number] = [4096, 16384, 32 << 20];

function bulk(sack: boolean, total: number) {
  // Reno overshoots the queue (CUBIC: cubic-bulk.test.ts).
  const { net, a, client: c, startAt, doneAt } = bulkTransfer(total, RTT, { sack, congestionControl: 'reno', wmem: LARGE_WMEM });
  // Loss recovery lasts from the first retransmission to the last (a data segment below the highest sent).
  let high = -1;
  const resends: number[] = [];
  for (const f of tcpFrames(net.tap, 'a/eth0', 'out')) {
    if (f.payload.length === 0) continue;
    const off = (f.seq - c.iss) >>> 0;
    if (off < high) resends.push(f.t);
    else high = off;
  }
  const recoveryRtts = resends.length === 0 ? 0 : (resends[resends.length - 1]! - resends[0]!) / RTT;
  return { seconds: (doneAt - startAt) / SECOND, drops: net.dropsOf(a)['QDISC_DROP'] ?? 0, stats: c.stats, doneAt, recoveryRtts, resends: resends.length };
}

describe('TCP bulk transfer with a burst of drops (issue #5)', () => {
  it('SACK recovers a burst of qdisc drops in far fewer RTTs than NewReno', () => {
    const total = 20_000_000;
    const reno = bulk(false, total);
    const sack = bulk(true, total);
    console.log(`bulk ${total} B, 1 Gbit/s, RTT 20 ms, txqueuelen 1000:`
      + ` NewReno ${reno.seconds.toFixed(3)} s (${reno.drops} qdisc drops, ${reno.stats.timeouts} RTOs, ${reno.resends} resends over ${reno.recoveryRtts.toFixed(1)} RTTs);`
      + ` SACK ${sack.seconds.toFixed(3)} s (${sack.drops} qdisc drops, ${sack.stats.timeouts} RTOs, ${sack.resends} resends over ${sack.recoveryRtts.toFixed(1)} RTTs)`);
    expect(reno.doneAt).toBeGreaterThan(0);
    expect(sack.doneAt).toBeGreaterThan(0);
    expect(reno.drops).toBeGreaterThan(20);
    expect(sack.drops).toBeGreaterThan(20);
    // Serialisation alone takes total x 8 / 1e9 s.
    expect(sack.seconds).toBeGreaterThan((total * 8) / 1e9);
    // NewReno resends one hole per RTT; SACK all of them within a few RTTs.
    expect(reno.recoveryRtts).toBeGreaterThan(0.9 * reno.drops);
    expect(sack.recoveryRtts).toBeLessThan(10);
    expect(sack.stats.timeouts).toBe(0);
    expect(sack.seconds * 3).toBeLessThan(reno.seconds);
  });
});
