/**
 * `nft -f` input, the subset kube-proxy's nftables mode writes (and `nft list
 * ruleset` prints): `table ip T { ... }` blocks and `add|create|insert|flush|
 * delete` commands on tables, chains, rules, sets, maps and elements. Anything
 * else is an NftError naming the file, line and token. Parsing applies each
 * command to the ruleset as it goes; references (jump targets, @sets) are
 * checked once the whole file is read, as nft checks them at commit.
 */
import { parseIpv4 } from '../../wire/addr.js';
import { SELECTOR_TYPE, type Chain, type CmpOp, type DataType, type Element, type HookName, type NftSet, type Rule, type Selector, type Statement, type Table, type Verdict } from './ast.js';
import { NftError } from './errors.js';
import { Tok, Tokenizer, type Token } from './tokenize.js';
import { PRIORITY_NAMES, addElement, clearSet, newSet, parseKeyPart, parseNumber } from './values.js';

const FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const HOOKS = new Set<HookName>(['prerouting', 'input', 'forward', 'output', 'postrouting']);
const DATA_TYPES = new Set<DataType>(['ipv4_addr', 'inet_proto', 'inet_service', 'mark', 'integer']);
const CT_STATES = new Set(['invalid', 'established', 'related', 'new', 'untracked']);
const CT_STATUSES = new Set(['expected', 'seen-reply', 'assured', 'confirmed', 'snat', 'dnat', 'dying']);
const FIB_TYPES = new Set(['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit']);
const REJECT_ICMP: Record<string, Extract<Statement, { kind: 'reject' }>['with']> = {
  'port-unreachable': 'icmp-port-unreachable',
  'host-unreachable': 'icmp-host-unreachable',
  'net-unreachable': 'icmp-net-unreachable',
  'admin-prohibited': 'icmp-admin-prohibited',
};

/** A rule as parsed, for another load of the same text (NftRuleCache): its statements, and the references it makes, by line offset. */
interface ParsedRule {
  stmts: Statement[];
  comment: string | null;
  refs: { kind: Ref['kind']; name: string; dline: number }[];
}

/**
 * Rules already parsed, by their tokens: every node of a cluster loads
 * kube-proxy's nftables transaction, the same rules in another order, so a
 * build that shares one parses each rule once and the nodes' chains share
 * its statements (a Rule of their own holds file and line). A rule with a
 * `counter`, whose statement counts packets, is never shared.
 */
export class NftRuleCache {
  readonly rules = new Map<string, ParsedRule>();
  private readonly names = new Map<string, string>();
  private readonly jumps = new Map<string, Verdict>();
  private readonly gotos = new Map<string, Verdict>();

  /** One copy of each chain name for every load: kube-proxy's transaction makes 30,000 chains a node. */
  chainName(name: string): string {
    let own = this.names.get(name);
    if (own === undefined) this.names.set(name, (own = name));
    return own;
  }

  /** One jump (or goto) verdict per chain for every load: a verdict map's elements hold 10,000 a node. Verdicts are never changed. */
  verdict(kind: 'jump' | 'goto', chain: string): Verdict {
    const byChain = kind === 'jump' ? this.jumps : this.gotos;
    let v = byChain.get(chain);
    if (v === undefined) byChain.set(chain, (v = { kind, chain: this.chainName(chain) }));
    return v;
  }
}

/** A reference to check at the end of the file. */
interface Ref {
  table: Table;
  kind: 'chain' | 'set' | 'map';
  name: string;
  line: number;
}

export class NftParser {
  /** The tokens of the command at hand (and any read ahead), `i` the current one. */
  private toks: Token[] = [];
  private i = 0;
  private tokens = new Tokenizer('', '');
  private refs: Ref[] = [];

  constructor(
    private readonly tables: Map<string, Table>,
    private readonly file: string,
    private readonly cache: NftRuleCache | null = null,
  ) {}

  parse(text: string): void {
    this.tokens = new Tokenizer(text, this.file);
    this.toks = [];
    this.i = 0;
    this.refs = [];
    for (;;) {
      this.skipSeparators();
      if (!this.has(this.i)) break;
      this.release();
      this.command();
    }
    for (const r of this.refs) {
      const ok = r.kind === 'chain' ? r.table.chains.has(r.name) : r.table.sets.get(r.name)?.kind === r.kind;
      if (!ok) throw new NftError(this.file, r.line, r.name, `Could not process rule: No such file or directory (${r.kind} ${r.name} does not exist in table ${r.table.name})`);
    }
    for (const t of this.tables.values()) checkHooks(t);
  }

  // ---------------------------------------------------------------- tokens

  /** Whether token j (of `toks`) exists, reading lines of the text as needed. */
  private has(j: number): boolean {
    while (j >= this.toks.length) if (!this.tokens.nextLine(this.toks)) return false;
    return true;
  }

  /**
   * Forgets the tokens before the current one, which exists, between commands
   * (nothing reads back past the command at hand), so that tokens die young.
   */
  private release(): void {
    if (this.i === 0) return;
    this.toks = this.toks.slice(this.i);
    this.i = 0;
  }

  private peek(): Token {
    return this.has(this.i) ? this.toks[this.i]! : this.toks[this.toks.length - 1]!;
  }

  private next(): Token {
    const t = this.peek();
    if (this.has(this.i)) this.i++;
    return t;
  }

  private fail(t: Token, reason: string): never {
    throw new NftError(this.file, t.line, t.kind === Tok.EOL ? '' : t.text, reason);
  }

  private word(what: string): string {
    const t = this.next();
    if (t.kind !== Tok.WORD) this.fail(t, `syntax error, expected ${what}`);
    return t.text;
  }

  private string(what: string): string {
    const t = this.next();
    if (t.kind !== Tok.STRING && t.kind !== Tok.WORD) this.fail(t, `syntax error, expected ${what}`);
    return t.text;
  }

  private isWord(text: string): boolean {
    const t = this.peek();
    return t.kind === Tok.WORD && t.text === text;
  }

  private isPunct(text: string): boolean {
    const t = this.peek();
    return t.kind === Tok.PUNCT && t.text === text;
  }

  private expectPunct(text: string): void {
    const t = this.next();
    if (t.kind !== Tok.PUNCT || t.text !== text) this.fail(t, `syntax error, expected '${text}'`);
  }

  private skipSeparators(): void {
    while (this.has(this.i) && (this.peek().kind === Tok.EOL || this.isPunct(';'))) this.i++;
  }

  private skipEol(): void {
    while (this.has(this.i) && this.peek().kind === Tok.EOL) this.i++;
  }

  /** The end of a command or rule: line end, ';' or a closing brace. */
  private atEnd(): boolean {
    const t = this.peek();
    return !this.has(this.i) || t.kind === Tok.EOL || (t.kind === Tok.PUNCT && (t.text === ';' || t.text === '}'));
  }

  // ---------------------------------------------------------------- commands

  private command(): void {
    const t = this.next();
    if (t.kind !== Tok.WORD) this.fail(t, 'syntax error, unexpected token');
    switch (t.text) {
      case 'table':
        return this.tableCmd(t);
      case 'add':
      case 'create':
      case 'insert': {
        const what = this.next();
        if (t.text === 'insert' && what.text !== 'rule') this.fail(what, 'syntax error: insert takes a rule');
        switch (what.text) {
          case 'table':
            return this.tableCmd(what);
          case 'chain': {
            const table = this.tableRef(what);
            return this.chainCmd(table, this.word('chain name'), false);
          }
          case 'rule':
            return this.ruleCmd(what, t.text === 'insert');
          case 'set':
          case 'map': {
            const table = this.tableRef(what);
            return this.setCmd(table, this.word(`${what.text} name`), what.text, what.line);
          }
          case 'element':
            return this.elementCmd(what);
          default:
            this.fail(what, `unsupported object for ${t.text}`);
        }
      }
      // falls through (fail never returns)
      case 'flush':
        return this.flushCmd();
      case 'delete':
        return this.deleteCmd();
      default:
        this.fail(t, 'unsupported command');
    }
  }

  /** [family] name: ip only (the family defaults to ip). */
  private tableRef(at: Token): Table {
    const name = this.tableName();
    const table = this.tables.get(name);
    if (table === undefined) this.fail(at, `Could not process rule: No such file or directory (table ip ${name})`);
    return table;
  }

  private tableName(): string {
    const t = this.next();
    if (t.kind !== Tok.WORD) this.fail(t, 'syntax error, expected table name');
    if (FAMILIES.has(t.text)) {
      if (t.text !== 'ip') this.fail(t, `family ${t.text} is not modelled (only ip)`);
      return this.word('table name');
    }
    return t.text;
  }

  private tableCmd(_at: Token): void {
    const name = this.tableName();
    let table = this.tables.get(name);
    if (table === undefined) {
      table = { family: 'ip', name, comment: null, chains: new Map(), sets: new Map() };
      this.tables.set(name, table);
    }
    if (!this.isPunct('{')) return;
    this.next();
    for (;;) {
      this.skipSeparators();
      const t = this.next();
      if (t.kind === Tok.PUNCT && t.text === '}') return;
      if (t.kind !== Tok.WORD) this.fail(t, 'syntax error in table block');
      if (t.text === 'comment') table.comment = this.string('comment');
      else if (t.text === 'chain') this.chainCmd(table, this.word('chain name'), true);
      else if (t.text === 'set' || t.text === 'map') this.setCmd(table, this.word(`${t.text} name`), t.text, t.line);
      else this.fail(t, 'unsupported table statement');
    }
  }

  private chainCmd(table: Table, name: string, inBlock: boolean): void {
    let chain = table.chains.get(name);
    if (chain === undefined) {
      const own = this.cache !== null ? this.cache.chainName(name) : name;
      chain = { name: own, base: null, comment: null, rules: [] };
      table.chains.set(own, chain);
    }
    if (!this.isPunct('{')) {
      if (inBlock) this.fail(this.peek(), "syntax error, expected '{'");
      return;
    }
    this.next();
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (t.kind === Tok.PUNCT && t.text === '}') {
        this.next();
        return;
      }
      if (!this.has(this.i + 1)) this.fail(t, 'unterminated chain block');
      if (this.isWord('type')) this.baseSpec(table, chain);
      else if (this.isWord('policy')) {
        this.next();
        const p = this.next();
        if (chain.base === null) this.fail(p, 'policy on a chain without a hook');
        if (p.text !== 'accept' && p.text !== 'drop') this.fail(p, 'policy must be accept or drop');
        chain.base.policy = p.text;
      } else if (this.isWord('comment') && this.lineIsOnlyComment()) {
        this.next();
        chain.comment = this.string('comment');
      } else {
        chain.rules.push(this.rule(table));
      }
    }
  }

  /** `comment "x"` alone (a chain comment) rather than a rule ending in one. */
  private lineIsOnlyComment(): boolean {
    const t = this.has(this.i + 2) ? this.toks[this.i + 2]! : undefined;
    return t === undefined || t.kind === Tok.EOL || (t.kind === Tok.PUNCT && (t.text === ';' || t.text === '}'));
  }

  private baseSpec(table: Table, chain: Chain): void {
    this.next();
    const type = this.next();
    if (type.text !== 'filter' && type.text !== 'nat') this.fail(type, `chain type ${type.text} is not modelled (filter, nat)`);
    if (!this.isWord('hook')) this.fail(this.peek(), "syntax error, expected 'hook'");
    this.next();
    const hook = this.next();
    if (!HOOKS.has(hook.text as HookName)) this.fail(hook, `unknown hook ${hook.text}`);
    if (type.text === 'nat' && hook.text === 'forward') this.fail(hook, 'Could not process rule: Operation not supported (nat chains cannot use the forward hook)');
    if (!this.isWord('priority')) this.fail(this.peek(), "syntax error, expected 'priority'");
    this.next();
    const priority = this.priority();
    if (chain.base !== null && (chain.base.hook !== hook.text || chain.base.type !== type.text || chain.base.priority !== priority)) {
      this.fail(type, `Could not process rule: Device or resource busy (chain ${chain.name} of table ${table.name} already has another hook)`);
    }
    chain.base = { type: type.text, hook: hook.text as HookName, priority, policy: chain.base?.policy ?? 'accept' };
  }

  private priority(): number {
    const t = this.next();
    const direct = /^(-?\d+)$/.exec(t.text);
    if (direct !== null) return Number(direct[1]);
    const m = /^([a-z]+)([+-]\d+)?$/.exec(t.text);
    if (m === null || PRIORITY_NAMES[m[1]!] === undefined) this.fail(t, `unknown chain priority ${t.text}`);
    let v = PRIORITY_NAMES[m[1]!]! + (m[2] !== undefined ? Number(m[2]) : 0);
    if (m[2] === undefined && (this.isWord('-') || this.isWord('+'))) {
      const sign = this.next().text === '-' ? -1 : 1;
      const n = this.next();
      if (!/^\d+$/.test(n.text)) this.fail(n, 'syntax error, expected a priority offset');
      v += sign * Number(n.text);
    }
    return v;
  }

  private ruleCmd(at: Token, insert: boolean): void {
    const table = this.tableRef(at);
    const name = this.word('chain name');
    const chain = table.chains.get(name);
    if (chain === undefined) this.fail(at, `Could not process rule: No such file or directory (chain ${name} in table ${table.name})`);
    const r = this.rule(table);
    if (insert) chain.rules.unshift(r);
    else chain.rules.push(r);
  }

  private setCmd(table: Table, name: string, kind: 'set' | 'map', line: number): void {
    let s = table.sets.get(name);
    const at = this.peek();
    if (!this.isPunct('{')) {
      if (s === undefined) this.fail(at, `${kind} ${name} needs a type`);
      return;
    }
    this.next();
    let keyType: DataType[] | null = null;
    let valueType: 'verdict' | null = null;
    let flags: string[] = [];
    let timeout = 0;
    let size: number | null = null;
    let comment: string | null = null;
    let elements: Token | null = null;
    for (;;) {
      this.skipSeparators();
      const t = this.next();
      if (t.kind === Tok.PUNCT && t.text === '}') break;
      if (t.text === 'type') {
        keyType = [this.dataType()];
        while (this.isWord('.')) {
          this.next();
          keyType.push(this.dataType());
        }
        if (this.isWord(':')) {
          this.next();
          const v = this.next();
          if (v.text !== 'verdict') this.fail(v, 'only verdict maps are modelled');
          valueType = 'verdict';
        }
      } else if (t.text === 'flags') {
        flags = [this.word('flag')];
        while (this.isPunct(',')) {
          this.next();
          flags.push(this.word('flag'));
        }
        for (const f of flags) if (!['interval', 'dynamic', 'timeout', 'constant'].includes(f)) this.fail(t, `unsupported set flag ${f}`);
      } else if (t.text === 'timeout') {
        const v = this.next();
        if (!/^(\d+[dhms])+$/.test(v.text)) this.fail(v, 'syntax error, expected a timeout like 10800s or 3h');
        timeout = 0;
        for (const m of v.text.matchAll(/(\d+)([dhms])/g)) timeout += Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'];
      } else if (t.text === 'size') {
        const v = parseNumber(this.word('size'));
        if (v === null || v < 1) this.fail(t, 'syntax error, expected a set size');
        size = v;
      } else if (t.text === 'comment') {
        comment = this.string('comment');
      } else if (t.text === 'elements') {
        this.expectPunct('=');
        elements = this.peek();
        if (keyType === null) this.fail(t, 'elements before the type');
        break;
      } else this.fail(t, `unsupported ${kind} statement`);
    }
    if (keyType === null) this.fail(at, `${kind} ${name} needs a type`);
    if ((kind === 'map') !== (valueType !== null)) this.fail(at, kind === 'map' ? `map ${name} needs ': verdict'` : `set ${name} cannot have a value type`);
    if (s === undefined) {
      s = newSet(name, kind, keyType, valueType, line);
      table.sets.set(name, s);
    } else if (s.kind !== kind || s.keyType.join('.') !== keyType.join('.')) {
      this.fail(at, `Could not process rule: File exists (${s.kind} ${name} exists with another type)`);
    }
    s.flags = flags;
    s.timeout = timeout;
    s.size = size;
    if (comment !== null) s.comment = comment;
    if (elements !== null) {
      this.elementList(table, s);
      this.skipSeparators();
      this.expectPunct('}');
    }
  }

  private dataType(): DataType {
    const t = this.next();
    if (!DATA_TYPES.has(t.text as DataType)) this.fail(t, `unsupported data type ${t.text}`);
    return t.text as DataType;
  }

  private elementCmd(at: Token): void {
    const table = this.tableRef(at);
    const nameTok = this.next();
    const s = table.sets.get(nameTok.text);
    if (s === undefined) this.fail(nameTok, `Could not process rule: No such file or directory (set ${nameTok.text})`);
    this.elementList(table, s);
  }

  /** `{ elem, elem ... }` into s. */
  private elementList(table: Table, s: NftSet): void {
    this.expectPunct('{');
    for (;;) {
      this.skipEol();
      if (this.isPunct('}')) {
        this.next();
        return;
      }
      const e = this.element(table, s.keyType, s.valueType);
      if (e.key.some((k) => k.lo !== k.hi) && !s.flags.includes('interval')) this.fail(this.peek(), `Could not process rule: set ${s.name} has no interval flag`);
      addElement(s, e);
      this.skipEol();
      if (this.isPunct(',')) this.next();
      else if (!this.isPunct('}')) this.fail(this.peek(), "syntax error, expected ',' or '}'");
    }
  }

  private element(table: Table, keyType: readonly DataType[], valueType: 'verdict' | null): Element {
    const key = keyType.map((t, k) => {
      if (k > 0) {
        const dot = this.next();
        if (dot.text !== '.') this.fail(dot, `syntax error, expected '.' (key has ${keyType.length} parts)`);
      }
      const v = this.next();
      const part = v.kind === Tok.WORD ? parseKeyPart(t, v.text) : null;
      if (part === null) this.fail(v, `Error: Could not parse ${t}`);
      return part;
    });
    const e: Element = { key };
    if (this.isWord('comment')) {
      this.next();
      e.comment = this.string('comment');
    }
    if (valueType === 'verdict') {
      const colon = this.next();
      if (colon.text !== ':') this.fail(colon, "syntax error, expected ':' and a verdict");
      e.verdict = this.verdict(table);
    }
    return e;
  }

  private verdict(table: Table): Verdict {
    const t = this.next();
    if (t.text === 'accept' || t.text === 'drop' || t.text === 'return' || t.text === 'continue') return { kind: t.text };
    if (t.text === 'jump' || t.text === 'goto') {
      const chain = this.word('chain name');
      this.refs.push({ table, kind: 'chain', name: chain, line: t.line });
      return this.cache !== null ? this.cache.verdict(t.text, chain) : { kind: t.text, chain };
    }
    this.fail(t, 'syntax error, expected a verdict');
  }

  private flushCmd(): void {
    const what = this.next();
    if (what.text === 'ruleset') {
      this.tables.clear();
      return;
    }
    const table = this.tableRef(what);
    if (what.text === 'table') {
      for (const c of table.chains.values()) c.rules.length = 0;
      for (const s of table.sets.values()) clearSet(s);
      return;
    }
    const name = this.word('name');
    if (what.text === 'chain') {
      const c = table.chains.get(name);
      if (c === undefined) this.fail(what, `Could not process rule: No such file or directory (chain ${name})`);
      c.rules.length = 0;
    } else if (what.text === 'set' || what.text === 'map') {
      const s = table.sets.get(name);
      if (s === undefined || s.kind !== what.text) this.fail(what, `Could not process rule: No such file or directory (${what.text} ${name})`);
      clearSet(s);
    } else this.fail(what, 'unsupported object for flush');
  }

  private deleteCmd(): void {
    const what = this.next();
    if (what.text === 'table') {
      const name = this.tableName();
      if (!this.tables.delete(name)) this.fail(what, `Could not process rule: No such file or directory (table ${name})`);
      return;
    }
    const table = this.tableRef(what);
    const name = this.word('name');
    const map = what.text === 'chain' ? table.chains : what.text === 'set' || what.text === 'map' ? table.sets : null;
    if (map === null) this.fail(what, 'unsupported object for delete');
    if (!map.delete(name)) this.fail(what, `Could not process rule: No such file or directory (${what.text} ${name})`);
  }

  // ---------------------------------------------------------------- rules

  private rule(table: Table): Rule {
    const first = this.peek();
    const len = this.cache === null ? 0 : this.ruleLength();
    const key = this.cache === null ? '' : this.ruleKey(len);
    const known = this.cache?.rules.get(key);
    if (known !== undefined) {
      for (const ref of known.refs) this.refs.push({ table, kind: ref.kind, name: ref.name, line: first.line + ref.dline });
      this.i += len;
      return { stmts: known.stmts, comment: known.comment, line: first.line, file: this.file };
    }
    const refs0 = this.refs.length;
    const start = this.i;
    const r: Rule = { stmts: [], comment: null, line: first.line, file: this.file };
    while (!this.atEnd()) {
      const t = this.next();
      if (t.kind !== Tok.WORD) this.fail(t, 'syntax error, unexpected token in rule');
      const s = this.statement(table, t, r);
      if (s !== null) r.stmts.push(s);
    }
    if (r.stmts.length === 0 && r.comment === null) this.fail(first, 'syntax error, empty rule');
    // Kept only when the parse ended where ruleLength says a hit will skip to.
    if (this.cache !== null && this.i - start === len && !r.stmts.some((s) => s.kind === 'counter')) {
      const refs = this.refs.slice(refs0).map((x) => ({ kind: x.kind, name: x.name, dline: x.line - first.line }));
      this.cache.rules.set(key, { stmts: r.stmts, comment: r.comment, refs });
    }
    return r;
  }

  /** Tokens from here to the rule's end: a line end, ';' or '}' outside the braces of an anonymous set or map. */
  private ruleLength(): number {
    let depth = 0;
    let j = this.i;
    for (; this.has(j); j++) {
      const t = this.toks[j]!;
      if (t.kind === Tok.PUNCT && t.text === '{') depth++;
      else if (depth > 0 && t.kind === Tok.PUNCT && t.text === '}') depth--;
      else if (depth === 0 && (t.kind === Tok.EOL || (t.kind === Tok.PUNCT && (t.text === ';' || t.text === '}')))) break;
    }
    return j - this.i;
  }

  /** The rule's `len` tokens as a cache key (kind and text; a quoted string differs from a word). */
  private ruleKey(len: number): string {
    let key = '';
    for (let j = this.i, end = this.i + len; j < end; j++) {
      const t = this.toks[j]!;
      key += `${t.kind}${t.text}\u0000`;
    }
    return key;
  }

  private statement(table: Table, t: Token, r: Rule): Statement | null {
    switch (t.text) {
      case 'ip':
      case 'th':
      case 'tcp':
      case 'udp':
      case 'sctp':
        return this.selectorStatement(table, t);
      case 'meta':
        if (this.isWord('l4proto')) return this.selectorStatement(table, t);
        if (this.isWord('mark')) {
          this.next();
          return this.markStatement();
        }
        this.fail(this.peek(), 'unsupported meta key');
      // falls through (fail never returns)
      case 'mark':
        return this.markStatement();
      case 'fib': {
        const f = this.next();
        if (f.text !== 'saddr' && f.text !== 'daddr') this.fail(f, 'unsupported fib expression (saddr or daddr)');
        if (!this.isWord('type')) this.fail(this.peek(), "syntax error, expected 'type'");
        this.next();
        const op = this.op();
        const types = this.wordList(FIB_TYPES, 'address type');
        return { kind: 'fib', field: f.text, op, types };
      }
      case 'ct': {
        const k = this.next();
        if (k.text !== 'state' && k.text !== 'status') this.fail(k, 'unsupported ct key (state, status)');
        const op = this.op();
        const list = this.wordList(k.text === 'state' ? CT_STATES : CT_STATUSES, `ct ${k.text}`);
        return k.text === 'state' ? { kind: 'ct state', op, states: list } : { kind: 'ct status', op, statuses: list };
      }
      case 'numgen': {
        if (!this.isWord('random')) this.fail(this.peek(), 'only numgen random is modelled');
        this.next();
        if (!this.isWord('mod')) this.fail(this.peek(), "syntax error, expected 'mod'");
        this.next();
        const modTok = this.next();
        const mod = parseNumber(modTok.text);
        if (mod === null || mod < 1) this.fail(modTok, 'numgen mod must be a positive number');
        let offset = 0;
        if (this.isWord('offset')) {
          this.next();
          const o = this.next();
          const v = parseNumber(o.text);
          if (v === null) this.fail(o, 'syntax error, expected a number');
          offset = v;
        }
        if (!this.isWord('vmap')) this.fail(this.peek(), "numgen is only modelled with 'vmap { ... }'");
        this.next();
        const map = newSet('', 'map', ['integer'], 'verdict', t.line);
        map.flags = ['interval'];
        this.elementList(table, map);
        return { kind: 'numgen', mod, offset, map };
      }
      case 'counter': {
        let packets = 0;
        let bytes = 0;
        if (this.isWord('packets')) {
          this.next();
          packets = parseNumber(this.word('number')) ?? 0;
          if (!this.isWord('bytes')) this.fail(this.peek(), "syntax error, expected 'bytes'");
          this.next();
          bytes = parseNumber(this.word('number')) ?? 0;
        }
        return { kind: 'counter', packets, bytes };
      }
      case 'comment':
        r.comment = this.string('comment');
        if (!this.atEnd()) this.fail(this.peek(), 'syntax error, comment must end the rule');
        return null;
      case 'accept':
      case 'drop':
      case 'return':
      case 'continue':
      case 'jump':
      case 'goto':
        this.i--;
        return { kind: 'verdict', verdict: this.verdict(table) };
      case 'reject': {
        if (!this.isWord('with')) return { kind: 'reject', with: 'icmp-port-unreachable' };
        this.next();
        const p = this.next();
        if (p.text === 'tcp') {
          const w = this.next();
          if (w.text !== 'reset') this.fail(w, "syntax error, expected 'reset'");
          return { kind: 'reject', with: 'tcp-reset' };
        }
        if (p.text !== 'icmp' && p.text !== 'icmpx') this.fail(p, 'unsupported reject type');
        if (this.isWord('type')) this.next();
        const k = this.next();
        const w = REJECT_ICMP[k.text];
        if (w === undefined) this.fail(k, `unsupported icmp reject code ${k.text}`);
        return { kind: 'reject', with: w };
      }
      case 'dnat': {
        if (this.isWord('ip')) this.next();
        if (!this.isWord('to')) this.fail(this.peek(), "syntax error, expected 'to'");
        this.next();
        const a = this.next();
        const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(a.text);
        let addr = 0;
        try {
          addr = m === null ? NaN : parseIpv4(m[1]!);
        } catch {
          addr = NaN;
        }
        const port = m?.[2] === undefined ? 0 : Number(m[2]);
        if (Number.isNaN(addr) || port > 65535) this.fail(a, 'Error: Could not parse dnat address (addr or addr:port)');
        return { kind: 'dnat', addr, port };
      }
      case 'masquerade': {
        const flags: string[] = [];
        while (this.isWord('random') || this.isWord('fully-random') || this.isWord('persistent')) {
          flags.push(this.next().text);
          if (this.isPunct(',')) this.next();
        }
        return { kind: 'masquerade', flags };
      }
      case 'update':
      case 'add': {
        this.expectPunct('@');
        const set = this.word('set name');
        this.refs.push({ table, kind: 'set', name: set, line: t.line });
        this.expectPunct('{');
        const s0 = this.next();
        const sel = this.selectors(s0);
        this.expectPunct('}');
        return { kind: 'update', set, sel };
      }
      default:
        this.fail(t, 'unsupported statement');
    }
  }

  private op(): CmpOp {
    if (this.isPunct('!=') || this.isPunct('==')) return this.next().text as CmpOp;
    return '==';
  }

  /** `a`, `a,b` or `{ a, b }` of words from `allowed`. */
  private wordList(allowed: ReadonlySet<string>, what: string): string[] {
    const out: string[] = [];
    const braced = this.isPunct('{');
    if (braced) this.next();
    for (;;) {
      const w = this.next();
      if (!allowed.has(w.text)) this.fail(w, `unknown ${what} ${w.text}`);
      out.push(w.text);
      if (!this.isPunct(',')) break;
      this.next();
    }
    if (braced) this.expectPunct('}');
    return out;
  }

  /** One selector starting at `t` (its first word consumed), then `. selector` concatenations. */
  private selectors(t: Token): Selector[] {
    const out = [this.selector(t)];
    while (this.isWord('.')) {
      this.next();
      out.push(this.selector(this.next()));
    }
    return out;
  }

  private selector(t: Token): Selector {
    const f = this.next();
    const s = `${t.text} ${f.text}`;
    if (!(s in SELECTOR_TYPE) || s === 'meta mark') this.fail(f, `unsupported expression ${s}`);
    return s as Selector;
  }

  private selectorStatement(table: Table, t: Token): Statement {
    const sel = this.selectors(t);
    const types = sel.map((s) => SELECTOR_TYPE[s]);
    if (this.isWord('vmap')) {
      this.next();
      if (this.isPunct('@')) {
        this.next();
        const name = this.word('map name');
        this.refs.push({ table, kind: 'map', name, line: t.line });
        return { kind: 'vmap', sel, map: name };
      }
      const map = newSet('', 'map', types, 'verdict', t.line);
      map.flags = ['interval'];
      this.elementList(table, map);
      return { kind: 'vmap', sel, map };
    }
    const op = this.op();
    if (this.isPunct('@')) {
      this.next();
      const name = this.word('set name');
      this.refs.push({ table, kind: 'set', name, line: t.line });
      return { kind: 'lookup', sel, op, set: name };
    }
    const set = newSet('', 'set', types, null, t.line);
    set.flags = ['interval'];
    if (this.isPunct('{')) {
      this.elementList(table, set);
      return { kind: 'match', sel, op, set, literal: false };
    }
    addElement(set, this.element(table, types, null));
    return { kind: 'match', sel, op, set, literal: true };
  }

  /** After `meta mark` / `mark`: a comparison or `set`. */
  private markStatement(): Statement {
    if (this.isWord('set')) {
      this.next();
      if (this.isWord('meta')) this.next();
      if (this.isWord('mark')) {
        this.next();
        const o = this.next();
        const op = ({ or: 'or', '|': 'or', xor: 'xor', '^': 'xor', and: 'and', '&': 'and' } as const)[o.text as 'or'];
        if (op === undefined) this.fail(o, "syntax error, expected 'or', 'xor' or 'and'");
        return { kind: 'mark set', op, value: this.number() };
      }
      return { kind: 'mark set', op: 'set', value: this.number() };
    }
    let mask: number | null = null;
    if (this.isWord('and') || this.isPunct('&')) {
      this.next();
      mask = this.number();
    }
    const op = this.op();
    return { kind: 'mark', mask, op, value: this.number() };
  }

  private number(): number {
    const t = this.next();
    const v = parseNumber(t.text);
    if (v === null || v > 0xffffffff) this.fail(t, 'syntax error, expected a number');
    return v;
  }
}

/** Which chain types and hooks each statement is valid at (the kernel's expression validate at commit). */
function allowedAt(st: Statement, type: string, hook: HookName): string | null {
  if (st.kind === 'dnat') return type === 'nat' && (hook === 'prerouting' || hook === 'output') ? null : 'dnat is only valid in nat chains at prerouting and output';
  if (st.kind === 'masquerade') return type === 'nat' && hook === 'postrouting' ? null : 'masquerade is only valid in nat chains at postrouting';
  if (st.kind === 'reject') return hook === 'input' || hook === 'forward' || hook === 'output' ? null : 'reject is only valid at the input, forward and output hooks';
  return null;
}

/** Every chain a base chain reaches must only hold statements valid at its hook (nft_chain_validate). */
function checkHooks(t: Table): void {
  for (const base of t.chains.values()) {
    if (base.base === null) continue;
    const { type, hook } = base.base;
    const seen = new Set<Chain>();
    const follow = (v: Verdict): void => {
      if (v.kind === 'jump' || v.kind === 'goto') visit(t.chains.get(v.chain)!);
    };
    const visit = (c: Chain): void => {
      if (seen.has(c)) return;
      seen.add(c);
      for (const r of c.rules) {
        for (const st of r.stmts) {
          const bad = allowedAt(st, type, hook);
          if (bad !== null) throw new NftError(r.file, r.line, st.kind, `Could not process rule: Operation not supported (${bad}; chain ${c.name} is reached from ${type} hook ${hook})`);
          if (st.kind === 'verdict') follow(st.verdict);
          else if (st.kind === 'numgen') for (const e of st.map.elements) follow(e.verdict!);
          else if (st.kind === 'vmap') {
            const m = typeof st.map === 'string' ? t.sets.get(st.map) : st.map;
            if (m !== undefined) for (const e of m.elements) follow(e.verdict!);
          }
        }
      }
    };
    visit(base);
  }
}
