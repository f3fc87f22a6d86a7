import { Arc4Stream } from './arc4.js';

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

/** The draws of `seedrandom(`${seed}\0${name}`)`, from engine/arc4.ts. */
class Arc4RandomStream implements RandomStream {
  private readonly arc4: Arc4Stream;

  constructor(seed: string) {
    this.arc4 = new Arc4Stream(seed);
  }

  next(): number {
    return this.arc4.double();
  }

  exponential(mean: number): number {
    // 1 - u is in (0, 1], so the log is finite.
    return -Math.log(1 - this.arc4.double()) * mean;
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.arc4.double() * (hi - lo + 1));
  }
}

export function randomStream(seed: number, name: string): RandomStream {
  return new Arc4RandomStream(`${seed}\u0000${name}`);
}
