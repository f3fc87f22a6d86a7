/**
 * podwire's kube-proxy IPVS mode against the kernel: the library scenario
 * services-ipvs (kube-ipvs0 dummy with the ClusterIPs, rr virtual servers with
 * masquerading real servers, kube-proxy's ip sets and iptables rules), built
 * in real node namespaces (kernel-ipvs.ts). Only its UDP ClusterIP flows run
 * (TCP flows and servers dropped on both sides; the echo-tcp Service's
 * virtual servers, sets and rules stay).
 *
 * rr is deterministic, so nothing is pinned: each connection must reach the
 * backend podwire's reached, every capture point hold the same frames (per
 * connection), every checksum be valid, `iptables-save -c` agree rule by rule,
 * and `ipvsadm -Ln` / the connections of `ipvsadm -Lnc` (expiry left out) agree.
 *
 * Skips with the printed reason when ipset, ipvsadm or IPVS itself
 * (CONFIG_IP_VS) are missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { compareCounters, parseSaveCounters } from './iptables-counters.js';
import { netfilterPrerequisites, runOnKernelDetailed } from './kernel-harness.js';
import { namespacesWithRules } from './kernel-iptables.js';
import { ipvsPrerequisites, namespacesWithIpvs } from './kernel-ipvs.js';
import { compareCapturePoints } from './normalise.js';
import { expectChecksumsValid, expectKernelFlowsAnswered,
  backendsByClientPort, groupedByConnection, inTempDir, normaliseAll, readPodwireRaw, udpClientPorts, udpOnly,
} from './service-udp-flows.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const VIP = '10.96.0.2';
/** Backend pods: where a request shows up after IPVS rewrote its destination, by the pod's address. */
const BACKENDS: Record<string, string> = { '10.244.1.3': 'n1/echo-a/eth0', '10.244.2.2': 'n2/echo-b/eth0' };

function prerequisites(): { ok: boolean; reason: string } {
  const base = netfilterPrerequisites();
  return base.ok ? ipvsPrerequisites() : base;
}

const pre = prerequisites();
if (!pre.ok) console.warn(`[kernel services-ipvs comparison] skipped: ${pre.reason}`);

/** `ipvsadm -Ln` without its first line (the connection table size is a kernel build option). */
function ipvsList(text: string): string {
  return text.split('\n').slice(1).map((l) => l.trimEnd()).filter((l) => l !== '').join('\n');
}

/** `ipvsadm -Lnc` entries as "pro state source virtual destination", sorted (the kernel lists hash order; expiry left out). */
function ipvsConnections(text: string): string[] {
  return text.split('\n')
    .map((l) => /^(TCP|UDP)\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]} ${m[3]} ${m[4]} ${m[5]}`)
    .sort();
}

function runPodwire(spec: TopologySpec, outDir: string) {
  const { captureFiles, results } = runTopology(spec, { outDir });
  const raw = readPodwireRaw(captureFiles);
  const frames = normaliseAll(raw);
  const read = (ns: string, ext: string) => {
    const file = join(outDir, 'netfilter', `${ns.replaceAll('/', '.')}.${ext}`);
    expect(existsSync(file), `podwire wrote ${file}`).toBe(true);
    return readFileSync(file, 'utf8');
  };
  const saves = new Map(namespacesWithRules(spec).map((ns) => [ns, read(ns, 'iptables-save')]));
  const ipvs = new Map(namespacesWithIpvs(spec).map((ns) => {
    const [list, connections] = read(ns, 'ipvsadm').split('# ipvsadm -Lnc\n') as [string, string];
    return [ns, { list: list.replace(/^# ipvsadm -Ln\n/, ''), connections }];
  }));
  return { raw, frames, saves, ipvs, backends: backendsByClientPort(frames, BACKENDS, 8080), flows: results.flows as Array<{ name: string; sent: number; received: number }> };
}

describe.skipIf(!pre.ok)('podwire kube-proxy IPVS mode (services-ipvs, UDP ClusterIP) reproduces the kernel', () => {
  expectNamespacesCleanedUp();

  const spec = pre.ok ? udpOnly('services-ipvs') : undefined;

  it('rr backends, frames at every point, checksums, iptables counters and ipvsadm tables', async () => {
    await inTempDir('pwk-podwire-services-ipvs-', async (outDir) => {
      const podwire = runPodwire(spec!, outDir);
      const ports = udpClientPorts(spec!);
      expect(ports.length).toBe(4);
      expect([...podwire.backends.keys()]).toEqual(ports);
      expect(new Set(podwire.backends.values()).size).toBe(2);
      for (const f of podwire.flows) expect([f.name, f.received]).toEqual([f.name, f.sent]);

      const kernel = await runOnKernelDetailed(spec!);
      const backend = `iptables ${kernel.iptablesBackend}`;
      expectKernelFlowsAnswered(kernel.traffic.flows, podwire.flows);
      // rr: the same backend for every connection, without pinning.
      expect(backendsByClientPort(kernel.frames, BACKENDS, 8080)).toEqual(podwire.backends);

      // Frame by frame at every capture point: the rewritten destination at the backend, the VIP source at the client, TTLs, MACs, ARP.
      const frames = compareCapturePoints(groupedByConnection(kernel.frames, ports), groupedByConnection(podwire.frames, ports), { ephemeralPorts: 'exact' });
      expect(frames.text, `podwire's frames differ from the kernel's (IPVS, ${backend})`).toBe('');
      const client = podwire.frames.get('n1/client/eth0')!.filter((f) => f.udp !== undefined);
      expect(client.filter((f) => f.dir === 'in').every((f) => f.ipv4?.src === VIP && f.udp?.srcPort === 80)).toBe(true);
      expect(client.length).toBe(16);

      expectChecksumsValid(podwire.raw, kernel.captures);

      for (const [ns, podwireSave] of podwire.saves) {
        const kernelSave = kernel.counters.get(ns);
        expect(kernelSave, `iptables-save -c of ${ns}`).toBeDefined();
        const counters = compareCounters(parseSaveCounters(kernelSave!, `kernel ${ns}`), parseSaveCounters(podwireSave, `podwire ${ns}`));
        expect(counters.text, `${ns}: rule counters differ (${backend})\n--- kernel\n${kernelSave}\n--- podwire\n${podwireSave}`).toBe('');
        expect(counters.compared).toBeGreaterThan(0);
      }

      for (const [ns, p] of podwire.ipvs) {
        const k = kernel.ipvs.get(ns);
        expect(k, `ipvsadm of ${ns}`).toBeDefined();
        expect(ipvsList(p.list), `${ns}: ipvsadm -Ln`).toBe(ipvsList(k!.list));
        expect(ipvsConnections(p.connections), `${ns}: ipvsadm -Lnc`).toEqual(ipvsConnections(k!.connections));
      }
      // n1 did the balancing: one connection entry per client port.
      expect(ipvsConnections(podwire.ipvs.get('n1')!.connections).length).toBe(ports.length);
    });
  });
});
