/**
 * One iptables command line (the arguments after the table, as
 * iptables-restore hands them to do_command4 in iptables/iptables.c and
 * do_parse in xshared.c) to a Command.
 *
 * Options a loaded module does not claim go, as in command_default, first
 * to the target, then to the most recently loaded match that knows them, and
 * finally to the match named after -p (`-p tcp --dport 80` loads `-m tcp`
 * there, which iptables-save then prints). Anything left is an error naming
 * the option; so are modules, targets and options podwire does not model.
 */
import type { Command, Counters, IpSpec, RuleSpec, RuleTarget } from './ast.js';
import { fail, type SourcePos } from './errors.js';
import type { MatchExt, OptionSpec, ParseCtx, TargetExt } from './extension.js';
import { createMatch } from './matches/index.js';
import { createTarget, isTargetName, STANDARD_TARGETS } from './targets/index.js';
import type { Token } from './tokenize.js';
import { parseAddrMask, parseDecimal, parseIface, parseProtocol, protocolName, type AddrMask } from './values.js';

/** XT_EXTENSION_MAXNAMELEN (29) including the NUL. */
export const CHAIN_NAME_MAX = 28;

/** The checks iptables applies to a new chain's name (-N, and ":NAME -" in a restore file). */
export function checkChainName(name: string, pos: SourcePos): void {
  if (name.length > CHAIN_NAME_MAX) fail(pos, name, `chain name \`${name}' too long (must be under ${CHAIN_NAME_MAX + 1} chars)`);
  if (name === '' || name[0] === '-' || name[0] === '!') fail(pos, name, `chain name not allowed to start with \`${name[0] ?? ''}'`);
  if (/\s/.test(name)) fail(pos, name, `chain name \`${name}' contains whitespace`);
  if (isTargetName(name)) fail(pos, name, `chain name \`${name}' may not clash with target name`);
}

const COMMANDS: Record<string, Command['op']> = {
  '-A': 'append',
  '--append': 'append',
  '-I': 'insert',
  '--insert': 'insert',
  '-D': 'delete',
  '--delete': 'delete',
  '-R': 'replace',
  '--replace': 'replace',
  '-N': 'new-chain',
  '--new-chain': 'new-chain',
  '-X': 'delete-chain',
  '--delete-chain': 'delete-chain',
  '-F': 'flush',
  '--flush': 'flush',
  '-Z': 'zero',
  '--zero': 'zero',
  '-P': 'policy',
  '--policy': 'policy',
  '-E': 'rename-chain',
  '--rename-chain': 'rename-chain',
};

/** Commands iptables has that make no sense inside a restore file. */
const NOT_IN_RESTORE = new Set(['-L', '--list', '-S', '--list-rules', '-C', '--check', '-h', '--help', '-V', '--version']);

type Core = 's' | 'd' | 'p' | 'i' | 'o' | 'f' | 'j' | 'g' | 'm' | 'c';
const CORE: Record<string, Core> = {
  '-s': 's',
  '--source': 's',
  '--src': 's',
  '-d': 'd',
  '--destination': 'd',
  '--dst': 'd',
  '-p': 'p',
  '--protocol': 'p',
  '-i': 'i',
  '--in-interface': 'i',
  '-o': 'o',
  '--out-interface': 'o',
  '-f': 'f',
  '--fragment': 'f',
  '-j': 'j',
  '--jump': 'j',
  '-g': 'g',
  '--goto': 'g',
  '-m': 'm',
  '--match': 'm',
  '-c': 'c',
  '--set-counters': 'c',
};
const INVERTIBLE: ReadonlySet<Core> = new Set<Core>(['s', 'd', 'p', 'i', 'o', 'f']);

const ANY: AddrMask = { addr: 0, mask: 0 };

class RuleParser implements ParseCtx {
  readonly file: string;
  readonly line: number;
  chain = '';
  proto = 0;
  invProto = false;
  private readonly ip: IpSpec = {
    src: ANY,
    srcInv: false,
    dst: ANY,
    dstInv: false,
    inIface: null,
    inInv: false,
    outIface: null,
    outInv: false,
    proto: 0,
    protoInv: false,
    frag: false,
    fragInv: false,
  };
  private srcs: AddrMask[] = [ANY];
  private dsts: AddrMask[] = [ANY];
  private readonly matches: MatchExt[] = [];
  /** Options seen per module instance ("can only be used once"). */
  private readonly seen = new Map<MatchExt | TargetExt, Set<OptionSpec>>();
  private target: RuleTarget = { kind: 'none' };
  private targetExt: TargetExt | null = null;
  private counters: Counters | null = null;
  private readonly given = new Set<Core>();
  private protoLoaded = false;
  private op: Command['op'] | null = null;
  private opToken = '';
  private num: number | null = null;
  private arg2 = '';
  private chainGiven = false;
  private i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    pos: SourcePos,
  ) {
    this.file = pos.file;
    this.line = pos.line;
  }

  parse(): Command {
    const toks = this.tokens;
    let invert = false;
    while (this.i < toks.length) {
      const tok = toks[this.i++]!;
      const s = tok.text;
      if (s === '!' && !tok.quoted) {
        if (invert) fail(this, s, 'multiple consecutive ! not allowed');
        invert = true;
        continue;
      }
      if (tok.quoted || !s.startsWith('-') || s === '-' || s === '--') fail(this, s, `Bad argument \`${s}'`);
      if (Object.hasOwn(COMMANDS, s)) {
        if (invert) fail(this, s, `cannot have ! before ${s}`);
        this.command(s, COMMANDS[s]!);
        continue;
      }
      if (NOT_IN_RESTORE.has(s)) fail(this, s, `${s} is not a command iptables-restore accepts`);
      if (s === '-t' || s === '--table') fail(this, s, `The -t option cannot be used in iptables-restore`);
      const core = Object.hasOwn(CORE, s) ? CORE[s]! : undefined;
      if (core !== undefined) {
        if (invert && !INVERTIBLE.has(core)) fail(this, s, `cannot have ! before ${s}`);
        this.core(core, s, invert);
      } else this.extOption(s, invert);
      invert = false;
    }
    if (invert) fail(this, '!', "Bad argument `!'");
    return this.finish();
  }

  private next(opt: string): string {
    const t = this.tokens[this.i];
    if (t === undefined) fail(this, opt, `option "${opt}" requires an argument`);
    this.i++;
    return t.text;
  }

  /** The following token, if it is a plain argument (not an option, not "!"). */
  private optionalArg(): string | null {
    const t = this.tokens[this.i];
    if (t === undefined || (!t.quoted && (t.text.startsWith('-') || t.text === '!'))) return null;
    this.i++;
    return t.text;
  }

  private command(s: string, op: Command['op']): void {
    if (this.op !== null) fail(this, s, `Cannot use ${s} with ${this.opToken}`);
    this.op = op;
    this.opToken = s;
    switch (op) {
      case 'append':
      case 'new-chain':
        this.chain = this.next(s);
        this.chainGiven = true;
        break;
      case 'insert':
      case 'delete':
      case 'replace': {
        this.chain = this.next(s);
        this.chainGiven = true;
        const n = this.tokens[this.i];
        if (n !== undefined && /^[0-9]+$/.test(n.text)) {
          this.i++;
          const v = parseDecimal(n.text, 1, 0x7fffffff);
          if (v === null) fail(this, n.text, `Invalid rule number \`${n.text}'`);
          this.num = v;
        } else if (op === 'replace') fail(this, s, `${s} requires a rule number`);
        break;
      }
      case 'delete-chain':
      case 'flush':
      case 'zero': {
        const c = this.optionalArg();
        if (c !== null) {
          this.chain = c;
          this.chainGiven = true;
        }
        break;
      }
      case 'policy':
        this.chain = this.next(s);
        this.chainGiven = true;
        this.arg2 = this.next(s);
        break;
      case 'rename-chain':
        this.chain = this.next(s);
        this.chainGiven = true;
        this.arg2 = this.next(s);
    }
  }

  private once(c: Core, s: string): void {
    if (this.given.has(c)) fail(this, s, `multiple ${s} flags not allowed`);
    this.given.add(c);
  }

  private core(c: Core, s: string, invert: boolean): void {
    const ip = this.ip;
    switch (c) {
      case 's':
      case 'd': {
        this.once(c, s);
        const list = this.next(s)
          .split(',')
          .map((a) => parseAddrMask(a, this));
        if (c === 's') {
          this.srcs = list;
          ip.srcInv = invert;
        } else {
          this.dsts = list;
          ip.dstInv = invert;
        }
        break;
      }
      case 'p':
        this.once(c, s);
        ip.proto = this.proto = parseProtocol(this.next(s), this);
        ip.protoInv = this.invProto = invert;
        break;
      case 'i':
      case 'o': {
        this.once(c, s);
        const spec = parseIface(this.next(s), this);
        // "-i +" matches every interface: iptables stores it as no interface.
        const iface = spec.wildcard && spec.name === '' ? null : spec;
        if (c === 'i') {
          ip.inIface = iface;
          ip.inInv = invert;
        } else {
          ip.outIface = iface;
          ip.outInv = invert;
        }
        break;
      }
      case 'f':
        this.once(c, s);
        ip.frag = true;
        ip.fragInv = invert;
        break;
      case 'j':
      case 'g':
        if (this.given.has('j') || this.given.has('g')) fail(this, s, `multiple -j flags not allowed`);
        this.given.add(c);
        this.jump(c === 'g', this.next(s), s);
        break;
      case 'm': {
        const name = this.next(s);
        const m = createMatch(name);
        if (m === undefined) fail(this, name, `Couldn't load match \`${name}': not modelled by podwire (No such file or directory)`);
        this.matches.push(m);
        break;
      }
      case 'c': {
        this.once(c, s);
        const p = parseDecimal(this.next(s), 0, Number.MAX_SAFE_INTEGER);
        const b = parseDecimal(this.next(s), 0, Number.MAX_SAFE_INTEGER);
        if (p === null || b === null) fail(this, s, `-c packet and byte counters must be numeric (${s})`);
        this.counters = { packets: p, bytes: b };
      }
    }
  }

  private jump(isGoto: boolean, name: string, s: string): void {
    if ((STANDARD_TARGETS as readonly string[]).includes(name)) {
      if (isGoto) fail(this, name, `goto '${name}' is not a chain`);
      this.target = { kind: 'verdict', verdict: name as 'ACCEPT' | 'DROP' | 'RETURN' };
      return;
    }
    const ext = createTarget(name);
    if (ext !== undefined) {
      if (isGoto) fail(this, name, `goto '${name}' is not a chain`);
      this.target = { kind: 'ext', ext };
      this.targetExt = ext;
      return;
    }
    if (name === 'QUEUE' || name === 'NFQUEUE') fail(this, name, `Couldn't load target \`${name}': not modelled by podwire`);
    if (name === '' || name.startsWith('-')) fail(this, s, `${s} needs a target or chain name`);
    // Anything else names a user chain, checked when the command is applied.
    this.target = { kind: 'jump', chain: name, goto: isGoto };
  }

  /** command_default: target first, then matches newest first, then the -p protocol's match. */
  private extOption(s: string, invert: boolean): void {
    if (!s.startsWith('--')) fail(this, s, `unknown option "${s}"`);
    const name = s.slice(2);
    if (this.targetExt !== null) {
      const spec = this.targetExt.opts.get(name);
      if (spec !== undefined) return this.dispatch(this.targetExt, this.targetExt.name, spec, s, invert);
    }
    for (let k = this.matches.length - 1; k >= 0; k--) {
      const m = this.matches[k]!;
      const spec = m.opts.get(name);
      if (spec !== undefined) return this.dispatch(m, m.name, spec, s, invert);
    }
    // load_proto: once, for a protocol given with -p (not negated) that has a match module.
    if (!this.protoLoaded && this.proto !== 0 && !this.invProto) {
      this.protoLoaded = true;
      const m = createMatch(protocolName(this.proto));
      if (m !== undefined) {
        this.matches.push(m);
        const spec = m.opts.get(name);
        if (spec !== undefined) return this.dispatch(m, m.name, spec, s, invert);
      }
    }
    fail(this, s, `unknown option "${s}"`);
  }

  private dispatch(ext: MatchExt | TargetExt, extName: string, spec: OptionSpec, s: string, invert: boolean): void {
    if (spec.unsupported) fail(this, s, `${extName}: option "${s}" is not modelled by podwire`);
    if (invert && !spec.invert) fail(this, s, `${extName}: option "${s}" cannot be inverted.`);
    let seen = this.seen.get(ext);
    if (seen === undefined) {
      seen = new Set();
      this.seen.set(ext, seen);
    }
    if (seen.has(spec)) fail(this, s, `${extName}: option "${s}" can only be used once.`);
    seen.add(spec);
    const args: string[] = [];
    for (let k = 0; k < spec.args; k++) args.push(this.next(s));
    ext.parse(spec, args, invert, this);
  }

  private finish(): Command {
    const op = this.op;
    if (op === null) fail(this, this.tokens[0]?.text ?? '', 'no command specified (expected -A, -I, -D, -R, -N, -X, -F, -Z, -P or -E)');
    const ruleOps = op === 'append' || op === 'insert' || op === 'replace' || (op === 'delete' && this.num === null);
    const hasRuleOptions = this.given.size > 0 || this.matches.length > 0;
    if (!ruleOps && hasRuleOptions) fail(this, this.opToken, `Illegal option with this command (${this.opToken})`);
    const chain = this.chain;
    switch (op) {
      case 'new-chain':
        checkChainName(chain, this);
        return { op, chain };
      case 'delete-chain':
      case 'flush':
      case 'zero':
        return { op, chain: this.chainGiven ? chain : null };
      case 'policy':
        if (this.arg2 !== 'ACCEPT' && this.arg2 !== 'DROP') fail(this, this.arg2, `Bad policy name \`${this.arg2}'`);
        return { op, chain, policy: this.arg2 };
      case 'rename-chain':
        checkChainName(this.arg2, this);
        return { op, chain, newName: this.arg2 };
      case 'delete':
        if (this.num !== null) return { op, chain, num: this.num, rules: [] };
    }
    // do_command4's sanity checks for rules in built-in chains.
    if (chain === 'PREROUTING' || chain === 'INPUT') {
      if (this.ip.outIface !== null || this.given.has('o')) fail(this, '-o', `Can't use -o with ${chain}`);
    }
    if (chain === 'POSTROUTING' || chain === 'OUTPUT') {
      if (this.ip.inIface !== null || this.given.has('i')) fail(this, '-i', `Can't use -i with ${chain}`);
    }
    for (const m of this.matches) m.finish(this);
    if (this.targetExt !== null) this.targetExt.finish(this);
    const rules: RuleSpec[] = [];
    // Parsed rules live as long as the build (one per distinct line): no spare room from push.
    const matches = this.matches.slice();
    for (const src of this.srcs) {
      for (const dst of this.dsts) {
        rules.push({
          ip: { ...this.ip, src, dst },
          matches,
          target: this.target,
          counters: this.counters,
        });
      }
    }
    if (op === 'append') return { op, chain, rules };
    if (op === 'insert') return { op, chain, num: this.num ?? 1, rules };
    if (op === 'replace') return { op, chain, num: this.num!, rules };
    return { op: 'delete', chain, num: null, rules };
  }
}

/** Parses the arguments of one command line. */
export function parseCommand(tokens: readonly Token[], pos: SourcePos): Command {
  return new RuleParser(tokens, pos).parse();
}
