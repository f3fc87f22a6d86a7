/**
 * Resets and closes (RFC 9293 3.5.2, 3.6; tcp_v4_send_reset, tcp_fin,
 * tcp_time_wait):
 * - a SYN to a port with no listener gets RST|ACK (seq 0, ack = ISN + 1,
 *   window 0) and never an ICMP port unreachable; connect() fails with
 *   ECONNREFUSED;
 * - a segment with ACK to no socket gets a bare RST with seq = its ack;
 * - abort() resets the peer (ECONNRESET);
 * - FIN teardown: the active closer goes FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT
 *   and leaves the table after TCP_TIMEWAIT_LEN = 60 s; the passive closer
 *   goes CLOSE-WAIT, LAST-ACK, CLOSED;
 * - in TIME-WAIT a timewait socket (inet_timewait_sock) holds the 4-tuple and
 *   the full connection is freed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ip, MS, SECOND } from '../helpers.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../models/wire/tcp.js';
import { TcpState } from '../../../models/stack/tcp/states.js';
import type { Connection, TcpError } from '../../../models/stack/tcp/connection.js';
import { TimeWaitSock } from '../../../models/stack/tcp/time-wait.js';
import { flagString, tcpFrames, tcpLine } from './tcp-helpers.js';
import { pair } from './topo.js';

describe('TCP resets', () => {
  it('answers a SYN to a closed port with RST|ACK, not ICMP, and connect() fails with ECONNREFUSED', () => {
    const { net, b, ta, tb } = pair();
    let err: TcpError | null = null;
    let errAt = -1;
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 81, { onError: (_c, e) => { err = e; errAt = net.sim.now; } });
    });
    net.run(3 * SECOND);
    const syn = tcpFrames(net.tap, 'a/eth0', 'out');
    const back = tcpFrames(net.tap, 'b/eth0', 'out');
    expect(syn.length).toBe(1); // no retransmission after the RST
    expect(back.length).toBe(1);
    const rst = back[0]!;
    expect(rst.flags).toBe(TCP_RST | TCP_ACK);
    expect(rst.seq).toBe(0);
    expect(rst.ack).toBe((syn[0]!.seq + 1) >>> 0);
    expect(rst.window).toBe(0);
    expect(rst.headerLen).toBe(20);
    expect(rst.checksumOk).toBe(true);
    expect(net.tap.frames.some((f) => f.bytes[14 + 9] === 1)).toBe(false); // no ICMP at all
    expect(net.dropsOf(b)['NO_SOCKET']).toBe(1);
    expect(err).toBe('ECONNREFUSED');
    expect(errAt).toBe(rst.t + MS);
    expect(ta.size).toBe(0);
    expect(tb.resetsSent).toBe(1);
  });

  it('resets a stray ACK with seq = its ack, and abort() resets the peer', () => {
    const { net, ta, tb } = pair();
    let serverErr: TcpError | null = null;
    tb.listen(80, { onAccept: () => ({ onError: (_c, e) => { serverErr = e; } }) });
    let client: Connection | null = null;
    net.at(0, () => { client = ta.connect(ip('10.0.0.2'), 80, {}); });
    net.at(100 * MS, () => (client! as Connection).abort());
    net.run(200 * MS);
    const out = tcpFrames(net.tap, 'a/eth0', 'out');
    const rst = out[out.length - 1]!;
    expect(rst.flags).toBe(TCP_RST | TCP_ACK);
    expect(rst.seq).toBe((out[0]!.seq + 1) >>> 0);
    expect(serverErr).toBe('ECONNRESET');
    expect(tb.size).toBe(0);
    expect(ta.size).toBe(0);

    // A data segment for the connection that no longer exists: the server side resets it.
    net.tap.clear();
    net.at(300 * MS, () => {
      ta.writer.send(ip('10.0.0.1'), ip('10.0.0.2'), rst.srcPort, 80, 12345, 777, TCP_ACK | TCP_PSH, 100, -1, 0, 10, 0);
    });
    net.run(400 * MS);
    const reset = tcpFrames(net.tap, 'b/eth0', 'out')[0]!;
    expect(flagString(reset.flags)).toBe('R');
    expect(reset.seq).toBe(777);
    expect(reset.checksumOk).toBe(true);
  });
});

describe('TCP FIN teardown', () => {
  it('closes both sides; the active closer holds TIME-WAIT for 60 s', () => {
    const { net, ta, tb } = pair();
    const events: string[] = [];
    let server: Connection | null = null;
    tb.listen(80, {
      onAccept: (c) => {
        server = c;
        return {
          onData: (conn) => { if (conn.bytesReceived === 50) conn.send(70); },
          onEnd: (conn) => { events.push(`server end ${conn.stateName}`); conn.close(); },
          onClosed: (conn) => events.push(`server closed ${conn.stateName} at ${net.sim.now}`),
        };
      },
    });
    let client: Connection | null = null;
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (c) => c.send(50),
        onData: (c) => {
          if (c.bytesReceived === 70) c.close();
        },
        onEnd: (c) => events.push(`client end ${c.stateName}`),
        onClosed: (c) => events.push(`client closed ${c.stateName} at ${net.sim.now}`),
      });
    });
    net.run(1 * SECOND);
    const c = client! as Connection;
    const s = server! as Connection;
    const a = tcpFrames(net.tap, 'a/eth0', 'out');
    const b = tcpFrames(net.tap, 'b/eth0', 'out');
    const cFin = a.find((f) => f.flags & TCP_FIN)!;
    const sFin = b.find((f) => f.flags & TCP_FIN)!;
    const last = a[a.length - 1]!;
    expect(cFin.flags).toBe(TCP_FIN | TCP_ACK);
    expect(cFin.seq).toBe((a[0]!.seq + 51) >>> 0);
    // The server's FIN carries the ACK of the client's FIN (it closed in onEnd).
    expect(sFin.flags).toBe(TCP_FIN | TCP_ACK);
    expect(sFin.ack).toBe((cFin.seq + 1) >>> 0);
    expect(sFin.seq).toBe((b[0]!.seq + 71) >>> 0);
    expect(last.flags).toBe(TCP_ACK);
    expect(last.seq).toBe((cFin.seq + 1) >>> 0);
    expect(last.ack).toBe((sFin.seq + 1) >>> 0);
    for (const f of [...a, ...b]) expect(f.checksumOk, tcpLine(f)).toBe(true);
    expect(a.some((f) => f.flags & TCP_SYN && f.flags & TCP_FIN)).toBe(false);

    expect(c.state).toBe(TcpState.TIME_WAIT);
    expect(c.ssState).toBe('TIME-WAIT');
    expect(s.state).toBe(TcpState.CLOSED);
    expect(tb.size).toBe(0);
    expect(ta.size).toBe(1);
    expect(events).toEqual([
      'server end CLOSE-WAIT',
      // The FIN moved the socket to TIME-WAIT before the application read its end.
      'client end TIME-WAIT',
      `client closed TIME-WAIT at ${sFin.t + MS}`,
      `server closed CLOSED at ${last.t + MS}`,
    ]);

    const twAt = sFin.t + MS;
    net.run(twAt + 60 * SECOND - 1);
    expect(ta.size).toBe(1);
    expect(c.state).toBe(TcpState.TIME_WAIT);
    net.run(twAt + 60 * SECOND);
    expect(ta.size).toBe(0);
    expect(c.state).toBe(TcpState.CLOSED);
  });

  it('re-ACKs a retransmitted FIN in TIME-WAIT and restarts the wait; a RST ends it (tcp_rfc1337 = 0)', () => {
    for (const peerUp of [false, true]) {
      const { net, nb, ta, tb } = pair();
      tb.listen(80, { onAccept: () => ({ onEnd: (conn) => conn.close() }) });
      let client: Connection | null = null;
      let errors = 0;
      net.at(0, () => {
        client = ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => c.close(), onError: () => errors++ });
      });
      net.run(1 * SECOND);
      const c = client! as Connection;
      expect(c.state).toBe(TcpState.TIME_WAIT);
      const sFin = tcpFrames(net.tap, 'b/eth0', 'out').find((f) => f.flags & TCP_FIN)!;
      net.tap.clear();
      // The server's FIN again, as if our ACK had been lost.
      net.at(2 * SECOND, () => {
        tb.writer.send(ip('10.0.0.2'), ip('10.0.0.1'), 80, c.localPort, sFin.seq, sFin.ack, TCP_FIN | TCP_ACK, 501, -1, 0, 0, 0);
      });
      // Without the server (its device down) the re-ACK is lost; with it, the ACK finds no
      // socket and the server answers RST.
      if (!peerUp) net.at(2 * SECOND + MS / 2, () => { nb.up = false; });
      net.run(3 * SECOND);
      const reAck = tcpFrames(net.tap, 'a/eth0', 'out');
      expect(reAck.length).toBe(1);
      expect(reAck[0]!.flags).toBe(TCP_ACK);
      expect(reAck[0]!.ack).toBe((sFin.seq + 1) >>> 0);
      if (peerUp) {
        const rst = tcpFrames(net.tap, 'b/eth0', 'out').filter((f) => f.flags & TCP_RST);
        expect(rst.length).toBe(1);
        expect(c.state).toBe(TcpState.CLOSED);
        expect(ta.size).toBe(0);
        expect(errors).toBe(0);
        continue;
      }
      // The 2MSL wait restarted: still there 60 s after the first FIN, gone 60 s after the second.
      net.run(2 * SECOND + 60 * SECOND);
      expect(c.state).toBe(TcpState.TIME_WAIT);
      net.run(2 * SECOND + MS + 60 * SECOND);
      expect(c.state).toBe(TcpState.CLOSED);
      expect(ta.size).toBe(0);
    }
  });
});

describe('TCP TIME-WAIT socket', () => {
  it('takes the connection\'s place in the table, and the connection is garbage once its application lets go', async () => {
    const { net, ta, tb } = pair();
    tb.listen(80, { onAccept: () => ({ onEnd: (conn) => conn.close() }) });
    let ref: WeakRef<Connection> | null = null;
    net.at(0, () => {
      ref = new WeakRef(ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => c.close() }));
    });
    // Past every timer the connection armed (the SYN's 1 s RTO): no event refers to it.
    net.run(5 * SECOND);
    const sockets = ta.connections();
    expect(sockets.length).toBe(1);
    expect(sockets[0]).toBeInstanceOf(TimeWaitSock);
    expect(sockets[0]!.ssState).toBe('TIME-WAIT');
    // A WeakRef's target lives until the job that made it ends; then a full collection.
    await new Promise((r) => setTimeout(r, 0));
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    expect(ref!.deref()).toBeUndefined();
    net.run(61 * SECOND);
    expect(ta.size).toBe(0);
    expect(sockets[0]!.state).toBe(TcpState.CLOSED);
  });

  it('a connection is garbage as soon as it is done, before the events of its cancelled timers come due', async () => {
    const { net, ta, tb } = pair();
    const refs: WeakRef<Connection>[] = [];
    tb.listen(80, {
      onAccept: (c) => {
        refs.push(new WeakRef(c));
        return { onEnd: (conn) => conn.close() };
      },
    });
    net.at(0, () => {
      refs.push(new WeakRef(ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => c.close() })));
    });
    // Both sides are done after two round trips (the client in TIME-WAIT, the server CLOSED);
    // the SYN's 1 s retransmission timer, cancelled lazily, still has its event queued.
    net.run(100 * MS);
    expect(refs.map((r) => r.deref()!.ssState)).toEqual(['TIME-WAIT', 'UNCONN']);
    expect(net.sim.nextEventTime()).toBeLessThan(1.1 * SECOND);
    await new Promise((r) => setTimeout(r, 0));
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    expect(refs.map((r) => r.deref())).toEqual([undefined, undefined]);
    // The events come due and do nothing.
    net.run(2 * SECOND);
    expect(ta.connections().map((c) => c.ssState)).toEqual(['TIME-WAIT']);
    expect(tb.size).toBe(0);
  });
});

describe('TCP data after the application closed (RFC 1122 4.2.2.13)', () => {
  // Linux 6.18, two namespaces and a veth: the client connects and closes at once; 200 ms
  // later the server sends 100 bytes. After close() the client answers them with a bare
  // RST, seq = their ack, window 0, and the server's next send fails (EPIPE). After
  // shutdown(SHUT_WR) instead, the client ACKs the data and reads it.
  function serverSendsAfterClientFin(how: 'close' | 'shutdown') {
    const { net, ta, tb } = pair();
    let serverErr: TcpError | null = null;
    let server: Connection | null = null;
    tb.listen(80, { onAccept: (c) => { server = c; return { onError: (_c, e) => { serverErr = e; } }; } });
    let client: Connection | null = null;
    let clientRead = 0;
    let clientHeard = 0;
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (c) => (how === 'close' ? c.close() : c.shutdown()),
        onData: (c) => { clientRead = c.bytesReceived; },
        onError: () => clientHeard++,
        onClosed: () => clientHeard++,
      });
    });
    net.at(200 * MS, () => (server! as Connection).send(100));
    net.run(1 * SECOND);
    return { net, ta, tb, client: client! as Connection, serverErr, clientRead, clientHeard };
  }

  it('close(): new data is answered with a RST (seq = its ack) and the socket is gone; the peer fails', () => {
    const r = serverSendsAfterClientFin('close');
    const data = tcpFrames(r.net.tap, 'b/eth0', 'out').find((f) => f.payload.length > 0)!;
    const after = tcpFrames(r.net.tap, 'a/eth0', 'out').filter((f) => f.t >= data.t);
    expect(after.map((f) => flagString(f.flags))).toEqual(['R']);
    expect(after[0]!.seq).toBe(data.ack);
    expect(after[0]!.window).toBe(0);
    expect(r.client.state).toBe(TcpState.CLOSED);
    expect(r.ta.size).toBe(0);
    expect(r.clientRead).toBe(0);
    expect(r.clientHeard).toBe(0); // it closed: nobody is listening
    expect(r.serverErr).toBe('ECONNRESET');
    expect(r.tb.size).toBe(0);
  });

  it('shutdown(SHUT_WR): the data is ACKed and read', () => {
    const r = serverSendsAfterClientFin('shutdown');
    const data = tcpFrames(r.net.tap, 'b/eth0', 'out').find((f) => f.payload.length > 0)!;
    const after = tcpFrames(r.net.tap, 'a/eth0', 'out').filter((f) => f.t >= data.t);
    expect(after.map((f) => flagString(f.flags))).toEqual(['.']);
    expect(after[0]!.ack).toBe((data.seq + 100) >>> 0);
    expect(r.clientRead).toBe(100);
    expect(r.client.state).toBe(TcpState.FIN_WAIT2);
    expect(r.serverErr).toBe(null);
  });
});

describe('TCP TIME-WAIT reuse', () => {
  it('lets a new SYN on the same 4-tuple replace a server-side TIME-WAIT connection', () => {
    const { net, ta, tb } = pair();
    let accepts = 0;
    // The server closes first, so the server holds TIME-WAIT.
    tb.listen(80, { onAccept: (c) => { accepts++; c.close(); return {}; } });
    const states: string[] = [];
    net.at(0, () => { ta.connect(ip('10.0.0.2'), 80, { onEnd: (c) => c.close() }, { srcPort: 40000 }); });
    net.at(1 * SECOND, () => {
      states.push(...tb.connections().map((c) => c.ssState));
      ta.connect(ip('10.0.0.2'), 80, { onConnected: () => states.push('connected') }, { srcPort: 40000 });
    });
    net.run(2 * SECOND);
    expect(states).toEqual(['TIME-WAIT', 'connected']);
    expect(accepts).toBe(2);
  });
});
