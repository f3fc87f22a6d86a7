/**
 * The send side as Linux 6.18 runs it over a device without TSO or GSO
 * (measured in two namespaces joined by a veth with `ethtool -K ... tso off
 * gso off`, Reno, with `ss -tmi` and tcpdump):
 * - tcp_sndbuf_expand at the handshake: two initial windows of full-sized
 *   skbs, tb46080 at MSS 1448;
 * - a 57,920-byte write the peer does not ACK yet queues 46,336 bytes
 *   (w48832: two skbs of 1,248 bytes each besides the data) and waits;
 * - the initial window leaves as two bursts of five segments (tcp_cwnd_test:
 *   at most half of cwnd per burst), PSH on the last segment of each, as
 *   Linux's software GSO sends them; a single segment that does not end a
 *   write carries no PSH.
 * test/kernel/tcp-bulk-window.kernel.test.ts compares the first flight with
 * the kernel's, and tcp-loopback.kernel.test.ts every segment of 20,000-byte
 * answers, PSH included.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { SendBuffer, SKB_EMPTY_TRUESIZE } from '../../../models/stack/tcp/send-buffer.js';
import { DEFAULT_TCP_PARAMS } from '../../../models/stack/tcp/params.js';
import { ip, MS, SECOND } from '../helpers.js';
import { flagString, tcpFrames, type TcpFrame } from './tcp-helpers.js';
import { pair } from './topo.js';

const psh = (f: TcpFrame) => flagString(f.flags).includes('P');

describe('the send buffer (sk_sndbuf, sk_wmem_queued)', () => {
  it('is sized for two initial windows of full-sized skbs, growing with cwnd up to tcp_wmem[2]', () => {
    const b = new SendBuffer(DEFAULT_TCP_PARAMS.wmem, 1);
    expect(b.sndbuf).toBe(16384);
    b.expand(10, 1448, 1460);
    expect(b.sndbuf).toBe(46080);
    // The skb rounds up to the next power of two past an MSS clamp of 1536 (measured: 1520 -> 46080, 1540 -> 87040).
    const big = new SendBuffer(DEFAULT_TCP_PARAMS.wmem, 1);
    big.expand(10, 1488, 1540);
    expect(big.sndbuf).toBe(87040);
    b.expand(40, 1448, 1460);
    expect(b.sndbuf).toBe(2 * 40 * 2304);
    b.expand(10, 1448, 1460);
    expect(b.sndbuf).toBe(2 * 40 * 2304); // never shrinks
    b.expand(100_000, 1448, 1460);
    expect(b.sndbuf).toBe(4194304);
  });

  it('charges each skb its bytes and a fixed overhead, and gives them back as they are ACKed', () => {
    const b = new SendBuffer(DEFAULT_TCP_PARAMS.wmem, 1);
    b.newSkb();
    b.grow(31856);
    b.splitAt(7241);
    expect(b.wmemQueued).toBe(2 * SKB_EMPTY_TRUESIZE + 31856);
    b.ack(1 + 1448, 1448); // part of a multi-segment skb: its bytes come back, not its overhead
    expect(b.wmemQueued).toBe(2 * SKB_EMPTY_TRUESIZE + 31856 - 1448);
    b.ack(7241, 1448);
    expect(b.wmemQueued).toBe(SKB_EMPTY_TRUESIZE + 31856 - 7240);
    b.ack(31857, 1448);
    expect(b.wmemQueued).toBe(0);
  });
});

describe('TCP writes and bursts as Linux 6.18 sends them without TSO', () => {
  it('queues 46,336 bytes of a 57,920-byte write until ACKs come, the rest waiting', () => {
    const { net, ta, tb } = pair({ delayNs: 1 * MS });
    tb.listen(80, { onAccept: () => ({}) });
    let c!: Connection;
    const seen: number[] = [];
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (conn) => {
          c = conn;
          c.send(57_920);
          seen.push(c.sendBuf.sndbuf, c.bytesWritten, c.bytesWaiting, c.sendBuf.wmemQueued);
        },
      });
    });
    net.run(1 * SECOND);
    expect(seen).toEqual([46080, 46336, 11584, 48832]);
    expect(c.bytesWaiting).toBe(0);
    expect(c.bytesWritten).toBe(57_920);
  });

  it('queues what Linux queues before the write waits, for MSS clamps on both sides of the buffer doubling', () => {
    // Linux 6.18, a peer that drops the data: bytes taken by two back-to-back writes of 57,920
    // (non-blocking; what the first left waiting), and sk_wmem_queued then (ss -tmi).
    const measured: [number, number, number, number][] = [
      // MTU, tb, bytes queued, w
      [1500, 46080, 46336, 48832],
      [1520, 46080, 46976, 49472],
      [1540, 46080, 47616, 50112],
      [1560, 46080, 46748, 49244],
      [1580, 87040, 111544, 115704],
      [1600, 87040, 113004, 117164],
      [1640, 87040, 111160, 115320],
      [1700, 87040, 110416, 114576],
      [1760, 87040, 114436, 118596],
      [1800, 87040, 111872, 116032],
    ];
    for (const [mtu, tb, queued, w] of measured) {
      // 30 us one way: about the RTT of the measurement (66 us), which sizes the bursts (tcp_tso_autosize).
      const { net, ta, tb: server } = pair({ delayNs: 30_000, mtu });
      server.listen(80, { onAccept: () => ({}) });
      let got: number[] = [];
      net.at(0, () => {
        ta.connect(ip('10.0.0.2'), 80, {
          onConnected: (c) => {
            c.send(2 * 57_920);
            got = [c.sendBuf.sndbuf, c.bytesWritten, c.sendBuf.wmemQueued];
          },
        });
      });
      net.run(10 * MS);
      expect(got, `MTU ${mtu}`).toEqual([tb, queued, w]);
    }
  });

  it('sends the initial window as two bursts of five segments, PSH on the last of each', () => {
    const { net, ta, tb } = pair({ delayNs: 1 * MS });
    tb.listen(80, { onAccept: () => ({}) });
    net.at(0, () => { ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => c.send(57_920) }); });
    net.run(1 * SECOND);
    const data = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.payload.length > 0);
    expect(data.slice(0, 10).map((f) => `${f.payload.length}${psh(f) ? 'P' : ''}`)).toEqual([
      '1448', '1448', '1448', '1448', '1448P', '1448', '1448', '1448', '1448', '1448P',
    ]);
    // All ten leave at once, before any ACK.
    expect(data[9]!.t - data[0]!.t).toBeLessThan(1 * MS);
  });

  it('sends a lone segment that does not end a write without PSH', () => {
    // Nine segments fill the initial window (bursts of five and four); a second write of three
    // finds room for one: a burst of one segment, cut from a three-segment skb, goes without
    // PSH (tso_fragment gives the mark to the rest), and the rest goes with it at the next ACK.
    const { net, ta, tb } = pair({ delayNs: 1 * MS });
    tb.listen(80, { onAccept: () => ({}) });
    net.at(0, () => { ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => { c.send(9 * 1448); c.send(3 * 1448); } }); });
    net.run(1 * SECOND);
    const seen = tcpFrames(net.tap, 'a/eth0')
      .filter((f) => f.payload.length > 0 || f.dir === 'in')
      .map((f) => (f.dir === 'in' ? 'a' : psh(f) ? 'P' : 'd'))
      .join('');
    expect(seen.startsWith('a' + 'ddddP' + 'dddP' + 'd' + 'a' + 'dP')).toBe(true);
  });

  it('wakes a waiting write once ACKs free a third of the buffer, and sends the FIN after its last byte', () => {
    const { net, ta, tb } = pair({ delayNs: 1 * MS, bandwidthBps: 1e9 });
    let received = 0;
    tb.listen(80, { onAccept: () => ({ onData: (conn) => { received = conn.bytesReceived; } }) });
    let c!: Connection;
    net.at(0, () => { ta.connect(ip('10.0.0.2'), 80, { onConnected: (conn) => { c = conn; c.send(2_000_000); c.close(); } }); });
    net.run(2 * SECOND);
    expect(received).toBe(2_000_000);
    const out = tcpFrames(net.tap, 'a/eth0', 'out');
    const fin = out.find((f) => flagString(f.flags).includes('F'))!;
    expect(((fin.seq - c.iss) >>> 0) + fin.payload.length).toBe(2_000_001);
    // The buffer grew with cwnd while the write waited.
    expect(c.sendBuf.sndbuf).toBeGreaterThan(46080);
  });

});
