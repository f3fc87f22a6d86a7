/**
 * TCP traffic (models/apps/tcp-rr.ts), netperf-style:
 * - rr: requests on one persistent connection. With the answer ACKing the
 *   request and the next request ACKing the answer, nothing waits for a
 *   delayed ACK, so a transaction is exactly one RTT (2 x the wire's delay);
 * - crr: SYN -> SYN-ACK is one RTT (the setup time), the ACK of the handshake
 *   leaves at once (tcp_rcv_synsent_state_process sends it without delay
 *   when no TCP_DEFER_ACCEPT/fastopen is in play) with the request right
 *   behind it, so the transaction is 2 RTT;
 * - a closed port answers the SYN with RST: ECONNREFUSED, counted;
 * - bulk: goodput near the link rate on a bandwidth-limited wire;
 * - through a copy of the service-nat scenario with tcp rules, crr flows are
 *   DNATed to both backends by `-m statistic --mode nth` (conntrack sees each
 *   SYN as a new connection) and the hairpinned, masqueraded flow works too.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpClient, TcpServer, type TcpClientOptions } from '../../models/apps/tcp-rr.js';
import { FlowStats } from '../../models/stats/flow-stats.js';
import { MS, SECOND, TestNet, ip, sendUdp } from '../models/helpers.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { buildWorld } from '../../scenarios/build.js';
import { ScenarioError } from '../../scenarios/errors.js';
import { formatSummary } from '../../cli/summary.js';
import { packageRoot } from '../../scenarios/package-root.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

interface Json {
  sent: number;
  received: number;
  late: number;
  errors: Record<string, number>;
  latencyNs: { min: number; p50: number; max: number } | null;
  tcp: {
    connections: number;
    connected: number;
    retransmits: number;
    setupNs: { min: number; p50: number; max: number } | null;
    throughputBps?: number;
    transfers?: number;
  };
}

/** Client in A, server (unless `server` is false) in B on port 9000, a 1 ms wire; neighbours resolved before 100 ms. */
function flow(opts: Partial<TcpClientOptions> & { server?: boolean; bandwidthBps?: number; loss?: number; seed?: number }) {
  const net = new TestNet(opts.seed ?? 1);
  const a = net.ns('a', { component: 'ca' });
  const b = net.ns('b', { component: 'cb' });
  net.wire(a, 'eth0', A, b, 'eth0', B, { delayNs: MS, bandwidthBps: opts.bandwidthBps ?? 0, loss: opts.loss ?? 0, cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  b.udp.bind(7, { onDatagram: () => {}, onIcmpError: () => {} });
  net.at(0, () => sendUdp(a, ip('10.0.0.2'), 7, 7, 4));
  net.at(10 * MS, () => sendUdp(b, ip('10.0.0.1'), 7, 7, 4));
  const o: TcpClientOptions = {
    name: 'f', dst: ip('10.0.0.2'), port: 9000, mode: 'rr', count: 20, rate: 0, arrivals: 'constant', concurrency: 1,
    requestSize: 64, responseSize: 64, bytes: 0, startNs: 100 * MS, timeoutNs: SECOND, noDelay: false, ...opts,
  };
  const server = opts.server === false ? null : new TcpServer(b, 9000, o.mode === 'bulk' ? 1 : o.requestSize, o.mode === 'bulk' ? 0 : o.responseSize);
  const stats = new FlowStats('f', 'tcp', 'a', '10.0.0.2:9000', 'rtt');
  new TcpClient(a, o, stats, a.component.random('traffic/f'));
  return { net, a, b, stats, server, json: () => stats.toJSON() as unknown as Json };
}

describe('TCP traffic over one wire (1 ms each way)', () => {
  it('rr: every transaction on the persistent connection takes one RTT (2 x delay)', () => {
    const { net, json, server } = flow({ mode: 'rr', count: 20 });
    net.run(2 * SECOND);
    const j = json();
    expect(j.sent).toBe(20);
    expect(j.received).toBe(20);
    expect(j.errors).toEqual({});
    expect(j.latencyNs!.min).toBeGreaterThanOrEqual(2 * MS);
    expect(j.latencyNs!.max).toBeLessThan(2 * MS + 50_000);
    expect(j.tcp.connections).toBe(1);
    expect(j.tcp.setupNs!.p50).toBeGreaterThanOrEqual(2 * MS);
    expect(j.tcp.setupNs!.p50).toBeLessThan(2 * MS + 50_000);
    expect(j.tcp.retransmits).toBe(0);
    expect(server!.accepted).toBe(1);
    expect(server!.answered).toBe(20);
  });

  it('crr: setup is one RTT and the transaction two, one connection per request', () => {
    const { net, json, server, a, b } = flow({ mode: 'crr', count: 10 });
    net.run(2 * SECOND);
    const j = json();
    expect(j.received).toBe(10);
    expect(j.tcp.connections).toBe(10);
    expect(j.tcp.connected).toBe(10);
    expect(j.tcp.setupNs!.min).toBeGreaterThanOrEqual(2 * MS);
    expect(j.tcp.setupNs!.max).toBeLessThan(2 * MS + 50_000);
    expect(j.latencyNs!.min).toBeGreaterThanOrEqual(4 * MS);
    expect(j.latencyNs!.max).toBeLessThan(4 * MS + 100_000);
    expect(server!.accepted).toBe(10);
    // The client closed first: its ends wait in TIME_WAIT, the server's are gone.
    expect(a.tcp.connections().map((c) => c.stateName)).toEqual(Array(10).fill('TIME-WAIT'));
    expect(b.tcp.size).toBe(0);
  });

  it('crr with concurrency 3 runs three transactions at once', () => {
    const { net, json } = flow({ mode: 'crr', count: 9, concurrency: 3 });
    net.run(1 * SECOND);
    const j = json();
    expect(j.received).toBe(9);
    // Three rounds of 2 RTT each: every transaction still takes 2 RTT.
    expect(j.latencyNs!.max).toBeLessThan(4 * MS + 100_000);
  });

  it('open-loop rr at a rate pipelines requests on one connection', () => {
    const { net, json, server } = flow({ mode: 'rr', count: 50, rate: 1000, arrivals: 'poisson', noDelay: true });
    net.run(2 * SECOND);
    const j = json();
    expect(j.sent).toBe(50);
    expect(j.received).toBe(50);
    expect(j.tcp.connections).toBe(1);
    expect(server!.answered).toBe(50);
    expect(j.latencyNs!.min).toBeGreaterThanOrEqual(2 * MS);
  });

  it('a closed port answers SYN with RST: every crr request counts ECONNREFUSED', () => {
    const { net, json, b } = flow({ mode: 'crr', count: 3, server: false });
    net.run(2 * SECOND);
    const j = json();
    expect(j.sent).toBe(3);
    expect(j.received).toBe(0);
    expect(j.errors).toEqual({ ECONNREFUSED: 3 });
    expect(j.tcp.connected).toBe(0);
    expect(b.tcp.resetsSent).toBe(3);
  });

  it('no route: connect() fails with ENETUNREACH, counted for each closed-loop request', () => {
    const { net, json } = flow({ mode: 'crr', count: 3, dst: ip('10.9.9.9') });
    net.run(1 * SECOND);
    const j = json();
    expect(j.sent).toBe(3);
    expect(j.errors).toEqual({ ENETUNREACH: 3 });
    expect(j.tcp.connections).toBe(0);
  });

  it('bulk: goodput close to the rate of a 100 Mbit/s wire', () => {
    // Small enough that slow start never overflows the 1000-frame txqueue (see the report: with
    // no SACK recovery, a burst loss of hundreds of segments takes NewReno many RTTs to repair).
    const bytes = 1_500_000;
    const { net, json } = flow({ mode: 'bulk', count: 1, bytes, bandwidthBps: 100e6 });
    net.run(5 * SECOND);
    const j = json();
    expect(j.received).toBe(1);
    expect(j.tcp.transfers).toBe(1);
    // Payload per full frame: 1448 of 1514 bytes (IP, TCP with timestamps, Ethernet headers) = 95.6 %;
    // slow start and the final RTT cost a little more.
    expect(j.tcp.retransmits).toBe(0);
    expect(j.tcp.throughputBps!).toBeGreaterThan(85e6);
    expect(j.tcp.throughputBps!).toBeLessThan(100e6);
    expect(j.latencyNs!.min).toBeGreaterThan((bytes * 8 * 1e9) / 100e6);
  });

  it('loss: retransmissions are counted and every request still gets its answer', () => {
    const { net, json } = flow({ mode: 'rr', count: 200, loss: 0.05, seed: 7 });
    net.run(30 * SECOND);
    const j = json();
    expect(j.received + j.late).toBe(200);
    expect(j.tcp.retransmits).toBeGreaterThan(0);
  });
});

// ---- through scenarios -------------------------------------------------------------

const TWO_NODES = `
underlay: { delay: 1ms }
nodes:
  - name: n1
    pods: [{ name: a }]
  - name: n2
    pods: [{ name: b }]
capture: none
`;

function run(text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'podwire-tcp-'));
  try {
    return runTopology(expandScenario(parseScenario(text, 'x.yaml')), { outDir: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tcp traffic in scenarios', () => {
  it('defaults to closed-loop rr with 1-byte messages, and prints the tcp line', () => {
    const s = parseScenario(`name: x\n${TWO_NODES}traffic:\n  - tcp: { from: n1/a, to: n2/b, count: 5 }\n`, 'x.yaml');
    const t = s.traffic[0]!;
    expect(t).toMatchObject({ kind: 'tcp', name: 'tcp n1/a -> n2/b', mode: 'rr', rate: 0, concurrency: 1, requestSize: 1, responseSize: 1, port: 9000 });
    const r = run(`name: x\n${TWO_NODES}traffic:\n  - tcp: { from: n1/a, to: n2/b, count: 5 }\n`);
    const f = r.results.flows[0] as Json;
    expect(f.received).toBe(5);
    // Two wires of 1 ms each way: 4 ms a round trip.
    expect(f.latencyNs!.min).toBeGreaterThanOrEqual(4 * MS);
    expect(f.latencyNs!.max).toBeLessThan(4 * MS + 200_000);
    // The one connection's setup includes ARP on both hops (2 RTT more than the handshake).
    expect(f.tcp.setupNs!.p50).toBeGreaterThanOrEqual(4 * MS);
    expect(formatSummary(r.results)).toMatch(/\n  tcp n1\/a -> n2\/b: tcp 1\/1 connected, setup p50 \d+ p99 \d+ us, 0 retransmits$/);
  });

  it('tcpAll makes one flow per pod pair in one group', () => {
    const text = `name: x\n${TWO_NODES}traffic:\n  - tcpAll: { pattern: cross-node, mode: crr, count: 3 }\n`;
    const spec = expandScenario(parseScenario(text, 'x.yaml'));
    expect(spec.traffic.map((t) => [t.kind, t.name, t.group])).toEqual([
      ['tcp', 'tcp n1/a -> n2/b', 'tcpAll cross-node'],
      ['tcp', 'tcp n2/b -> n1/a', 'tcpAll cross-node'],
    ]);
    const r = run(text);
    const f = r.results.flows as Json[];
    expect(f.length).toBe(1);
    expect(f[0]!.received).toBe(6);
    expect(f[0]!.tcp.connections).toBe(6);
  });

  it('rejects a crr without answers and rate with concurrency, with paths', () => {
    const text = `name: x\n${TWO_NODES}traffic:\n  - tcp: { from: n1/a, to: n2/b, mode: crr, responseSize: 0 }\n  - tcp: { from: n1/a, to: n2/b, rate: 10, concurrency: 2 }\n`;
    let err: unknown;
    try {
      parseScenario(text, 'x.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    const msg = String((err as Error).message);
    expect(msg).toContain('traffic[0].tcp.responseSize: must be at least 1 in mode crr');
    expect(msg).toContain('traffic[1].tcp.concurrency: applies to closed-loop flows only');
  });

  it('flows to one TCP server must agree on sizes', () => {
    const text = `name: x\n${TWO_NODES}traffic:\n  - tcp: { from: n1/a, to: n2/b, requestSize: 10 }\n  - tcp: { from: n1/a, to: n2/b, requestSize: 20 }\n`;
    expect(() => buildWorld(expandScenario(parseScenario(text, 'x.yaml')))).toThrow(/already answers 10-byte requests with 1 bytes/);
  });

  it('the same seed gives the same results JSON; another seed other ports, same latencies', () => {
    const text = (seed: number) =>
      `name: x\nseed: ${seed}\n${TWO_NODES}traffic:\n  - tcp: { from: n1/a, to: n2/b, mode: crr, count: 20, rate: 200, arrivals: poisson }\n  - tcp: { from: n2/b, to: n1/a, port: 5001, mode: bulk, bytes: 300000 }\n`;
    const a = JSON.stringify(run(text(1)).results);
    const b = JSON.stringify(run(text(1)).results);
    expect(a).toBe(b);
    const c = JSON.stringify(run(text(2)).results);
    expect(c).not.toBe(a);
  });

  describe('crr through a Service (a copy of service-nat.yaml with tcp rules)', () => {
    const lib = readFileSync(join(packageRoot(), 'scenarios/library/service-nat.yaml'), 'utf8');
    const head = lib.slice(0, lib.indexOf('servers:'));
    const text =
      head.replace(/-p udp/g, '-p tcp').replace(/-m udp/g, '-m tcp') +
      `servers:
  - { on: n1/b1, port: 8080, protocol: tcp, requestSize: 16, responseSize: 32 }
  - { on: n2/b2, port: 8080, protocol: tcp, requestSize: 16, responseSize: 32 }
traffic:
  - tcp: { name: client crr, from: n1/client, to: 10.96.0.10, port: 80, mode: crr, count: 4, requestSize: 16, responseSize: 32, start: 100ms }
  - tcp: { name: b1 via service, from: n1/b1, to: 10.96.0.10, port: 80, mode: crr, count: 2, requestSize: 16, responseSize: 32, start: 900ms }
capture: none
`;

    it('every connection is DNATed to a backend and answered, alternating b1, b2', () => {
      expect(text).toContain('-A KUBE-SEP-B1 -p tcp');
      const r = run(text);
      const flows = r.results.flows as (Json & { name: string })[];
      for (const f of flows) {
        expect(f.errors, f.name).toEqual({});
        expect(f.received, f.name).toBe(f.sent);
        expect(f.tcp.connected, f.name).toBe(f.sent);
      }
      expect(r.results.drops).toEqual({});
      const world = r.world;
      // conntrack -L on n1: the client's 4 connections went b1, b2, b1, b2 (nth), each tracked
      // through the FIN exchange to TIME_WAIT; b1's own two went to b1 (hairpin, masqueraded) and b2.
      const lines = world.namespaces.get('n1')!.netfilter!.conntrack!.dumpLines().filter((l) => l.includes('dport=80 '));
      expect(lines.length).toBe(6);
      for (const l of lines) expect(l).toMatch(/^tcp\s+6\s+\d+ TIME_WAIT /);
      const toB1 = lines.filter((l) => l.includes('src=10.244.1.3 dst=') && /src=10\.244\.1\.3 dst=10\.244\.1\.[12] sport=8080/.test(l));
      const toB2 = lines.filter((l) => /src=10\.244\.2\.2 dst=10\.244\.1\.[123] sport=8080/.test(l));
      expect(toB1.length + toB2.length).toBe(6);
      expect(toB1.length).toBe(3);
      expect(toB2.length).toBe(3);
      // The hairpinned connection of b1 to itself was masqueraded to the bridge address.
      expect(lines.some((l) => /src=10\.244\.1\.3 dst=10\.96\.0\.10 .* src=10\.244\.1\.3 dst=10\.244\.1\.1 sport=8080/.test(l))).toBe(true);
      expect(world.namespaces.get('n1/client')!.tcp.connections().map((c) => c.stateName)).toEqual(Array(4).fill('TIME-WAIT'));
    });
  });
});
