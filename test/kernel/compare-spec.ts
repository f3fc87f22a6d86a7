/**
 * One comparison of podwire against the kernel: the expanded scenario is run
 * in podwire (a pcapng per capture point) and built and run for real in
 * network namespaces; the result says, point by point, where the frames
 * differ (normalise.ts says which fields count).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCapture } from '../../models/capture/index.js';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { runOnKernel } from './kernel-harness.js';
import { type CompareOptions, compareCapturePoints, type NormalisedFrame, normaliseFrame } from './normalise.js';

export interface SpecComparison {
  /** The kernel's frames per capture point (normalised). */
  kernel: Map<string, NormalisedFrame[]>;
  /** Empty when every capture point holds the same frames in the same order. */
  text: string;
  equal: boolean;
}

export async function compareWithKernel(spec: TopologySpec, options: CompareOptions = {}): Promise<SpecComparison> {
  const outDir = await mkdtemp(join(tmpdir(), `pwk-podwire-${spec.name}-`));
  try {
    const { captureFiles } = runTopology(spec, { outDir });
    const podwire = new Map<string, NormalisedFrame[]>();
    for (const [point, file] of captureFiles) podwire.set(point, readCapture(file).packets.map((p) => normaliseFrame(p.data, p.direction)));
    const kernel = await runOnKernel(spec);
    const result = compareCapturePoints(kernel, podwire, options);
    return { kernel, text: result.text, equal: result.equal };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
