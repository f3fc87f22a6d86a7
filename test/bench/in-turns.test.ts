import { describe, expect, it } from 'vitest';
import { bestInTurns } from '../../bench/in-turns.js';

describe('bestInTurns', () => {
  it('runs the variants in turns, reps times, and keeps the best run of each', () => {
    const order: string[] = [];
    const times: Record<string, number[]> = { a: [3, 1, 2], b: [5, 6, 4] };
    const seen: Record<string, number> = { a: 0, b: 0 };
    const best = bestInTurns(
      ['a', 'b'],
      3,
      (v) => {
        order.push(v);
        return { v, t: times[v]![seen[v]!++]! };
      },
      (x, y) => x.t < y.t,
    );
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(best).toEqual([
      { v: 'a', t: 1 },
      { v: 'b', t: 4 },
    ]);
  });
});
