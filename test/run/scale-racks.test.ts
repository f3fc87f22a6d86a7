/**
 * A generated cluster in racks (`scale.nodesPerRack`), end to end: cross-node
 * pings within and across racks are answered, the TTL shows the router's hop
 * only across racks, an ARP broadcast stays in its rack (a flat segment would
 * flood it to every node), and a partitioned run writes the sequential bytes.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { expectSameOutput } from '../helpers/output-tree.js';
import { readCapture } from '../../models/capture/capture-reader.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-scale-racks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const scenario = (racks: string) => `
name: scale-racks
duration: 300ms
underlay: { cidr: 192.168.10.0/24 }
scale: { nodes: 6, podsPerNode: 2${racks} }
traffic:
  - pingAll: { pattern: cross-node, count: 2, interval: 100ms }
capture: all
`;

const ip4 = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
type Flow = { name: string; sent: number; received: number };

describe('scale.nodesPerRack: 6 nodes in racks of 2', () => {
  const spec = expandScenario(parseScenario(scenario(', nodesPerRack: 2'), 'scale-racks.yaml'));
  const seqDir = join(work, 'seq');
  const r = runTopology(spec, { outDir: seqDir });
  const echoTtls = (point: string, src: string) => {
    const ttls = new Set<number>();
    for (const p of readCapture(readFileSync(r.captureFiles.get(point)!)).packets) {
      const b = p.data;
      if (((b[12]! << 8) | b[13]!) === 0x0800 && b[23] === 1 && ip4(b, 26) === src) ttls.add(b[22]!);
    }
    return ttls;
  };

  test('every ping within and across racks is answered; nothing is dropped', () => {
    // One row for the pingAll: 12 pods, 2 pings each.
    expect((r.results.flows as Flow[]).map((f) => [f.sent, f.received])).toEqual([[24, 24]]);
    expect(r.results.drops).toEqual({});
  });

  test('the TTL shows the router hop across racks only', () => {
    // node-1 -> node-2 is one rack: both nodes route (64 - 2). node-2 -> node-3 crosses to rack-2: the router too (64 - 3).
    expect(echoTtls('node-2/pod-1/eth0', '10.244.1.2')).toEqual(new Set([62]));
    expect(echoTtls('node-3/pod-1/eth0', '10.244.2.2')).toEqual(new Set([61]));
    expect(echoTtls('underlay-rack-2/node-3', '10.244.2.2')).toEqual(new Set([62]));
  });

  test("a rack's switch carries only its own nodes' ARP", () => {
    for (const rack of ['rack-1', 'rack-2', 'rack-3']) {
      const seg = spec.namespaces.find((n) => n.name === `underlay-${rack}`)!;
      const own = new Set(seg.interfaces.map((i) => i.name));
      let arps = 0;
      for (const [point, file] of r.captureFiles) {
        if (!point.startsWith(`underlay-${rack}/`)) continue;
        for (const p of readCapture(readFileSync(file)).packets) {
          const b = p.data;
          if (((b[12]! << 8) | b[13]!) !== 0x0806) continue;
          const sender = ip4(b, 28);
          arps++;
          const owner = spec.namespaces.find((n) => n.kind !== 'pod' && n.interfaces.some((i) => i.addresses.some((a) => a.startsWith(`${sender}/`))))!;
          expect(owner.name === 'router' || own.has(owner.name), `${point}: ARP from ${owner.name}`).toBe(true);
        }
      }
      expect(arps, rack).toBeGreaterThan(0);
    }
  });

  test('with nodeStride 2 every ping crosses a rack: the router routes every echo', () => {
    const text = scenario(', nodesPerRack: 2').replace('cross-node, count: 2', 'cross-node, nodeStride: 2, count: 2');
    const strided = runTopology(expandScenario(parseScenario(text, 'stride.yaml')), { outDir: join(work, 'stride') });
    expect((strided.results.flows as Flow[]).map((f) => [f.sent, f.received])).toEqual([[24, 24]]);
    // Every node's pod-1 receives its echo requests from two nodes back, in the previous rack: TTL 64 - 3.
    for (let n = 1; n <= 6; n++) {
      const from = `10.244.${((n + 3) % 6) + 1}.2`;
      const ttls = new Set<number>();
      for (const p of readCapture(readFileSync(strided.captureFiles.get(`node-${n}/pod-1/eth0`)!)).packets) {
        const b = p.data;
        if (((b[12]! << 8) | b[13]!) === 0x0800 && b[23] === 1 && b[34] === 8 && ip4(b, 26) === from) ttls.add(b[22]!);
      }
      expect(ttls, `node-${n}`).toEqual(new Set([61]));
    }
  });

  test('a partitioned run (4 partitions, in turn) writes the same bytes as the sequential run', async () => {
    const out = join(work, 'part');
    const p = await runPartitioned(spec, { outDir: out, workers: 4, inTurn: true });
    expect(p.plan.parts).toBe(4);
    expectSameOutput(out, seqDir);
  });
});

describe('the ARP storm of a generated cluster: flat against racks', () => {
  /** ARP frames the underlay switches sent out of their ports, with one ping from every pod to the same pod of the next node. */
  function arpOutOfSwitches(racks: string): number {
    const text = scenario(racks).replace('count: 2', 'count: 1');
    const out = join(work, `storm${racks === '' ? '-flat' : '-racks'}`);
    const r = runTopology(expandScenario(parseScenario(text, 'storm.yaml')), { outDir: out });
    expect((r.results.flows as Flow[]).map((f) => [f.sent, f.received])).toEqual([[12, 12]]);
    let n = 0;
    for (const [point, file] of r.captureFiles) {
      if (!point.startsWith('underlay') || point.endsWith('/br0') || point.endsWith('/lo')) continue;
      for (const p of readCapture(readFileSync(file)).packets) if (p.direction === 2 && ((p.data[12]! << 8) | p.data[13]!) === 0x0806) n++;
    }
    return n;
  }

  test('a broadcast reaches every node of a flat segment, only its rack behind a router', () => {
    // Flat: each of the 6 nodes asks for the next one: its broadcast leaves by the 5 other ports, the
    // reply by one. 6 * (5 + 1) = 36.
    expect(arpOutOfSwitches('')).toBe(36);
    // Racks of 2 ({1,2}, {3,4}, {5,6}), a broadcast leaves by the 2 other ports of its rack (a node's, the
    // router's), its reply by one: 3 frames an exchange. Within a rack (1->2, 3->4, 5->6) one exchange.
    // Across (2->3, 4->5, 6->1) the node asks for its gateway and the router for the next node; the
    // next node already knows the gateway from the router's request (it was the target), and the
    // router knows the asking node from its. 3 * 3 + 3 * 6 = 27. Node 4 and 6 still ask for their
    // gateway once: a request they saw but were not the target of taught them nothing.
    expect(arpOutOfSwitches(', nodesPerRack: 2')).toBe(27);
  });
});
