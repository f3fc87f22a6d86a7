/**
 * SYN retransmission (RFC 6298 5.5 and 5.7; tcp_retransmit_timer,
 * tcp_write_timeout): the first SYN times out after TCP_TIMEOUT_INIT = 1 s,
 * each further timeout doubles (2 s, 4 s, ...), and after
 * tcp_syn_retries = 6 retransmissions connect() fails with ETIMEDOUT at
 * 1 + 2 + 4 + 8 + 16 + 32 + 64 = 127 s.
 *
 * The SYNs go to a black hole: a route via the server, which does not
 * forward, so it drops them (IP_INADDRERRORS) while ARP works normally.
 */
import { describe, expect, it } from 'vitest';
import { ip, MS, route, SECOND } from '../helpers.js';
import { TCP_SYN } from '../../../models/wire/tcp.js';
import { TcpState } from '../../../models/stack/tcp/states.js';
import type { Connection, TcpError } from '../../../models/stack/tcp/connection.js';
import { tcpFrames } from './tcp-helpers.js';
import { pair } from './topo.js';

describe('TCP SYN retransmission', () => {
  it('retries a lost SYN after 1 s, then 2 s, 4 s, and connects when one gets through', () => {
    const { net, b, na, nb, ta, tb } = pair();
    route(na, '10.9.0.0/16', '10.0.0.2');
    let connectedAt = -1;
    let conn: Connection | null = null;
    net.at(0, () => {
      conn = ta.connect(ip('10.9.0.1'), 80, { onConnected: () => { connectedAt = net.sim.now; } });
      conn.recordRtt = true;
    });
    // At 5 s the address appears on the server with a listener: the SYN of 7 s is answered.
    net.at(5 * SECOND, () => {
      b.addAddress(nb, ip('10.9.0.1'), 32);
      tb.listen(80, { onAccept: () => {} });
    });
    net.run(10 * SECOND);
    const syns = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.flags === TCP_SYN);
    expect(syns.length).toBe(4);
    // The first waited ~2 ms for ARP; the timer runs from connect() at 0.
    expect(syns[0]!.t).toBeLessThan(3 * MS);
    expect(syns.slice(1).map((f) => f.t)).toEqual([1 * SECOND, 3 * SECOND, 7 * SECOND]);
    expect(new Set(syns.map((f) => f.seq)).size).toBe(1); // the same SYN, same ISN
    expect(syns.every((f) => f.checksumOk)).toBe(true);
    expect(net.dropsOf(b)['IP_INADDRERRORS']).toBe(3);
    expect(connectedAt).toBe(7 * SECOND + 2 * MS);
    const c = conn! as Connection;
    expect(c.state).toBe(TcpState.ESTABLISHED);
    expect(c.stats.retransmits).toBe(3);
    expect(c.stats.timeouts).toBe(3);
    // With timestamps the SYN-ACK echoes the latest SYN, so its RTT is measured (tcp_ack_update_rtt).
    expect(c.stats.rttSamplesNs).toEqual([2 * MS]);
  });

  it('gives up after tcp_syn_retries with ETIMEDOUT at 127 s', () => {
    const { net, na, ta } = pair();
    route(na, '10.9.0.0/16', '10.0.0.2');
    let err: TcpError | null = null;
    let errAt = -1;
    net.at(0, () => {
      ta.connect(ip('10.9.0.1'), 80, { onError: (_c, e) => { err = e; errAt = net.sim.now; } });
    });
    net.run(200 * SECOND);
    const syns = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.flags === TCP_SYN);
    expect(syns.slice(1).map((f) => f.t / SECOND)).toEqual([1, 3, 7, 15, 31, 63]);
    expect(err).toBe('ETIMEDOUT');
    expect(errAt).toBe(127 * SECOND);
    expect(ta.size).toBe(0);
  });

  it('falls back to a 3 s RTO after a retransmitted SYN without timestamps (RFC 6298 5.7)', () => {
    const { net, b, na, nb, ta, tb } = pair({ params: { timestamps: false } });
    route(na, '10.9.0.0/16', '10.0.0.2');
    let conn: Connection | null = null;
    net.at(0, () => {
      conn = ta.connect(ip('10.9.0.1'), 80, {});
      conn.recordRtt = true;
    });
    net.at(2 * SECOND, () => {
      b.addAddress(nb, ip('10.9.0.1'), 32);
      tb.listen(80, { onAccept: () => {} });
    });
    net.run(5 * SECOND);
    const c = conn! as Connection;
    expect(c.state).toBe(TcpState.ESTABLISHED);
    expect(c.stats.rttSamplesNs).toEqual([]); // Karn: the SYN-ACK may answer either SYN
    expect(c.rto.timeoutNs).toBe(3 * SECOND);
  });
});
