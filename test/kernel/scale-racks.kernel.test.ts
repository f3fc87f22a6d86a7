/**
 * A generated cluster in racks (`scale.nodesPerRack`) against the kernel:
 * four nodes in two racks, each rack a bridge without an address, a router
 * namespace between them, built for real in network namespaces. Every
 * capture point (pods, veths, bridges, node NICs, the switches' ports and the
 * router's) must hold the same frames in the same order: the ARP each node
 * and the router send, the TTLs within and across racks, the MACs rewritten
 * at the router. Once with the default peers (one flow in two crosses a rack)
 * and once with nodeStride 2 (every flow does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { kernelPrerequisites, runOnKernel } from './kernel-harness.js';
import { compareCapturePoints, type NormalisedFrame, normaliseFrame } from './normalise.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison, scale racks] skipped: ${pre.reason}`);

const scenario = (stride: string) => `name: scale-racks
duration: 1s
underlay: { cidr: 192.168.10.0/24 }
scale: { nodes: 4, podsPerNode: 1, nodesPerRack: 2 }
traffic:
  - pingAll: { pattern: cross-node, count: 2, interval: 200ms${stride} }
capture: all
`;

describe.skipIf(!pre.ok)('a racked generated cluster reproduces the kernel, capture point by capture point', () => {
  expectNamespacesCleanedUp();

  it.each([
    ['next node', ''],
    ['nodeStride 2', ', nodeStride: 2'],
  ])('%s', async (_what, stride) => {
    const spec = expandScenario(parseScenario(scenario(stride), 'scale-racks.yaml'));
    expect(spec.namespaces.filter((n) => n.kind === 'underlay').map((n) => n.name)).toEqual(['underlay-rack-1', 'underlay-rack-2', 'router']);
    const outDir = await mkdtemp(join(tmpdir(), 'pwk-podwire-scale-racks-'));
    try {
      const { captureFiles } = runTopology(spec, { outDir });
      const podwire = new Map<string, NormalisedFrame[]>();
      for (const [point, file] of captureFiles) podwire.set(point, readCapture(file).packets.map((p) => normaliseFrame(p.data, p.direction)));
      const kernel = await runOnKernel(spec);
      // The router forwarded something: the comparison is not of two quiet networks.
      expect(kernel.get('router/rack-2')!.length).toBeGreaterThan(0);
      const result = compareCapturePoints(kernel, podwire);
      expect(result.text, 'podwire differs from the kernel').toBe('');
      expect(result.equal).toBe(true);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});
