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
import { compareCounters, parseSaveCounters } from './iptables-counters.js';
import { netfilterTcpPrerequisites } from './kernel-harness.js';
import { namespacesWithRules } from './kernel-iptables.js';
import { nonTcpDifferences, runLibraryTcp, type TcpOrigin } from './library-tcp-runs.js';
import { inTempDir } from './service-udp-flows.js';
import { connectionText, firstDifference, tcpConnections } from './tcp-segments.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = netfilterTcpPrerequisites();
if (!pre.ok) console.warn(`[kernel single-backend Services comparison] skipped: ${pre.reason}`);

interface Case {
  scenario: string;
  /** Per TCP flow, where its client's SYNs leave. */
  origins: Record<string, TcpOrigin>;
  /** Namespaces whose KUBE-* chains must have counted packets, and one chain each that shows the case's path. */
  used: Record<string, string[]>;
}

const CASES: Case[] = [
  {
    scenario: 'services-hairpin',
    origins: { 'web -> own ClusterIP tcp': { point: 'n1/web/eth0', src: '10.244.1.2', dst: '10.96.0.2', dstPort: 80 } },
    used: { n1: ['KUBE-MARK-MASQ', 'KUBE-POSTROUTING'] },
  },
  {
    scenario: 'nodeport-etp',
    origins: {
      'ext1 -> n2 Cluster': { point: 'ext1/eth0', src: '192.168.49.100', dst: '192.168.49.3', dstPort: 30080 },
      'ext1 -> n1 Local': { point: 'ext1/eth0', src: '192.168.49.100', dst: '192.168.49.2', dstPort: 30081 },
    },
    used: { n1: ['KUBE-NODEPORTS'], n2: ['KUBE-NODEPORTS', 'KUBE-MARK-MASQ', 'KUBE-POSTROUTING'] },
  },
];

describe.skipIf(!pre.ok)('Services with one backend (hairpin, NodePort traffic policies) against the kernel', () => {
  expectNamespacesCleanedUp();

  it.each(CASES)('$scenario: TCP per connection and point, every other frame, iptables-save -c', async (c) => {
    await inTempDir(`pwk-podwire-${c.scenario}-`, async (outDir) => {
      const r = await runLibraryTcp(c.scenario, c.origins, outDir);
      const clients = [...new Set(Object.values(c.origins).map((o) => o.src))];
      const pconns = tcpConnections(r.podwireRaw, clients);
      const kconns = tcpConnections(r.kernelRaw, clients);
      const all = [...r.ports.values()].flat();
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

      expect(nonTcpDifferences(r, { ephemeralPorts: 'pair-nat' }), `podwire's other frames differ from the kernel's (${c.scenario})`).toBe('');

      for (const ns of namespacesWithRules(r.spec)) {
        const file = join(outDir, 'netfilter', `${ns.replaceAll('/', '.')}.iptables-save`);
        expect(existsSync(file), `podwire wrote ${file}`).toBe(true);
        const podwireSave = readFileSync(file, 'utf8');
        const kernelSave = r.kernel.counters.get(ns);
        expect(kernelSave, `iptables-save -c of ${ns}`).toBeDefined();
        const counters = compareCounters(parseSaveCounters(kernelSave!, `kernel ${ns}`), parseSaveCounters(podwireSave, `podwire ${ns}`));
        expect(counters.text, `${ns}: rule counters differ\n--- kernel\n${kernelSave}\n--- podwire\n${podwireSave}`).toBe('');
        expect(counters.compared).toBeGreaterThan(20);
        const counted = new Set([...parseSaveCounters(podwireSave, `podwire ${ns}`).values()].filter((x) => x.index > 0 && x.packets > 0n).map((x) => x.chain));
        for (const chain of c.used[ns] ?? []) expect(counted.has(chain), `${ns}: a rule of ${chain} counted packets`).toBe(true);
      }
    });
  }, 120_000);
});
