/**
 * What a path with a very large MTU (lo, 65536) changes, and a peer that
 * answers within the same instant (a server in the sender's own namespace):
 * - ipv4_default_advmss: the advertised MSS is the MTU less 40, at most
 *   IPV4_MAX_PMTU (65535) less 40: 65495 on lo (Linux's SYNs over lo);
 * - tcp_bound_to_half_wnd: no segment above half the largest window the peer
 *   offered, so two are in flight (Linux sends 32741-byte segments on lo);
 * - tcp_incr_quickack: at least two quick ACKs, although the window holds
 *   less than two segments;
 * - the socket lock: a segment for a connection arriving while that
 *   connection is sending (its own answer, at once over lo) waits until the
 *   send returns (sk_add_backlog, release_sock), instead of being taken for
 *   an ACK of data not yet sent.
 * test/kernel/tcp-loopback.kernel.test.ts compares the small messages with Linux.
 */
import { describe, expect, it } from 'vitest';
import { ip, MS, SECOND } from '../helpers.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { flagString, tcpFrames } from './tcp-helpers.js';
import { pair } from './topo.js';

/** Client and server both in namespace b, over its lo; the client is b's 10.0.0.2 too. */
function overLo() {
  const { net, b, tb } = pair();
  const tap = net.capture(b.lo);
  return { net, tap, tb };
}

describe('TCP over lo (MTU 65536)', () => {
  it('advertises MSS 65495 and sends segments of half the largest window offered', () => {
    const { net, tap, tb } = overLo();
    let received = 0;
    tb.listen(80, { onAccept: () => ({ onData: (c) => { received = c.bytesReceived; } }) });
    net.at(0, () => { tb.connect(ip('10.0.0.2'), 80, { onConnected: (c: Connection) => c.send(100_000) }); });
    net.run(1 * SECOND);
    const frames = tcpFrames(tap, 'b/lo');
    const syn = frames[0]!;
    const synAck = frames[1]!;
    expect(flagString(syn.flags)).toBe('S');
    expect(syn.options.mss).toBe(65495);
    expect(synAck.options.mss).toBe(65495);
    const data = frames.filter((f) => f.srcPort !== 80 && f.payload.length > 0);
    // The server's SYN-ACK offered 65483 bytes: segments of at most 32741.
    expect(synAck.window).toBe(65483);
    expect(data[0]!.payload.length).toBe(32741);
    expect(Math.max(...data.map((f) => f.payload.length))).toBeLessThan(65483);
    expect(received).toBe(100_000);
  });

  it('quick-ACKs a request before the answer, although the window holds less than two segments', () => {
    const { net, tap, tb } = overLo();
    tb.listen(80, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === 100) c.send(200); } }) });
    net.at(0, () => { tb.connect(ip('10.0.0.2'), 80, { onConnected: (c: Connection) => c.send(100) }); });
    net.run(1 * SECOND);
    const fromServer = tcpFrames(tap, 'b/lo').filter((f) => f.srcPort === 80).map((f) => `${flagString(f.flags)} ${f.payload.length}`);
    expect(fromServer).toEqual(['S. 0', '. 0', 'P. 200']);
  });

  it('a send from a timer whose answer comes back at once: the answer waits for the send to return', () => {
    const { net, tb } = overLo();
    tb.listen(80, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === 100) c.send(200); } }) });
    let client: Connection | null = null;
    let answeredAt = -1;
    net.at(0, () => {
      client = tb.connect(ip('10.0.0.2'), 80, { onData: (c) => { if (c.bytesReceived === 200) answeredAt = net.sim.now; } });
    });
    // Not from a callback of the stack: the application wakes on a timer of its own.
    net.at(1 * MS, () => (client! as Connection).send(100));
    net.run(1 * SECOND);
    const c = client! as Connection;
    expect(answeredAt).toBe(1 * MS);
    expect([c.stats.retransmits, c.stats.timeouts]).toEqual([0, 0]);
  });
});
