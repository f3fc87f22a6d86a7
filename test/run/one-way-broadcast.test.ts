import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { planPartitions } from '../../scenarios/partition-plan.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { expectSameOutput } from '../helpers/output-tree.js';

/**
 * One-way UDP to a broadcast address (SO_BROADCAST, responseSize 0): every
 * host of the link gets each datagram, and a server on the port in each of
 * them measures it. The flow counts a datagram received when its first copy
 * reaches a server (the latency is that copy's), and the other copies as
 * duplicates, as for a broadcast request that several servers answer; a
 * datagram no server got is lost. The servers may run in other partitions
 * than the client and than each other, so a partitioned run must give the
 * same counts.
 */
const SCENARIO = `
name: one-way-broadcast
duration: 400ms
scale: { nodes: 4, podsPerNode: 2 }
servers:
  - { on: node-2, port: 9, responseSize: 0 }
  - { on: node-4, port: 9, responseSize: 0 }
  - { on: node-3, port: 10, responseSize: 0 }
  - { on: node-2/pod-2, port: 11, responseSize: 0 }
traffic:
  - udp: { name: two servers, from: node-1, to: 192.168.49.255, port: 9, count: 20, rate: 100, requestSize: 8, responseSize: 0, broadcast: true }
  - udp: { name: one server, from: node-1, to: 192.168.49.255, port: 10, count: 10, rate: 100, requestSize: 2, responseSize: 0, broadcast: true, start: 50ms }
  - udp: { name: no server, from: node-1, to: 192.168.49.255, port: 12, count: 5, rate: 100, requestSize: 8, responseSize: 0, broadcast: true }
  - udp: { name: pod network, from: node-2/pod-1, to: 255.255.255.255, port: 11, count: 5, rate: 100, requestSize: 8, responseSize: 0, broadcast: true }
  - udp: { name: unicast, from: node-1, to: node-3, port: 10, count: 10, rate: 100, requestSize: 8, responseSize: 0, start: 200ms }
capture: none
`;

const spec = (): TopologySpec => expandScenario(parseScenario(SCENARIO, 'one-way-broadcast.yaml'));

interface FlowRow {
  name: string;
  class: string;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  latencyNs: { min: number; max: number } | null;
}

let work: string;
let sequential: string;
let flows: Map<string, FlowRow>;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pw-one-way-broadcast-'));
  sequential = join(work, 'seq');
  runTopology(spec(), { outDir: sequential });
  const results = JSON.parse(readFileSync(join(sequential, 'results.json'), 'utf8')) as { flows: FlowRow[] };
  flows = new Map(results.flows.map((f) => [f.name, f]));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('one-way UDP to a broadcast address', () => {
  it('counts each datagram once, at its first receiver, and the other copies as duplicates', () => {
    const f = flows.get('two servers')!;
    expect([f.sent, f.received, f.lost, f.duplicates]).toEqual([20, 20, 0, 20]);
    // node-1 -> switch -> node-2 or node-4: the same two wire hops as a unicast datagram across the underlay.
    const unicast = flows.get('unicast')!;
    expect(f.latencyNs!.min).toBeGreaterThanOrEqual(unicast.latencyNs!.min);
    expect(f.class).toBe('udp: node → broadcast (one-way)');
  });

  it('counts datagrams too short to carry a sequence number, by the packet itself', () => {
    const f = flows.get('one server')!;
    expect([f.sent, f.received, f.lost, f.duplicates]).toEqual([10, 10, 0, 0]);
  });

  it('loses what no server on the port receives', () => {
    const f = flows.get('no server')!;
    expect([f.sent, f.received, f.lost, f.duplicates]).toEqual([5, 0, 5, 0]);
    expect(f.latencyNs).toBeNull();
  });

  it('reaches a server in a pod on the same bridge through the limited broadcast', () => {
    const f = flows.get('pod network')!;
    expect([f.sent, f.received, f.lost, f.duplicates]).toEqual([5, 5, 0, 0]);
    expect(f.class).toBe('udp: pod → broadcast (one-way)');
  });

  it('leaves a unicast one-way flow to one of the same servers as it was', () => {
    const f = flows.get('unicast')!;
    expect([f.sent, f.received, f.lost, f.duplicates]).toEqual([10, 10, 0, 0]);
    expect(f.class).toBe('udp: node → node, other node (one-way)');
  });

  it.each([2, 4])('gives the same results in %i partitions, the servers apart from the client and each other', async (parts) => {
    const s = spec();
    const plan = planPartitions(s, parts);
    expect(plan.parts).toBe(parts);
    const partOf = (ns: string): number => plan.partOf.get(s.namespaces.find((n) => n.name === ns)!.component)!;
    expect(new Set([partOf('node-1'), partOf('node-2'), partOf('node-4')]).size).toBeGreaterThan(1);
    const out = join(work, `turn-${parts}`);
    await runPartitioned(s, { outDir: out, workers: parts, inTurn: true });
    expectSameOutput(out, sequential);
  });
});
