/**
 * Racks behind a router (`underlay.segments`), end to end: pods on nodes in
 * different racks ping and exchange UDP and TCP, the TTL shows the router's
 * hop, each segment's switch carries only its own nodes' traffic, vxlan and
 * ipip outer packets are routed between racks, and a partitioned run writes
 * the sequential run's bytes.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { resolveScenario } from '../../scenarios/library.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology, type RunResult } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { expectSameOutput } from '../helpers/output-tree.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { twoRacks } from '../helpers/two-racks.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-segments-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Flow = { name: string; sent: number; received: number; errors: Record<string, number> };

function expectAllAnswered(r: RunResult): void {
  const flows = r.results.flows as Flow[];
  expect(flows.length).toBeGreaterThan(0);
  for (const f of flows) {
    expect(f.sent, f.name).toBeGreaterThan(0);
    expect(f.received, f.name).toBe(f.sent);
    expect(f.errors, f.name).toEqual({});
  }
  expect(r.results.drops).toEqual({});
}

interface Ip {
  src: string;
  dst: string;
  ttl: number;
  proto: number;
  /** The encapsulated IPv4 header's fields (vxlan: after UDP 8472 + VXLAN + Ethernet; ipip: right after), if any. */
  inner?: { src: string; dst: string; ttl: number };
}
interface Arp {
  sender: string;
  target: string;
}

const ip4 = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** IPv4 packets and ARP messages of a capture, from the bytes. */
function frames(file: string): { ips: Ip[]; arps: Arp[] } {
  const ips: Ip[] = [];
  const arps: Arp[] = [];
  for (const p of readCapture(readFileSync(file)).packets) {
    const b = p.data;
    const type = (b[12]! << 8) | b[13]!;
    if (type === 0x0806) arps.push({ sender: ip4(b, 28), target: ip4(b, 38) });
    if (type !== 0x0800) continue;
    const o = 14;
    const ihl = (b[o]! & 0xf) * 4;
    const proto = b[o + 9]!;
    const pkt: Ip = { src: ip4(b, o + 12), dst: ip4(b, o + 16), ttl: b[o + 8]!, proto };
    let inner: number | undefined;
    if (proto === 4) inner = o + ihl;
    else if (proto === 17 && ((b[o + ihl + 2]! << 8) | b[o + ihl + 3]!) === 8472) inner = o + ihl + 8 + 8 + 14;
    if (inner !== undefined) pkt.inner = { src: ip4(b, inner + 12), dst: ip4(b, inner + 16), ttl: b[inner + 8]! };
    ips.push(pkt);
  }
  return { ips, arps };
}

function capturesOf(r: RunResult, ns: string): string[] {
  return [...r.captureFiles].filter(([point]) => point.startsWith(`${ns}/`)).map(([, file]) => file);
}

describe('racks (host-gw, the router routes pod CIDRs)', () => {
  const spec = expandScenario(resolveScenario('racks'));
  const seqDir = join(work, 'racks-seq');
  const r = runTopology(spec, { outDir: seqDir });
  const cap = (point: string) => frames(r.captureFiles.get(point)!);

  test('pods in different racks ping and exchange UDP and TCP; nothing is dropped', () => {
    expectAllAnswered(r);
    expect((r.results.flows as Flow[]).map((f) => f.name)).toEqual(['ping n1/p1 -> n3/p1', 'ping n1/p1 -> n2/p1', 'udp n3/p1 -> n2/p1', 'tcp n2/p1 -> n3/p1']);
  });

  test('TTLs show the router hop across racks and none within a rack', () => {
    const echo = (point: string, src: string) => cap(point).ips.filter((p) => p.proto === 1 && p.src === src);
    // n1 -> n3: n1, the router and n3 route (64 - 3); n1 -> n2: n1 and n2 (64 - 2).
    expect(new Set(echo('n3/p1/eth0', '10.244.1.2').map((p) => p.ttl))).toEqual(new Set([61]));
    expect(new Set(echo('n2/p1/eth0', '10.244.1.2').map((p) => p.ttl))).toEqual(new Set([62]));
    // Replies come back over the same three hops.
    expect(new Set(echo('n1/p1/eth0', '10.244.3.2').map((p) => p.ttl))).toEqual(new Set([61]));
    expect(new Set(echo('underlay-rack1/router', '10.244.1.2').map((p) => p.ttl))).toEqual(new Set([63]));
    expect(new Set(echo('underlay-rack2/n3', '10.244.1.2').map((p) => p.ttl))).toEqual(new Set([62]));
  });

  test("each segment's switch carries only its own nodes' traffic plus what the router forwards", () => {
    const rack1 = (a: string) => a.startsWith('192.168.10.') || a.startsWith('10.244.1.') || a.startsWith('10.244.2.');
    const rack2 = (a: string) => a.startsWith('192.168.20.') || a.startsWith('10.244.3.');
    for (const [ns, mine, subnet] of [
      ['underlay-rack1', rack1, '192.168.10.'],
      ['underlay-rack2', rack2, '192.168.20.'],
    ] as const) {
      const files = capturesOf(r, ns);
      expect(files.length).toBe(ns === 'underlay-rack1' ? 4 : 3);
      let ips = 0;
      for (const f of files) {
        const { ips: seen, arps } = frames(f);
        ips += seen.length;
        for (const p of seen) expect(mine(p.src) || mine(p.dst), `${f}: ${p.src} -> ${p.dst}`).toBe(true);
        for (const a of arps) expect(a.sender.startsWith(subnet) && a.target.startsWith(subnet), `${f}: ARP ${a.sender} -> ${a.target}`).toBe(true);
      }
      expect(ips).toBeGreaterThan(0);
    }
    // Same-rack traffic (n1 <-> n2, n3 -> n2 answers aside) never reaches the router.
    for (const point of ['underlay-rack1/router', 'router/rack1', 'router/rack2']) {
      for (const p of cap(point).ips) expect(rack1(p.src) && rack1(p.dst), `${point}: ${p.src} -> ${p.dst}`).toBe(false);
    }
    // The rack1 traffic that is routed is all the router sends into rack2.
    expect(cap('router/rack2').ips.some((p) => p.src === '10.244.3.2' && p.dst === '10.244.2.2')).toBe(true);
  });

  test('a partitioned run (3 partitions, in turn) writes the same bytes as the sequential run', async () => {
    const out = join(work, 'racks-part');
    const p = await runPartitioned(spec, { outDir: out, workers: 3, inTurn: true });
    expect(p.plan.parts).toBe(3);
    expect(p.partitions.reduce((n, x) => n + x.framesSent, 0)).toBeGreaterThan(0);
    expectSameOutput(out, seqDir);
  });
});

describe.each(['vxlan', 'ipip'])('%s across racks: outer packets are routed by the router', (routing) => {
  const text = twoRacks(
    `name: racks-${routing}\nduration: 1s\nrouting: ${routing}`,
    `traffic:
  - ping: { from: n1/p1, to: n3/p1, count: 3, interval: 100ms }
  - udp: { from: n3/p1, to: n2/p1, port: 9000, count: 5, rate: 100, requestSize: 200, responseSize: 1200 }
  - tcp: { from: n2/p1, to: n3/p1, port: 8080, mode: rr, count: 5, rate: 100, requestSize: 100, responseSize: 1000 }
servers:
  - { on: n3/p1, port: 8080, protocol: tcp, requestSize: 100, responseSize: 1000 }
capture: all`,
  );
  const r = runTopology(expandScenario(parseScenario(text, `racks-${routing}.yaml`)), { outDir: join(work, routing) });

  test('every flow is answered; nothing is dropped', () => expectAllAnswered(r));

  test('rack2 sees node-to-node outer packets with the router hop; the inner TTL only counts the nodes', () => {
    const outer = frames(r.captureFiles.get('underlay-rack2/n3')!).ips.filter((p) => p.inner !== undefined);
    const fromN1 = outer.filter((p) => p.src === '192.168.10.2' && p.dst === '192.168.20.2' && p.inner!.src === '10.244.1.2');
    expect(fromN1.length).toBe(3);
    expect(fromN1.every((p) => p.proto === (routing === 'vxlan' ? 17 : 4))).toBe(true);
    // The inner header was routed by n1 (63). The outer one leaves n1 with TTL 64 (vxlan) or
    // the inner TTL (ipip: ttl inherit), and the router takes one off.
    expect(new Set(fromN1.map((p) => p.ttl))).toEqual(new Set([routing === 'vxlan' ? 63 : 62]));
    expect(new Set(fromN1.map((p) => p.inner!.ttl))).toEqual(new Set([63]));
    const pod = frames(r.captureFiles.get('n3/p1/eth0')!).ips.filter((p) => p.proto === 1 && p.src === '10.244.1.2');
    expect(new Set(pod.map((p) => p.ttl))).toEqual(new Set([62]));
    // Nothing on rack2 is pod-addressed outside a tunnel.
    for (const p of frames(r.captureFiles.get('underlay-rack2/router')!).ips) expect(p.src.startsWith('192.168.'), `${p.src} -> ${p.dst}`).toBe(true);
  });
});
