/**
 * iptables-save and iptables -L output against what real iptables printed
 * for the same input (fixtures/*.save.txt and *.list.txt were captured with
 * capture-fixtures.sh from iptables-legacy v1.8.9): canonical option order,
 * `-m tcp` added for `-p tcp --dport`, `--or-mark` saved as `--set-xmark`,
 * comment quoting, user chains sorted, tables newest first, and -L's columns.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import type { TableName } from '../../../models/netfilter/hooks.js';

const dir = new URL('./fixtures/', import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.rules'))
  .map((f) => f.slice(0, -'.rules'.length));
const read = (f: string) => readFileSync(new URL(f, dir), 'utf8');

function tablesOf(save: string): TableName[] {
  return [...save.matchAll(/^\*(\w+)$/gm)].map((m) => m[1] as TableName);
}

describe('save() and list() print what iptables prints', () => {
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThanOrEqual(5);
  });

  for (const name of names) {
    it(`${name}: iptables-save -c`, () => {
      const r = new IptablesRuleset();
      r.restore(read(`${name}.rules`), `${name}.rules`);
      expect(r.save({ counters: true })).toBe(read(`${name}.save.txt`));
    });

    it(`${name}: iptables -L -v -n -x`, () => {
      const r = new IptablesRuleset();
      r.restore(read(`${name}.rules`), `${name}.rules`);
      const out = tablesOf(r.save())
        .map((t) => r.list(t))
        .join('');
      expect(out).toBe(read(`${name}.list.txt`));
    });

    it(`${name}: restoring the saved text saves the same text`, () => {
      const a = new IptablesRuleset();
      a.restore(read(`${name}.rules`), `${name}.rules`);
      const saved = a.save({ counters: true });
      const b = new IptablesRuleset();
      b.restore(saved, 'saved', { counters: true });
      // Table by table: a fresh restore creates the tables in the saved order, so the newest-first listing flips.
      for (const t of tablesOf(saved)) expect(b.save({ counters: true, table: t })).toBe(a.save({ counters: true, table: t }));
    });
  }

  it('without -c the rule lines carry no counters, the chain lines keep theirs', () => {
    const r = new IptablesRuleset();
    r.restore('*filter\n:INPUT DROP [3:120]\n[5:200] -A INPUT -p udp\nCOMMIT\n', 'c.rules', { counters: true });
    expect(r.save()).toBe('*filter\n:INPUT DROP [3:120]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p udp\nCOMMIT\n');
    expect(r.save({ counters: true })).toContain('[5:200] -A INPUT -p udp\n');
  });

  it('restore without -c ignores "[p:b]" and policy counters, but -c on a rule always counts', () => {
    const r = new IptablesRuleset();
    r.restore('*filter\n:INPUT DROP [3:120]\n[5:200] -A INPUT -p udp\n-A INPUT -p tcp -c 7 70\nCOMMIT\n', 'c.rules');
    expect(r.save({ counters: true })).toBe(
      '*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n[0:0] -A INPUT -p udp\n[7:70] -A INPUT -p tcp\nCOMMIT\n',
    );
  });

  it('lists one chain with --line-numbers', () => {
    const r = new IptablesRuleset();
    r.restore(read('kube-proxy.rules'), 'kube-proxy.rules');
    const out = r.list('nat', { chain: 'KUBE-SVC-WEB', lineNumbers: true });
    expect(out.split('\n')[0]).toBe('Chain KUBE-SVC-WEB (2 references)');
    expect(out.split('\n')[1]).toMatch(/^num {6}pkts {6}bytes target/);
    // As iptables-legacy -t nat -L KUBE-SVC-WEB -v -n -x --line-numbers printed it:
    expect(out.split('\n')[3]).toBe(
      '2           0        0 KUBE-SEP-WEB1  0    --  *      *       0.0.0.0/0            0.0.0.0/0            /* default/web:http -> 10.244.1.2:8080 */ statistic mode random probability 0.50000000000',
    );
  });
});
