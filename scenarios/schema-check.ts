/**
 * Structural validation against scenario.schema.json with ajv (all errors at
 * once), turning ajv's errors into the project's messages: a field path such as
 * `nodes[1].podCIDR`, a problem worded for someone editing YAML, and where to
 * point in the file (the value, the offending key, or the enclosing mapping).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Types only: ajv itself (~25 ms to load) is required where a schema is compiled,
// which a run with the precompiled validator never does.
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { type PathSegment, listAlternatives } from './errors.js';
import { scenariosDir } from './package-root.js';
import { closestMatch } from './suggest.js';

/** A problem before it is given a file position. */
export interface Issue {
  path: PathSegment[];
  message: string;
  /** Where to point in the file when it is not `path` itself. */
  anchor?: { path: PathSegment[]; key?: boolean };
}

export function schemaPath(): string {
  return join(scenariosDir(), 'scenario.schema.json');
}

/**
 * The validator `npm run build` precompiles (scenarios/validator-build.ts),
 * next to this module in dist/: compiling the schema takes ajv 100-130 ms, a
 * quarter of a small `podwire run`, in every process and worker thread.
 */
export const PRECOMPILED_VALIDATOR = 'scenario-validator.cjs';

let validator: ValidateFunction | undefined;

/** The compiled schema: the precompiled one when it was built from this very schema, else compiled here (once per process). */
export function scenarioValidator(): ValidateFunction {
  if (validator) return validator;
  const text = readFileSync(schemaPath(), 'utf8');
  validator = loadPrecompiled(new URL(PRECOMPILED_VALIDATOR, import.meta.url), schemaDigest(text)) ?? compileValidator(text).validate;
  return validator;
}

/** ajv with the options every validator of ours is compiled with; `source` keeps the code for precompiling. */
export function compileValidator(schemaText: string, source = false): { ajv: Ajv2020; validate: ValidateFunction } {
  // The named export: it is the class whether the module is seen as CommonJS or not.
  const { Ajv2020: Ajv } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, ...(source ? { code: { source: true } } : {}) });
  // The editors' (VS Code / yaml-language-server) message for a failed pattern;
  // an annotation for ajv. Our own messages come from PATTERN_MESSAGES below.
  ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
  return { ajv, validate: ajv.compile(JSON.parse(schemaText)) };
}

/** What a precompiled validator records of the schema it was made from. */
export function schemaDigest(schemaText: string): string {
  return createHash('sha256').update(schemaText).digest('hex');
}

/** The validator at `file` if it exists and was made from the schema with `digest`; undefined otherwise (a stale or missing build). */
export function loadPrecompiled(file: URL, digest: string): ValidateFunction | undefined {
  if (!existsSync(file)) return undefined;
  const mod = createRequire(import.meta.url)(fileURLToPath(file)) as { default: ValidateFunction; schemaDigest?: string };
  return mod.schemaDigest === digest ? mod.default : undefined;
}

/**
 * Messages for a failed `pattern`, keyed by the schema location that holds it
 * (the $defs name, or the property name for an inline pattern). Every pattern in
 * the schema has an entry here (test/scenarios/schema.test.ts checks it).
 */
export const PATTERN_MESSAGES: Record<string, (value: string) => string> = {
  name: (v) =>
    `invalid name ${JSON.stringify(v)} (a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit)`,
  ifname: (v) => `invalid interface name ${JSON.stringify(v)} (1 to 15 characters, no "/", ":" or whitespace)`,
  ipv4: (v) => `invalid IPv4 address ${JSON.stringify(v)} (expected a dotted quad, e.g. 10.244.1.2)`,
  cidr: (v) => `invalid CIDR ${JSON.stringify(v)} (expected e.g. 10.244.0.0/16)`,
  // The same words as engine/time.ts parseDuration.
  duration: (v) => `invalid duration ${JSON.stringify(v)} (expected e.g. 2s, 200ms, 50us, 100ns)`,
  bandwidth: (v) => `invalid bandwidth ${JSON.stringify(v)} (expected e.g. 10Gbit, 100Mbit, 1Gbps or a number of bit/s)`,
  endpoint: (v) => `invalid endpoint ${JSON.stringify(v)} (expected node, node/pod or node/pod/container)`,
  destination: (v) =>
    `invalid destination ${JSON.stringify(v)} (expected node, node/pod, node/pod/container, an IPv4 address or localhost)`,
  capturePoint: (v) => `invalid capture point ${JSON.stringify(v)} (expected "<namespace>/<interface>", e.g. n1/p1/eth0)`,
  capture: (v) => `invalid value ${JSON.stringify(v)} (expected all, none or a list of capture points)`,
};

/** Validates parsed data against the schema; [] when it conforms. */
export function checkSchema(data: unknown): Issue[] {
  const validate = scenarioValidator();
  if (validate(data)) return [];
  return (validate.errors ?? []).map(toIssue);
}

function toIssue(err: ErrorObject): Issue {
  const path = pointerToPath(err.instancePath);
  const value: unknown = err.data;
  const parent = err.parentSchema as { properties?: Record<string, unknown> } | undefined;
  switch (err.keyword) {
    case 'additionalProperties': {
      const key = (err.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys(parent?.properties ?? {});
      const guess = closestMatch(key, known);
      const hint = guess ? `did you mean ${JSON.stringify(guess)}?` : `expected ${listAlternatives(known)}`;
      return { path, message: `unknown key ${JSON.stringify(key)} (${hint})`, anchor: { path: [...path, key], key: true } };
    }
    case 'required': {
      const missing = (err.params as { missingProperty: string }).missingProperty;
      return { path: [...path, missing], message: 'is required', anchor: { path } };
    }
    case 'type': {
      const expected = String((err.params as { type: string | string[] }).type).split(',');
      return { path, message: `must be ${listAlternatives(expected.map(typeName))} (got ${describe(value)})` };
    }
    case 'enum': {
      const allowed = (err.params as { allowedValues: unknown[] }).allowedValues.map(String);
      return { path, message: `unknown value ${describe(value)} (expected ${listAlternatives(allowed)})` };
    }
    case 'pattern': {
      const where = err.schemaPath.split('/');
      const owner = where[where.length - 2] ?? '';
      const text = String(value);
      const message = PATTERN_MESSAGES[owner]?.(text) ?? `invalid value ${JSON.stringify(text)}`;
      return { path, message };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const { comparison, limit } = err.params as { comparison: string; limit: number };
      return { path, message: `must be ${comparison} ${limit} (got ${describe(value)})` };
    }
    case 'minItems':
      return { path, message: `must list at least ${(err.params as { limit: number }).limit}` };
    case 'minLength':
      return { path, message: 'must not be empty' };
    case 'maxLength': {
      const { limit } = err.params as { limit: number };
      return { path, message: `must be at most ${limit} characters (got ${String(value).length})` };
    }
    case 'minProperties':
    case 'maxProperties':
      return { path, message: `must hold exactly one of ${listAlternatives(Object.keys(parent?.properties ?? {}))}` };
    default:
      return { path, message: err.message ?? `fails ${err.keyword}` };
  }
}

/** "/nodes/1/podCIDR" -> ['nodes', 1, 'podCIDR'] (RFC 6901 unescaping). */
function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

function typeName(t: string): string {
  switch (t) {
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return t;
  }
}

/** A value as it reads in a message: strings quoted, containers by kind. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
