/**
 * The `-m statistic --probability` value kube-proxy writes for the i-th of n
 * endpoints: computeProbability(n - i) = fmt.Sprintf("%0.10f", 1.0/float64(n - i))
 * (pkg/proxy/iptables/proxier.go). Go formats %f from the exact binary value
 * and breaks exact ties to even (strconv's shouldRoundUp); JS toFixed breaks
 * them upwards, which differs for 1/2048 = 0.00048828125 (Go: 0.0004882812).
 */

const TEN_10 = 10_000_000_000n;
const view = new DataView(new ArrayBuffer(8));

/** Go's strconv.FormatFloat(x, 'f', 10, 64) for finite x >= 0. */
export function formatFixed10(x: number): string {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`formatFixed10: ${x} is not a finite non-negative number`);
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) {
    exp = -1074; // subnormal
  } else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  // x = mant * 2^exp exactly; scale by 10^10 and round half to even.
  let q: bigint;
  if (exp >= 0) {
    q = (mant << BigInt(exp)) * TEN_10;
  } else {
    const den = 1n << BigInt(-exp);
    const num = mant * TEN_10;
    q = num / den;
    const twiceRem = (num % den) * 2n;
    if (twiceRem > den || (twiceRem === den && (q & 1n) === 1n)) q += 1n;
  }
  const int = q / TEN_10;
  const frac = (q % TEN_10).toString().padStart(10, '0');
  return `${int}.${frac}`;
}

/** computeProbability(n): the chance the rule for the first of n remaining endpoints matches. */
export function computeProbability(n: number): string {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`computeProbability: n must be a positive integer, got ${n}`);
  return formatFixed10(1 / n);
}

/**
 * A cache of computeProbability(1..n), as the proxier's precomputedProbabilities:
 * formatting a float is the costly part of writing a large service's rules.
 */
export class ProbabilityCache {
  private readonly values: string[] = ['<bad value>'];

  get(n: number): string {
    while (this.values.length <= n) this.values.push(computeProbability(this.values.length));
    return this.values[n];
  }
}
