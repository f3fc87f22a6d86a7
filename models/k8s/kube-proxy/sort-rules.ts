/**
 * The canonical order kube-proxy's unit tests compare rulesets in
 * (sortIPTablesRules in pkg/proxy/iptables/proxier_test.go, printed like
 * iptablestest.IPTablesDump.String()): tables by name; in each table
 * KUBE-NODEPORTS, then KUBE-SERVICES, then the other KUBE- chains and then the
 * rest, alphabetically; each chain's rules together, in chain order; and the
 * rules of KUBE-NODEPORTS and KUBE-SERVICES stably sorted by the service name
 * in their comment, the nat KUBE-SERVICES "must be the last rule" rule last.
 * It removes the dependence on the order kube-proxy walked its service map in,
 * while keeping the order of rules that belong together.
 */
import { KUBE_NODEPORTS, KUBE_SERVICES } from './iptables.js';

interface DumpChain {
  name: string;
  rules: string[];
  deleted: boolean;
}

interface DumpTable {
  name: string;
  chains: DumpChain[];
}

const CHAIN_LINE = /^:(\S+) (\S+) \[\d+:\d+\]$/;
const APPEND_LINE = /^-A (\S+) /;
const DELETE_LINE = /^-X (\S+)$/;

/** Parse iptables-restore text the way iptablestest.ParseIPTablesDump does (no blank or comment lines in tables). */
export function parseRestoreText(text: string): DumpTable[] {
  const tables: DumpTable[] = [];
  let table: DumpTable | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (table === null) {
      if (!line.startsWith('*')) throw new SyntaxError(`expected a table declaration, got ${JSON.stringify(line)}`);
      table = { name: line.slice(1), chains: [] };
      tables.push(table);
      continue;
    }
    if (line === 'COMMIT') {
      table = null;
      continue;
    }
    const chainMatch = CHAIN_LINE.exec(line);
    if (chainMatch !== null) {
      if (!table.chains.some((c) => c.name === chainMatch[1])) table.chains.push({ name: chainMatch[1], rules: [], deleted: false });
      continue;
    }
    const appendMatch = APPEND_LINE.exec(line);
    const deleteMatch = DELETE_LINE.exec(line);
    const chainName = appendMatch?.[1] ?? deleteMatch?.[1];
    const chain = table.chains.find((c) => c.name === chainName);
    if (chain === undefined) throw new SyntaxError(`${JSON.stringify(line)}: chain not declared in table ${table.name}`);
    if (appendMatch !== null) chain.rules.push(line);
    else chain.deleted = true;
  }
  if (table !== null) throw new SyntaxError(`table ${table.name} has no COMMIT line`);
  return tables;
}

/** The value of a rule's `--comment`, unquoted; null if it has none. */
export function ruleComment(rule: string): string | null {
  const m = /--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(rule);
  if (m === null) return null;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

/** The service name in a comment: up to the first space or colon ("ns1/svc1"). */
function commentServiceName(rule: string): string | null {
  const c = ruleComment(rule);
  if (c === null) return null;
  const i = c.search(/[ :]/);
  return i === -1 ? c : c.slice(0, i);
}

/** orderByCommentServiceName as a comparator: rules without a comment keep their place. */
function byCommentServiceName(a: string, b: string): number {
  const na = commentServiceName(a);
  const nb = commentServiceName(b);
  if (na === null || nb === null) return 0;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

function chainRank(name: string): number {
  if (name === KUBE_NODEPORTS) return 0;
  if (name === KUBE_SERVICES) return 1;
  return name.startsWith('KUBE-') ? 2 : 3;
}

const isLastRule = (rule: string) => (ruleComment(rule) ?? '').includes('must be the last rule');

/** sortIPTablesRules: restore text in, the canonical text out (chain lines printed as ":NAME - [0:0]"). */
export function sortKubeProxyRules(text: string): string {
  const tables = parseRestoreText(text);
  tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const t of tables) {
    t.chains.sort((a, b) => chainRank(a.name) - chainRank(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of t.chains) {
      if (c.name === KUBE_NODEPORTS || (c.name === KUBE_SERVICES && t.name === 'filter')) {
        c.rules.sort(byCommentServiceName);
      } else if (c.name === KUBE_SERVICES && t.name === 'nat') {
        c.rules.sort((a, b) => {
          const la = isLastRule(a);
          const lb = isLastRule(b);
          if (la || lb) return la === lb ? 0 : la ? 1 : -1;
          return byCommentServiceName(a, b);
        });
      }
    }
  }
  const out: string[] = [];
  for (const t of tables) {
    out.push(`*${t.name}`);
    for (const c of t.chains) out.push(`:${c.name} - [0:0]`);
    for (const c of t.chains) out.push(...c.rules);
    for (const c of t.chains) if (c.deleted) out.push(`-X ${c.name}`);
    out.push('COMMIT');
  }
  out.push('');
  return out.join('\n');
}
