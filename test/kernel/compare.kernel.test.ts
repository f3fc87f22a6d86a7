/**
 * podwire against the kernel: the library scenarios are expanded, run in
 * podwire (pcapng per capture point) and built and run for real in network
 * namespaces; every capture point must hold the same frames in the same order
 * (normalise.ts says which fields count).
 *
 * The scenario pipeline is loaded with dynamic import() so this file (and the
 * rest of the suite) loads even while those modules are being written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
// Type-only: erased at run time, so a module that fails to load fails only the tests below.
import type * as Expand from '../../scenarios/expand.js';
import type * as Library from '../../scenarios/library.js';
import type * as Loader from '../../scenarios/loader.js';
import type * as Run from '../../scenarios/run.js';
import { kernelPrerequisites, runOnKernel } from './kernel-harness.js';
import { deleteOwnNamespaces, listOwnNamespaces } from './netns-topology.js';
import { compareCapturePoints, type NormalisedFrame, normaliseFrame } from './normalise.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison] skipped: ${pre.reason}`);

/** The scenario pipeline: library name -> file -> Scenario -> TopologySpec -> podwire run with captures. */
interface ScenarioPipeline {
  resolveScenarioPath: typeof Library.resolveScenarioPath;
  loadScenarioFile: typeof Loader.loadScenarioFile;
  expandScenario: typeof Expand.expandScenario;
  runTopology: typeof Run.runTopology;
}

/** Specifiers in variables: resolved when the test runs, not when the file is transformed. */
const MODULES = {
  library: '../../scenarios/library.js',
  loader: '../../scenarios/loader.js',
  expand: '../../scenarios/expand.js',
  run: '../../scenarios/run.js',
};

async function loadPipeline(): Promise<ScenarioPipeline> {
  const library = (await import(/* @vite-ignore */ MODULES.library)) as typeof Library;
  const loader = (await import(/* @vite-ignore */ MODULES.loader)) as typeof Loader;
  const expand = (await import(/* @vite-ignore */ MODULES.expand)) as typeof Expand;
  const run = (await import(/* @vite-ignore */ MODULES.run)) as typeof Run;
  return {
    resolveScenarioPath: library.resolveScenarioPath,
    loadScenarioFile: loader.loadScenarioFile,
    expandScenario: expand.expandScenario,
    runTopology: run.runTopology,
  };
}

/** podwire's pcapng files (one interface each, epb_flags direction) as normalised frames per point. */
function readPodwireCaptures(files: Map<string, string>): Map<string, NormalisedFrame[]> {
  const out = new Map<string, NormalisedFrame[]>();
  for (const [point, file] of files) {
    out.set(point, readCapture(file).packets.map((p) => normaliseFrame(p.data, p.direction)));
  }
  return out;
}

describe.skipIf(!pre.ok)('podwire reproduces the kernel, capture point by capture point', () => {
  afterEach(() => {
    expect(listOwnNamespaces()).toEqual([]);
  });
  afterAll(() => {
    deleteOwnNamespaces();
  });

  it.each(['same-node', 'cross-node'])('%s', async (name) => {
    const pipeline = await loadPipeline();
    const spec = pipeline.expandScenario(pipeline.loadScenarioFile(pipeline.resolveScenarioPath(name)));
    expect(spec.captures.length).toBeGreaterThan(0);
    const outDir = await mkdtemp(join(tmpdir(), `pwk-podwire-${name}-`));
    try {
      const { captureFiles } = pipeline.runTopology(spec, { outDir });
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
