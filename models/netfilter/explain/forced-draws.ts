/**
 * The random draws of `-m statistic --mode random`, forced one way or the
 * other so that a trace can follow every branch instead of one.
 *
 * xt_statistic matches when (get_random_u32() & 0x7FFFFFFF) is below
 * round(p * 2^31) (../iptables/matches/statistic.ts). A draw of 0 is below
 * any p > 0 ("low": the event of probability p); a draw just under 1 is
 * below none but p = 1 ("high": probability 1 - p). Which way a rule then
 * goes also depends on `! --probability`, so the branch probability is
 * tied to the draw, not to whether the rule matched.
 *
 * The matcher draws before the traversal reports the rule, so a draw's
 * probability is read from the next rule step's text (--probability as
 * iptables-save prints it), in the order the rule's statistic matches ran.
 */

/** The largest double below 1: floor(x * 2^31) is 2^31 - 1, below no probability but 1. */
const JUST_BELOW_ONE = 1 - 2 ** -53;
const TWO_31 = 0x80000000;

export interface Draw {
  /** The draw fell below the rule's probability. */
  low: boolean;
  /** The rule's probability, as the kernel holds it (a multiple of 2^-31). */
  p: number;
}

export class ForcedDraws {
  readonly draws: Draw[] = [];
  /** Draws made since the last rule step (their rule is the one being tested). */
  private pending = 0;

  /** `forced[i]`: whether draw i is low; draws past the end are low. */
  constructor(private readonly forced: readonly boolean[]) {}

  /** NetfilterHost.random. */
  next(): number {
    const i = this.draws.length;
    const low = i < this.forced.length ? this.forced[i]! : true;
    this.draws.push({ low, p: NaN });
    this.pending++;
    return low ? 0 : JUST_BELOW_ONE;
  }

  /** Called with every rule step's text: gives the pending draws their probabilities. */
  noteRule(rule: string): void {
    if (this.pending === 0) return;
    const ps = [...rule.matchAll(/--probability (\S+)/g)].map((m) => Math.round(Number(m[1]) * TWO_31) / TWO_31);
    const first = this.draws.length - this.pending;
    for (let k = 0; k < this.pending; k++) {
      const p = ps[k];
      if (p === undefined || !(p >= 0 && p <= 1)) throw new Error(`iptables trace: a random draw in a rule without its --probability: ${rule}`);
      this.draws[first + k]!.p = p;
    }
    this.pending = 0;
  }

  /** Every draw was matched to its rule (the traversal reported the rule that drew). */
  settled(): void {
    if (this.pending !== 0) throw new Error('iptables trace: a random draw whose rule was never reported');
  }

  /** The probability of the draws made: the product of p (low) and 1 - p (high). */
  probability(upTo = this.draws.length): number {
    let prob = 1;
    for (let i = 0; i < upTo; i++) {
      const d = this.draws[i]!;
      prob *= d.low ? d.p : 1 - d.p;
    }
    return prob;
  }
}
