import { describe, expect, it } from 'vitest';
import { medianOverRounds, runInTurns } from '../../bench/in-turns.js';

describe('runInTurns', () => {
  it('runs the variants in turns, reps times, and keeps every round and the best run of each', () => {
    const order: string[] = [];
    const times: Record<string, number[]> = { a: [3, 1, 2], b: [5, 6, 4] };
    const seen: Record<string, number> = { a: 0, b: 0 };
    const turns = runInTurns(
      ['a', 'b'],
      3,
      (v) => {
        order.push(v);
        return { v, t: times[v]![seen[v]!++]! };
      },
      (x, y) => x.t < y.t,
    );
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(turns.rounds.map((r) => r.map((x) => x.t))).toEqual([[3, 5], [1, 6], [2, 4]]);
    expect(turns.best).toEqual([
      { v: 'a', t: 1 },
      { v: 'b', t: 4 },
    ]);
    // Ratios within rounds: 5/3, 6/1, 4/2 -> median 2; the ratio of the bests would be 4.
    expect(medianOverRounds(turns, ([a, b]) => b!.t / a!.t)).toBe(2);
  });

  it('takes the middle two for an even number of rounds', () => {
    const turns = { rounds: [[1], [4], [2], [3]], best: [4] };
    expect(medianOverRounds(turns, ([x]) => x!)).toBe(2.5);
  });
});
