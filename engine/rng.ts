import seedrandom from 'seedrandom';

/**
 * A random stream derived from the scenario seed and a stable component name
 * (after ns-3's AssignStreams): adding or removing one model never changes the
 * draws of another, and a partitioned run draws exactly what a sequential one does.
 */
export interface RandomStream {
  /** Uniform in [0, 1). */
  next(): number;
  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number;
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number;
}

export function randomStream(seed: number, name: string): RandomStream {
  const prng = seedrandom(`${seed}\u0000${name}`);
  return {
    next: () => prng.double(),
    exponential(mean: number) {
      // 1 - u is in (0, 1], so the log is finite.
      return -Math.log(1 - prng.double()) * mean;
    },
    int(lo: number, hi: number) {
      return lo + Math.floor(prng.double() * (hi - lo + 1));
    },
  };
}
