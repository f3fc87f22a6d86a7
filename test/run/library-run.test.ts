import { describe, expect, test, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listScenarios, resolveScenario } from '../../scenarios/library.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { checkCaptureWithTshark, tsharkPath } from '../helpers/tshark.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-library-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const scenarios = listScenarios().map((e) => e.name);

function runInto(name: string, dir: string) {
  return runTopology(expandScenario(resolveScenario(name)), { outDir: dir });
}

describe('every ready scenario', () => {
  test('the library has the four seed cases', () => {
    expect(scenarios).toEqual(expect.arrayContaining(['localhost', 'docker-bridge', 'same-node', 'cross-node']));
  });

  test.each(scenarios)('%s: every flow gets all its answers and nothing is dropped', (name) => {
    const r = runInto(name, join(work, `flows-${name}`));
    expect(r.results.flows.length).toBeGreaterThan(0);
    for (const f of r.results.flows as { name: string; sent: number; received: number; errors: object }[]) {
      expect(f.sent, f.name).toBeGreaterThan(0);
      expect(f.received, f.name).toBe(f.sent);
      expect(f.errors, f.name).toEqual({});
    }
    expect(r.results.drops).toEqual({});
  });

  test.each(scenarios)('%s: the same seed gives byte-identical captures and results', (name) => {
    const a = join(work, `det-a-${name}`);
    const b = join(work, `det-b-${name}`);
    runInto(name, a);
    runInto(name, b);
    const files = readdirSync(join(a, 'captures')).sort();
    expect(readdirSync(join(b, 'captures')).sort()).toEqual(files);
    for (const f of files) {
      expect(readFileSync(join(b, 'captures', f)).equals(readFileSync(join(a, 'captures', f))), f).toBe(true);
    }
    expect(readFileSync(join(b, 'results.json'), 'utf8')).toBe(readFileSync(join(a, 'results.json'), 'utf8'));
  });
});

const tshark = tsharkPath();
if (tshark === null) console.warn('SKIP tshark checks of the ready scenarios: tshark is not installed (CI installs it with apt-get)');

describe.skipIf(tshark === null)('tshark reads every capture of every ready scenario cleanly', () => {
  test.each(scenarios)('%s', async (name) => {
    const r = runInto(name, join(work, `tshark-${name}`));
    let frames = 0;
    for (const [point, file] of r.captureFiles) {
      const check = await checkCaptureWithTshark(file);
      expect(check.problems, `${name} ${point}`).toEqual([]);
      frames += check.frames;
    }
    expect(frames).toBe(r.results.framesCaptured);
    expect(frames).toBeGreaterThan(0);
  });
});

/**
 * The statistics of every ready scenario with its fixed seed, as a snapshot
 * (test/run/__snapshots__/<scenario>.stats.json): a change in what a scenario
 * measures shows up here and must be accepted on purpose (vitest -u).
 */
describe('the statistics of every ready scenario', () => {
  test.each(scenarios)('%s', async (name) => {
    const r = runInto(name, join(work, `stats-${name}`)).results;
    type Row = { name: string; sent: number; received: number; lost: number; latencyNs: Record<string, number> | null; tcp?: { connected: number; retransmits: number } };
    const stats = {
      seed: r.seed,
      events: r.events,
      frameHops: r.frameHops,
      framesCaptured: r.framesCaptured,
      flows: (r.flows as Row[]).map((f) => ({
        name: f.name,
        sent: f.sent,
        received: f.received,
        lost: f.lost,
        latencyNs: f.latencyNs === null ? null : { min: f.latencyNs.min, p50: f.latencyNs.p50, p99: f.latencyNs.p99, max: f.latencyNs.max },
        ...(f.tcp !== undefined ? { connected: f.tcp.connected, retransmits: f.tcp.retransmits } : {}),
      })),
      classes: (r.classes as { class: string; flows: number }[]).map((c) => `${c.class} (${c.flows})`),
      drops: r.drops,
    };
    await expect(JSON.stringify(stats, null, 1) + '\n').toMatchFileSnapshot(`__snapshots__/${name}.stats.json`);
  });
});
