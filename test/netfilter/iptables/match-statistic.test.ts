/**
 * iptables-extensions(8) statistic. random: matches with the given
 * probability, drawn from the namespace's stream only when the rule is
 * reached; nth: every n-th packet, starting at --packet.
 */
import { describe, expect, it } from 'vitest';
import { FakeHost, filter, nf, NfVerdict, packet, run, ruleset } from './helpers.js';

const p = () => nf(packet({ src: '1.1.1.1', dst: '2.2.2.2' }));

describe('--mode random', () => {
  it('matches when the 31-bit draw is below round(p * 2^31)', () => {
    const r = ruleset(filter('-A INPUT -m statistic --mode random --probability 0.25 -j DROP'));
    const verdict = (draw: number) => run(r, 'filter', p(), new FakeHost(() => draw)).verdict;
    expect(verdict(0.2499)).toBe(NfVerdict.DROP);
    expect(verdict(0.25)).toBe(NfVerdict.ACCEPT);
    expect(verdict(0.9)).toBe(NfVerdict.ACCEPT);
  });
  it('"!" inverts; probability 0 never and 1 always matches', () => {
    const inv = ruleset(filter('-A INPUT -m statistic --mode random ! --probability 0.25 -j DROP'));
    expect(run(inv, 'filter', p(), new FakeHost(() => 0.1)).verdict).toBe(NfVerdict.ACCEPT);
    expect(run(ruleset(filter('-A INPUT -m statistic --mode random --probability 1 -j DROP')), 'filter', p(), new FakeHost(() => 0.999999)).verdict).toBe(NfVerdict.DROP);
    expect(run(ruleset(filter('-A INPUT -m statistic --mode random --probability 0 -j DROP')), 'filter', p(), new FakeHost(() => 0)).verdict).toBe(NfVerdict.ACCEPT);
  });
  it('draws only for packets that reach the rule', () => {
    const r = ruleset(filter('-A INPUT -p udp -m statistic --mode random --probability 0.5 -j DROP'));
    const host = new FakeHost();
    run(r, 'filter', p(), host);
    expect(host.draws).toHaveLength(0);
    run(r, 'filter', nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp' })), host);
    expect(host.draws).toHaveLength(1);
  });
  it('prints the probability with 11 decimals, so kube-proxy\'s 0.33333333349 round-trips', () => {
    const r = ruleset(filter('-A INPUT -m statistic --mode random --probability 0.33333333349 -j DROP'));
    expect(r.save()).toContain('--mode random --probability 0.33333333349 -j DROP');
  });
});

describe('--mode nth', () => {
  const pattern = (rule: string, n: number) => {
    const r = ruleset(filter(`-A INPUT ${rule} -j DROP`));
    return Array.from({ length: n }, () => (run(r, 'filter', p()).verdict === NfVerdict.DROP ? 1 : 0));
  };
  it('--every n --packet 0 matches one packet in n, starting with the first', () => {
    expect(pattern('-m statistic --mode nth --every 3 --packet 0', 7)).toEqual([1, 0, 0, 1, 0, 0, 1]);
  });
  it('--packet p shifts the phase', () => {
    expect(pattern('-m statistic --mode nth --every 3 --packet 1', 7)).toEqual([0, 1, 0, 0, 1, 0, 0]);
    expect(pattern('-m statistic --mode nth --every 3 --packet 2', 7)).toEqual([0, 0, 1, 0, 0, 1, 0]);
  });
  it('"!" matches the others', () => {
    expect(pattern('-m statistic --mode nth ! --every 2 --packet 0', 4)).toEqual([0, 1, 0, 1]);
  });
  it('the counter restarts when the table is reloaded', () => {
    const rules = filter('-A INPUT -m statistic --mode nth --every 2 --packet 1 -j DROP');
    const r = ruleset(rules);
    expect(run(r, 'filter', p()).verdict).toBe(NfVerdict.ACCEPT);
    r.restore(rules, 'again');
    expect(run(r, 'filter', p()).verdict).toBe(NfVerdict.ACCEPT);
    expect(run(r, 'filter', p()).verdict).toBe(NfVerdict.DROP);
  });
  it('checks the options against the mode', () => {
    expect(() => ruleset(filter('-A INPUT -m statistic --mode nth --every 2 --packet 2'))).toThrow(/--packet p must be 0 <= p <= n-1/);
    expect(() => ruleset(filter('-A INPUT -m statistic --mode nth --probability 0.5'))).toThrow(/only be used in random mode/);
    expect(() => ruleset(filter('-A INPUT -m statistic --probability 0.5'))).toThrow(/no mode specified/);
    expect(() => ruleset(filter('-A INPUT -m statistic --mode random --probability 1.5'))).toThrow(/between 0 and 1/);
    expect(() => ruleset(filter('-A INPUT -m statistic --mode nth --every 2'))).toThrow(/"--every" also requires "--packet"/);
  });
});
