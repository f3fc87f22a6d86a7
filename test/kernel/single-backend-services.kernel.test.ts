/**
 * Two library scenarios whose Services have one backend each, against the
 * kernel as they stand (no pinning: nothing is random but ports):
 * - services-hairpin: a pod reaching itself through its own ClusterIP, TCP and
 *   UDP. DNAT to itself, KUBE-SEP's masquerade to cni0's address, the bridge
 *   sending the frame back out of the port it came in by (hairpin mode), and
 *   both NATs undone on the answers;
 * - nodeport-etp: an external host reaching NodePorts with
 *   externalTrafficPolicy Cluster (KUBE-EXT marks, the request is forwarded to
 *   the other node and masqueraded there) and Local (no masquerade: the pod
 *   sees the client's address and answers it directly).
 *
 * podwire runs first; the kernel's clients then bind podwire's client ports.
 * Compared: every TCP connection at every capture point (flags, seq/ack,
 * payloads, windows, options, TTLs, MACs, addresses and ports after NAT, the
 * masqueraded port written as "<snat>" because --random-fully draws it), every
 * other frame point by point in order (UDP and ARP; a masqueraded UDP port may
 * differ if it does so consistently), and `iptables-save -c` of every node.
 * Both were equal to the kernel the first time they were compared (session 10).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { compareCounters, parseSaveCounters } from './iptables-counters.js';
import { netfilterPrerequisites, runOnKernelDetailed, tcpTrafficPrerequisites } from './kernel-harness.js';
import { namespacesWithRules } from './kernel-iptables.js';
import { compareCapturePoints, normaliseFrame } from './normalise.js';
import { kernelRunRetryingCaptureLoss } from './service-tcp-flows.js';
import { inTempDir, readPodwireRaw } from './service-udp-flows.js';
import { connectionText, decodeTcpSegment, firstDifference, tcpConnections, type RawFrame } from './tcp-segments.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

function prerequisites(): { ok: boolean; reason: string } {
  const nf = netfilterPrerequisites();
  if (!nf.ok) return nf;
  const tcp = tcpTrafficPrerequisites();
  return tcp.ok ? nf : tcp;
}

const pre = prerequisites();
if (!pre.ok) console.warn(`[kernel single-backend Services comparison] skipped: ${pre.reason}`);

interface Case {
  scenario: string;
  /** Where the TCP clients send from. */
  client: { point: string; address: string };
  /** Connections per TCP flow. */
  connections: Record<string, number>;
  /** Namespaces whose KUBE-* chains must have counted packets, and one chain each that shows the case's path. */
  used: Record<string, string[]>;
}

const CASES: Case[] = [
  {
    scenario: 'services-hairpin',
    client: { point: 'n1/web/eth0', address: '10.244.1.2' },
    connections: { 'web -> own ClusterIP tcp': 4 },
    used: { n1: ['KUBE-MARK-MASQ', 'KUBE-POSTROUTING'] },
  },
  {
    scenario: 'nodeport-etp',
    client: { point: 'ext1/eth0', address: '192.168.49.100' },
    connections: { 'ext1 -> n2 Cluster': 4, 'ext1 -> n1 Local': 4 },
    used: { n1: ['KUBE-NODEPORTS'], n2: ['KUBE-NODEPORTS', 'KUBE-MARK-MASQ', 'KUBE-POSTROUTING'] },
  },
];

/** The source ports of each TCP flow's SYNs as they left the client, in order. */
function clientPorts(spec: TopologySpec, raw: ReadonlyMap<string, readonly RawFrame[]>, c: Case): Map<string, number[]> {
  const syns = (raw.get(c.client.point) ?? []).map(decodeTcpSegment).filter((s) => s !== undefined && s.dir === 'out' && s.flags === 'S' && s.src === c.client.address);
  const out = new Map<string, number[]>();
  for (const flow of spec.traffic) {
    if (flow.kind !== 'tcp') continue;
    out.set(flow.name, syns.filter((s) => s!.dstPort === flow.port).map((s) => s!.srcPort));
  }
  return out;
}

const nonTcp = (raw: ReadonlyMap<string, readonly RawFrame[]>) => new Map([...raw].map(([p, l]) => [p, l.filter((f) => decodeTcpSegment(f) === undefined).map((f) => normaliseFrame(f.data, f.dir))]));

describe.skipIf(!pre.ok)('Services with one backend (hairpin, NodePort traffic policies) against the kernel', () => {
  expectNamespacesCleanedUp();

  it.each(CASES)('$scenario: TCP per connection and point, every other frame, iptables-save -c', async (c) => {
    const spec = expandScenario(loadScenarioFile(resolveScenarioPath(c.scenario)));
    await inTempDir(`pwk-podwire-${c.scenario}-`, async (outDir) => {
      const podwire = runTopology(spec, { outDir });
      const flows = podwire.results.flows as Array<{ name: string; sent: number; received: number }>;
      for (const f of flows) expect([f.name, f.received]).toEqual([f.name, f.sent]);
      const praw = readPodwireRaw(podwire.captureFiles);
      const ports = clientPorts(spec, praw, c);
      expect(Object.fromEntries([...ports].map(([f, l]) => [f, l.length]))).toEqual(c.connections);

      const kernel = await kernelRunRetryingCaptureLoss(`kernel ${c.scenario}`, () => runOnKernelDetailed(spec, { traffic: { tcpSourcePorts: ports } }));
      for (const f of kernel.traffic.flows) {
        expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
        expect(JSON.parse(f.output), f.name).toMatchObject({ sent: flows.find((p) => p.name === f.name)!.sent, received: flows.find((p) => p.name === f.name)!.received });
      }
      const kraw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));

      const pconns = tcpConnections(praw, [c.client.address]);
      const kconns = tcpConnections(kraw, [c.client.address]);
      const all = [...ports.values()].flat();
      expect([...pconns.keys()].sort()).toEqual([...all].sort());
      const diffs: string[] = [];
      for (const port of all) {
        const k = kconns.get(port);
        if (k === undefined) {
          diffs.push(`client port ${port}: no such connection in the kernel's captures`);
          continue;
        }
        const d = firstDifference(connectionText(k), connectionText(pconns.get(port)!));
        if (d !== '') diffs.push(`client port ${port}: ${d}`);
      }
      expect(diffs.join('\n\n'), `podwire's TCP segments differ from the kernel's (${c.scenario})`).toBe('');

      expect(compareCapturePoints(nonTcp(kraw), nonTcp(praw), { ephemeralPorts: 'pair-nat' }).text, `podwire's other frames differ from the kernel's (${c.scenario})`).toBe('');

      for (const ns of namespacesWithRules(spec)) {
        const file = join(outDir, 'netfilter', `${ns.replaceAll('/', '.')}.iptables-save`);
        expect(existsSync(file), `podwire wrote ${file}`).toBe(true);
        const podwireSave = readFileSync(file, 'utf8');
        const kernelSave = kernel.counters.get(ns);
        expect(kernelSave, `iptables-save -c of ${ns}`).toBeDefined();
        const counters = compareCounters(parseSaveCounters(kernelSave!, `kernel ${ns}`), parseSaveCounters(podwireSave, `podwire ${ns}`));
        expect(counters.text, `${ns}: rule counters differ\n--- kernel\n${kernelSave}\n--- podwire\n${podwireSave}`).toBe('');
        expect(counters.compared).toBeGreaterThan(20);
        const counted = new Set([...parseSaveCounters(podwireSave, `podwire ${ns}`).values()].filter((r) => r.index > 0 && r.packets > 0n).map((r) => r.chain));
        for (const chain of c.used[ns] ?? []) expect(counted.has(chain), `${ns}: a rule of ${chain} counted packets`).toBe(true);
      }
    });
  }, 120_000);
});
