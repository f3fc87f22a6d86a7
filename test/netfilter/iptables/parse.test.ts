/**
 * iptables-restore input: the tokenizer (iptables' add_param_to_argv
 * quoting), the typed AST, the commands a restore file may carry, and errors
 * that name file:line and the offending token for everything iptables (or
 * the kernel's checkentry) refuses. Messages follow the wording iptables
 * 1.8.9 and the kernel print for the same input.
 */
import { describe, expect, it } from 'vitest';
import { IptablesError, IptablesRuleset, parseRestore } from '../../../models/netfilter/iptables/index.js';
import { tokenizeLine } from '../../../models/netfilter/iptables/tokenize.js';
import { filter } from './helpers.js';

const pos = { file: 't', line: 1 };
const words = (s: string) => tokenizeLine(s, pos).map((t) => t.text);

describe('tokenizer (add_param_to_argv)', () => {
  it('splits on blanks, runs of blanks count once', () => {
    expect(words('-A  INPUT\t-j   ACCEPT')).toEqual(['-A', 'INPUT', '-j', 'ACCEPT']);
  });
  it('keeps blanks inside double quotes and unescapes \\" and \\\\', () => {
    expect(words('--comment "it\\\'s \\"q\\" \\\\ x" -j X')).toEqual(['--comment', 'it\'s "q" \\ x', '-j', 'X']);
  });
  it('a closing quote ends the argument; "" is an empty argument', () => {
    expect(words('"ab"c ""')).toEqual(['ab', 'c', '']);
    expect(words('a"b c"')).toEqual(['ab c']);
  });
  it('single quotes and bare backslashes are ordinary characters', () => {
    expect(words("'a b' c\\d")).toEqual(["'a", "b'", 'c\\d']);
  });
  it('marks quoted arguments, so "!" is a value not a negation', () => {
    expect(tokenizeLine('! "!"', pos).map((t) => t.quoted)).toEqual([false, true]);
  });
  it('refuses an unterminated quote', () => {
    expect(() => tokenizeLine('--comment "abc', pos)).toThrow(/unterminated quote/);
  });
});

describe('parseRestore', () => {
  it('gives tables, chains with policies and counters, and commands with their lines', () => {
    const ast = parseRestore(
      ['# head', '*nat', ':PREROUTING ACCEPT [3:180]', ':KUBE-X - [0:0]', '', '[2:120] -A PREROUTING -p tcp --dport 80 -j KUBE-X', 'COMMIT', '*filter', '-P INPUT DROP', 'COMMIT'].join('\n'),
      'f.rules',
    );
    expect(ast.tables.map((t) => [t.table, t.line, t.commitLine])).toEqual([
      ['nat', 2, 7],
      ['filter', 8, 10],
    ]);
    const [pre, user, rule] = ast.tables[0]!.statements;
    expect(pre).toMatchObject({ kind: 'chain', line: 3, name: 'PREROUTING', policy: 'ACCEPT', counters: { packets: 3, bytes: 180 } });
    expect(user).toMatchObject({ kind: 'chain', name: 'KUBE-X', policy: null });
    expect(rule).toMatchObject({ kind: 'command', line: 6, prefixCounters: { packets: 2, bytes: 120 } });
    if (rule?.kind !== 'command' || rule.command.op !== 'append') throw new Error('expected -A');
    const r = rule.command.rules[0]!;
    expect(r.ip.proto).toBe(6);
    expect(r.matches.map((m) => m.name)).toEqual(['tcp']);
    expect(r.target).toEqual({ kind: 'jump', chain: 'KUBE-X', goto: false });
    expect(ast.tables[1]!.statements[0]).toMatchObject({ command: { op: 'policy', chain: 'INPUT', policy: 'DROP' } });
  });

  it('expands comma-separated -s/-d into one rule per pair, as iptables does', () => {
    const r = new IptablesRuleset();
    r.restore(filter('-A INPUT -s 10.0.0.1,10.0.0.2 -d 10.1.0.0/16,10.2.0.0/16 -j ACCEPT'), 'x');
    expect(r.save().match(/^-A INPUT.*$/gm)).toEqual([
      '-A INPUT -s 10.0.0.1/32 -d 10.1.0.0/16 -j ACCEPT',
      '-A INPUT -s 10.0.0.1/32 -d 10.2.0.0/16 -j ACCEPT',
      '-A INPUT -s 10.0.0.2/32 -d 10.1.0.0/16 -j ACCEPT',
      '-A INPUT -s 10.0.0.2/32 -d 10.2.0.0/16 -j ACCEPT',
    ]);
  });
});

/** Restores `text` and returns the IptablesError it must raise. */
function error(text: string, file = 'bad.rules', before?: string): IptablesError {
  const r = new IptablesRuleset();
  if (before !== undefined) r.restore(before, 'setup.rules');
  try {
    r.restore(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(IptablesError);
    return e as IptablesError;
  }
  throw new Error('restore did not fail');
}

function expectError(e: IptablesError, line: number, token: string, reason: RegExp): void {
  expect(e.file).toBe('bad.rules');
  expect(e.line).toBe(line);
  expect(e.token).toBe(token);
  expect(e.reason).toMatch(reason);
  expect(e.message.startsWith(`bad.rules:${line}: `)).toBe(true);
  expect(e.message).toContain(token);
}

describe('errors name file:line and the token', () => {
  const f = (...lines: string[]) => ['*filter', ...lines, 'COMMIT', ''].join('\n');
  const nat = (...lines: string[]) => ['*nat', ...lines, 'COMMIT', ''].join('\n');

  it('unknown match', () => expectError(error(f('-A INPUT -m foo -j ACCEPT')), 2, 'foo', /Couldn't load match `foo'/));
  it('unknown option', () => expectError(error(f('-A INPUT -p tcp --foo 1 -j ACCEPT')), 2, '--foo', /unknown option "--foo"/));
  it('a port option without -p', () => expectError(error(f('-A INPUT --dport 1 -j ACCEPT')), 2, '--dport', /unknown option "--dport"/));
  it('a port option with a negated -p', () => expectError(error(f('-A INPUT ! -p tcp --dport 1')), 2, '--dport', /unknown option/));
  it('unknown target', () => expectError(error(f('-A INPUT -j FOO')), 2, 'FOO', /Couldn't load target `FOO'/));
  it('unmodelled target', () => expectError(error(f('-A INPUT -j QUEUE')), 2, 'QUEUE', /Couldn't load target `QUEUE'/));
  it('unmodelled option of a modelled match', () => expectError(error(f('-A INPUT -p sctp -m sctp --chunk-types all INIT')), 2, '--chunk-types', /not modelled/));
  it('missing COMMIT', () => expectError(error('*filter\n-A INPUT -j ACCEPT\n'), 4, 'COMMIT', /COMMIT expected/));
  it('rule before any table', () => expectError(error('\n-A INPUT -j ACCEPT\n*filter\nCOMMIT\n'), 2, '-A', /outside a table/));
  it('-A to a chain that does not exist', () => expectError(error(f('-A NOPE -j ACCEPT')), 2, 'NOPE', /Couldn't find chain `NOPE'/));
  it('-j to a chain declared later is unknown at that line', () => expectError(error(f('-A INPUT -j LATER', '-N LATER')), 2, 'LATER', /Couldn't load target `LATER'/));
  it('goto a target', () => expectError(error(f('-A INPUT -g ACCEPT')), 2, 'ACCEPT', /goto 'ACCEPT' is not a chain/));
  it('jump to a built-in chain', () => expectError(error(f('-A INPUT -j OUTPUT')), 2, 'OUTPUT', /built-in chain/));
  it('DNAT outside the nat table (kernel checkentry)', () =>
    expectError(error(f('-A INPUT -p tcp -j DNAT --to-destination 1.2.3.4:80')), 2, '-j DNAT', /DNAT target: only valid in nat table, not filter/));
  it('REJECT outside filter', () => expectError(error('*raw\n-A PREROUTING -j REJECT\nCOMMIT\n'), 2, '-j REJECT', /REJECT target: only valid in filter table, not raw/));
  it('NOTRACK outside raw', () => expectError(error(f('-A INPUT -j NOTRACK')), 2, '-j NOTRACK', /CT target: only valid in raw table, not filter/));
  it('MASQUERADE reached from PREROUTING through a user chain', () =>
    expectError(error(nat(':X - [0:0]', '-A PREROUTING -j X', '-A X -j MASQUERADE')), 4, '-j MASQUERADE', /MASQUERADE target: used from hooks PREROUTING, but only usable from POSTROUTING/));
  it('DNAT reached from an allowed hook and a forbidden one names both masks', () =>
    expectError(
      error(nat(':X - [0:0]', '-A PREROUTING -j X', '-A POSTROUTING -j X', '-A X -p tcp -j DNAT --to-destination 10.0.0.1:80')),
      5,
      '-j DNAT',
      /DNAT target: used from hooks PREROUTING\/POSTROUTING, but only usable from PREROUTING\/OUTPUT/,
    ));
  it('tcp match without -p tcp (kernel: proto mismatch)', () => expectError(error(f('-A INPUT -m tcp --dport 80 -j ACCEPT')), 2, '-m tcp', /tcp match: only valid for protocol 6/));
  it('REJECT --reject-with tcp-reset without -p tcp', () => expectError(error(f('-A INPUT -j REJECT --reject-with tcp-reset')), 2, 'tcp-reset', /TCP_RESET invalid for non-tcp/));
  it('a loop reachable from a hook (ELOOP)', () =>
    expectError(error(f(':X - [0:0]', ':Y - [0:0]', '-A X -j Y', '-A Y -j X', '-A INPUT -j X')), 5, 'X', /loop detected/));
  it('a loop no hook reaches is loaded, as mark_source_chains only walks from the hooks', () => {
    const r = new IptablesRuleset();
    r.restore(f(':X - [0:0]', ':Y - [0:0]', '-A X -j Y', '-A Y -g X'), 'ok.rules');
    expect(r.save()).toContain('-A Y -g X');
  });
  it('a target after an unconditional ACCEPT is unreachable and not hook-checked', () => {
    const r = new IptablesRuleset();
    r.restore(nat('-A PREROUTING -j ACCEPT', '-A PREROUTING -j MASQUERADE'), 'ok.rules');
    expect(r.save()).toContain('-A PREROUTING -j MASQUERADE');
  });
  it('-X of a chain still referenced', () => expectError(error(f(':X - [0:0]', '-A INPUT -j X', '-X X')), 4, 'X', /Too many links/));
  it('-X of a chain with rules', () => expectError(error(f(':X - [0:0]', '-A X -j ACCEPT', '-X X')), 4, 'X', /Directory not empty/));
  it('-N of an existing chain', () => expectError(error(f('-N X', '-N X')), 3, 'X', /already exists/));
  it('a chain named like a target', () => expectError(error(f('-N MARK')), 2, 'MARK', /may not clash with target name/));
  it('policy on a user chain', () => expectError(error(f(':X ACCEPT [0:0]')), 2, 'X', /Bad built-in chain name/));
  it('bad policy name', () => expectError(error(f(':INPUT FOO [0:0]')), 2, 'FOO', /Bad policy name/));
  it('unknown table', () => expectError(error('*foo\nCOMMIT\n'), 1, 'foo', /unable to initialize table 'foo'/));
  it('a new table before COMMIT', () => expectError(error('*filter\n*nat\nCOMMIT\n'), 2, '*nat', /Bad argument `\*nat'/));
  it('junk', () => expectError(error(f('garbage')), 2, 'garbage', /Bad argument `garbage'/));
  it('a stray argument after the target', () => expectError(error(f('-A INPUT -j ACCEPT extra')), 2, 'extra', /Bad argument `extra'/));
  it('bad address', () => expectError(error(f('-A INPUT -s 1.2.3.400 -j ACCEPT')), 2, '1.2.3.400', /host\/network `1.2.3.400' not found/));
  it('bad mask', () => expectError(error(f('-A INPUT -s 10.0.0.1/33 -j ACCEPT')), 2, '10.0.0.1/33', /invalid mask `33'/));
  it('bad port', () => expectError(error(f('-A INPUT -p tcp --dport 99999 -j ACCEPT')), 2, '99999', /invalid port\/service `99999'/));
  it('bad protocol', () => expectError(error(f('-A INPUT -p foo -j ACCEPT')), 2, 'foo', /unknown protocol "foo"/));
  it('two -p', () => expectError(error(f('-A INPUT -p udp -p tcp -j ACCEPT')), 2, '-p', /multiple -p flags not allowed/));
  it('two -j', () => expectError(error(f('-A INPUT -j ACCEPT -j DROP')), 2, '-j', /multiple -j flags/));
  it('! !', () => expectError(error(f('-A INPUT ! ! -s 1.2.3.4 -j ACCEPT')), 2, '!', /multiple consecutive ! not allowed/));
  it('-o in INPUT', () => expectError(error(f('-A INPUT -o eth0 -j ACCEPT')), 2, '-o', /Can't use -o with INPUT/));
  it('-i in OUTPUT', () => expectError(error(f('-A OUTPUT -i eth0 -j ACCEPT')), 2, '-i', /Can't use -i with OUTPUT/));
  it('an option that cannot be inverted', () => expectError(error(f('-A INPUT -m statistic ! --mode random --probability 0.5')), 2, '--mode', /cannot be inverted/));
  it('an option given twice', () => expectError(error(f('-A INPUT -m mark --mark 0x1 --mark 0x2')), 2, '--mark', /can only be used once/));
  it('an interface name too long', () => expectError(error(f('-A FORWARD -i abcdefghijklmnopq')), 2, 'abcdefghijklmnopq', /shorter than IFNAMSIZ/));
  it('-t inside a restore file', () => expectError(error(f('-t nat -A INPUT')), 2, '-t', /-t option cannot be used/));
  it('an nfacct object that does not exist', () => expectError(error(f('-A INPUT -m nfacct --nfacct-name nope')), 2, 'nope', /accounting object `nope' does not exist/));
  it('an ip set that does not exist, when sets are resolved at load', () => {
    const r = new IptablesRuleset({ ipsets: () => undefined });
    expect(() => r.restore(f('-A INPUT -m set --match-set blocked src -j DROP'), 'bad.rules')).toThrow(/bad.rules:2: Set blocked doesn't exist/);
  });
  it('line numbers count comments and blank lines', () => expectError(error('# x\n\n*filter\n\n# y\n-A INPUT -m foo\nCOMMIT\n'), 6, 'foo', /Couldn't load match/));
  it('lines of white space alone (blanks, tabs, a vertical tab, a no-break space) are skipped and counted, and CRLF ends are read', () => {
    expectError(error('*filter\r\n \t \r\n\u000b\n\u00a0\n-A INPUT -j ACCEPT\r\n-A INPUT -m foo\r\nCOMMIT\r\n'), 6, 'foo', /Couldn't load match/);
    const r = new IptablesRuleset();
    r.restore('*filter\r\n\t\r\n-A INPUT -j ACCEPT\r\nCOMMIT\r\n', 'crlf.rules');
    expect(r.save()).toContain('-A INPUT -j ACCEPT\n');
  });
  it('a missing ip set named by a later rule is that rule\'s error', () => {
    const r = new IptablesRuleset({ ipsets: (name) => (name === 'known' ? ({} as never) : undefined) });
    const text = f('-A INPUT -j ACCEPT', '-A INPUT -m set --match-set known src -j ACCEPT', '-A INPUT -m set --match-set blocked src -j DROP');
    expect(() => r.restore(text, 'bad.rules')).toThrow(/^bad.rules:4: Set blocked doesn't exist/);
  });

  it('the first line that fails is the one reported, whether it fails to parse or to apply (as iptables-legacy-restore)', () => {
    expectError(error(f('-A NOPE -j ACCEPT', '-A INPUT -m foo')), 2, 'NOPE', /Couldn't find chain `NOPE'/);
    expectError(error(f('-A INPUT -m foo', '-A NOPE -j ACCEPT')), 2, 'foo', /Couldn't load match `foo'/);
  });

  it('an error in a later table leaves earlier COMMITs loaded and the failing table unchanged', () => {
    const r = new IptablesRuleset();
    r.restore('*mangle\n-A INPUT -j MARK --set-mark 1\nCOMMIT\n', 'first.rules');
    expect(() => r.restore('*raw\n-A OUTPUT -j NOTRACK\nCOMMIT\n*mangle\n-A INPUT -j ACCEPT\n-A INPUT -m foo\nCOMMIT\n', 'second.rules')).toThrow(
      /second.rules:6: .*foo/,
    );
    expect(r.save({ table: 'raw' })).toContain('-A OUTPUT -j NOTRACK');
    expect(r.save({ table: 'mangle' })).toContain('-A INPUT -j MARK --set-xmark 0x1/0xffffffff');
    expect(r.save({ table: 'mangle' })).not.toContain('-A INPUT -j ACCEPT');
  });
});

describe('commands in a restore file', () => {
  const rules = (r: IptablesRuleset, chain = 'INPUT') => r.save().match(new RegExp(`^-A ${chain} .*$`, 'gm')) ?? [];

  it('-I inserts at a position, -D deletes by number or by spec, -R replaces', () => {
    const r = new IptablesRuleset();
    r.restore(filter('-I INPUT -p tcp', '-I INPUT 1 -p udp', '-I INPUT 3 -p icmp', '-A INPUT -p gre', '-D INPUT -p gre', '-D INPUT 1', '-R INPUT 1 -p sctp'), 'c');
    expect(rules(r)).toEqual(['-A INPUT -p sctp', '-A INPUT -p icmp']);
  });
  it('-I beyond the end, -D of a missing rule and -R beyond the end fail', () => {
    expect(() => new IptablesRuleset().restore(filter('-I INPUT 2 -j DROP'), 'c')).toThrow(/Index of insertion too big/);
    expect(() => new IptablesRuleset().restore(filter('-D INPUT -p tcp'), 'c')).toThrow(/Bad rule/);
    expect(() => new IptablesRuleset().restore(filter('-R INPUT 1 -p tcp'), 'c')).toThrow(/Index of replacement too big/);
  });
  it('-N, -E, -F, -X, -Z, -P', () => {
    const r = new IptablesRuleset();
    r.restore(filter('-N A', '-N B', '-A A -j ACCEPT -c 5 500', '-A INPUT -j A', '-E A C', '-F B', '-X B', '-P FORWARD DROP', '-Z C'), 'c');
    const s = r.save({ counters: true });
    expect(s).toContain(':FORWARD DROP [0:0]');
    expect(s).toContain(':C - [0:0]');
    expect(s).not.toContain(':B ');
    expect(s).toContain('[0:0] -A C -j ACCEPT');
    expect(s).toContain('-A INPUT -j C');
  });
  it('-X with no chain deletes every user chain, -F with no chain flushes every chain', () => {
    const r = new IptablesRuleset();
    r.restore(filter('-N A', '-N B', '-A A -j B', '-A INPUT -j ACCEPT', '-F', '-X'), 'c');
    expect(r.save()).toBe('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
  });
  it('--noflush adds to a table; ":CHAIN -" flushes an existing user chain (kube-proxy partial sync)', () => {
    const r = new IptablesRuleset();
    r.restore(filter(':KEEP - [0:0]', ':REDO - [0:0]', '-A KEEP -j ACCEPT', '-A REDO -p udp', '-A INPUT -j KEEP', '-A INPUT -j REDO'), 'full');
    r.restore('*filter\n:REDO - [0:0]\n-A REDO -p tcp\n-A INPUT -p icmp\nCOMMIT\n', 'partial', { noflush: true });
    expect(r.save()).toBe(
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':KEEP - [0:0]',
        ':REDO - [0:0]',
        '-A INPUT -j KEEP',
        '-A INPUT -j REDO',
        '-A INPUT -p icmp',
        '-A KEEP -j ACCEPT',
        '-A REDO -p tcp',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
  it('without --noflush, "*table" replaces the whole table', () => {
    const r = new IptablesRuleset();
    r.restore(filter(':OLD - [0:0]', '-A INPUT -j OLD'), 'a');
    r.restore(filter('-A INPUT -p tcp'), 'b');
    expect(r.save()).not.toContain('OLD');
    expect(rules(r)).toEqual(['-A INPUT -p tcp']);
  });
});
