import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';
import { ScenarioError } from '../../scenarios/errors.js';
import { parseScenario } from '../../scenarios/loader.js';
import type { Scenario } from '../../scenarios/scenario.js';

/** A temporary folder for one test file, removed after it. */
export function workDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `podwire-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (path -> text) under `dir` and parses `scenario` as dir/s.yaml. */
export function load(dir: string, scenario: string, files: Record<string, string>): Scenario {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return parseScenario(scenario, join(dir, 's.yaml'));
}

/** The error lines of a failing load (`file:line:col: path: problem`), relative to `dir`. */
export function errorsOf(dir: string, scenario: string, files: Record<string, string>): string[] {
  try {
    load(dir, scenario, files);
  } catch (e) {
    if (e instanceof ScenarioError) return e.message.split('\n').map((l) => l.replaceAll(`${dir}/`, ''));
    throw e;
  }
  throw new Error('the scenario loaded without errors');
}

/** Two nodes and a manifests list; `extra` is appended. */
export function twoNodes(manifests: string[], extra = ''): string {
  return `name: t\nduration: 1s\nnodes:\n  - name: n1\n  - name: n2\nmanifests: [${manifests.join(', ')}]\n${extra}`;
}
