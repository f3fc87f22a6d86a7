/**
 * podwire against the kernel: the library scenarios are expanded, run in
 * podwire (pcapng per capture point) and built and run for real in network
 * namespaces; every capture point must hold the same frames in the same order
 * (normalise.ts says which fields count).
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { kernelPrerequisites, tunnelPrerequisites } from './kernel-harness.js';
import { compareWithKernel } from './compare-spec.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison] skipped: ${pre.reason}`);
const vxlan = pre.ok ? tunnelPrerequisites('vxlan') : pre;
if (pre.ok && !vxlan.ok) console.warn(`[kernel comparison] flannel-vxlan skipped: ${vxlan.reason}`);

async function expectSameAsKernel(name: string): Promise<void> {
  const spec = expandScenario(loadScenarioFile(resolveScenarioPath(name)));
  expect(spec.captures.length).toBeGreaterThan(0);
  const result = await compareWithKernel(spec);
  // Guard against comparing two empty runs.
  expect([...result.kernel.values()].some((frames) => frames.length > 0)).toBe(true);
  expect(result.text, `podwire differs from the kernel in ${name}`).toBe('');
  expect(result.equal).toBe(true);
}

describe.skipIf(!pre.ok)('podwire reproduces the kernel, capture point by capture point', () => {
  expectNamespacesCleanedUp();

  it.each(['same-node', 'cross-node', 'docker-bridge', 'localhost', 'cni-bridge'])('%s', expectSameAsKernel);

  // flannel.1 on both nodes, its FDB and neighbours as flanneld writes them; the outer frames on
  // the underlay and the inner ones on flannel.1 (VXLAN source ports aside: normalise.ts).
  it.skipIf(!vxlan.ok)('flannel-vxlan', () => expectSameAsKernel('flannel-vxlan'));
});
