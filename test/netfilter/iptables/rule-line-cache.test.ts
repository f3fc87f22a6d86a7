/**
 * RuleLineCache: restores that share one parse each distinct command line
 * once (a cluster's nodes load the same kube-proxy lines in different
 * orders). What each restore loads must not depend on the cache: the same
 * iptables-save and -L output, and errors naming the restore's own file and
 * line, even for a line another restore (of another table) parsed first.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IptablesError } from '../../../models/netfilter/iptables/errors.js';
import { IptablesRuleset, RuleLineCache, parseRestoreBlocks } from '../../../models/netfilter/iptables/index.js';

const dir = new URL('./fixtures/', import.meta.url);
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.rules'));

describe('RuleLineCache', () => {
  it('loads every fixture as a restore without it does, twice over one cache', () => {
    const lines = new RuleLineCache();
    for (const f of fixtures) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      const plain = new IptablesRuleset();
      plain.restore(text, f);
      for (let k = 0; k < 2; k++) {
        const cached = new IptablesRuleset();
        cached.restore(text, f, { lines });
        expect(cached.save({ counters: true }), f).toBe(plain.save({ counters: true }));
        for (const t of ['raw', 'mangle', 'nat', 'filter'] as const) if (plain.hasTable(t)) expect(cached.list(t), `${f} ${t}`).toBe(plain.list(t));
      }
    }
  });

  it('shares a line\'s parsed rule, each statement keeping its own file and line', () => {
    const lines = new RuleLineCache();
    const rule = '-A KUBE-SVC-X -m comment --comment "ns/svc:http" -m statistic --mode random --probability 0.5 -j KUBE-SEP-Y';
    const a = [...parseRestoreBlocks(`*nat\n:KUBE-SVC-X - [0:0]\n${rule}\nCOMMIT\n`, 'n1', lines)][0]!;
    const b = [...parseRestoreBlocks(`*nat\n:KUBE-SVC-X - [0:0]\n\n\n${rule}\nCOMMIT\n`, 'n2', lines)][0]!;
    const sa = a.statements[1]!;
    const sb = b.statements[1]!;
    const ra = sa.kind === 'command' && 'rules' in sa.command ? sa.command.rules[0]! : null;
    const rb = sb.kind === 'command' && 'rules' in sb.command ? sb.command.rules[0]! : null;
    expect(rb).not.toBeNull();
    expect(rb).toBe(ra);
    expect([sa.file, sa.line, sb.file, sb.line]).toEqual(['n1', 3, 'n2', 5]);
  });

  it('reports a check failure at the restore\'s own file and line when another table parsed the line first', () => {
    const lines = new RuleLineCache();
    const dnat = '-A OUTPUT -p tcp -j DNAT --to-destination 10.0.0.1';
    new IptablesRuleset().restore(`*nat\n${dnat}\nCOMMIT\n`, 'nat.rules', { lines });
    const r = new IptablesRuleset();
    let err: unknown = null;
    try {
      r.restore(`*filter\n:INPUT ACCEPT [0:0]\n${dnat}\nCOMMIT\n`, 'filter.rules', { lines });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IptablesError);
    expect([(err as IptablesError).file, (err as IptablesError).line]).toEqual(['filter.rules', 3]);
    expect((err as IptablesError).message).toMatch(/only valid in nat table, not filter/);
  });

  it('does not keep a line that failed to parse: the next restore reports it again, at its own place', () => {
    const lines = new RuleLineCache();
    const bad = '-A INPUT -m nosuchmatch -j ACCEPT';
    for (const [file, line] of [['a.rules', 2], ['b.rules', 3]] as const) {
      const text = file === 'a.rules' ? `*filter\n${bad}\nCOMMIT\n` : `*filter\n\n${bad}\nCOMMIT\n`;
      let err: unknown = null;
      try {
        new IptablesRuleset().restore(text, file, { lines });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(IptablesError);
      expect([(err as IptablesError).file, (err as IptablesError).line]).toEqual([file, line]);
    }
  });
});
