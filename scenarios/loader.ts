/**
 * Reading a scenario: YAML text -> parsed document (syntax errors with their
 * line) -> schema check -> defaults and semantic checks -> Scenario. Every
 * problem found in a stage is reported together, each as
 * `file:line:col: path: problem`, in one ScenarioError.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { IptablesError } from '../models/netfilter/iptables/errors.js';
import { IptablesRuleset } from '../models/netfilter/iptables/ruleset.js';
import { IpSetTable } from '../models/netfilter/ipset.js';
import YAML, { LineCounter } from 'yaml';
import { ScenarioError, type ScenarioIssue, formatPath } from './errors.js';
import { normalizeScenario } from './normalize.js';
import type { RawScenario } from './raw-scenario.js';
import type { IptablesSource, Scenario } from './scenario.js';
import { type Issue, checkSchema } from './schema-check.js';
import { SourceMap } from './source-map.js';
import { resolveCni } from './cni/resolve.js';
import { applyManifests } from './manifests/index.js';

/** Parses and validates scenario text; `fileName` is only used in messages. */
export function parseScenario(text: string, fileName: string): Scenario {
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      doc.errors.map((e) => ({
        path: 'YAML syntax',
        line: e.linePos?.[0].line,
        col: e.linePos?.[0].col,
        // prettyErrors appends " at line L, column C:" and a source excerpt; we give the position ourselves.
        message: e.message.replace(/ at line \d+, column \d+:[\s\S]*$/, ''),
      })),
      fileName,
    );
  }
  const source = new SourceMap(doc, lines);
  const locate = (issues: Issue[]): ScenarioIssue[] =>
    issues
      .map((issue) => {
        const pos = source.locate(issue.anchor?.path ?? issue.path, issue.anchor?.key ?? false);
        return { path: formatPath(issue.path), line: pos.line, col: pos.col, message: issue.message };
      })
      .sort((a, b) => a.line - b.line || a.col - b.col);

  const data: unknown = doc.toJS();
  const schemaIssues = checkSchema(data);
  if (schemaIssues.length > 0) throw new ScenarioError(locate(schemaIssues), fileName);

  // Kubernetes manifests add pods and services to the data; their problems name the manifest file.
  const manifests = applyManifests(data as RawScenario, fileName, (path) => source.locate(path, false));
  const { scenario, issues } = normalizeScenario(data as RawScenario);
  if (issues.length > 0) throw manifests?.error(issues, locate, fileName) ?? new ScenarioError(locate(issues), fileName);
  manifests?.finish(scenario);
  const cniIssues = resolveCni(scenario, fileName, (path) => source.locate(path, false).line);
  if (cniIssues.length > 0) throw new ScenarioError(cniIssues, fileName);
  const ruleIssues = resolveIptables(scenario, fileName, (path) => source.locate(path, false).line);
  if (ruleIssues.length > 0) throw new ScenarioError(ruleIssues, fileName);
  return scenario;
}

/**
 * Gathers each node's rules (inline text, then the file) with the position of
 * their first line, and loads them into a scratch ruleset so that a bad rule is
 * reported when the scenario is read, at its own line: for inline rules the
 * scenario file's line, for a rules file that file's.
 */
function resolveIptables(scenario: Scenario, fileName: string, lineOf: (path: (string | number)[]) => number): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  scenario.nodes.forEach((node, i) => {
    const sources: IptablesSource[] = [];
    if (node.iptables !== undefined) {
      // A block scalar's text starts on the line after its indicator (`iptables: |`).
      sources.push({ text: node.iptables, file: fileName, lineOffset: lineOf(['nodes', i, 'iptables']) });
    }
    if (node.iptablesFile !== undefined) {
      const path = resolve(dirname(fileName), node.iptablesFile);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        const line = lineOf(['nodes', i, 'iptablesFile']);
        issues.push({ path: `nodes[${i}].iptablesFile`, line, col: 1, message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
        return;
      }
      sources.push({ text, file: path, lineOffset: 0 });
    }
    if (sources.length === 0) return;
    const sets = new Map((node.ipsets ?? []).map((s) => [s.name, IpSetTable.of(s.name, s.type, s.entries ?? [])]));
    const scratch = new IptablesRuleset({ ipsets: (name) => sets.get(name) });
    for (const name of node.nfacct ?? []) scratch.nfacct.add(name);
    sources.forEach((src, k) => {
      try {
        scratch.restore(shiftLines(src.text, src.lineOffset), src.file, { noflush: k > 0 });
      } catch (e) {
        if (!(e instanceof IptablesError)) throw e;
        const field = src.file === fileName ? 'iptables' : 'iptablesFile';
        issues.push({ path: `nodes[${i}].${field}`, line: e.line, col: 1, message: `${e.reason}${src.file === fileName ? '' : ` (${src.file}:${e.line})`}` });
      }
    });
    node.iptablesRules = sources;
  });
  return issues;
}

/** Prepends blank lines so the parser's line numbers are the file's. */
export function shiftLines(text: string, lineOffset: number): string {
  return '\n'.repeat(lineOffset) + text;
}

export function loadScenarioFile(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), path);
}
