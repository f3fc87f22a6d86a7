/**
 * `npm run build` precompiles the scenario schema (scenarios/validator-build.ts)
 * so that a process does not spend ~100 ms compiling it. The precompiled
 * validator must accept and reject exactly what the one compiled at run time
 * does, with the same errors (every message of ours is made from them), and
 * must be used only while it was made from the schema on disk.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { listScenarios } from '../../scenarios/library.js';
import { compileValidator, loadPrecompiled, schemaDigest, schemaPath } from '../../scenarios/schema-check.js';
import { precompiledValidator } from '../../scenarios/validator-build.js';

const schemaText = readFileSync(schemaPath(), 'utf8');
// Inside the project, as dist/ is: the module requires ajv's runtime from where it lies.
const cache = fileURLToPath(new URL('../../node_modules/.cache/podwire-tests/', import.meta.url));
mkdirSync(cache, { recursive: true });
const work = mkdtempSync(join(cache, 'validator-'));
const file = pathToFileURL(join(work, 'scenario-validator.cjs'));
writeFileSync(file, precompiledValidator(schemaText));

/** Broken documents, each failing a different kind of rule. */
const broken: unknown[] = [
  { name: 'x', nodes: [{ name: 'n1', podCidr: '10.0.0.0/24' }] },
  { name: 'x', nodes: [{ name: 'N1' }] },
  { name: 'x', nodes: [{ name: 'n1', tcp: { sack: 'off', wmem: [1, 2] } }] },
  { name: 'x', nodes: [{ name: 'n1' }], tcp: { congestionControl: 'bbr' }, duration: '2 sec' },
  { name: 'x', nodes: [{ name: 'n1', pods: [{ name: 'p1', ip: '10.0.0.300' }] }], traffic: [{ ping: { from: 'n1/p1' } }] },
  { name: 'x', nodes: [{ name: 'n1' }], capture: 'some', underlay: { bandwidth: 'fast' } },
  { name: 'x', scale: { nodes: 0, podsPerNode: 'many' } },
  { nodes: 'n1' },
  [],
];

describe('the precompiled scenario validator', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const runtime = compileValidator(schemaText).validate;
  const precompiled = loadPrecompiled(file, schemaDigest(schemaText))!;

  it('is loaded when made from this schema', () => {
    expect(typeof precompiled).toBe('function');
  });

  it('accepts every library scenario and rejects the broken ones with the same errors as ajv at run time', () => {
    const docs = [...listScenarios().map((e) => YAML.parse(readFileSync(e.path, 'utf8')) as unknown), ...broken];
    for (const doc of docs) {
      const a = runtime(doc);
      const aErrors = JSON.stringify(runtime.errors);
      const b = precompiled(doc);
      expect(b, JSON.stringify(doc).slice(0, 80)).toBe(a);
      expect(JSON.stringify(precompiled.errors)).toBe(aErrors);
    }
    expect(broken.every((d) => !runtime(d))).toBe(true);
  });

  it('is ignored when made from another schema, or missing', () => {
    expect(loadPrecompiled(file, schemaDigest(`${schemaText} `))).toBeUndefined();
    expect(loadPrecompiled(pathToFileURL(join(work, 'absent.cjs')), schemaDigest(schemaText))).toBeUndefined();
  });
});
