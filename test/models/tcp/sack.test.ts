/**
 * SACK between two podwire stacks (RFC 2018, RFC 2883; losses found by RACK, RFC 8985):
 * - the receiver reports out-of-order data in SACK blocks as RFC 2018
 *   section 5 case 3 shows (the most recent block first, at most 3 beside
 *   the timestamp) and drops blocks as the holes fill (tcp_sack_remove);
 * - a duplicate segment is reported once in a D-SACK block (RFC 2883 4.1.1);
 * - the sender retransmits every hole of a window within one RTT of the
 *   third duplicate ACK, where NewReno needs one RTT per hole;
 * - without SACK agreed, no SACK option is ever sent.
 */
import { describe, expect, it } from 'vitest';
import type { Packet } from '../../../models/packet.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import { ip, MS, SECOND } from '../helpers.js';
import { dropFirstSends } from './drop-first-sends.js';
import { decodeTcp, tcpFrames, type TcpFrame } from './tcp-helpers.js';
import { pair } from './topo.js';

interface Transfer {
  net: ReturnType<typeof pair>['net'];
  client: Connection;
  server: Connection;
  doneAt: number;
}

/** `total` bytes from a to b, dropping the first sends at `dropOffsets`. */
function transfer(total: number, dropOffsets: number[], opts: Parameters<typeof pair>[0] & { params?: Partial<TcpParams> }): Transfer {
  const { net, na, ta, tb } = pair(opts);
  let server: Connection | null = null;
  let client: Connection | null = null;
  let doneAt = -1;
  tb.listen(5001, {
    onAccept: (c) => {
      server = c;
      return { onData: (conn) => { if (conn.bytesReceived === total) doneAt = net.sim.now; } };
    },
  });
  dropFirstSends(na, () => client, dropOffsets, () => net.sim.now);
  net.at(0, () => {
    client = ta.connect(ip('10.0.0.2'), 5001, { onConnected: (c) => { c.send(total); } });
  });
  net.run(20 * SECOND);
  return { net, client: client!, server: server!, doneAt };
}

/** SACK blocks of a frame as [left, right] offsets from `base`. */
function sackOf(f: TcpFrame, base: number): [number, number][] {
  return (f.options.sack ?? []).map((b) => [(b.left - base) >>> 0, (b.right - base) >>> 0]);
}

describe('TCP SACK', () => {
  it('receiver: RFC 2018 section 5 case 3, then blocks leave as the holes fill', () => {
    // MTU 552: MSS 512, 500 bytes of data beside the timestamp. Eight segments; 2, 4, 6, 8 lost.
    const mss = 500;
    const { net, client } = transfer(8 * mss, [2, 4, 6, 8].map((n) => 1 + (n - 1) * mss), { mtu: 552, delayNs: 5 * MS });
    expect(client.mss).toBe(mss);
    // RFC 2018 numbers its example from 5000: stream offset 1 is 5000.
    const rfc = (off: number): number => off - 1 + 5000;
    const acks = tcpFrames(net.tap, 'b/eth0', 'out').filter((f) => f.payload.length === 0 && ((f.ack - client.iss) >>> 0) > 1);
    const rows = acks.map((f) => [rfc((f.ack - client.iss) >>> 0), ...sackOf(f, client.iss).map(([l, r]) => `${rfc(l)}-${rfc(r)}`)]);
    expect(rows.slice(0, 4)).toEqual([
      [5500],
      [5500, '6000-6500'],
      [5500, '7000-7500', '6000-6500'],
      [5500, '8000-8500', '7000-7500', '6000-6500'],
    ]);
    // The retransmitted 2nd segment fills the first hole: its block goes (tcp_sack_remove), the others stay.
    expect(rows[4]).toEqual([6500, '8000-8500', '7000-7500']);
    // Every hole filled: the last ACK has no SACK option, and the whole stream arrived.
    expect(rows[rows.length - 1]).toEqual([rfc(8 * mss + 1)]);
    // Layout on the wire: NOP NOP TS NOP NOP SACK, 12 + 4 + 8n option bytes.
    for (const f of acks) {
      const n = f.options.sack?.length ?? 0;
      expect(f.headerLen).toBe(20 + 12 + (n > 0 ? 4 + 8 * n : 0));
      expect(n).toBeLessThanOrEqual(3);
    }
  });

  it('receiver without timestamps: 4 blocks, the oldest forgotten when a fifth appears (tcp_sack_new_ofo_skb)', () => {
    // No timestamps: MTU 552 gives MSS 512. Eleven segments; 2, 4, 6, 8 and 10 lost.
    const mss = 512;
    const { net, client } = transfer(11 * mss, [2, 4, 6, 8, 10].map((n) => 1 + (n - 1) * mss), {
      mtu: 552, delayNs: 5 * MS, params: { timestamps: false },
    });
    expect(client.mss).toBe(mss);
    const seg = (n: number): [number, number] => [1 + (n - 1) * mss, 1 + n * mss];
    const acks = tcpFrames(net.tap, 'b/eth0', 'out').filter((f) => f.payload.length === 0 && ((f.ack - client.iss) >>> 0) > 1);
    const withFour = acks.find((f) => f.options.sack?.length === 4)!;
    expect(sackOf(withFour, client.iss)).toEqual([seg(9), seg(7), seg(5), seg(3)]);
    expect(withFour.headerLen).toBe(20 + 4 + 4 * 8); // NOP NOP SACK(34), no timestamp
    const next = acks[acks.indexOf(withFour) + 1]!;
    expect(sackOf(next, client.iss)).toEqual([seg(11), seg(9), seg(7), seg(5)]);
  });

  it('receiver: a duplicate segment is reported once in a D-SACK block (RFC 2883)', () => {
    const mss = 500;
    const { net, nb, ta, tb } = pair({ mtu: 552, delayNs: 5 * MS });
    let client: Connection | null = null;
    tb.listen(5001, { onAccept: () => ({}) });
    // b's ACK of the data is lost: a times out and resends a segment b already has.
    const xmit = nb.xmit.bind(nb);
    let ackDropped = false;
    nb.xmit = (pkt: Packet): void => {
      const f = decodeTcp({ t: 0, dev: '', dir: 'out', bytes: pkt.bytes() });
      if (!ackDropped && client !== null && f !== null && ((f.ack - client.iss) >>> 0) === 1 + mss) {
        ackDropped = true;
        pkt.orphan(); // lost on the wire, after leaving the host
        return;
      }
      xmit(pkt);
    };
    net.at(0, () => { client = ta.connect(ip('10.0.0.2'), 5001, { onConnected: (c) => { c.send(mss); } }); });
    net.run(2 * SECOND);
    const c = client! as Connection;
    expect(c.stats.timeouts).toBeGreaterThan(0);
    expect(c.stats.bytesAcked).toBe(mss);
    const dsacks = tcpFrames(net.tap, 'b/eth0', 'out').filter((f) => f.options.sack !== undefined);
    // The ACK of the retransmission carries [1, 501) below its cumulative ACK 501: a D-SACK.
    expect(dsacks.length).toBe(1);
    expect(sackOf(dsacks[0]!, c.iss)).toEqual([[1, 1 + mss]]);
    expect((dsacks[0]!.ack - c.iss) >>> 0).toBe(1 + mss);
    expect(c.stats.dsacksIn).toBe(1);
  });

  it('sender: every hole of a window is resent within one RTT of the third duplicate ACK', () => {
    // RTT 20 ms, 100 Mbit/s. The second flight (segments 11..30) loses 15, 18, 21 and 24.
    const mss = 1448;
    const holes = [15, 18, 21, 24].map((n) => 1 + (n - 1) * mss);
    const rtt = 20 * MS;
    const resendTimes = (sack: boolean): { times: number[]; t: Transfer } => {
      const t = transfer(100 * mss, holes, { delayNs: rtt / 2, bandwidthBps: 100e6, params: { sack } });
      const data = tcpFrames(t.net.tap, 'a/eth0', 'out').filter((f) => f.payload.length > 0);
      const times = holes.map((h) => data.find((f) => ((f.seq - t.client.iss) >>> 0) === h)!.t);
      return { times, t };
    };
    const withSack = resendTimes(true);
    expect(withSack.t.client.stats.timeouts).toBe(0);
    expect(withSack.t.client.stats.fastRetransmits).toBe(1);
    expect(withSack.t.server.bytesReceived).toBe(100 * mss);
    expect(Math.max(...withSack.times) - Math.min(...withSack.times)).toBeLessThan(rtt);
    // NewReno: one hole per RTT (each partial ACK reveals the next).
    const newReno = resendTimes(false);
    expect(newReno.t.server.bytesReceived).toBe(100 * mss);
    expect(Math.max(...newReno.times) - Math.min(...newReno.times)).toBeGreaterThanOrEqual(3 * rtt);
    expect(withSack.t.doneAt).toBeLessThan(newReno.t.doneAt);
  });

  it('without SACK agreed (either side), no SACK option is ever sent', () => {
    for (const side of ['a', 'b'] as const) {
      const { net, ta, tb } = pair({ bandwidthBps: 20e6, loss: 0.02, seed: 5 });
      (side === 'a' ? ta : tb).params.sack = false;
      tb.listen(80, { onAccept: () => ({}) });
      net.at(0, () => { ta.connect(ip('10.0.0.2'), 80, { onConnected: (c) => { c.send(300_000); } }); });
      net.run(10 * SECOND);
      const frames = tcpFrames(net.tap, 'a/eth0');
      expect(frames.some((f) => f.payload.length > 0)).toBe(true);
      expect(frames.filter((f) => f.options.sack !== undefined)).toEqual([]);
      expect(frames.filter((f) => f.options.sackPermitted).length).toBe(side === 'a' ? 0 : 1);
    }
  });
});
