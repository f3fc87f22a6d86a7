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
import { ChainOrder } from './table-model.js';
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
 * and its matches and targets are immutable once parsed (extension.ts). The
 * restores share their chain names and chain orders through it too.
 */
export class RuleLineCache {
  private readonly commands = new Map<string, Command>();
  /** The strcmp order of the chains these restores declare, for their COMMITs. */
  readonly chainOrder = new ChainOrder();
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

/**
 * What reads iptables-restore input hands each line to, in order. As in
 * iptables-restore's loop, a line is done before the next is read: the
 * first line that fails is the one reported, whether it fails to parse or
 * to apply, and a table's COMMIT happens before the next table is read.
 */
export interface RestoreSink {
  /** "*table" at `line`. */
  table(name: TableName, line: number): void;
  /** ":NAME POLICY [packets:bytes]". */
  chain(d: ChainDecl): void;
  /** A command line. `s` is the same object for every line: keep its parts, not it. */
  command(s: CommandStmt): void;
  /** "COMMIT" at `line`. */
  commit(line: number): void;
}

/** Reads `text` line by line into `sink`. `cache`: lines already parsed by other restores of similar text (see RuleLineCache). */
export function readRestore(text: string, file: string, sink: RestoreSink, cache?: RuleLineCache): void {
  const lines = text.split('\n');
  let table: TableName | null = null;
  let tableLine = 0;
  // One statement for every command line (a kube-proxy sync is 110,000 lines a node), and per line only what it needs.
  const stmt: CommandStmt = { kind: 'command', file, line: 0, command: null as unknown as Command, prefixCounters: null };
  for (let n = 0; n < lines.length; n++) {
    let raw = lines[n]!;
    if (raw.charCodeAt(raw.length - 1) === CR) raw = raw.slice(0, -1);
    if (raw === '' || raw[0] === '#') continue;
    const c0 = raw.charCodeAt(0);
    // Only a line that starts with what trim() removes (ASCII blanks, or beyond ASCII) can be blank.
    if ((c0 <= SPACE || c0 >= 0x80) && raw.trim() === '') continue;
    const line = n + 1;
    if (table === null) {
      const pos: SourcePos = { file, line };
      if (raw[0] !== '*') {
        const first = raw.trim().split(/\s+/)[0]!;
        fail(pos, first, `line ${pos.line} failed: \`${first}' outside a table (a "*table" line must come first)`);
      }
      const name = raw.slice(1).trim().split(/[ \t]/)[0]!;
      if (name === 'security') fail(pos, name, `table 'security' is not modelled by podwire`);
      if (!(TABLES as readonly string[]).includes(name)) fail(pos, name, `iptables-restore: unable to initialize table '${name}'`);
      table = name as TableName;
      tableLine = line;
      sink.table(table, line);
      continue;
    }
    if (raw[0] === 'C' && /^COMMIT[ \t]*$/.test(raw)) {
      table = null;
      sink.commit(line);
      continue;
    }
    if (raw[0] === ':') {
      sink.chain(parseChainDecl(raw, { file, line }, cache));
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
    stmt.command = cache !== undefined ? cache.command(rest, raw, table, file, line) : parseLine(unsliced(rest), raw, table, { file, line });
    stmt.line = line;
    stmt.prefixCounters = prefixCounters;
    sink.command(stmt);
  }
  if (table !== null) fail({ file, line: lines.length + 1 }, 'COMMIT', `COMMIT expected at line ${lines.length + 1} (table ${table} from line ${tableLine} is not committed)`);
}

/** The table blocks of `text`, every line parsed (none applied). `cache`: see RuleLineCache. */
export function* parseRestoreBlocks(text: string, file: string, cache?: RuleLineCache): Generator<TableBlock> {
  const blocks: TableBlock[] = [];
  let block: TableBlock | null = null;
  readRestore(
    text,
    file,
    {
      table: (table, line) => (block = { table, line, statements: [], commitLine: 0 }),
      chain: (d) => block!.statements.push(d),
      command: (s) => block!.statements.push({ ...s }),
      commit: (line) => {
        block!.commitLine = line;
        blocks.push(block!);
        block = null;
      },
    },
    cache,
  );
  yield* blocks;
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
