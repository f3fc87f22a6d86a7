/**
 * Best of `reps` runs of each variant, the variants taking turns (A B A B A B,
 * not A A A B B B). These benchmarks report ratios between variants (a
 * speedup, a capture overhead) on a machine other work shares: taking turns
 * spreads a slow spell over every variant instead of one, so the ratio of the
 * bests does not swing with when the spell came. `better(a, b)` is true when
 * run `a` is the better of the two (other processes only ever slow a run down).
 */
export function bestInTurns<V, R>(variants: readonly V[], reps: number, run: (v: V) => R, better: (a: R, b: R) => boolean): R[] {
  const best: (R | undefined)[] = variants.map(() => undefined);
  for (let i = 0; i < reps; i++) {
    variants.forEach((v, k) => {
      const r = run(v);
      const b = best[k];
      if (b === undefined || better(r, b)) best[k] = r;
    });
  }
  return best as R[];
}
