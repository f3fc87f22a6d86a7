/**
 * Reading a scenario: YAML text -> parsed document (syntax errors with their
 * line) -> schema check -> defaults and semantic checks -> Scenario. Every
 * problem found in a stage is reported together, each as
 * `file:line:col: path: problem`, in one ScenarioError.
 */
import { readFileSync } from 'node:fs';
import YAML, { LineCounter } from 'yaml';
import { ScenarioError, type ScenarioIssue, formatPath } from './errors.js';
import { type RawScenario, normalizeScenario } from './normalize.js';
import type { Scenario } from './scenario.js';
import { type Issue, checkSchema } from './schema-check.js';
import { SourceMap } from './source-map.js';

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

  const { scenario, issues } = normalizeScenario(data as RawScenario);
  if (issues.length > 0) throw new ScenarioError(locate(issues), fileName);
  return scenario;
}

export function loadScenarioFile(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), path);
}
