/**
 * Limited transmit (RFC 3042) as Linux gets it: in the Disorder state each
 * duplicate ACK counts one segment as SACKed (tcp_add_reno_sack without SACK,
 * the SACK block itself with it), so tcp_packets_in_flight drops and one new
 * segment goes out per duplicate ACK, cwnd unchanged. With 3 segments in
 * flight and the first lost, the two duplicate ACKs release two new segments,
 * whose duplicate ACKs make the third and start fast recovery: no RTO.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { ip, MS, SECOND } from '../helpers.js';
import { dropFirstSends } from './drop-first-sends.js';
import { tcpFrames } from './tcp-helpers.js';
import { pair } from './topo.js';

const MSS = 1448;

/**
 * One segment first, so that the window the peer advertises is settled (the
 * first ACK after the handshake announces a larger, scaled window, and an ACK
 * that grows the window is no duplicate: tcp_ack_update_window sets
 * FLAG_WIN_UPDATE); 10 ms later six more, the first of them lost. The peer's
 * receive buffer is 32 KiB without autotuning, so its window sits at its clamp
 * from the first ACK: with the default buffer each out-of-order segment would
 * still open it (tcp_grow_window from tcp_data_queue_ofo), and without SACK
 * none of those ACKs would count as a duplicate.
 */
function transfer(sack: boolean) {
  const total = 7 * MSS;
  const params = { sack, initCwnd: 3, rmem: [4096, 32768, 32768] as const, moderateRcvbuf: false };
  const { net, na, ta, tb } = pair({ delayNs: MS, params });
  let client: Connection | null = null;
  let doneAt = -1;
  tb.listen(5001, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === total) doneAt = net.sim.now; } }) });
  const dropped = dropFirstSends(na, () => client, [1 + MSS], () => net.sim.now);
  net.at(0, () => {
    client = ta.connect(ip('10.0.0.2'), 5001, {
      onConnected: (c) => {
        c.send(MSS);
        net.at(net.sim.now + 10 * MS, () => {
          c.recordCwnd = true;
          c.send(total - MSS);
        });
      },
    });
  });
  net.run(10 * SECOND);
  const c = client! as Connection;
  const frames = tcpFrames(net.tap, 'a/eth0');
  return { c, doneAt, dropped, frames };
}

describe('TCP limited transmit', () => {
  for (const sack of [false, true]) {
    it(`SACK ${sack ? 'on' : 'off'}: each of the first two duplicate ACKs sends one new segment, then fast recovery`, () => {
      const r = transfer(sack);
      expect(r.dropped.map((d) => d.off)).toEqual([1 + MSS]);
      const off = (seq: number): number => (seq - r.c.iss) >>> 0;
      // What the client saw and sent after the loss, in order: D = a duplicate ACK, else the segment sent (in MSS from the stream start).
      const events: string[] = [];
      for (const f of r.frames) {
        if (f.dir === 'in' && f.payload.length === 0 && off(f.ack) === 1 + MSS && f.t > r.dropped[0]!.t) events.push('D');
        if (f.dir === 'out' && f.payload.length > 0 && f.t >= r.dropped[0]!.t) events.push(`${(off(f.seq) - 1) / MSS}`);
      }
      // Segments 1..3 of the second write went out (1 lost), a duplicate ACK each from 2 and 3 released 4 and 5,
      // whose duplicate ACKs are the third and fourth: the third starts recovery (the retransmission of 1).
      expect(events.slice(0, 8)).toEqual(['2', '3', 'D', '4', 'D', '5', 'D', '1']);
      // cwnd did not change until recovery began: the first change is the halving (RFC 5681 3.2: ssthresh + 3; RFC 6675: ssthresh).
      expect(r.c.stats.cwndLog[0]!.slice(1)).toEqual(sack ? [2, 2] : [5, 2]);
      expect(r.c.stats.fastRetransmits).toBe(1);
      expect(r.c.stats.timeouts).toBe(0);
      expect(r.doneAt - r.dropped[0]!.t).toBeLessThan(20 * MS);
    });
  }
});
