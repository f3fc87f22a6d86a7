/**
 * Linux's receive window (models/stack/tcp/receive-window.ts), from the
 * kernel's documented behaviour (net/ipv4/tcp_output.c, tcp_input.c,
 * include/net/tcp.h, Documentation/networking/ip-sysctl.rst):
 * - tcp_win_from_space: with the default scaling_ratio, half the buffer is window;
 * - tcp_select_initial_window: the SYN's window is the full space rounded down to
 *   the MSS, the window scale covers max(tcp_rmem[2], rmem_max);
 * - tcp_init_buffer_space: tcp_app_win = 31 reserves one MSS of the full space;
 * - tcp_select_window: the right edge of the window never moves left
 *   (tcp_shrink_window = 0), the scaled window is rounded up to its unit;
 * - tcp_grow_window / tcp_rcv_space_adjust: a bulk receiver opens its window and
 *   its buffer up to tcp_rmem[2].
 * And in a connection: the windows kernel 6.18 advertises in a request/response
 * (502 / 509 / 501, see test/kernel/cluster-services-tcp.kernel.test.ts), and a bulk
 * transfer's window growing past 64 KiB.
 */
import { describe, expect, it } from 'vitest';
import {
  DATA_PUSHED,
  ReceiveWindow, type ReceiveBufferParams, selectInitialWindow, skbTruesize, spaceFromWin,
  TCP_DEFAULT_SCALING_RATIO, winFromSpace,
} from '../../../models/stack/tcp/receive-window.js';
import { DEFAULT_TCP_PARAMS } from '../../../models/stack/tcp/params.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { TCP_SYN } from '../../../models/wire/tcp.js';
import { ip, MS, SECOND } from '../helpers.js';
import { MessageFramer } from '../../../models/stack/tcp/message-framer.js';
import { tcpFrames } from './tcp-helpers.js';
import { pair } from './topo.js';

const P: ReceiveBufferParams = DEFAULT_TCP_PARAMS;
const ADVMSS = 1460;
const MSS_TS = 1448;

/** An active opener's window after the handshake (tcp_connect_init, then tcp_init_buffer_space). */
function activeEstablished(p: ReceiveBufferParams = P): ReceiveWindow {
  const rw = new ReceiveWindow(ADVMSS, p);
  rw.initial(ADVMSS, true);
  rw.established(MSS_TS, 1, 0);
  return rw;
}

describe('receive window arithmetic (include/net/tcp.h)', () => {
  it('tcp_win_from_space: the default scaling ratio counts half the buffer as window', () => {
    expect(TCP_DEFAULT_SCALING_RATIO).toBe(128);
    expect(winFromSpace(TCP_DEFAULT_SCALING_RATIO, 131072)).toBe(65536);
    expect(spaceFromWin(TCP_DEFAULT_SCALING_RATIO, 65536)).toBe(131072);
    // A measured ratio of 200/256 counts more of it.
    expect(winFromSpace(200, 131072)).toBe(102400);
    // tcp_space may be negative when the queue overcommits the buffer: the shift floors.
    expect(winFromSpace(128, -3)).toBe(-2);
  });
});

describe('tcp_select_initial_window', () => {
  it('the SYN offers the full space in whole MSSs, scaled for tcp_rmem[2]', () => {
    const full = winFromSpace(128, P.rmem[1]);
    expect(selectInitialWindow(full, ADVMSS, 0, true, P)).toEqual({ rcvWnd: 64240, windowClamp: 0xffff << 7, rcvWscale: 7 });
    // The passive side counts MSSs less the timestamp option: 45 x 1448.
    expect(selectInitialWindow(full, MSS_TS, 0, true, P).rcvWnd).toBe(65160);
  });

  it('the window scale follows max(tcp_rmem[2], rmem_max): 32 MiB gives 10, none without the option', () => {
    expect(selectInitialWindow(65536, ADVMSS, 0, true, { ...P, rmem: [4096, 131072, 32 << 20] }).rcvWscale).toBe(10);
    expect(selectInitialWindow(65536, ADVMSS, 0, true, { ...P, rmem: [4096, 131072, 1 << 20], rmemMax: 212992 }).rcvWscale).toBe(5);
    expect(selectInitialWindow(65536, ADVMSS, 0, false, P)).toEqual({ rcvWnd: 64240, windowClamp: 0xffff, rcvWscale: 0 });
  });

  it('a set window clamp bounds both the window and the scale', () => {
    expect(selectInitialWindow(65536, ADVMSS, 20000, true, P)).toEqual({ rcvWnd: 18980, windowClamp: 20000, rcvWscale: 0 });
  });
});

describe('tcp_init_buffer_space and tcp_select_window', () => {
  it('the clamp is the full space less one MSS (tcp_app_win), and rcv_ssthresh follows it', () => {
    const rw = activeEstablished();
    expect(rw.windowClamp).toBe(65536 - ADVMSS);
    expect(rw.rcvSsthresh).toBe(64076);
    expect(rw.rcvWnd).toBe(64240);
    expect(rw.rcvMss).toBe(536); // tcp_initialize_rcv_mss: at most TCP_MSS_DEFAULT
  });

  it('never moves the right edge left: the handshake\'s 64240 is advertised as 502 x 128', () => {
    const rw = activeEstablished();
    expect(rw.selectWindow(1, 1)).toBe(502);
    expect(rw.rcvWnd).toBe(64256);
    // Sending data with nothing received keeps it.
    expect(rw.selectWindow(1, 1)).toBe(502);
  });

  it('after data arrives, the window is rcv_ssthresh rounded up to the scale unit (501)', () => {
    const rw = activeEstablished();
    rw.selectWindow(1, 1);
    rw.dataQueued(200, skbTruesize(200), true, 32);
    // 64256 - 200 = 64056 still promised; the buffer allows min(free, 64076) -> 64128.
    expect(rw.selectWindow(1, 201)).toBe(501);
    rw.read(skbTruesize(200), 201, 1 * MS, 0, 0);
    expect(rw.rmemAlloc).toBe(0);
    expect(rw.selectWindow(201, 201)).toBe(501);
  });

  it('the passive side keeps the SYN-ACK\'s right edge: 65160 less a 100-byte request is 509 x 128', () => {
    const rw = new ReceiveWindow(ADVMSS, P);
    rw.initial(MSS_TS, true);
    expect(rw.synWindow()).toBe(65160);
    rw.established(MSS_TS, 1, 0);
    rw.dataQueued(100, skbTruesize(100), true, 32);
    expect(rw.selectWindow(1, 101)).toBe(509);
  });

  it('a full buffer closes the window once the old advertisement is used up', () => {
    const rw = activeEstablished();
    rw.selectWindow(1, 1);
    rw.rmemAlloc = 125000; // free space 3036 bytes of window: below 1/16 of the full space
    // The peer may still fill what was promised (rounded up to the scale unit) ...
    expect(rw.selectWindow(1, 60001)).toBe(Math.ceil((64256 - 60000) / 128));
    // ... and once it has, the window is zero rather than growing again.
    expect(rw.selectWindow(60001, 60001 + rw.rcvWnd)).toBe(0);
  });

  it('without window scaling the window is a multiple of the peer\'s MSS', () => {
    const rw = new ReceiveWindow(ADVMSS, P);
    rw.initial(ADVMSS, true);
    rw.noWindowScaling();
    rw.established(MSS_TS, 1, 0);
    rw.dataQueued(1448, skbTruesize(1448), true, 32);
    const field = rw.selectWindow(1, 1449);
    expect(rw.rcvWscale).toBe(0);
    expect(rw.rcvWnd % 1448).toBe(0);
    expect(rw.rcvWnd).toBeGreaterThan(64240 - 1448);
    // The field is at most 65535 (the measured ratio may let rcv_wnd pass it, as in Linux).
    expect(field).toBe(Math.min(rw.rcvWnd, 0xffff));
  });
});

describe('window growth (tcp_grow_window, tcp_measure_rcv_mss, tcp_rcv_space_adjust)', () => {
  it('a full-sized segment measures the scaling ratio and raises the clamp with it', () => {
    const rw = activeEstablished();
    const ts = skbTruesize(MSS_TS);
    rw.dataQueued(MSS_TS, ts, true, 32);
    expect(rw.scalingRatio).toBe(Math.floor((MSS_TS * 256) / ts));
    expect(rw.rcvMss).toBe(MSS_TS);
    expect(rw.windowClamp).toBe(winFromSpace(rw.scalingRatio, P.rmem[1]));
  });

  it('rcv_ssthresh opens by two segments per full segment up to min(clamp, free space)', () => {
    const rw = activeEstablished();
    const ts = skbTruesize(MSS_TS);
    rw.dataQueued(MSS_TS, ts, true, 32);
    const after1 = rw.rcvSsthresh;
    expect(after1).toBe(64240 + 2 * ADVMSS); // the clamp rose past rcv_wnd, then one grow step
    rw.read(ts, 1449, 0, 0, 0);
    rw.dataQueued(MSS_TS, ts, true, 32);
    // The room is bounded by the free space, this segment's truesize included.
    const bound = Math.min(rw.windowClamp, rw.space());
    expect(rw.rcvSsthresh).toBe(Math.min(after1 + 2 * ADVMSS, bound));
    for (let i = 0; i < 50; i++) {
      rw.read(ts, 1449, 0, 0, 0);
      rw.dataQueued(MSS_TS, ts, true, 32);
    }
    expect(rw.rcvSsthresh).toBe(bound);
  });

  it('small segments do not open the window (tcp_event_data_recv: len >= 128)', () => {
    const rw = activeEstablished();
    rw.dataQueued(MSS_TS, skbTruesize(MSS_TS), true, 32); // the clamp now leaves room
    rw.read(skbTruesize(MSS_TS), 1449, 0, 0, 0);
    const before = rw.rcvSsthresh;
    rw.dataQueued(100, skbTruesize(100), true, 32);
    expect(rw.rcvSsthresh).toBe(before);
  });

  it('rcv_mss starts at 536 and follows the largest segment, or two small ones of a size without PSH (tcp_measure_rcv_mss)', () => {
    const rw = activeEstablished();
    expect(rw.rcvMss).toBe(536);
    // A small segment with PSH is "pushed" and changes nothing.
    expect(rw.dataQueued(100, skbTruesize(100), true, 32) & DATA_PUSHED).toBe(DATA_PUSHED);
    expect(rw.rcvMss).toBe(536);
    // A peer whose full segments are 500 bytes (MTU 552): the second of them sets rcv_mss.
    expect(rw.dataQueued(500, skbTruesize(500), false, 32) & DATA_PUSHED).toBe(DATA_PUSHED);
    expect(rw.dataQueued(500, skbTruesize(500), false, 32) & DATA_PUSHED).toBe(0);
    expect(rw.rcvMss).toBe(500);
    // The same sizes with PSH would not: only 536 bytes and more count then.
    const other = activeEstablished();
    other.dataQueued(500, skbTruesize(500), true, 32);
    other.dataQueued(500, skbTruesize(500), true, 32);
    expect(other.rcvMss).toBe(536);
    // A full-sized segment takes over, up to advmss.
    expect(rw.dataQueued(MSS_TS, skbTruesize(MSS_TS), false, 32) & DATA_PUSHED).toBe(0);
    expect(rw.rcvMss).toBe(MSS_TS);
  });

  it('DRS: reading more than the last round trip\'s bytes grows the buffer, up to tcp_rmem[2]', () => {
    const rw = activeEstablished();
    const rtt = 10 * MS;
    // Too early (less than one RTT since the handshake): nothing measured.
    rw.read(0, 20001, rtt / 2, rtt, 0);
    expect(rw.rcvbuf).toBe(P.rmem[1]);
    rw.read(0, 40001, rtt, rtt, 0); // 40000 bytes in one RTT, more than 10 x advmss
    const grown = rw.rcvbuf;
    expect(grown).toBeGreaterThan(P.rmem[1]);
    expect(rw.windowClamp).toBe(winFromSpace(rw.scalingRatio, grown));
    let seq = 40001;
    let t = rtt;
    for (let i = 0; i < 20; i++) {
      seq += 2 ** (16 + i);
      t += rtt;
      rw.read(0, seq, t, rtt, 0);
    }
    expect(rw.rcvbuf).toBe(P.rmem[2]);
    expect(rw.windowClamp).toBe(winFromSpace(rw.scalingRatio, P.rmem[2]));
  });

  it('DRS off (tcp_moderate_rcvbuf = 0): the buffer stays at tcp_rmem[1]', () => {
    const rw = activeEstablished({ ...P, moderateRcvbuf: false });
    rw.read(0, 1_000_001, SECOND, MS, 0);
    expect(rw.rcvbuf).toBe(P.rmem[1]);
  });
});

describe('receive window in a connection', () => {
  it('request/response: client 502 then 501, server 509, as kernel 6.18', () => {
    const { net, ta, tb } = pair();
    tb.listen(80, {
      onAccept: (conn) => {
        const f = new MessageFramer(() => conn.send(200));
        f.expect(100);
        return { onData: (_c, n) => f.push(n), onEnd: (c) => c.close() };
      },
    });
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (c) => c.send(100),
        onData: (c) => { if (c.bytesReceived === 200) c.close(); },
      });
    });
    net.run(5 * SECOND);
    const wins = (frames: ReturnType<typeof tcpFrames>) => frames.filter((f) => !(f.flags & TCP_SYN)).map((f) => f.window);
    const client = wins(tcpFrames(net.tap, 'a/eth0', 'out'));
    const server = wins(tcpFrames(net.tap, 'b/eth0', 'out'));
    expect(client.length).toBeGreaterThanOrEqual(4);
    expect(server.length).toBeGreaterThanOrEqual(3);
    expect(client.slice(0, 2)).toEqual([502, 502]); // the handshake's ACK, the request
    expect(new Set(client.slice(2))).toEqual(new Set([501]));
    expect(new Set(server)).toEqual(new Set([509]));
  });

  it('a bulk receiver opens its window past 64 KiB and never beyond half of tcp_rmem[2]', () => {
    const { net, ta, tb } = pair({ bandwidthBps: 1e9, delayNs: 2 * MS });
    const total = 20_000_000;
    let server: Connection | null = null;
    tb.listen(5001, { onAccept: (c) => { server = c; return {}; } });
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 5001, { onConnected: (c) => c.send(total) });
    });
    net.run(20 * SECOND);
    expect((server as Connection | null)?.bytesReceived).toBe(total);
    const wins = tcpFrames(net.tap, 'b/eth0', 'out').filter((f) => !(f.flags & TCP_SYN)).map((f) => f.window * 128);
    const most = Math.max(...wins);
    expect(most).toBeGreaterThan(4 * 65536);
    expect(most).toBeLessThanOrEqual(winFromSpace(255, P.rmem[2]));
    // The right edge never moves left: ack + window never decreases.
    const edges = tcpFrames(net.tap, 'b/eth0', 'out').filter((f) => !(f.flags & TCP_SYN)).map((f) => (f.ack + f.window * 128) >>> 0);
    for (let i = 1; i < edges.length; i++) expect(((edges[i]! - edges[i - 1]!) | 0) >= 0, `edge ${i}`).toBe(true);
  });
});
