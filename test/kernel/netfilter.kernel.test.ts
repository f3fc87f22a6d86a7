/**
 * podwire's netfilter against the kernel's: scenarios with iptables rules
 * (a Service DNAT to two backends with masquerade; Docker port publishing;
 * and two fixtures in ./scenarios for what those leave out: a Service reached
 * from a node process, published ports that are rejected or dropped) run in
 * podwire and for real in network namespaces. Every capture point must hold
 * the same frames, every flow the same number of answers, and every rule and
 * chain policy the same [packets:bytes] in `iptables-save -c` after the same
 * traffic. Backend choices are pinned with `-m statistic --mode nth`, so both
 * sides are deterministic.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { compareCounters, parseSaveCounters } from './iptables-counters.js';
import { netfilterPrerequisites, runOnKernelDetailed } from './kernel-harness.js';
import { namespacesWithRules } from './kernel-iptables.js';
import type { FlowOutcome } from './kernel-traffic.js';
import { compareCapturePoints, type NormalisedFrame, normaliseFrame } from './normalise.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');

const CASES: Array<{ name: string; path: () => string }> = [
  { name: 'service-nat', path: () => resolveScenarioPath('service-nat') },
  { name: 'docker-publish', path: () => resolveScenarioPath('docker-publish') },
  { name: 'service-nat-from-node', path: () => join(FIXTURES, 'service-nat-from-node.yaml') },
  { name: 'docker-publish-rejects', path: () => join(FIXTURES, 'docker-publish-rejects.yaml') },
];

const pre = netfilterPrerequisites();
if (!pre.ok) console.warn(`[kernel netfilter comparison] skipped: ${pre.reason}`);

function readPodwireCaptures(files: Map<string, string>): Map<string, NormalisedFrame[]> {
  const out = new Map<string, NormalisedFrame[]>();
  for (const [point, file] of files) out.set(point, readCapture(file).packets.map((p) => normaliseFrame(p.data, p.direction)));
  return out;
}

/** Answers a kernel flow got: the UDP agent's {"received"}, or ping's "N received". */
function kernelReceived(f: FlowOutcome): number {
  if (f.kind === 'udp') return (JSON.parse(f.output) as { received: number }).received;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(f.output);
  if (m === null) throw new Error(`${f.name}: no ping summary in ${JSON.stringify(f.output)}`);
  return Number(m[2]);
}

interface PodwireFlow {
  name: string;
  sent: number;
  received: number;
  errors: Record<string, number>;
}

async function inTempDir<T>(prefix: string, fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!pre.ok)('podwire netfilter reproduces the kernel: frames, answers and rule counters', () => {
  expectNamespacesCleanedUp();

  it.each(CASES)('$name', async ({ name, path }) => {
    const spec = expandScenario(loadScenarioFile(path()));
    const ruled = namespacesWithRules(spec);
    expect(ruled.length).toBeGreaterThan(0);
    await inTempDir(`pwk-podwire-${name}-`, async (outDir) => {
      const { captureFiles, world, results } = runTopology(spec, { outDir });
      const podwire = readPodwireCaptures(captureFiles);
      const kernel = await runOnKernelDetailed(spec);
      const backend = `iptables ${kernel.iptablesBackend}`;

      // The same answers per flow, and some at all (the rules really lead somewhere).
      const podwireFlows = new Map((results.flows as PodwireFlow[]).map((f) => [f.name, f]));
      let answered = 0;
      for (const f of kernel.traffic.flows) {
        expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
        const received = kernelReceived(f);
        expect(podwireFlows.get(f.name)?.received, `answers of "${f.name}" (kernel: ${f.output})`).toBe(received);
        answered += received;
      }
      expect(answered).toBeGreaterThan(0);

      const frames = compareCapturePoints(kernel.frames, podwire);
      expect(frames.text, `podwire's frames differ from the kernel's in ${name} (${backend})`).toBe('');

      for (const ns of ruled) {
        const kernelSave = kernel.counters.get(ns);
        expect(kernelSave, `iptables-save -c of ${ns}`).toBeDefined();
        const podwireSave = world.namespaces.get(ns)!.netfilter!.iptables.save({ counters: true });
        const k = parseSaveCounters(kernelSave!, `kernel ${ns}`);
        const p = parseSaveCounters(podwireSave, `podwire ${ns}`);
        // Guard against comparing two rule sets that saw nothing.
        expect([...k.values()].some((c) => c.index > 0 && c.packets > 0n), `${ns}: no kernel rule counted a packet`).toBe(true);
        const counters = compareCounters(k, p);
        expect(counters.text, `${ns}: rule counters differ (${backend})\n--- kernel\n${kernelSave}\n--- podwire\n${podwireSave}`).toBe('');
        expect(counters.compared).toBeGreaterThan(0);
      }
    });
  });
});

/**
 * What the fixtures showed podwire getting wrong before, checked on podwire
 * alone (no root needed); the comparison above is what pins them to the kernel.
 */
describe('podwire answers NATed traffic as the kernel does (fixtures of the comparison)', () => {
  it('an ICMP error about a DNATed datagram quotes the address the sender used, even if REJECT stopped it before confirmation', async () => {
    const spec = expandScenario(loadScenarioFile(join(FIXTURES, 'docker-publish-rejects.yaml')));
    await inTempDir('pwk-podwire-rejects-', (outDir) => {
      const { captureFiles } = runTopology(spec, { outDir });
      const frames = readCapture(captureFiles.get('client/eth0')!).packets.map((p) => normaliseFrame(p.data, p.direction));
      const errors = frames.filter((f) => f.icmp?.type === 3);
      // nothing on 81 (port unreachable from the container), INPUT REJECT, DOCKER-USER REJECT (host prohibited): 2 each.
      expect(errors.map((f) => f.icmp!.code).sort((a, b) => a - b)).toEqual([3, 3, 3, 3, 10, 10]);
      for (const f of errors) {
        expect(f.ipv4?.src).toBe('192.168.1.10');
        expect(f.icmp?.quoted).toEqual({ src: '192.168.1.11', dst: '192.168.1.10', protocol: 17 });
      }
    });
  });

  it('a node process sending to a Service VIP is routed again after DNAT in OUTPUT', async () => {
    const spec = expandScenario(loadScenarioFile(join(FIXTURES, 'service-nat-from-node.yaml')));
    await inTempDir('pwk-podwire-from-node-', (outDir) => {
      const { results } = runTopology(spec, { outDir });
      for (const f of results.flows as PodwireFlow[]) expect([f.name, f.received, f.errors]).toEqual([f.name, f.sent, {}]);
      expect(results.drops).toEqual({});
    });
  });
});
