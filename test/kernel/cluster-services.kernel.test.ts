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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { read16, read32 } from '../../models/wire/bytes.js';
import { internetChecksum, partialChecksum } from '../../models/wire/checksum.js';
import { computeUdpChecksum } from '../../models/wire/udp.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { pinBackends } from './pin-backends.js';
import { runSync } from './commands.js';
import { compareCounters, parseSaveCounters } from './iptables-counters.js';
import { netfilterPrerequisites, runOnKernelDetailed } from './kernel-harness.js';
import { iptablesTools, namespacesWithRules } from './kernel-iptables.js';
import { deleteOwnNamespaces, listOwnNamespaces, RUN_PREFIX } from './netns-topology.js';
import { compareCapturePoints, type NormalisedFrame, normaliseFrame, summariseFrame } from './normalise.js';

const VIP = '10.96.0.2';
/** Backend pods: where a DNATed request shows up, by the address it is DNATed to. */
const BACKENDS: Record<string, string> = { '10.244.1.3': 'n1/echo-a/eth0', '10.244.2.2': 'n2/echo-b/eth0' };
/** The UDP Service's first endpoint rule, as models/k8s/kube-proxy writes it (KUBE-SVC chain, statistic match). */

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

/** cluster-services with only what the kernel harness can run: its UDP flows and UDP servers. */
function udpClusterServices(): TopologySpec {
  const spec = expandScenario(loadScenarioFile(resolveScenarioPath('cluster-services')));
  return {
    ...spec,
    traffic: spec.traffic.filter((f) => f.kind !== 'tcp'),
    servers: (spec.servers ?? []).filter((s) => s.protocol !== 'tcp'),
  };
}


interface Raw { data: Uint8Array; dir: 'in' | 'out' | 'unknown' }

function readPodwireRaw(files: Map<string, string>): Map<string, Raw[]> {
  const out = new Map<string, Raw[]>();
  for (const [point, file] of files) {
    out.set(point, readCapture(file).packets.map((p) => ({ data: p.data, dir: p.direction === 1 ? 'in' : p.direction === 2 ? 'out' : 'unknown' })));
  }
  return out;
}

function normaliseAll(raw: Map<string, Raw[]>): Map<string, NormalisedFrame[]> {
  return new Map([...raw].map(([point, list]) => [point, list.map((r) => normaliseFrame(r.data, r.dir))]));
}

/** Client port -> the backend pod's capture point that received its requests. */
function backendsByClientPort(frames: Map<string, NormalisedFrame[]>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [addr, point] of Object.entries(BACKENDS)) {
    for (const f of frames.get(point) ?? []) {
      if (f.dir !== 'in' || f.udp === undefined || f.ipv4?.dst !== addr || f.udp.dstPort !== 8080) continue;
      const prev = out.get(f.udp.srcPort);
      if (prev !== undefined && prev !== point) throw new Error(`client port ${f.udp.srcPort} reached both ${prev} and ${point}`);
      out.set(f.udp.srcPort, point);
    }
  }
  return out;
}

/**
 * Checksums of one frame: "ip=ok|bad" and for UDP "udp=full|partial|none|bad"
 * (partial: the pseudo-header sum Linux leaves for CHECKSUM_PARTIAL, see
 * models/wire/checksum.ts); "" for non-IPv4.
 */
function checksumKinds(b: Uint8Array): string {
  if (b.length < 34 || read16(b, 12) !== 0x0800) return '';
  const ihl = (b[14]! & 0x0f) * 4;
  const ip = internetChecksum(b, 14, ihl) === 0 ? 'ok' : 'bad';
  if (b[23] !== 17) return `ip=${ip}`;
  const off = 14 + ihl;
  const src = read32(b, 26);
  const dst = read32(b, 30);
  const csum = read16(b, off + 6);
  const udp = csum === 0 ? 'none'
    : csum === computeUdpChecksum(b, off, src, dst) ? 'full'
    : csum === partialChecksum(src, dst, 17, read16(b, off + 4)) ? 'partial'
    : 'bad';
  return `ip=${ip} udp=${udp} ${formatIpv4(src)}>${formatIpv4(dst)}`;
}

/**
 * A connection's backend, and whether it is that backend's first: the first
 * packet to echo-a is DNATed on n1's bridge before n1 has a neighbour entry
 * for it, so it is sent by the bridge device (seen on n1/cni0 "out") after ARP
 * (br_nf_pre_routing_finish_bridge -> neigh output); later ones are bridged.
 */
function connectionClasses(backends: Map<number, string>, ports: number[]): Map<number, string> {
  const seen = new Set<string>();
  const out = new Map<number, string>();
  for (const port of ports) {
    const b = backends.get(port)!;
    out.set(port, `${b} ${seen.has(b) ? 'later' : 'first'}`);
    seen.add(b);
  }
  return out;
}

/** Frames of one client connection at every point, the client port written as 0 (comparable across connections). */
function connectionView(frames: Map<string, NormalisedFrame[]>, port: number): string {
  const lines: string[] = [];
  for (const point of [...frames.keys()].sort()) {
    const own = frames.get(point)!.filter((f) => f.udp !== undefined && (f.udp.srcPort === port || f.udp.dstPort === port));
    for (const f of own) {
      const c = structuredClone(f);
      if (c.udp!.srcPort === port) c.udp!.srcPort = 0;
      if (c.udp!.dstPort === port) c.udp!.dstPort = 0;
      lines.push(`${point}: ${summariseFrame(c)}`);
    }
  }
  return lines.join('\n');
}

/**
 * Each point's frames grouped by client connection (other frames, ARP, first;
 * then connection by connection in port order), each group in capture order.
 * The scenario's connections overlap (connection k's second request goes out
 * when connection k+1's first does), and which of two simultaneous sends the
 * kernel captures first is a race; within a connection the order is causal.
 */
function groupedByConnection(frames: Map<string, NormalisedFrame[]>, ports: number[]): Map<string, NormalisedFrame[]> {
  const keyOf = (f: NormalisedFrame) => ports.findIndex((p) => f.udp !== undefined && (f.udp.srcPort === p || f.udp.dstPort === p));
  return new Map([...frames].map(([point, list]) => {
    const order = list.map((f, i) => ({ f, i, k: keyOf(f) }));
    order.sort((a, b) => a.k - b.k || a.i - b.i);
    return [point, order.map((o) => o.f)];
  }));
}

async function inTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

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
  return { raw, frames, saves, backends: backendsByClientPort(frames), flows: results.flows as Array<{ name: string; sent: number; received: number }> };
}

describe.skipIf(!pre.ok)('podwire kube-proxy (cluster-services, UDP ClusterIP) reproduces the kernel', () => {
  afterEach(() => {
    expect(listOwnNamespaces()).toEqual([]);
  });
  afterAll(() => {
    deleteOwnNamespaces();
  });

  const spec = pre.ok ? udpClusterServices() : undefined;
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
      for (const f of kernel.traffic.flows) {
        expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
        expect((JSON.parse(f.output) as { received: number }).received, f.name).toBe(podwire.flows.find((p) => p.name === f.name)!.sent);
      }
      expect(backendsByClientPort(kernel.frames)).toEqual(podwire.backends);

      // Frame by frame at every capture point: DNAT at the backend, un-DNAT at the client, TTLs, MACs, ARP.
      const frames = compareCapturePoints(groupedByConnection(kernel.frames, ports), groupedByConnection(podwire.frames, ports), { ephemeralPorts: 'exact' });
      expect(frames.text, `podwire's frames differ from the kernel's (${backend})`).toBe('');
      const client = podwire.frames.get('n1/client/eth0')!.filter((f) => f.udp !== undefined);
      expect(client.filter((f) => f.dir === 'in').every((f) => f.ipv4?.src === VIP && f.udp?.srcPort === 80)).toBe(true);
      expect(client.length).toBe(24);

      // Checksums. The kernel's veths offload them: its captures hold CHECKSUM_PARTIAL's
      // pseudo-header sum, rewritten by NAT for the new addresses. podwire models no offload
      // and writes the full sum (as a tshark-valid capture needs), also after DNAT/un-DNAT.
      const kinds = (raw: Map<string, Raw[]>) => [...raw].flatMap(([point, l]) => l.map((f) => checksumKinds(f.data)).filter((k) => k !== '').map((k) => `${point} ${k}`));
      const podwireKinds = kinds(podwire.raw);
      const kernelKinds = kinds(new Map([...kernel.captures].map(([p, l]) => [p, l.map((f) => ({ data: f.data, dir: f.dir }))])));
      expect(podwireKinds.length).toBe(kernelKinds.length);
      expect(podwireKinds.filter((k) => !/ip=ok udp=full /.test(k)), 'podwire frames without a valid full checksum').toEqual([]);
      expect(kernelKinds.filter((k) => !/ip=ok udp=(full|partial) /.test(k)), 'kernel frames with a bad checksum').toEqual([]);

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
      const chosen = backendsByClientPort(kernel.frames);
      expect([...chosen.keys()].sort()).toEqual(ports);
      for (const [port, cls] of connectionClasses(chosen, ports)) {
        expect(connectionView(kernel.frames, port), `kernel connection from port ${port} (${cls}), client port shown as 0`).toBe(reference.get(cls));
      }
    });
  });
});
