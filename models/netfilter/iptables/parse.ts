/**
 * iptables-restore input (iptables/iptables-restore.c, iptables-save(8)):
 *
 *     # comment
 *     *nat
 *     :PREROUTING ACCEPT [0:0]
 *     :KUBE-SERVICES - [0:0]
 *     [12:720] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
 *     COMMIT
 *
 * `parseRestoreBlocks` yields one table block at a time, so a caller can
 * apply each COMMIT before the next block is read, as iptables-restore
 * does (an error in a later table leaves earlier tables committed).
 */
import { unsliced } from '../unsliced.js';
import type { ChainDecl, Command, CommandStmt, Counters, Policy, RestoreFile, TableBlock } from './ast.js';
import { fail, type SourcePos } from './errors.js';
import { parseCommand, CHAIN_NAME_MAX } from './parse-rule.js';
import { tokenizeLine } from './tokenize.js';
import type { TableName } from '../hooks.js';

const TABLES: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter'];
const CR = 13;
const SPACE = 32;

/** "[packets:bytes]" (parse_counters). */
function parseCounters(s: string): Counters | null {
  const m = /^\[(\d+):(\d+)\]$/.exec(s);
  if (m === null) return null;
  return { packets: Number(m[1]), bytes: Number(m[2]) };
}

/**
 * Command lines already parsed, by their text: the nodes of a cluster restore
 * the same kube-proxy rules (in another order each), 11 lines per Service, so
 * a build that shares one parses each line once and every node's tables share
 * the parsed rules: a RuleSpec has no position (its table's RuleState has),
 * and its matches and targets are immutable once parsed (extension.ts).
 */
export class RuleLineCache {
  private readonly commands = new Map<string, Command>();
  private readonly names = new Map<string, string>();

  /** One copy of each declared chain name for every restore (30,000 a node for kube-proxy's sync). */
  chainName(name: string): string {
    let own = this.names.get(name);
    if (own === undefined) {
      own = unsliced(name);
      this.names.set(own, own);
    }
    return own;
  }

  /** The command of line `line` (`raw`) of `table`: `text` is the part after any "[p:b]" prefix. Errors are not kept. */
  command(text: string, raw: string, table: TableName, file: string, line: number): Command {
    let c = this.commands.get(text);
    if (c === undefined) {
      const own = unsliced(text);
      c = parseLine(own, raw, table, { file, line });
      this.commands.set(own, c);
    }
    return c;
  }
}

function parseLine(text: string, raw: string, table: TableName, pos: SourcePos): Command {
  const tokens = tokenizeLine(text, pos);
  if (tokens.length === 0) fail(pos, raw, `line ${pos.line} failed: empty command`);
  if (tokens[0]!.text[0] === '*' && !tokens[0]!.quoted) fail(pos, tokens[0]!.text, `Bad argument \`${tokens[0]!.text}' (no COMMIT for table ${table})`);
  return parseCommand(tokens, pos);
}

/** `cache`: lines already parsed by other restores of similar text (see RuleLineCache). */
export function* parseRestoreBlocks(text: string, file: string, cache?: RuleLineCache): Generator<TableBlock> {
  const lines = text.split('\n');
  let block: TableBlock | null = null;
  // Per line, only what the line needs: a kube-proxy sync is 110,000 lines a node.
  for (let n = 0; n < lines.length; n++) {
    let raw = lines[n]!;
    if (raw.charCodeAt(raw.length - 1) === CR) raw = raw.slice(0, -1);
    if (raw === '' || raw[0] === '#') continue;
    const c0 = raw.charCodeAt(0);
    // Only a line that starts with what trim() removes (ASCII blanks, or beyond ASCII) can be blank.
    if ((c0 <= SPACE || c0 >= 0x80) && raw.trim() === '') continue;
    const line = n + 1;
    if (block === null) {
      const pos: SourcePos = { file, line };
      if (raw[0] !== '*') {
        const first = raw.trim().split(/\s+/)[0]!;
        fail(pos, first, `line ${pos.line} failed: \`${first}' outside a table (a "*table" line must come first)`);
      }
      const name = raw.slice(1).trim().split(/[ \t]/)[0]!;
      if (name === 'security') fail(pos, name, `table 'security' is not modelled by podwire`);
      if (!(TABLES as readonly string[]).includes(name)) fail(pos, name, `iptables-restore: unable to initialize table '${name}'`);
      block = { table: name as TableName, line: pos.line, statements: [], commitLine: 0 };
      continue;
    }
    if (raw[0] === 'C' && /^COMMIT[ \t]*$/.test(raw)) {
      block.commitLine = line;
      yield block;
      block = null;
      continue;
    }
    if (raw[0] === ':') {
      block.statements.push(parseChainDecl(raw, { file, line }, cache));
      continue;
    }
    let rest = raw;
    let prefixCounters: Counters | null = null;
    if (raw[0] === '[') {
      // tokenize_rule_counters: "[p:b]" then the command.
      const close = raw.indexOf(']');
      const ctr = close < 0 ? null : parseCounters(raw.slice(0, close + 1));
      if (ctr === null) fail({ file, line }, raw.split(/\s/)[0]!, `Bad counters \`${raw.split(/\s/)[0]}'`);
      prefixCounters = ctr;
      rest = raw.slice(close + 1);
    }
    const command = cache !== undefined ? cache.command(rest, raw, block.table, file, line) : parseLine(unsliced(rest), raw, block.table, { file, line });
    const stmt: CommandStmt = { kind: 'command', file, line, command, prefixCounters };
    block.statements.push(stmt);
  }
  if (block !== null) fail({ file, line: lines.length + 1 }, 'COMMIT', `COMMIT expected at line ${lines.length + 1} (table ${block.table} from line ${block.line} is not committed)`);
}

/** ":NAME POLICY [packets:bytes]" */
function parseChainDecl(raw: string, pos: SourcePos, cache: RuleLineCache | undefined): ChainDecl {
  const parts = raw.slice(1).trim().split(/[ \t]+/);
  const name = parts[0] ?? '';
  if (name === '') fail(pos, raw, `line ${pos.line} chain name invalid`);
  if (name.length > CHAIN_NAME_MAX) fail(pos, name, `Invalid chain name \`${name}' (${CHAIN_NAME_MAX} chars max)`);
  const policyText = parts[1];
  if (policyText === undefined) fail(pos, name, `line ${pos.line} policy invalid for chain '${name}'`);
  let policy: Policy | null = null;
  if (policyText !== '-') {
    if (policyText !== 'ACCEPT' && policyText !== 'DROP') fail(pos, policyText, `Can't set policy \`${policyText}' on \`${name}' line ${pos.line}: Bad policy name`);
    policy = policyText;
  }
  let counters: Counters | null = null;
  if (parts[2] !== undefined) {
    counters = parseCounters(parts[2]);
    if (counters === null) fail(pos, parts[2], `invalid policy counters for chain '${name}'`);
  }
  return { kind: 'chain', file: pos.file, line: pos.line, name: cache !== undefined ? cache.chainName(name) : unsliced(name), policy, counters };
}

/** The whole file as a typed AST (every table block), for callers that want it all at once. */
export function parseRestore(text: string, file: string): RestoreFile {
  return { file, tables: [...parseRestoreBlocks(text, file)] };
}
