/**
 * Scenario problems are collected, not thrown one at a time: a person fixing a
 * file wants every mistake in one go, each named like a compiler would name it
 * (`file:line:col: path: problem`).
 */

/** A path into the scenario document: keys and list indices, e.g. ['nodes', 1, 'podCIDR']. */
export type PathSegment = string | number;

export interface ScenarioIssue {
  /** Field path as written in messages, e.g. `nodes[1].podCIDR`. */
  path: string;
  /** 1-based position in the file, when the scenario came from text. */
  line?: number;
  col?: number;
  message: string;
}

export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';

  constructor(
    readonly errors: ScenarioIssue[],
    readonly fileName?: string,
  ) {
    super(errors.map((e) => formatIssue(e, fileName)).join('\n'));
  }
}

/** `file:line:col: path: problem`, dropping the parts that are unknown. */
export function formatIssue(issue: ScenarioIssue, fileName?: string): string {
  let where = '';
  if (fileName !== undefined) {
    where = fileName;
    if (issue.line !== undefined) where += `:${issue.line}:${issue.col ?? 1}`;
    where += ': ';
  }
  return `${where}${issue.path}: ${issue.message}`;
}

/** `nodes[1].podCIDR`; the empty path (the document itself) is called `scenario`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? 'scenario' : out;
}

/** "a, b, c" — long lists are cut so one message never floods a terminal. */
export function listNames(names: readonly string[], max = 10): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')}, ... (${names.length} in all)`;
}

/** "a or b", "a, b or c". */
export function listAlternatives(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}
