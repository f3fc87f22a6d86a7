/**
 * Runs of several variants taken in turns (A B A B A B, not A A A B B B).
 * These benchmarks report ratios between variants (a speedup, a capture
 * overhead) on a machine other work shares. Taking turns puts the runs of
 * one round close together in time, so a ratio taken within a round (and the
 * median of those over the rounds) does not swing with when a slow spell
 * came, as a ratio of bests taken rounds apart does.
 */
export interface Turns<R> {
  /** rounds[i][k]: variant k's run in round i. */
  rounds: R[][];
  /** Each variant's best run (other processes only ever slow a run down). */
  best: R[];
}

/** `reps` rounds of every variant in turn; `better(a, b)` is true when run `a` is the better of the two. */
export function runInTurns<V, R>(variants: readonly V[], reps: number, run: (v: V) => R, better: (a: R, b: R) => boolean): Turns<R> {
  const rounds: R[][] = [];
  for (let i = 0; i < reps; i++) rounds.push(variants.map((v) => run(v)));
  const best = variants.map((_, k) => rounds.reduce((b, round) => (better(round[k]!, b) ? round[k]! : b), rounds[0]![k]!));
  return { rounds, best };
}

/** The median over the rounds of a figure computed within each round. */
export function medianOverRounds<R>(turns: Turns<R>, figure: (round: R[]) => number): number {
  const xs = turns.rounds.map(figure).sort((a, b) => a - b);
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}
