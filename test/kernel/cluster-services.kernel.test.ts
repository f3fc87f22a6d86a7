/**
 * podwire's kube-proxy (iptables mode) against the kernel: the library
 * scenario cluster-services, whose rules podwire generates itself
 * (models/k8s/kube-proxy), loaded into real namespaces. Only its UDP ClusterIP
 * flows run here (its TCP flows: cluster-services-tcp.kernel.test.ts), so the
 * TCP flows and the TCP servers are dropped from the spec on both sides; the
 * echo-tcp Service's rules stay (their counters must stay 0 on both).
 *
 * KUBE-SVC picks a backend with `-m statistic --mode random`, so the two sides
 * choose independently. Two runs:
 *  - pinned: the kernel's random rule is replaced by a source-port match that
 *    sends each connection where podwire sent it (same rule position, so the
 *    per-rule counters stay comparable); then every capture point must hold the
 *    same frames (per connection, see groupedByConnection), every checksum be
 *    valid, and every rule the same [packets:bytes];
 *  - random: the rules as podwire generated them; each connection's frames at
 *    every point (client port blanked) must equal those of a podwire
 *    connection that went to the same backend.
 */
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { pinBackends } from './pin-backends.js';
import { expectChecksumsValid, expectKernelFlowsAnswered, backendsByClientPort, connectionClasses, connectionView, groupedByConnection, inTempDir, normaliseAll, readPodwireRaw, udpOnly } from './service-udp-flows.js';
import { runSync } from './commands.js';
import { compareCounters, parseSaveCounters } from './iptables-counters.js';
import { netfilterPrerequisites, runOnKernelDetailed } from './kernel-harness.js';
import { iptablesTools, namespacesWithRules } from './kernel-iptables.js';
import { RUN_PREFIX } from './netns-topology.js';
import { compareCapturePoints } from './normalise.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const VIP = '10.96.0.2';
/** Backend pods: where a DNATed request shows up, by the address it is DNATed to. */
const BACKENDS: Record<string, string> = { '10.244.1.3': 'n1/echo-a/eth0', '10.244.2.2': 'n2/echo-b/eth0' };
/** kube-proxy's multiport alternative must load too (the pinned rule uses it). */
function prerequisites(): { ok: boolean; reason: string } {
  const base = netfilterPrerequisites();
  if (!base.ok) return base;
  const tools = iptablesTools()!;
  const probe = `${RUN_PREFIX}mpprobe`;
  const add = runSync('ip', ['netns', 'add', probe]);
  if (!add.ok) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
  try {
    const rules = '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp -m multiport --sports 40001,40002 -j RETURN\nCOMMIT\n';
    const r = spawnSync('ip', ['netns', 'exec', probe, tools.restore], { input: rules, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) return { ok: false, reason: `${tools.restore} cannot load -m multiport (xt_multiport): ${(r.stderr ?? String(r.error)).trim()}` };
  } finally {
    runSync('ip', ['netns', 'del', probe]);
  }
  return base;
}

const pre = prerequisites();
if (!pre.ok) console.warn(`[kernel cluster-services comparison] skipped: ${pre.reason}`);

/** podwire's run of the spec: raw and normalised frames, its backend choices, n1's and n2's iptables-save -c. */
function runPodwire(spec: TopologySpec, outDir: string) {
  const { captureFiles, results } = runTopology(spec, { outDir });
  const raw = readPodwireRaw(captureFiles);
  const frames = normaliseAll(raw);
  const saves = new Map<string, string>();
  for (const ns of namespacesWithRules(spec)) {
    const file = join(outDir, 'netfilter', `${ns.replaceAll('/', '.')}.iptables-save`);
    expect(existsSync(file), `podwire wrote ${file}`).toBe(true);
    saves.set(ns, readFileSync(file, 'utf8'));
  }
  return { raw, frames, saves, backends: backendsByClientPort(frames, BACKENDS, 8080), flows: results.flows as Array<{ name: string; sent: number; received: number }> };
}

describe.skipIf(!pre.ok)('podwire kube-proxy (cluster-services, UDP ClusterIP) reproduces the kernel', () => {
  expectNamespacesCleanedUp();

  const spec = pre.ok ? udpOnly('cluster-services') : undefined;
  const clientPorts = () => spec!.traffic.map((f) => (f.kind === 'udp' ? f.sourcePort : undefined)).filter((p): p is number => p !== undefined);

  it('with the backend choices pinned to podwire\'s: frames, checksums and rule counters', async () => {
    await inTempDir('pwk-podwire-cluster-services-', async (outDir) => {
      const podwire = runPodwire(spec!, outDir);
      const ports = clientPorts();
      expect(ports.length).toBe(6);
      // Every connection reached exactly one backend in podwire, and both backends got some.
      expect([...podwire.backends.keys()].sort()).toEqual(ports);
      expect(new Set(podwire.backends.values()).size).toBe(2);
      for (const f of podwire.flows) expect([f.name, f.received]).toEqual([f.name, f.sent]);

      const first = ports.filter((p) => podwire.backends.get(p) === BACKENDS['10.244.1.3']);
      const kernel = await runOnKernelDetailed(pinBackends(spec!, 'default/echo-udp', 'udp', first));
      const backend = `iptables ${kernel.iptablesBackend}`;
      expectKernelFlowsAnswered(kernel.traffic.flows, podwire.flows);
      expect(backendsByClientPort(kernel.frames, BACKENDS, 8080)).toEqual(podwire.backends);

      // Frame by frame at every capture point: DNAT at the backend, un-DNAT at the client, TTLs, MACs, ARP.
      const frames = compareCapturePoints(groupedByConnection(kernel.frames, ports), groupedByConnection(podwire.frames, ports), { ephemeralPorts: 'exact' });
      expect(frames.text, `podwire's frames differ from the kernel's (${backend})`).toBe('');
      const client = podwire.frames.get('n1/client/eth0')!.filter((f) => f.udp !== undefined);
      expect(client.filter((f) => f.dir === 'in').every((f) => f.ipv4?.src === VIP && f.udp?.srcPort === 80)).toBe(true);
      expect(client.length).toBe(24);

      expectChecksumsValid(podwire.raw, kernel.captures);

      // iptables-save -c: every rule and policy, on both nodes; n1's KUBE-* chains saw the traffic.
      for (const [ns, podwireSave] of podwire.saves) {
        const kernelSave = kernel.counters.get(ns);
        expect(kernelSave, `iptables-save -c of ${ns}`).toBeDefined();
        const k = parseSaveCounters(kernelSave!, `kernel ${ns}`);
        const p = parseSaveCounters(podwireSave, `podwire ${ns}`);
        const counters = compareCounters(k, p);
        expect(counters.text, `${ns}: rule counters differ (${backend})\n--- kernel\n${kernelSave}\n--- podwire\n${podwireSave}`).toBe('');
        expect(counters.compared).toBeGreaterThan(0);
      }
      const n1 = parseSaveCounters(podwire.saves.get('n1')!, 'podwire n1');
      const kube = [...n1.values()].filter((c) => c.chain.startsWith('KUBE-') && c.index > 0 && c.packets > 0n);
      expect(kube.map((c) => c.chain)).toEqual(expect.arrayContaining(['KUBE-SERVICES', 'KUBE-SVC-LMLMKFNO2WXD3OBE', 'KUBE-SEP-XZW2IJ3UC6L3JT7F', 'KUBE-SEP-UIQDZUEHXFN2NESO']));
    });
  });

  it('with the rules as generated (random backends): each connection as podwire shows one to the same backend', async () => {
    await inTempDir('pwk-podwire-cluster-services-random-', async (outDir) => {
      const podwire = runPodwire(spec!, outDir);
      const ports = clientPorts();
      const reference = new Map<string, string>();
      for (const [port, cls] of connectionClasses(podwire.backends, ports)) {
        const view = connectionView(podwire.frames, port);
        // Connections of one class look alike in podwire (otherwise a class is no reference).
        if (reference.has(cls)) expect(view, `podwire connection ${port} vs an earlier one (${cls})`).toBe(reference.get(cls));
        else reference.set(cls, view);
      }
      // seed 1: both backends get a first and a later connection, so any kernel choice has a reference.
      expect([...reference.keys()].sort()).toEqual(['n1/echo-a/eth0 first', 'n1/echo-a/eth0 later', 'n2/echo-b/eth0 first', 'n2/echo-b/eth0 later']);

      const kernel = await runOnKernelDetailed(spec!);
      for (const f of kernel.traffic.flows) expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
      const chosen = backendsByClientPort(kernel.frames, BACKENDS, 8080);
      expect([...chosen.keys()].sort()).toEqual(ports);
      for (const [port, cls] of connectionClasses(chosen, ports)) {
        expect(connectionView(kernel.frames, port), `kernel connection from port ${port} (${cls}), client port shown as 0`).toBe(reference.get(cls));
      }
    });
  });
});
