/**
 * The UDP request/response flow (podwire's own application, modelled on
 * netperf UDP_RR and on open-loop load generators):
 * - constant arrivals are exactly 1/rate apart; Poisson arrivals have
 *   exponential gaps of mean 1/rate (coefficient of variation 1), drawn from the
 *   flow's own seeded stream;
 * - each request carries its sequence number in its first 4 bytes (big-endian);
 *   the server echoes them at the start of a response of the configured size,
 *   so responses are matched by sequence, not by order of arrival;
 * - a one-way flow (response size 0) is measured at the server: arrival minus
 *   the time the datagram was made;
 * - ICMP errors about the requests are counted by kind (__udp4_lib_err).
 */
import { describe, expect, it } from 'vitest';
import { UdpClient, UdpServer, type UdpClientOptions } from '../../models/apps/udp-rr.js';
import { FlowStats } from '../../models/stats/flow-stats.js';
import { MS, SECOND, TestNet, decode, ip, sendUdp, udpTag } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

/**
 * Client in A, server in B (unless `server` is false), on a 1 ms wire; both
 * neighbour entries are resolved before the flow starts at 100 ms.
 */
function flow(opts: Partial<UdpClientOptions> & { responseSize?: number; seed?: number; server?: boolean; bandwidthBps?: number; loss?: number }) {
  const net = new TestNet(opts.seed ?? 1);
  const a = net.ns('a', { component: 'ca' });
  const b = net.ns('b', { component: 'cb' });
  const [na, nb] = net.wire(a, 'eth0', A, b, 'eth0', B, { delayNs: MS, bandwidthBps: opts.bandwidthBps ?? 0, loss: opts.loss ?? 0, cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  net.capture(na, nb);
  const stats = new FlowStats('f', 'udp', 'a', '10.0.0.2:9000', (opts.responseSize ?? 64) > 0 ? 'rtt' : 'one-way');
  const server = opts.server === false ? null : new UdpServer(b, 9000, opts.responseSize ?? 64);
  b.udp.bind(7, { onDatagram: () => {}, onIcmpError: () => {} });
  net.at(0, () => sendUdp(a, ip('10.0.0.2'), 7, 7, 4)); // resolve both neighbours ahead of the flow
  net.at(10 * MS, () => sendUdp(b, ip('10.0.0.1'), 7, 7, 4));
  const o: UdpClientOptions = {
    dst: ip('10.0.0.2'), port: 9000, sourcePort: 5555, count: 100, rate: 100, arrivals: 'constant', requestSize: 32,
    responseSize: opts.responseSize ?? 64, broadcast: false, startNs: 100 * MS, timeoutNs: SECOND, ...opts, name: opts.name ?? 'f',
  };
  const client = new UdpClient(a, o, stats, a.component.random('traffic/f'));
  return { net, a, b, na, nb, stats, server, client };
}

/** Times (ns) the client sent its requests, from A's capture. */
function requestTimes(net: TestNet): number[] {
  return net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'out' && decode(f.bytes).udp?.dstPort === 9000).map((f) => f.t);
}

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

describe('UDP request/response flow', () => {
  it('sends constant arrivals exactly 1/rate apart', () => {
    const { net, stats } = flow({ count: 50, rate: 200 });
    net.run(2 * SECOND);
    const t = requestTimes(net);
    expect(t.length).toBe(50);
    expect(t[0]).toBe(100 * MS);
    expect(new Set(gaps(t))).toEqual(new Set([5 * MS]));
    expect([stats.sent, stats.received]).toEqual([50, 50]);
  });

  it('draws Poisson arrivals with mean gap 1/rate and coefficient of variation 1, reproducibly', () => {
    const run = (seed: number) => {
      const { net } = flow({ count: 4000, rate: 1000, arrivals: 'poisson', seed });
      net.run(10 * SECOND);
      return gaps(requestTimes(net));
    };
    const g = run(7);
    expect(g.length).toBe(3999);
    const mean = g.reduce((s, x) => s + x, 0) / g.length;
    const sd = Math.sqrt(g.reduce((s, x) => s + (x - mean) ** 2, 0) / (g.length - 1));
    // Standard error of the mean of 3999 exponential gaps: 1.6 %; allow 4 of them.
    expect(Math.abs(mean - MS) / MS).toBeLessThan(0.064);
    expect(Math.abs(sd / mean - 1)).toBeLessThan(0.1);
    // Memoryless: about e^-1 of the gaps exceed the mean.
    expect(Math.abs(g.filter((x) => x > MS).length / g.length - Math.exp(-1))).toBeLessThan(0.03);
    expect(run(7)).toEqual(g);
    expect(run(8)).not.toEqual(g);
  });

  it('puts the sequence number in each request and gets it back at the start of a response of the configured size', () => {
    const { net } = flow({ count: 3, requestSize: 32, responseSize: 200 });
    net.run(SECOND);
    const reqs = net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'out' && decode(f.bytes).udp?.dstPort === 9000).map((f) => decode(f.bytes));
    const resps = net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).udp?.srcPort === 9000).map((f) => decode(f.bytes));
    expect(reqs.map((d) => [udpTag(d), d.udp!.length - 8])).toEqual([[1, 32], [2, 32], [3, 32]]);
    expect(resps.map((d) => [udpTag(d), d.udp!.length - 8, d.udp!.dstPort, d.ip!.src])).toEqual([
      [1, 200, 5555, ip('10.0.0.2')], [2, 200, 5555, ip('10.0.0.2')], [3, 200, 5555, ip('10.0.0.2')],
    ]);
    // After the sequence number, the bytes follow the 0, 1, 2, ... pattern.
    expect([...resps[0]!.udp!.payload.subarray(4, 8)]).toEqual([4, 5, 6, 7]);
  });

  it('matches responses by sequence: with requests lost on the way, every RTT is still the path RTT', () => {
    const { net, na, nb, stats } = flow({ count: 300, rate: 100, loss: 0.3 });
    na.params.loss = 0; // a clean start (ARP), then 30% of what A sends is lost; B's side stays clean
    nb.params.loss = 0;
    net.at(50 * MS, () => (na.params.loss = 0.3));
    net.run(5 * SECOND);
    const answered = net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).udp?.srcPort === 9000).length;
    expect(stats.sent).toBe(300);
    expect(stats.received).toBe(answered);
    expect(answered).toBeGreaterThan(150);
    expect(answered).toBeLessThan(270);
    expect(stats.lost).toBe(300 - answered);
    const j = stats.toJSON() as { latencyNs: { min: number; max: number } };
    expect([j.latencyNs.min, j.latencyNs.max]).toEqual([2 * MS, 2 * MS]);
  });

  it('measures a one-way flow at the server: arrival minus creation, no responses', () => {
    const { net, server, stats, client } = flow({ count: 20, responseSize: 0, requestSize: 100, bandwidthBps: 1e9 });
    server!.measureOneWay(ip('10.0.0.1'), client.localPort, stats);
    net.run(SECOND);
    expect([stats.sent, stats.received]).toEqual([20, 20]);
    const j = stats.toJSON() as { latencyNs: { min: number; max: number }; latency: string };
    const wire = (14 + 20 + 8 + 100 + 24) * 8; // serialisation at 1 Gbit/s
    expect([j.latency, j.latencyNs.min, j.latencyNs.max]).toEqual(['one-way', MS + wire, MS + wire]);
    expect(net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).udp?.srcPort === 9000)).toEqual([]);
  });

  it('counts ICMP errors about its requests by kind', () => {
    const { net, stats } = flow({ count: 5, server: false });
    net.run(SECOND);
    expect([stats.sent, stats.received]).toEqual([5, 0]);
    expect(Object.fromEntries(stats.errors)).toEqual({ 'destination port unreachable': 5 });
  });
});
