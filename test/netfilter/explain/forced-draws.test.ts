import { describe, expect, it } from 'vitest';
import { ForcedDraws } from '../../../models/netfilter/explain/forced-draws.js';
import { ruleset, filter, FakeHost, nf, packet, run, NfVerdict } from '../iptables/helpers.js';

/** Runs one statistic rule with the draw forced low or high; true if it matched. */
function matchesWith(spec: string, low: boolean): { matched: boolean; draws: ForcedDraws } {
  const draws = new ForcedDraws([low]);
  const r = ruleset(filter(`-A INPUT ${spec} -j DROP`));
  const host = new FakeHost(() => draws.next());
  const res = run(r, 'filter', nf(packet({ src: '10.0.0.1', dst: '10.0.0.2' })), host, (s) => draws.noteRule(s.rule));
  draws.settled();
  return { matched: res.verdict === NfVerdict.DROP, draws };
}

describe('ForcedDraws', () => {
  it('makes xt_statistic match on a low draw and miss on a high one, for any probability strictly between 0 and 1', () => {
    for (const p of ['0.00000000047', '0.25', '0.5', '0.99999999953']) {
      expect(matchesWith(`-m statistic --mode random --probability ${p}`, true).matched).toBe(true);
      expect(matchesWith(`-m statistic --mode random --probability ${p}`, false).matched).toBe(false);
    }
  });

  it('ties the branch probability to the draw, not to the match: ! --probability inverts the match only', () => {
    const low = matchesWith('-m statistic --mode random ! --probability 0.25', true);
    expect(low.matched).toBe(false);
    expect(low.draws.probability()).toBe(0.25);
    const high = matchesWith('-m statistic --mode random ! --probability 0.25', false);
    expect(high.matched).toBe(true);
    expect(high.draws.probability()).toBe(0.75);
  });

  it("reads the kernel's probability, a multiple of 2^-31, from the rule text", () => {
    const { draws } = matchesWith('-m statistic --mode random --probability 0.33333333349', true);
    // libxt_statistic: lround(0.33333333349 * 2^31) = 715827883.
    expect(draws.probability()).toBe(715827883 / 2 ** 31);
  });

  it('gives draws past the forced ones low, and multiplies the probabilities made so far', () => {
    const d = new ForcedDraws([false]);
    expect(d.next()).toBeGreaterThan(0.99);
    d.noteRule('-A X -m statistic --mode random --probability 0.25 -j Y');
    expect(d.next()).toBe(0);
    d.noteRule('-A Y -m statistic --mode random --probability 0.5 -j Z');
    expect(d.draws.map((x) => x.low)).toEqual([false, true]);
    expect(d.probability()).toBe(0.75 * 0.5);
    expect(d.probability(1)).toBe(0.75);
  });

  it('refuses a draw it cannot tie to a rule', () => {
    const d = new ForcedDraws([]);
    d.next();
    expect(() => d.settled()).toThrow(/never reported/);
    expect(() => d.noteRule('-A X -j ACCEPT')).toThrow(/without its --probability/);
  });
});
