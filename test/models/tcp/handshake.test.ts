/**
 * The three-way handshake as Linux puts it on the wire (RFC 9293 3.5;
 * tcp_connect, tcp_make_synack, tcp_options_write): SYN options in Linux's
 * order MSS, SACK_PERM, TS, NOP, WS; MSS = MTU - 40; SYN window 64240
 * (tcp_select_initial_window: 44 * 1460); window scale 7; the third ACK's
 * window scaled and rounded up, as the right edge never moves left
 * (tcp_select_window: ALIGN(64240, 128) >> 7 = 502); ephemeral source port in 32768-60999.
 */
import { describe, expect, it } from 'vitest';
import { ip, MS } from '../helpers.js';
import { TCP_ACK, TCP_SYN } from '../../../models/wire/tcp.js';
import { TcpState } from '../../../models/stack/tcp/states.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { tcpFrames, tcpLine } from './tcp-helpers.js';
import { pair } from './topo.js';

describe('TCP handshake', () => {
  it('puts SYN, SYN-ACK and ACK on the wire with Linux options and consistent seq/ack', () => {
    const { net, ta, tb } = pair();
    let accepted: Connection | null = null;
    let acceptedAt = -1;
    let connectedAt = -1;
    tb.listen(80, { onAccept: (c) => { accepted = c; acceptedAt = net.sim.now; } });
    let client: Connection | null = null;
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 80, { onConnected: () => { connectedAt = net.sim.now; } });
      client.recordRtt = true;
    });
    net.run(100 * MS);

    const out = tcpFrames(net.tap, 'a/eth0', 'out');
    const back = tcpFrames(net.tap, 'b/eth0', 'out');
    expect(out.length).toBe(2);
    expect(back.length).toBe(1);
    const [syn, ack] = out as [typeof out[0], typeof out[0]];
    const synack = back[0]!;

    // SYN
    expect(syn.flags).toBe(TCP_SYN);
    expect(syn.srcPort).toBeGreaterThanOrEqual(32768);
    expect(syn.srcPort).toBeLessThanOrEqual(60999);
    expect(syn.dstPort).toBe(80);
    expect(syn.window).toBe(64240);
    expect(syn.headerLen).toBe(40);
    expect(syn.options.mss).toBe(1460);
    expect(syn.options.sackPermitted).toBe(true);
    expect(syn.options.wscale).toBe(7);
    expect(syn.options.timestamp!.tsecr).toBe(0);
    expect(syn.payload.length).toBe(0);
    // Option bytes exactly as Linux lays them out: MSS | SACK_PERM TS | NOP WS.
    const synFrame = net.tap.frames.find((f) => f.dev === 'a/eth0' && f.dir === 'out' && f.bytes[14 + 9] === 6)!;
    const opt = Array.from(synFrame.bytes.subarray(14 + 20 + 20, 14 + 20 + 40));
    expect(opt.slice(0, 6)).toEqual([2, 4, 0x05, 0xb4, 4, 2]);
    expect(opt.slice(6, 8)).toEqual([8, 10]);
    expect(opt.slice(16)).toEqual([1, 3, 3, 7]);

    // SYN-ACK
    expect(synack.flags).toBe(TCP_SYN | TCP_ACK);
    expect(synack.srcPort).toBe(80);
    expect(synack.dstPort).toBe(syn.srcPort);
    expect(synack.ack).toBe((syn.seq + 1) >>> 0);
    // The passive side knows timestamps are on: 45 x (1460 - 12) = 65160 (tcp_openreq_init_rwin;
    // the kernel comparison in test/kernel/cluster-services-tcp.kernel.test.ts shows it).
    expect(synack.window).toBe(65160);
    expect(synack.options.mss).toBe(1460);
    expect(synack.options.sackPermitted).toBe(true);
    expect(synack.options.wscale).toBe(7);
    expect(synack.options.timestamp!.tsecr).toBe(syn.options.timestamp!.tsval);

    // ACK
    expect(ack.flags).toBe(TCP_ACK);
    expect(ack.seq).toBe((syn.seq + 1) >>> 0);
    expect(ack.ack).toBe((synack.seq + 1) >>> 0);
    expect(ack.window).toBe(502);
    expect(ack.headerLen).toBe(32); // NOP NOP TS on every segment once negotiated
    expect(ack.options.timestamp!.tsecr).toBe(synack.options.timestamp!.tsval);

    for (const f of [...out, ...back]) expect(f.checksumOk, tcpLine(f)).toBe(true);

    // Timing on a 1 ms wire: the SYN waits for ARP; connect() returns one RTT after the SYN,
    // accept() one one-way delay after that.
    expect(synack.t - syn.t).toBeGreaterThanOrEqual(MS);
    expect(connectedAt).toBeGreaterThan(synack.t);
    expect(connectedAt - syn.t).toBeGreaterThanOrEqual(2 * MS);
    expect(connectedAt - syn.t).toBeLessThan(2.1 * MS);
    expect(acceptedAt - connectedAt).toBeGreaterThanOrEqual(MS);
    expect(acceptedAt - connectedAt).toBeLessThan(1.1 * MS);

    const c = client! as Connection;
    const s = accepted! as Connection;
    expect(c.state).toBe(TcpState.ESTABLISHED);
    expect(s.state).toBe(TcpState.ESTABLISHED);
    expect(c.ssState).toBe('ESTAB');
    expect(c.mss).toBe(1448); // 1460 - 12 bytes of timestamp option
    expect(s.mss).toBe(1448);
    expect(c.stats.rttSamplesNs.length).toBe(1);
    // The SYN is timed when TCP hands it down (tcp_transmit_skb stamps it before
    // ip_queue_xmit), so the first sample includes the ARP exchange it waited for.
    expect(c.stats.rttSamplesNs[0]).toBe(connectedAt - 0);
    expect(syn.t).toBeGreaterThan(0);
    expect(ta.size).toBe(1);
    expect(tb.size).toBe(1);
  });

  it('uses the route MTU for the MSS and leaves timestamps out when disabled', () => {
    const { net, ta, tb } = pair({ mtu: 9000, params: { timestamps: false } });
    let server: Connection | null = null;
    tb.listen(80, { onAccept: (c) => { server = c; } });
    net.at(0, () => ta.connect(ip('10.0.0.2'), 80, {}));
    net.run(100 * MS);
    const [syn, ack] = tcpFrames(net.tap, 'a/eth0', 'out');
    const synack = tcpFrames(net.tap, 'b/eth0', 'out')[0]!;
    expect(syn!.options.mss).toBe(8960);
    expect(syn!.options.timestamp).toBeUndefined();
    expect(syn!.headerLen).toBe(32); // MSS | NOP NOP SACK_PERM | NOP WS
    expect(synack.options.timestamp).toBeUndefined();
    expect(ack!.headerLen).toBe(20);
    expect((server! as Connection).mss).toBe(8960);
  });

  it('connects over loopback to a local listener', () => {
    const { net, a, ta } = pair();
    let got = 0;
    ta.listen(7, { onAccept: () => ({ onData: (_c, n) => { got += n; } }) });
    net.at(0, () => {
      const c = ta.connect(ip('127.0.0.1'), 7, { onConnected: (conn) => conn.send(3000) });
      // ipv4_default_advmss: the MTU less 40, at most IPV4_MAX_PMTU (65535) less 40 (Linux's SYNs on lo: mss 65495).
      expect(a.lo.mtu).toBe(65536);
      expect(c.advMss).toBe(65495);
    });
    net.run(10 * MS);
    expect(got).toBe(3000);
  });
});
