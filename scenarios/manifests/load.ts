/**
 * Reading Kubernetes manifest files: every YAML document of every file, kept
 * with its line map so a problem is reported as `file:line:col: field.path:
 * problem`, the way scenario problems are (scenarios/errors.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML, { LineCounter } from 'yaml';
import { type PathSegment, type ScenarioIssue, formatPath } from '../errors.js';
import { SourceMap } from '../source-map.js';

/** One document of a manifest file. */
export interface ManifestObject {
  file: string;
  apiVersion: string;
  kind: string;
  /** metadata.name, '' when missing (reported). */
  name: string;
  data: Record<string, unknown>;
  source: SourceMap;
}

/** Problems of all manifests, collected rather than thrown one at a time. */
export class ManifestIssues {
  readonly list: ScenarioIssue[] = [];

  /** Reports `message` at `path` of `obj` (or of the file when there is no object). */
  fail(obj: ManifestObject | { file: string; line: number; col: number }, path: PathSegment[], message: string): void {
    const pos = 'source' in obj ? obj.source.locate(path) : { line: obj.line, col: obj.col };
    this.list.push({ path: `${obj.file}:${pos.line}:${pos.col}: ${formatPath(path)}`, line: pos.line, col: pos.col, message });
  }
}

/** The kinds podwire places, with the one apiVersion each is read in. */
export const KINDS: Readonly<Record<string, string>> = {
  Pod: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

/** Names as the scenario's own (a DNS label: they also name namespaces and veths). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Reads the files of `paths` (relative to the scenario file) in order, each
 * document in order; empty documents (a trailing `---`) are skipped.
 */
export function readManifests(paths: readonly string[], scenarioFile: string, issues: ManifestIssues): ManifestObject[] {
  const out: ManifestObject[] = [];
  paths.forEach((p) => {
    const file = join(dirname(scenarioFile), p);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      issues.fail({ file, line: 1, col: 1 }, [], `cannot read the manifest: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return;
    }
    out.push(...parseManifests(text, file, issues));
  });
  return out;
}

/** Parses the documents of one manifest file's text. */
export function parseManifests(text: string, file: string, issues: ManifestIssues): ManifestObject[] {
  const lines = new LineCounter();
  const out: ManifestObject[] = [];
  for (const doc of YAML.parseAllDocuments(text, { lineCounter: lines, prettyErrors: true })) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
        issues.fail({ file, ...pos }, [], e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, ''));
      }
      continue;
    }
    const data: unknown = doc.toJS();
    if (data === null || data === undefined) continue;
    const source = new SourceMap(doc, lines);
    const obj: ManifestObject = { file, apiVersion: '', kind: '', name: '', data: {}, source };
    if (!isMap(data)) {
      issues.fail(obj, [], 'a manifest document must be a mapping (a Kubernetes object)');
      continue;
    }
    obj.data = data;
    const kind = data['kind'];
    const apiVersion = data['apiVersion'];
    if (typeof kind !== 'string' || KINDS[kind] === undefined) {
      issues.fail(obj, ['kind'], `${JSON.stringify(kind ?? null)} is not supported (kinds are ${Object.keys(KINDS).join(', ')})`);
      continue;
    }
    if (apiVersion !== KINDS[kind]) {
      issues.fail(obj, ['apiVersion'], `${JSON.stringify(apiVersion ?? null)}: a ${kind} is read as ${KINDS[kind]}`);
      continue;
    }
    obj.kind = kind;
    obj.apiVersion = apiVersion;
    const name = get(data, ['metadata', 'name']);
    if (typeof name !== 'string' || !DNS_LABEL.test(name) || name.length > 63) {
      issues.fail(obj, ['metadata', 'name'], `${JSON.stringify(name ?? null)}: must be a DNS label (lower-case letters, digits and "-", at most 63 characters)`);
      continue;
    }
    obj.name = name;
    const ns = get(data, ['metadata', 'namespace']);
    if (ns !== undefined && ns !== 'default') {
      issues.fail(obj, ['metadata', 'namespace'], `${JSON.stringify(ns)}: only namespace "default" is modelled (scenario pods have no namespace)`);
      continue;
    }
    out.push(obj);
  }
  return out;
}

export function isMap(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The value at `path`, or undefined where the path leaves the data. */
export function get(data: unknown, path: readonly PathSegment[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (typeof seg === 'number' ? !Array.isArray(cur) : !isMap(cur)) return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** Typed reads of an object's fields; a wrong type is reported and read as absent. */
export class Fields {
  constructor(
    readonly obj: ManifestObject,
    readonly issues: ManifestIssues,
  ) {}

  fail(path: PathSegment[], message: string): void {
    this.issues.fail(this.obj, path, message);
  }

  raw(path: PathSegment[]): unknown {
    return get(this.obj.data, path);
  }

  string(path: PathSegment[]): string | undefined {
    const v = this.raw(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(path, `must be a string, not ${JSON.stringify(v)}`);
    return typeof v === 'string' ? v : undefined;
  }

  int(path: PathSegment[], min: number, max: number, what = 'an integer'): number | undefined {
    const v = this.raw(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `must be ${what} (${min}-${max}), not ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  list(path: PathSegment[]): unknown[] {
    const v = this.raw(path);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.fail(path, 'must be a list');
      return [];
    }
    return v;
  }

  /** A map of strings (labels, selectors). */
  labels(path: PathSegment[]): Record<string, string> | undefined {
    const v = this.raw(path);
    if (v === undefined || v === null) return undefined;
    if (!isMap(v)) {
      this.fail(path, 'must be a map of strings');
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string') this.fail([...path, k], `must be a string, not ${JSON.stringify(x)} (quote it)`);
      else out[k] = x;
    }
    return out;
  }

  /** A field that changes networking in a way podwire does not model: present (and not `allowed`) is an error. */
  unsupported(path: PathSegment[], why: string, allowed: (v: unknown) => boolean = () => false): void {
    const v = this.raw(path);
    if (v === undefined || v === null || allowed(v)) return;
    this.fail(path, `is not supported yet (${why})`);
  }
}
