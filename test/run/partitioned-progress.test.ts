/**
 * A run on worker threads tells its progress: the main thread, which only
 * waits, reads the partitions' clock off the window barrier.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { packageRoot } from '../../scenarios/package-root.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-progress-run-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DURATION_NS = 100_000_000;
// About a second of run on 2 workers: several of the 100 ms polls.
const text = `
name: progress
duration: 100ms
scale: { nodes: 20, podsPerNode: 10 }
traffic:
  - udpAll: { pattern: cross-node, count: 200, rate: 2000, requestSize: 64, responseSize: 64 }
capture: none
`;

describe('progress of a run on worker threads', () => {
  const built = existsSync(join(packageRoot(), 'dist', 'scenarios', 'partition-worker.js'));
  if (!built) console.warn('partitioned-progress.test: dist/ is not built (npm run build), so the worker-thread run is skipped');
  it.skipIf(!built)('is a simulated clock and an event count that only grow, within the run', async () => {
    const calls: [number, number][] = [];
    const r = await runPartitioned(expandScenario(parseScenario(text, 'progress.yaml')), {
      outDir: join(work, 'out'),
      workers: 2,
      onProgress: (ns, events) => calls.push([ns, events]),
    });
    expect(r.plan.parts).toBe(2);
    expect(calls.length).toBeGreaterThan(1);
    for (const [ns, events] of calls) {
      expect(ns >= 0 && ns <= DURATION_NS, String(ns)).toBe(true);
      expect(events).toBeLessThanOrEqual(r.results.events);
    }
    for (let i = 1; i < calls.length; i++) {
      expect(calls[i]![0]).toBeGreaterThanOrEqual(calls[i - 1]![0]);
      expect(calls[i]![1]).toBeGreaterThanOrEqual(calls[i - 1]![1]);
    }
    // Both moved while the workers ran.
    expect(calls.some(([ns]) => ns > 0 && ns < DURATION_NS)).toBe(true);
    expect(calls.some(([, events]) => events > 0 && events < r.results.events)).toBe(true);
  });
});
