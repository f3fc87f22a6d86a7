import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenario } from '../../scenarios/library.js';
import { runTopology } from '../../scenarios/run.js';
import { formatResults, type Results } from '../../scenarios/results.js';

describe('results.json', () => {
  it('is the results, indented, with each device on one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-results-'));
    try {
      const { results, resultsFile } = runTopology(expandScenario(resolveScenario('cross-node')), { outDir: dir });
      const text = readFileSync(resultsFile, 'utf8');
      expect(text).toBe(formatResults(results));
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(results)));
      const devices = Object.keys(results.devices);
      expect(devices.length).toBeGreaterThan(5);
      // One line per device, as `"<path>": {...}`, and nothing else between the braces.
      const block = text.slice(text.indexOf('  "devices": {\n') + '  "devices": {\n'.length, text.lastIndexOf('\n  }\n}'));
      expect(block.split('\n').map((l) => JSON.parse(`{${l.replace(/,$/, '')}}`))).toEqual(devices.map((d) => ({ [d]: results.devices[d] })));
      // The rest is JSON.stringify's indentation.
      const { devices: _, ...rest } = results;
      expect(text.startsWith(JSON.stringify(rest, null, 2).slice(0, -2))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes no devices as {}', () => {
    const r = { scenario: 's', seed: 1, durationNs: 0, events: 0, frameHops: 0, framesCaptured: 0, flows: [], classes: [], drops: {}, conntrack: {}, devices: {} } satisfies Results;
    expect(formatResults(r)).toBe(JSON.stringify(r, null, 2) + '\n');
  });
});
