/**
 * Data and ACKs (RFC 9293 3.10.7.4, RFC 1122 4.2.3.2 and Linux's
 * __tcp_ack_snd_check / tcp_event_data_sent):
 * - the first data a connection receives is ACKed at once (quick-ACK mode,
 *   tcp_incr_quickack), and a reply sent from the data callback carries the ACK;
 * - once the application answers within the ACK timeout (interactive,
 *   "pingpong" mode) a lone segment is ACKed after TCP_DELACK_MIN = 40 ms;
 * - past the quick-ACK credit, bulk data is ACKed every second full segment;
 * - a receiver that is not interactive ACKs a segment smaller than rcv_mss
 *   when the application has read it (tcp_measure_rcv_mss sets
 *   ICSK_ACK_PUSHED, __tcp_cleanup_rbuf sends the ACK);
 * - data after a gap longer than the RTO starts quick-ACK mode again.
 */
import { describe, expect, it } from 'vitest';
import { ip, MS } from '../helpers.js';
import { TCP_ACK, TCP_PSH } from '../../../models/wire/tcp.js';
import { MessageFramer } from '../../../models/stack/tcp/message-framer.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { tcpFrames, tcpLine, type TcpFrame } from './tcp-helpers.js';
import { pair } from './topo.js';

/** A server that answers each `reqSize`-byte request with `respSize` bytes, sent from onData. */
function echoServer(tb: ReturnType<typeof pair>['tb'], reqSize: number, respSize: number) {
  tb.listen(80, {
    onAccept: (conn) => {
      const f = new MessageFramer(() => {
        conn.send(respSize);
        f.expect(reqSize);
      });
      f.expect(reqSize);
      return { onData: (_c, n) => f.push(n) };
    },
  });
}

const isPureAck = (f: TcpFrame) => f.flags === TCP_ACK && f.payload.length === 0;

describe('TCP data and ACKs', () => {
  it('carries a request and its response with consistent seq/ack; quick-ACKs the first response', () => {
    const { net, ta, tb } = pair();
    echoServer(tb, 100, 200);
    let respAt = -1;
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (c) => c.send(100),
        onData: (c) => { if (c.bytesReceived === 200) respAt = net.sim.now; },
      });
    });
    net.run(500 * MS);
    const a = tcpFrames(net.tap, 'a/eth0', 'out');
    const b = tcpFrames(net.tap, 'b/eth0', 'out');
    const [syn, , req, ackResp] = a;
    const [synack, ackReq, resp] = b;
    expect(a.length).toBe(4);
    // SYN-ACK, a pure ACK of the request, then the response: the first data of a
    // connection is ACKed at once (quick-ACK), before the woken server can answer.
    expect(b.length).toBe(3);
    expect(isPureAck(ackReq!)).toBe(true);
    expect(ackReq!.ack).toBe((syn!.seq + 101) >>> 0);
    expect(ackReq!.t).toBe(resp!.t);
    expect(req!.flags).toBe(TCP_PSH | TCP_ACK);
    expect(req!.seq).toBe((syn!.seq + 1) >>> 0);
    expect(req!.payload.length).toBe(100);
    expect(Array.from(req!.payload.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    expect(resp!.flags).toBe(TCP_PSH | TCP_ACK);
    expect(resp!.seq).toBe((synack!.seq + 1) >>> 0);
    expect(resp!.ack).toBe((syn!.seq + 101) >>> 0);
    expect(resp!.payload.length).toBe(200);
    expect(isPureAck(ackResp!)).toBe(true);
    expect(ackResp!.ack).toBe((synack!.seq + 201) >>> 0);
    // Quick-ACK: the response is ACKed the instant it arrives.
    expect(ackResp!.t).toBe(respAt);
    for (const f of [...a, ...b]) expect(f.checksumOk, tcpLine(f)).toBe(true);
  });

  it('delays the ACK of a lone segment by 40 ms in an interactive exchange', () => {
    const { net, ta, tb } = pair();
    echoServer(tb, 100, 200);
    const respAt: number[] = [];
    net.at(0, () => {
      const f = new MessageFramer(() => {
        respAt.push(net.sim.now);
        if (respAt.length < 2) {
          client.send(100);
          f.expect(200);
        }
      });
      f.expect(200);
      const client: Connection = ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (c) => c.send(100),
        onData: (_c, n) => f.push(n),
      });
    });
    net.run(500 * MS);
    expect(respAt.length).toBe(2);
    const acks = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => isPureAck(f) && f.t > 0 && f.seq !== 0);
    // The handshake ACK; the first response's, at once (quick-ACK at the start of a
    // connection); the second response's 40 ms after it arrived: answering within
    // the ACK timeout made the connection interactive (pingpong), so ACKs wait.
    expect(acks.length).toBe(3);
    expect(acks[1]!.t).toBe(respAt[0]!);
    expect(acks[2]!.t - respAt[1]!).toBe(40 * MS);
    // The server quick-ACKs the first request; the second's ACK rides on its answer.
    expect(tcpFrames(net.tap, 'b/eth0', 'out').filter(isPureAck).length).toBe(1);
  });

  it('ACKs bulk data at once during quick-ACK and while the window opens, else every second full-sized segment', () => {
    const { net, ta, tb } = pair();
    let server: Connection | null = null;
    tb.listen(80, { onAccept: (c) => { server = c; } });
    const total = 40 * 1448;
    let client: Connection | null = null;
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => c.send(total) });
    });
    net.run(2000 * MS);
    expect((server! as Connection).bytesReceived).toBe(total);
    expect((client! as Connection).stats.bytesAcked).toBe(total);
    const data = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.payload.length > 0);
    expect(data.length).toBe(40);
    expect(data.every((f) => f.payload.length === 1448)).toBe(true);
    // Initial window: 10 segments leave back to back before any ACK returns.
    expect(data[9]!.t).toBe(data[0]!.t);
    expect(data[10]!.t).toBe(data[0]!.t + 2 * MS); // released by the first ACK, one RTT later
    const acks = tcpFrames(net.tap, 'b/eth0', 'out').filter(isPureAck);
    // Quick ACKs: TCP_MAX_QUICKACKS (16) from the first data, and one more for each of the
    // five segments that open the window up to its clamp (tcp_grow_window: icsk_ack.quick |= 1
    // keeps an ACK owed); 21 in all, as Linux 6.18 ACKs a 40-segment request (tcp-pmtu probes).
    // Then one per two segments while the window stays at its clamp; then one per segment
    // again once DRS has grown the buffer (after a round trip of reads) and the window opens.
    const acked = acks.map((f) => ((f.ack - data[0]!.seq) >>> 0) / 1448);
    const range = (from: number, to: number, step = 1) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);
    expect(acked).toEqual([...range(1, 21), ...range(23, 31, 2), ...range(32, 40)]);
    // Stream bytes are the deterministic pattern: byte i is i & 0xff.
    const last = data[39]!;
    expect(last.payload[0]).toBe((39 * 1448) & 0xff);
  });

  it('applies Nagle to a second small write while the first is unACKed, not with TCP_NODELAY', () => {
    for (const noDelay of [false, true]) {
      const { net, ta, tb } = pair();
      tb.listen(80, { onAccept: () => ({}) });
      net.at(0, () => {
        ta.connect(ip('10.0.0.2'), 80, {
          onConnected: (c) => {
            c.noDelay = noDelay;
            c.send(10);
            c.send(10);
          },
        });
      });
      net.run(100 * MS);
      const data = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.payload.length > 0);
      expect(data.length).toBe(2);
      const gap = data[1]!.t - data[0]!.t;
      // Nagle holds the second write until the first is ACKed (one RTT, 2 ms here).
      if (noDelay) expect(gap).toBe(0);
      else expect(gap).toBeGreaterThanOrEqual(2 * MS);
    }
  });

  it('a bulk receiver ACKs a small segment when it reads it, not after the delayed-ACK timeout (ICSK_ACK_PUSHED)', () => {
    // 40 full segments use up the quick ACKs; 100 ms later (less than an RTO: no new quick ACKs)
    // a 100-byte write. b never answers, so it is not interactive: __tcp_cleanup_rbuf ACKs the
    // pushed segment as soon as the application read it.
    const { net, ta, tb } = pair();
    tb.listen(80, { onAccept: () => ({}) });
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => { c.send(40 * 1448); net.at(200 * MS, () => c.send(100)); } });
    });
    net.run(1000 * MS);
    const tail = tcpFrames(net.tap, 'b/eth0', 'in').find((f) => f.payload.length === 100)!;
    const ack = tcpFrames(net.tap, 'b/eth0', 'out').find((f) => f.t >= tail.t && isPureAck(f))!;
    expect(ack.ack).toBe((tail.seq + 100) >>> 0);
    expect(ack.t).toBe(tail.t);
  });


  it('ACKs at once again after a gap longer than the RTO (tcp_event_data_recv)', () => {
    // A receive buffer that cannot grow (tcp_rmem max = default), so that once the quick ACKs
    // are used up no segment opens the window: a lone full segment 140 ms after the bulk
    // waits for the delayed ACK, one after a 1 s gap (more than the ~200 ms RTO) is ACKed at once.
    const { net, ta, tb } = pair({ params: { rmem: [4096, 131072, 131072] } });
    tb.listen(80, { onAccept: () => ({}) });
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (c) => {
          c.send(100 * 1448);
          net.at(150 * MS, () => c.send(1448));
          net.at(1250 * MS, () => c.send(1448));
        },
      });
    });
    net.run(3000 * MS);
    const ackDelay = (t0: number) => {
      const seg = tcpFrames(net.tap, 'b/eth0', 'in').find((f) => f.t > t0 && f.payload.length > 0)!;
      const ack = tcpFrames(net.tap, 'b/eth0', 'out').find((f) => f.t >= seg.t && isPureAck(f))!;
      return ack.t - seg.t;
    };
    expect(ackDelay(150 * MS)).toBe(40 * MS);
    expect(ackDelay(1250 * MS)).toBe(0);
  });

});
