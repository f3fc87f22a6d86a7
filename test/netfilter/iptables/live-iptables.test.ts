/**
 * podwire against the real thing, in throwaway network namespaces (needs
 * root, iproute2 and iptables-legacy; skipped otherwise, with the reason
 * printed):
 *
 * 1. every fixture, loaded with iptables-legacy-restore, prints back exactly
 *    what save() and list() print;
 * 2. random rulesets (the property test's generator) round-trip through real
 *    iptables-restore/iptables-save to the text save() writes;
 * 3. ping over lo through rules with jumps, gotos, returns, marks, nth
 *    statistic and conntrack state leaves the kernel's counters equal to the
 *    engine's for the same packets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import type { TableName } from '../../../models/netfilter/hooks.js';
import { conn, CtDir, CtState, dev, FakeHost, nf, NfHook, NfVerdict, packet } from './helpers.js';

function prerequisites(): { ok: boolean; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root for ip netns' };
  for (const tool of ['ip', 'iptables-legacy-restore', 'iptables-legacy-save', 'iptables-legacy', 'ping']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return { ok: false, reason: `${tool} not installed` };
  }
  const ns = `pwipt-probe-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) return { ok: false, reason: 'cannot create a network namespace' };
  const legacy = spawnSync('ip', ['netns', 'exec', ns, 'iptables-legacy-save']).status === 0;
  spawnSync('ip', ['netns', 'del', ns]);
  return legacy ? { ok: true, reason: '' } : { ok: false, reason: 'iptables-legacy cannot reach the kernel (ip_tables module?)' };
}

const pre = prerequisites();
if (!pre.ok) console.warn(`[iptables live] skipped: ${pre.reason}`);

const NS = `pwipt-live-${process.pid}`;
const inNs = (cmd: string, args: string[], input?: string) => execFileSync('ip', ['netns', 'exec', NS, cmd, ...args], { input, encoding: 'utf8' });
const realSave = () => inNs('iptables-legacy-save', ['-c']).replace(/^#.*\n/gm, '');
const realList = (t: TableName) => inNs('iptables-legacy', ['-t', t, '-L', '-v', '-n', '-x']);
const tablesOf = (save: string) => [...save.matchAll(/^\*(\w+)$/gm)].map((m) => m[1] as TableName);

describe.skipIf(!pre.ok)('against iptables-legacy and the kernel', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', NS]);
  });

  const dir = new URL('./fixtures/', import.meta.url);
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.rules'))) {
    it(`${f}: save and -L as iptables prints them`, () => {
      const text = readFileSync(new URL(f, dir), 'utf8');
      // Fresh tables each time: flush every table the namespace has.
      for (const t of ['raw', 'mangle', 'nat', 'filter'] as const) inNs('iptables-legacy-restore', [], `*${t}\nCOMMIT\n`);
      inNs('iptables-legacy-restore', [], text);
      const ours = new IptablesRuleset();
      ours.restore(text, f);
      const real = realSave();
      for (const t of tablesOf(ours.save())) {
        expect(ours.save({ counters: true, table: t })).toBe(real.slice(real.indexOf(`*${t}\n`), real.indexOf('COMMIT\n', real.indexOf(`*${t}\n`)) + 7));
        expect(ours.list(t)).toBe(realList(t));
      }
    });
  }

  it('random rulesets round-trip through iptables-restore/iptables-save as through save()', () => {
    const verbs = ['-s 10.0.0.0/8', '! -s 10.1.2.3', '-d 192.168.0.0/255.255.0.0', '-i eth+', '! -i veth0', '-p tcp', '! -p udp', '-f'];
    const matchArb = fc.constantFrom(
      '-p tcp --dport 80',
      '-p tcp ! --sport 1:1023 --syn',
      '-p udp -m udp --dport 53',
      '-p icmp --icmp-type echo-request',
      '-p tcp -m multiport --dports 80,443,8000:8080',
      '-m mark --mark 0x4000/0x4000',
      '-m conntrack --ctstate NEW,ESTABLISHED --ctorigdstport 80',
      '-m state ! --state INVALID',
      '-m statistic --mode random --probability 0.2',
      '-m statistic --mode nth --every 4 --packet 3',
      '-m comment --comment "a b"',
      '-m addrtype --dst-type LOCAL',
      '-m recent --rcheck --seconds 60 --name X',
      '-m connmark ! --mark 0x1',
      '-m physdev --physdev-is-bridged',
      // Refused by iptables or by the kernel:
      '-m tcp --dport 22',
      '-p icmp -m multiport --dports 1',
      '-m statistic --mode nth --every 2',
    );
    const targetArb = fc.constantFrom('', '-j ACCEPT', '-j DROP', '-j RETURN', '-j U', '-g U', '-j MARK --or-mark 0x4000', '-j CONNMARK --save-mark', '-j LOG --log-prefix "x y"', '-j REJECT', '-j REJECT --reject-with tcp-reset', '-j DNAT --to-destination 10.0.0.1', '-j NOTRACK');
    const ruleArb = fc.tuple(fc.subarray(verbs, { maxLength: 3 }), fc.option(matchArb), targetArb, fc.constantFrom('FORWARD', 'U'));
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 8 }), (rules) => {
        const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':U - [0:0]'];
        for (const [core, m, t, chain] of rules) {
          if (chain === 'U' && (t === '-j U' || t === '-g U')) continue;
          // -p in the core and a match that sets its own -p would clash; keep the match's.
          const c = m !== null && m.startsWith('-p') ? core.filter((x) => !x.includes('-p')) : core;
          lines.push(['-A', chain, ...c, m ?? '', t].filter((x) => x !== '').join(' '));
        }
        lines.push('COMMIT', '');
        const text = lines.join('\n');
        const ours = new IptablesRuleset();
        let ourError: string | null = null;
        try {
          ours.restore(text, 'random.rules');
        } catch (e) {
          ourError = (e as Error).message;
        }
        const real = spawnSync('ip', ['netns', 'exec', NS, 'iptables-legacy-restore'], { input: text, encoding: 'utf8' });
        // Both refuse or both accept...
        expect(ourError === null, `podwire: ${ourError}; iptables: ${real.stderr}\n${text}`).toBe(real.status === 0);
        // ...and what they accept reads back the same.
        if (ourError === null) expect(ours.save({ table: 'filter', counters: true })).toBe(realSave().match(/\*filter\n[\s\S]*?COMMIT\n/)![0]);
      }),
      { numRuns: Number(process.env.PWIPT_RUNS ?? 60), seed: Number(process.env.PWIPT_SEED ?? 20260101) },
    );
  });

  it('a restore fails at the same line as iptables-legacy-restore: the first that fails to parse or to apply', () => {
    const cases = [
      '*filter\n-A NOPE -j ACCEPT\n-A INPUT -m foo\nCOMMIT\n',
      '*filter\n-A INPUT -m foo\n-A NOPE -j ACCEPT\nCOMMIT\n',
      '*filter\n-A INPUT -j ACCEPT\n-X INPUT\n-A INPUT -m foo\nCOMMIT\n',
      '*filter\n:X - [0:0]\n-A INPUT -j X\n-X X\n-A INPUT -m foo\nCOMMIT\n',
    ];
    for (const text of cases) {
      const real = spawnSync('ip', ['netns', 'exec', NS, 'iptables-legacy-restore'], { input: text, encoding: 'utf8' });
      expect(real.status).not.toBe(0);
      const realLine = Number(/line:? (\d+)/.exec(real.stderr)?.[1]);
      let ours = 0;
      try {
        new IptablesRuleset().restore(text, 'case.rules');
      } catch (e) {
        ours = (e as { line: number }).line;
      }
      expect([text, ours]).toEqual([text, realLine]);
    }
  });

  it('ping over lo leaves the kernel\'s counters equal to the engine\'s', () => {
    const rules = [
      '*mangle',
      '-A OUTPUT -p icmp -m icmp --icmp-type echo-request -j MARK --set-mark 0x1',
      '-A OUTPUT -m mark --mark 0x1 -m statistic --mode nth --every 2 --packet 0 -j MARK --or-mark 0x10',
      '-A INPUT -m mark --mark 0x11 -j RETURN',
      '-A INPUT -p icmp',
      'COMMIT',
      '*filter',
      ':A - [0:0]',
      ':B - [0:0]',
      ':C - [0:0]',
      '-A INPUT -i lo -m conntrack --ctstate ESTABLISHED -j C',
      '-A INPUT -s 127.0.0.0/8 -d 127.0.0.1/32 -p icmp -j ACCEPT',
      '-A OUTPUT -j A',
      '-A OUTPUT -p icmp -m icmp --icmp-type echo-reply -g B',
      '-A OUTPUT -p tcp -j DROP',
      '-A A -m conntrack --ctstate NEW -j RETURN',
      '-A A -p icmp',
      '-A A -j C',
      '-A B -m conntrack --ctdir REPLY -j RETURN',
      '-A B -j DROP',
      '-A C -m mark --mark 0x11',
      '-A C -m mark --mark 0x1/0x1 -j RETURN',
      '-A C -m conntrack --ctstate ESTABLISHED',
      'COMMIT',
      '',
    ].join('\n');
    for (const t of ['raw', 'mangle', 'nat', 'filter'] as const) inNs('iptables-legacy-restore', [], `*${t}\nCOMMIT\n`);
    inNs('iptables-legacy-restore', [], rules);
    const count = 3;
    inNs('ping', ['-c', String(count), '-i', '0.2', '-q', '127.0.0.1']);

    // The same packets through the engine: each echo and its reply go
    // OUTPUT, POSTROUTING, then (looped back) PREROUTING, INPUT.
    const ours = new IptablesRuleset();
    ours.restore(rules, 'ping.rules');
    const host = new FakeHost();
    const lo = dev('lo', '127.0.0.1/8');
    const ct = conn('127.0.0.1', 7, '127.0.0.1', 0, 1);
    const walk = (type: number, state: CtState, dir: CtDir) => {
      const pkt = packet({ src: '127.0.0.1', dst: '127.0.0.1', proto: 'icmp', icmpType: type, payload: 56 });
      const at = (hook: NfHook, tables: TableName[]) => {
        for (const t of tables) {
          const p = nf(pkt, { hook, in: hook === NfHook.PRE_ROUTING || hook === NfHook.LOCAL_IN ? lo : null, out: hook === NfHook.LOCAL_OUT || hook === NfHook.POST_ROUTING ? lo : null, ct, ctState: state, ctDir: dir });
          if (ours.runHook(t, p, host).verdict !== NfVerdict.ACCEPT) return false;
        }
        return true;
      };
      if (!at(NfHook.LOCAL_OUT, ['mangle', 'filter']) || !at(NfHook.POST_ROUTING, ['mangle'])) return;
      if (at(NfHook.PRE_ROUTING, ['mangle'])) at(NfHook.LOCAL_IN, ['mangle', 'filter']);
    };
    for (let i = 0; i < count; i++) {
      walk(8, i === 0 ? CtState.NEW : CtState.ESTABLISHED, CtDir.ORIGINAL);
      walk(0, CtState.ESTABLISHED, CtDir.REPLY);
    }
    const real = realSave();
    for (const t of ['mangle', 'filter'] as const) {
      const section = real.match(new RegExp(`\\*${t}\\n[\\s\\S]*?COMMIT\\n`))![0];
      expect(ours.save({ counters: true, table: t })).toBe(section);
    }
  });
});
