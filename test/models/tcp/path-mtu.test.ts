/**
 * TCP's side of path MTU discovery (tcp_v4_err for ICMP_FRAG_NEEDED, then
 * tcp_v4_mtu_reduced, tcp_sync_mss and tcp_simple_retransmit in
 * net/ipv4/tcp_ipv4.c, tcp_output.c and tcp_input.c):
 * - an error about a sequence number not in flight is ignored
 *   (between(seq, snd_una, snd_nxt), LINUX_MIB_OUTOFWINDOWICMPS);
 * - otherwise the route towards the peer learns the MTU, and when it is below
 *   the MTU the MSS was cut for (icsk_pmtu_cookie), the MSS becomes
 *   MTU - 40 - 12 (headers and the timestamp option), and every segment in
 *   flight longer than that is sent again at once; a run of such segments
 *   next to each other is cut afresh at the new MSS (1,448 + 1,448 as
 *   1,398 + 1,398 + 100 for MTU 1,450), its last piece with PSH, as Linux
 *   6.18 sends them without GSO; a segment that fits is not sent again;
 *   cwnd is left alone;
 * - a later connection to the same peer advertises and uses the learned MTU
 *   from its first segment (ipv4_default_advmss and dst_mtu include it);
 * - an open connection to that peer cuts what it sends next at the learned
 *   MTU without an error of its own, and back at the device's once the MTU
 *   expires after 10 minutes (tcp_current_mss).
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { ip, MS, SECOND } from '../helpers.js';
import { tcpFrames } from './tcp-helpers.js';
import { pair } from './topo.js';

const A = ip('10.0.0.1');
const B = ip('10.0.0.2');

/**
 * a writes `writes` (TCP_NODELAY: a segment each) to b and, while they are in
 * flight, gets a "fragmentation needed" with `mtu` quoting sequence offset
 * `quoted` of the connection.
 */
function run(mtu: number, quoted: number, writes = [1448, 500, 1448]) {
  const { net, a, ta, tb } = pair({ delayNs: MS });
  let client: Connection | null = null;
  let cwndBefore = 0;
  tb.listen(5001, { onAccept: () => ({}) });
  net.at(0, () => {
    client = ta.connect(B, 5001, {
      onConnected: (c) => {
        c.noDelay = true;
        for (const n of writes) c.send(n);
        cwndBefore = c.cc.cwnd;
        ta.deliverIcmpError(A, c.localPort, B, 5001, 3, 4, (c.iss + quoted) >>> 0, mtu);
      },
    });
  });
  net.run(2 * SECOND);
  const c = client! as Connection;
  const data = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.payload.length > 0 && f.srcPort === c.localPort);
  return {
    c, a, cwndBefore,
    sent: data.map((f) => [(f.seq - c.iss) >>> 0, f.payload.length]),
    pushed: data.filter((f) => (f.flags & 0x08) !== 0).map((f) => (f.seq - c.iss) >>> 0),
  };
}

describe('TCP path MTU discovery', () => {
  it('a "fragmentation needed" for a segment in flight: MSS 1,348 for MTU 1,400, the two long segments sent again in pieces, the short one not', () => {
    const r = run(1400, 1);
    expect(r.c.mss).toBe(1400 - 40 - 12);
    expect(r.c.stats.mtuReductions).toBe(1);
    expect(r.sent).toEqual([
      [1, 1448], [1449, 500], [1949, 1448],
      [1, 1348], [1349, 100], [1949, 1348], [3297, 100],
    ]);
    expect(r.c.cc.cwnd).toBeGreaterThanOrEqual(r.cwndBefore);
    expect(r.a.pathMtu(r.a.device('eth0'), B)).toBe(1400);
  });

  it('segments lost next to each other go again as one run cut at the new MSS, its last piece pushed', () => {
    const r = run(1400, 1449, [1448, 1448, 500, 1448]);
    expect(r.sent.slice(4)).toEqual([[1, 1348], [1349, 1348], [2697, 200], [3397, 1348], [4745, 100]]);
    expect(r.pushed.filter((off) => r.sent.findIndex(([o]) => o === off) >= 4)).toEqual([2697, 4745]);
  });

  it('an error quoting a sequence number outside snd_una..snd_nxt changes nothing', () => {
    const r = run(1400, 100000);
    expect(r.c.mss).toBe(1448);
    expect(r.c.stats.mtuReductions).toBe(0);
    expect(r.sent).toEqual([[1, 1448], [1449, 500], [1949, 1448]]);
    expect(r.a.pathMtu(r.a.device('eth0'), B)).toBe(1500);
  });

  it('an MTU no smaller than the one the MSS was cut for changes nothing', () => {
    const r = run(1500, 1);
    expect(r.c.mss).toBe(1448);
    expect(r.sent).toHaveLength(3);
  });

  it("an open connection follows an MTU another connection learned, and the device's again after it expires", () => {
    const { net, ta, tb } = pair({ delayNs: MS });
    tb.listen(5001, { onAccept: () => ({}) });
    const conns: Connection[] = [];
    net.at(0, () => {
      for (let i = 0; i < 2; i++) ta.connect(B, 5001, { onConnected: (c) => { conns.push(c); } });
    });
    net.at(100 * MS, () => {
      const [first] = conns;
      first!.send(3000);
      ta.deliverIcmpError(A, first!.localPort, B, 5001, 3, 4, (first!.iss + 1) >>> 0, 1400);
    });
    net.at(500 * MS, () => conns[1]!.send(3000));
    net.at(700 * SECOND, () => conns[1]!.send(3000));
    net.run(701 * SECOND);
    const other = conns[1]!;
    const sent = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.srcPort === other.localPort && f.payload.length > 0).map((f) => f.payload.length);
    expect(sent).toEqual([1348, 1348, 304, 1448, 1448, 104]);
    expect(other.stats.mtuReductions).toBe(0);
    expect(other.stats.retransmits).toBe(0);
  });

  it('a later connection to the same peer advertises MSS 1,360 and sends 1,348-byte segments from the start', () => {
    const { net, ta, tb } = pair({ delayNs: MS });
    tb.listen(5001, { onAccept: () => ({}) });
    let second: Connection | null = null;
    net.at(0, () => {
      ta.connect(B, 5001, {
        onConnected: (c) => {
          c.send(3000);
          ta.deliverIcmpError(A, c.localPort, B, 5001, 3, 4, (c.iss + 1) >>> 0, 1400);
        },
      });
    });
    net.at(500 * MS, () => {
      second = ta.connect(B, 5001, { onConnected: (c) => c.send(3000) });
    });
    net.run(2 * SECOND);
    const c = second! as Connection;
    const out = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.srcPort === c.localPort);
    expect(out[0]!.options.mss).toBe(1360);
    expect(out.filter((f) => f.payload.length > 0).map((f) => f.payload.length)).toEqual([1348, 1348, 304]);
  });
});
