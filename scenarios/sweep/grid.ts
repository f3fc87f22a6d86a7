/**
 * A scenario's parameter grid (`sweep:`): a map from a field path to the
 * values it takes. A point is one combination, in a canonical order (the
 * cartesian product with the first key varying slowest: keys in file order,
 * values in list order), so point k is the same point on every machine.
 * Each point's scenario is the file's data with the point's values set and
 * the `sweep` key removed, validated like any scenario; a problem caused by a
 * swept value is reported at that value in the `sweep:` mapping.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import YAML, { LineCounter } from 'yaml';
import { ScenarioError, type PathSegment, type ScenarioIssue, formatPath } from '../errors.js';
import { parseScenario } from '../loader.js';
import { normalizeScenario } from '../normalize.js';
import type { RawScenario } from '../raw-scenario.js';
import type { Scenario } from '../scenario.js';
import { checkSchema, describe } from '../schema-check.js';
import { SourceMap } from '../source-map.js';

/** More points than this is a typo, not a plan (and would not fit one sweep.json). */
export const MAX_POINTS = 100_000;

export interface SweepParameter {
  /** As written: `traffic[0].udp.rate`. */
  path: string;
  values: unknown[];
}

export interface SweepPoint {
  /** Position in the canonical order, 0-based. */
  index: number;
  /** Parameter path -> value, in parameter order. */
  values: Record<string, unknown>;
  scenario: Scenario;
  /** The file asked for captures (an explicit `capture:` other than none). */
  captures: boolean;
}

export interface SweepPlan {
  scenario: string;
  /** sha256 of the scenario file's text: shards of one sweep agree on it. */
  scenarioSha256: string;
  parameters: SweepParameter[];
  points: SweepPoint[];
}

/** "traffic[0].udp.rate" -> ['traffic', 0, 'udp', 'rate']; undefined when malformed. */
export function parseFieldPath(text: string): PathSegment[] | undefined {
  if (!/^[A-Za-z_]\w*(\.[A-Za-z_]\w*|\[(0|[1-9]\d*)\])*$/.test(text)) return undefined;
  const out: PathSegment[] = [];
  for (const m of text.matchAll(/([A-Za-z_]\w*)|\[(\d+)\]/g)) out.push(m[1] !== undefined ? m[1] : Number(m[2]));
  return out;
}

/** Index tuples of the cartesian product, first dimension slowest. */
export function gridIndices(sizes: readonly number[]): number[][] {
  let out: number[][] = [[]];
  for (const n of sizes) {
    const next: number[][] = [];
    for (const prefix of out) for (let j = 0; j < n; j++) next.push([...prefix, j]);
    out = next;
  }
  return out;
}

export function loadSweepFile(path: string): SweepPlan {
  return planSweep(readFileSync(path, 'utf8'), path);
}

/** Reads the grid of scenario text and validates every point; throws a ScenarioError listing every problem. */
export function planSweep(text: string, fileName: string): SweepPlan {
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines });
  // Syntax and the file's own shape (including `sweep:` being a mapping of lists): the loader's words.
  if (doc.errors.length > 0) parseScenario(text, fileName);
  const data = doc.toJS() as RawScenario;
  const schemaIssues = checkSchema(data);
  if (schemaIssues.length > 0) parseScenario(text, fileName);
  const source = new SourceMap(doc, lines);
  const at = (path: PathSegment[], message: string): ScenarioIssue => ({ path: sweepLabel(path), ...source.locate(path), message });

  const sweep = data.sweep ?? {};
  delete data.sweep;
  const parameters: SweepParameter[] = Object.entries(sweep).map(([path, values]) => ({ path, values }));
  const paths: PathSegment[][] = [];
  const issues: ScenarioIssue[] = [];
  for (const p of parameters) {
    const segs = parseFieldPath(p.path);
    if (segs === undefined) {
      issues.push(at(['sweep', p.path], `"${p.path}" is not a field path (expected e.g. seed, underlay.delay, traffic[0].udp.rate)`));
      continue;
    }
    if (segs[0] === 'sweep') issues.push(at(['sweep', p.path], 'a sweep cannot set sweep'));
    const overlap = paths.findIndex((q) => isPrefix(q, segs) || isPrefix(segs, q));
    if (overlap >= 0) issues.push(at(['sweep', p.path], `overlaps sweep.${formatPath(paths[overlap]!)} (one would overwrite the other)`));
    const missing = missingContainer(data, segs);
    if (missing !== undefined) issues.push(at(['sweep', p.path], missing));
    const seen = new Map<string, number>();
    p.values.forEach((v, j) => {
      const key = JSON.stringify(v);
      const prev = seen.get(key);
      if (prev !== undefined) issues.push(at(['sweep', p.path, j], `${describe(v)} repeats sweep.${p.path}[${prev}]`));
      else seen.set(key, j);
    });
    paths.push(segs);
  }
  if (issues.length > 0) throw new ScenarioError(issues, fileName);
  const count = parameters.reduce((n, p) => n * p.values.length, 1);
  if (count > MAX_POINTS) throw new ScenarioError([at(['sweep'], `${count} points (at most ${MAX_POINTS})`)], fileName);

  const captures = data.capture !== undefined && data.capture !== 'none';
  const points: SweepPoint[] = [];
  const seenIssues = new Set<string>();
  gridIndices(parameters.map((p) => p.values.length)).forEach((choice, index) => {
    const point = structuredClone(data);
    const values: Record<string, unknown> = {};
    parameters.forEach((p, d) => {
      const v = p.values[choice[d]!];
      values[p.path] = v;
      setIn(point, paths[d]!, structuredClone(v));
    });
    const label = parameters.map((p) => `${p.path} = ${JSON.stringify(values[p.path])}`).join(', ');
    const found = [...checkSchema(point)];
    if (found.length === 0) found.push(...normalizeScenario(point).issues);
    for (const issue of found) {
      // An unknown key is the key's problem (ajv names its mapping); a problem of a
      // mapping on a swept path (traffic[0] holding both ping and udp) is the sweep's too.
      const subject = issue.anchor?.key === true ? issue.anchor.path : issue.path;
      const d = paths.findIndex((q) => isPrefix(q, subject) || (subject.length > 0 && isPrefix(subject, q)));
      let located: ScenarioIssue;
      if (d >= 0) {
        const rest = subject.slice(paths[d]!.length);
        const where = ['sweep', parameters[d]!.path, choice[d]!];
        const own = subject.length === paths[d]!.length;
        const inner = own ? '' : `${formatPath(subject.length > paths[d]!.length ? rest : subject)}: `;
        located = { path: sweepLabel(where), ...source.locate(where), message: `${inner}${issue.message}` };
      } else {
        located = { path: formatPath(issue.path), ...source.locate(issue.anchor?.path ?? issue.path, issue.anchor?.key ?? false), message: issue.message };
      }
      const key = `${located.path}: ${located.message}`;
      if (seenIssues.has(key)) continue;
      seenIssues.add(key);
      if (d < 0) located.message += ` (at sweep point ${index}: ${label})`;
      issues.push(located);
    }
    if (found.length > 0) return;
    let scenario: Scenario;
    try {
      // The loader's last stage (iptables rules, read and checked) on the point's own data.
      scenario = parseScenario(YAML.stringify(point), fileName);
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      for (const issue of e.errors) issues.push({ ...issue, message: `${issue.message} (at sweep point ${index}: ${label})` });
      return;
    }
    if (!captures) scenario.capture = 'none';
    points.push({ index, values, scenario, captures });
  });
  if (issues.length > 0) throw new ScenarioError(issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)), fileName);
  return {
    scenario: data.name,
    scenarioSha256: createHash('sha256').update(text).digest('hex'),
    parameters,
    points,
  };
}

/** Whether the file declares a sweep (read without validating). */
export function declaresSweep(text: string): boolean {
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch {
    return false; // the loader reports syntax errors with their positions
  }
  return typeof data === 'object' && data !== null && 'sweep' in data;
}

/** `sweep.traffic[0].udp.rate[1]`: the parameter key as written, then the value's index. */
function sweepLabel(path: PathSegment[]): string {
  if (path[0] !== 'sweep' || path.length < 2) return formatPath(path);
  return `sweep.${String(path[1])}${path.slice(2).map((s) => `[${String(s)}]`).join('')}`;
}

function isPrefix(a: readonly PathSegment[], b: readonly PathSegment[]): boolean {
  return a.length <= b.length && a.every((s, i) => s === b[i]);
}

/**
 * Why the field at `segs` cannot be set, or undefined: every list index must
 * exist; a missing mapping on the way is created (e.g. `underlay.delay` in
 * a file without `underlay:`) unless it is inside a list item, and the schema
 * judges the last key itself.
 */
function missingContainer(data: unknown, segs: PathSegment[]): string | undefined {
  let cur: unknown = data;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const here = formatPath(segs.slice(0, i));
    if (cur === undefined) {
      if (typeof seg === 'number') return `${here} does not exist (so neither does ${formatPath(segs.slice(0, i + 1))})`;
      return undefined;
    }
    if (typeof seg === 'number') {
      if (!Array.isArray(cur)) return `${here} is ${describe(cur)}, not a list`;
      if (seg >= cur.length) return `${here} has ${cur.length} item${cur.length === 1 ? '' : 's'} (no ${formatPath(segs.slice(0, i + 1))})`;
      cur = cur[seg];
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return `${here} is ${describe(cur)}, not a mapping`;
      const obj = cur as Record<string, unknown>;
      cur = obj[seg];
      // Inside a list item a missing mapping is a different item (a udp field of a ping), not a default to fill in.
      if (cur === undefined && i < segs.length - 1 && segs.slice(0, i).some((s) => typeof s === 'number')) {
        return `${formatPath(segs.slice(0, i + 1))} does not exist (${here} has ${Object.keys(obj).join(', ') || 'nothing'})`;
      }
    }
  }
  return undefined;
}

/** Sets the field at `segs`, creating missing mappings (missingContainer has vetted the path). */
function setIn(data: unknown, segs: PathSegment[], value: unknown): void {
  let cur = data as Record<string | number, unknown>;
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i]!;
    if (cur[seg] === undefined) cur[seg] = {};
    cur = cur[seg] as Record<string | number, unknown>;
  }
  cur[segs[segs.length - 1]!] = value;
}
