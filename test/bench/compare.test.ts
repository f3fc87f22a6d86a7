/**
 * How a bench run changes bench/baseline.json: --update-baseline replaces the
 * figures it measured and keeps the rest; --add-to-baseline adds only the
 * figures the baseline has none for and leaves every existing one alone.
 */
import { describe, expect, it } from 'vitest';
import { addToBaseline, mergeBaseline } from '../../bench/compare.js';
import type { BenchResult } from '../../bench/benchmark.js';

const fig = (id: string, value: number): BenchResult => ({ id, value, unit: 'x', higherIsBetter: true });

describe('baseline merges', () => {
  const old = [fig('a', 1), fig('b', 2)];
  const fresh = [fig('b', 20), fig('c', 30)];

  it('--update-baseline: fresh figures replace, others stay', () => {
    expect(mergeBaseline(old, fresh)).toEqual([fig('a', 1), fig('b', 20), fig('c', 30)]);
  });

  it('--add-to-baseline: only the new ids are added', () => {
    expect(addToBaseline(old, fresh)).toEqual([fig('a', 1), fig('b', 2), fig('c', 30)]);
  });
});
