/**
 * A compiled table's layout, as translate_table lays out the blob: built-in
 * chains in hook order, then user chains by name, each chain's rules then its
 * tail (policy or implicit RETURN). Entries do not carry their chain or rule
 * number; chainOf and entryNum derive them from the chains' starts, and every
 * entry must get back the chain and position listing and TRACE name.
 */
import { describe, expect, it } from 'vitest';
import { ChainOrder } from '../../../models/netfilter/iptables/table-model.js';
import { compileFirstTable } from './helpers.js';

const compile = (text: string, order?: ChainOrder) => compileFirstTable(text, undefined, order);

describe('compiled layout', () => {
  it('every entry maps back to its chain and 1-based position, tails included, empty chains too', () => {
    const t = compile(
      [
        '*filter',
        ':B - [0:0]',
        ':A - [0:0]',
        ':EMPTY - [0:0]',
        ':Z - [0:0]',
        '-A INPUT -p tcp -j A',
        '-A INPUT -p udp -j B',
        '-A FORWARD -j ACCEPT',
        '-A A -s 10.0.0.1 -j RETURN',
        '-A A -s 10.0.0.2 -j DROP',
        '-A A -j EMPTY',
        '-A B -j Z',
        '-A Z -d 10.0.0.9 -j ACCEPT',
        'COMMIT',
        '',
      ].join('\n'),
    );
    // Built-in chains by hook (INPUT, FORWARD, OUTPUT), then user chains by name.
    const expected: [string, number][] = [
      ['INPUT', 1],
      ['INPUT', 2],
      ['INPUT', 3],
      ['FORWARD', 1],
      ['FORWARD', 2],
      ['OUTPUT', 1],
      ['A', 1],
      ['A', 2],
      ['A', 3],
      ['A', 4],
      ['B', 1],
      ['B', 2],
      ['EMPTY', 1],
      ['Z', 1],
      ['Z', 2],
    ];
    expect(t.size).toBe(expected.length);
    expect(Array.from({ length: t.size }, (_, e) => [t.chainNames[t.chainOf(e)], t.entryNum(e)])).toEqual(expected);
    expect(t.entryText(8)).toBe('-A A -j EMPTY');
    expect(t.entryText(9)).toBe('(end of chain A: implicit RETURN)');
    expect(t.entryText(12)).toBe('(end of chain EMPTY: implicit RETURN)');
    expect(t.entryText(5)).toBe('-P OUTPUT ACCEPT');
  });

  it('user chains are in strcmp order whatever order they were declared in, with a remembered order or not', () => {
    const table = (...names: string[]) => ['*filter', ...names.map((n) => `:${n} - [0:0]`), ...names.map((n) => `-A INPUT -j ${n}`), 'COMMIT', ''].join('\n');
    const order = new ChainOrder();
    const users = (text: string, o?: ChainOrder) => compile(text, o).chainNames.slice(3);
    expect(users(table('KUBE-SVC-B', 'KUBE-SEP-A', 'KUBE-SVC-A'), order)).toEqual(['KUBE-SEP-A', 'KUBE-SVC-A', 'KUBE-SVC-B']);
    // The same chains declared in another order (another node), then as many chains but not the same ones.
    expect(users(table('KUBE-SVC-A', 'KUBE-SVC-B', 'KUBE-SEP-A'), order)).toEqual(['KUBE-SEP-A', 'KUBE-SVC-A', 'KUBE-SVC-B']);
    expect(users(table('KUBE-SVC-B', 'KUBE-SEP-A', 'A-FIRST'), order)).toEqual(['A-FIRST', 'KUBE-SEP-A', 'KUBE-SVC-B']);
    expect(users(table('Z', 'KUBE-SVC-B', 'KUBE-SEP-A', 'A-FIRST'), order)).toEqual(['A-FIRST', 'KUBE-SEP-A', 'KUBE-SVC-B', 'Z']);
    expect(users(table('b', 'B', 'a'))).toEqual(['B', 'a', 'b']);
  });

  it('a remembered order survives tables of other sizes in between (kube-proxy\'s base rules, then its sync, on each node)', () => {
    const table = (...names: string[]) => ['*filter', ...names.map((n) => `:${n} - [0:0]`), 'COMMIT', ''].join('\n');
    const order = new ChainOrder();
    const compiled = (text: string) => {
      const before = order.counts.reused;
      return { names: compile(text, order).chainNames.slice(3), reused: order.counts.reused > before };
    };
    expect(compiled(table('KUBE-FORWARD'))).toEqual({ names: ['KUBE-FORWARD'], reused: false });
    expect(compiled(table('S2', 'S1', 'S3'))).toEqual({ names: ['S1', 'S2', 'S3'], reused: false });
    expect(compiled(table('KUBE-FORWARD'))).toEqual({ names: ['KUBE-FORWARD'], reused: true });
    expect(compiled(table('S3', 'S1', 'S2'))).toEqual({ names: ['S1', 'S2', 'S3'], reused: true });
  });
});
