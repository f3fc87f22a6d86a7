/**
 * podwire against the kernel: the library scenarios are expanded, run in
 * podwire (pcapng per capture point) and built and run for real in network
 * namespaces; every capture point must hold the same frames in the same order
 * (normalise.ts says which fields count).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { kernelPrerequisites, runOnKernel } from './kernel-harness.js';
import { compareCapturePoints, type NormalisedFrame, normaliseFrame } from './normalise.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison] skipped: ${pre.reason}`);

/** podwire's pcapng files (one interface each, epb_flags direction) as normalised frames per point. */
function readPodwireCaptures(files: Map<string, string>): Map<string, NormalisedFrame[]> {
  const out = new Map<string, NormalisedFrame[]>();
  for (const [point, file] of files) {
    out.set(point, readCapture(file).packets.map((p) => normaliseFrame(p.data, p.direction)));
  }
  return out;
}

describe.skipIf(!pre.ok)('podwire reproduces the kernel, capture point by capture point', () => {
  expectNamespacesCleanedUp();

  it.each(['same-node', 'cross-node', 'docker-bridge', 'localhost'])('%s', async (name) => {
    const spec = expandScenario(loadScenarioFile(resolveScenarioPath(name)));
    expect(spec.captures.length).toBeGreaterThan(0);
    const outDir = await mkdtemp(join(tmpdir(), `pwk-podwire-${name}-`));
    try {
      const { captureFiles } = runTopology(spec, { outDir });
      const podwire = readPodwireCaptures(captureFiles);
      const kernel = await runOnKernel(spec);
      // Guard against comparing two empty runs.
      expect([...kernel.values()].some((frames) => frames.length > 0)).toBe(true);
      const result = compareCapturePoints(kernel, podwire);
      expect(result.text, `podwire differs from the kernel in ${name}`).toBe('');
      expect(result.equal).toBe(true);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  });
});
