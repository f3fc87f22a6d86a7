/**
 * The persist timer and window probes (tcp_probe_timer, tcp_send_probe0,
 * tcp_write_wakeup, tcp_xmit_probe_skb; RFC 9293 3.8.6.1, RFC 1122 4.2.2.17):
 * while data waits behind the peer's window and nothing is in flight, the
 * sender probes after max(RTO, TCP_RTO_MIN), then at doubling intervals up
 * to TCP_RTO_MAX (120 s). A zero-window probe is an ACK with seq
 * snd_una - 1 and no data, which the receiver must answer with an ACK
 * carrying its window. A peer that answers keeps the connection open for
 * ever; tcp_retries2 (15) unanswered probes in a row end it with ETIMEDOUT.
 *
 * The window closes on the wire: b's ACK of a's whole first write leaves b's
 * NIC with a window of 0, and a's second write, made as that ACK arrives,
 * finds nothing in flight and no room. (podwire's applications read at once,
 * so b's own buffer never holds a zero window's worth; what is under test is
 * a's side.) What b sends afterwards is b's own, unless a test rewrites or
 * drops it.
 */
import { describe, expect, it } from 'vitest';
import type { NetDevice } from '../../../models/devices/net-device.js';
import type { Packet } from '../../../models/packet.js';
import type { Connection, TcpError } from '../../../models/stack/tcp/connection.js';
import { TcpState } from '../../../models/stack/tcp/states.js';
import { ETH_HLEN } from '../../../models/wire/ethernet.js';
import { ipv4Dst, ipv4HeaderLen, ipv4Src, ipv4TotalLength } from '../../../models/wire/ipv4.js';
import { TCP_ACK, TCP_PSH, computeTcpChecksum, setTcpChecksum } from '../../../models/wire/tcp.js';
import { ip, MS, SECOND } from '../helpers.js';
import { decodeTcp, tcpFrames, type TcpFrame } from './tcp-helpers.js';
import { pair } from './topo.js';

const TOTAL = 200_000;
/** a's first write: ten segments, one initial flight, all ACKed before the second write. */
const FIRST = 10 * 1448;
/** The second write, after the zero window left b: just after it reaches a (1 ms one way). */
const SECOND_WRITE = MS + 1000;

/** What b's NIC does to b's segments once b has advertised a zero window. */
type AfterZero = (f: TcpFrame, pkt: Packet, sinceZero: number) => 'pass' | 'drop';

interface Run {
  client: Connection;
  frames: TcpFrame[];
  /** When b's ACK of the first write left with window 0, and the stream offset it ACKed. */
  zeroAt: number;
  zeroAck: number;
  doneAt: number;
  err: TcpError | null;
  errAt: number;
}

/** Rewrites the window field of the TCP segment in `pkt` (and its checksum). */
function setWindow(pkt: Packet, window: number): void {
  const b = pkt.bytes();
  const iph = ETH_HLEN;
  const tcp = iph + ipv4HeaderLen(b, iph);
  b[tcp + 14] = window >>> 8;
  b[tcp + 15] = window & 0xff;
  const len = ipv4TotalLength(b, iph) - (tcp - iph);
  setTcpChecksum(b, tcp, computeTcpChecksum(b, tcp, len, ipv4Src(b, iph), ipv4Dst(b, iph)));
}

function wrapXmit(dev: NetDevice, fn: (pkt: Packet) => boolean): void {
  const xmit = dev.xmit.bind(dev);
  dev.xmit = (pkt: Packet): void => {
    if (fn(pkt)) xmit(pkt);
    else pkt.orphan(); // lost on the wire, after leaving the host
  };
}

/** FIRST bytes from a to b, then, as b's zero window arrives, the rest of TOTAL. */
function transfer(runFor: number, afterZero: AfterZero): Run {
  const { net, nb, ta, tb } = pair();
  let client: Connection | null = null;
  const r = { zeroAt: -1, zeroAck: -1, doneAt: -1, err: null as TcpError | null, errAt: -1 };
  tb.listen(5001, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === TOTAL) r.doneAt = net.sim.now; } }) });
  wrapXmit(nb, (pkt) => {
    const f = decodeTcp({ t: 0, dev: '', dir: 'out', bytes: pkt.bytes() });
    if (f === null || client === null) return true;
    if (r.zeroAt < 0) {
      if ((f.flags & TCP_ACK) !== 0 && ((f.ack - client.iss) >>> 0) === FIRST + 1) {
        setWindow(pkt, 0);
        r.zeroAt = net.sim.now;
        r.zeroAck = FIRST + 1;
        const c = client as Connection;
        net.at(net.sim.now + SECOND_WRITE, () => c.send(TOTAL - FIRST));
      }
      return true;
    }
    return afterZero(f, pkt, net.sim.now - r.zeroAt) === 'pass';
  });
  net.at(0, () => {
    client = ta.connect(ip('10.0.0.2'), 5001, {
      onConnected: (c) => c.send(FIRST),
      onError: (_c, e) => { r.err = e; r.errAt = net.sim.now; },
    });
  });
  net.run(runFor);
  return { client: client!, frames: tcpFrames(net.tap, 'a/eth0', 'out'), ...r };
}

/** a's segments sent after b's zero window reached it, as [time, stream offset of seq, length]. */
function sentAfter(run: Run): [number, number, number][] {
  return run.frames.filter((f) => f.t > run.zeroAt).map((f) => [f.t, (f.seq - run.client.iss) >>> 0, f.payload.length]);
}

describe('TCP persist timer and window probes', () => {
  it('probes a zero window after max(RTO, 200 ms), and resumes on the answer', () => {
    const run = transfer(10 * SECOND, () => 'pass');
    expect(run.zeroAt).toBeGreaterThan(0);
    const after = sentAfter(run);
    // The first thing a sends is a probe: no data, seq snd_una - 1, one RTO (200 ms + SRTT 2 ms) after the zero window arrived.
    const [probeAt, probeOff, probeLen] = after[0]!;
    expect(probeLen).toBe(0);
    expect(probeOff).toBe(run.zeroAck - 1);
    const wait = probeAt - (run.zeroAt + MS);
    expect(wait).toBeGreaterThanOrEqual(200 * MS);
    expect(wait).toBeLessThan(210 * MS);
    // b answers with its open window and the transfer resumes at once.
    expect(after[1]![2]).toBeGreaterThan(0);
    expect(after[1]![0] - probeAt).toBeLessThan(3 * MS);
    expect(run.doneAt).toBeGreaterThan(0);
    expect(run.err).toBeNull();
  });

  it('backs off exponentially to 120 s and gives up after tcp_retries2 unanswered probes', () => {
    // b is gone once it advertised zero: no probe is ever answered.
    const run = transfer(2000 * SECOND, () => 'drop');
    const after = sentAfter(run);
    expect(after.length).toBe(15);
    for (const [, off, len] of after) {
      expect(len).toBe(0);
      expect(off).toBe(run.zeroAck - 1);
    }
    // The timer starts with the second write (SECOND_WRITE after the zero window left b).
    const times = [run.zeroAt + SECOND_WRITE, ...after.map((s) => s[0]), run.errAt];
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // base, 2 base, 4 base, ... (each a doubling, to within the ns the base is rounded to), then 120 s.
    const base = gaps[0]!;
    expect(base).toBeGreaterThanOrEqual(200 * MS);
    expect(base).toBeLessThan(210 * MS);
    for (let i = 1; i < gaps.length; i++) {
      const doubled = Math.min(base * 2 ** i, 120 * SECOND);
      expect(Math.abs(gaps[i]! - doubled)).toBeLessThanOrEqual(2 ** i);
    }
    expect(gaps[gaps.length - 1]).toBe(120 * SECOND);
    expect(run.err).toBe('ETIMEDOUT');
    expect(run.client.state).toBe(TcpState.CLOSED);
    expect(run.doneAt).toBe(-1);
  });

  it('stays open while the peer answers probes with a zero window, and resumes when it opens', () => {
    // b keeps advertising zero for 20 minutes (longer than 15 probes take), then tells the truth.
    const closedFor = 1200 * SECOND;
    const run = transfer(1300 * SECOND, (_f, pkt, since) => {
      if (since < closedFor) setWindow(pkt, 0);
      return 'pass';
    });
    const probes = sentAfter(run).filter(([t, , len]) => len === 0 && t < run.zeroAt + closedFor);
    expect(probes.length).toBeGreaterThan(15);
    for (const [, off] of probes) expect(off).toBe(run.zeroAck - 1);
    const gaps = probes.slice(1).map(([t], i) => t - probes[i]![0]);
    // Each answer restarts the timer (tcp_ack_probe), so a gap is the backed-off interval plus the 2 ms RTT.
    expect(Math.max(...gaps)).toBe(120 * SECOND + 2 * MS);
    expect(run.err).toBeNull();
    // The first probe after the window opens gets the real window back; the data follows.
    expect(run.doneAt).toBeGreaterThan(run.zeroAt + closedFor);
    expect(run.doneAt).toBeLessThan(run.zeroAt + closedFor + 121 * SECOND);
  });

  it('probes a window smaller than one segment with a window-sized piece of new data', () => {
    // For 5 s after its zero window, b advertises 7 << wscale 7 = 896 bytes, less than the 1448-byte MSS:
    // the sender does not send a partial segment on its own (SWS avoidance); each probe sends 896 bytes.
    const phase = 5 * SECOND;
    const run = transfer(30 * SECOND, (f, pkt, since) => {
      if (since < phase && f.window > 0) setWindow(pkt, 7);
      return 'pass';
    });
    const inPhase = run.frames.filter((f) => f.t > run.zeroAt && f.t < run.zeroAt + phase && f.payload.length > 0);
    expect(inPhase.length).toBeGreaterThan(5);
    for (const f of inPhase) {
      expect(f.payload.length).toBe(896);
      expect(f.flags & TCP_PSH).toBe(TCP_PSH);
    }
    // One piece per probe interval: b's ACK of it (at once, or delayed up to 40 ms) shows window 896
    // again with nothing in flight, and the timer restarts at the base, max(RTO, 200 ms).
    const gaps = inPhase.slice(1).map((f, i) => f.t - inPhase[i]!.t);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(200 * MS);
      expect(g).toBeLessThan(300 * MS);
    }
    expect(run.doneAt).toBeGreaterThan(run.zeroAt + phase);
    expect(run.err).toBeNull();
  });
});
