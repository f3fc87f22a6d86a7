/**
 * computeProbability against TestComputeProbability in proxier_test.go, and
 * Go's %0.10f rounding where it differs from Number.prototype.toFixed.
 */
import { describe, expect, it } from 'vitest';
import { computeProbability, formatFixed10 } from '../../../models/k8s/kube-proxy/index.js';

describe('computeProbability', () => {
  it('matches TestComputeProbability', () => {
    const expected: [number, string][] = [
      [1, '1.0000000000'],
      [2, '0.5000000000'],
      [10, '0.1000000000'],
      [100, '0.0100000000'],
      [1000, '0.0010000000'],
      [10000, '0.0001000000'],
      [100000, '0.0000100000'],
      [100001, '0.0000099999'],
    ];
    for (const [n, s] of expected) expect(computeProbability(n), `n=${n}`).toBe(s);
  });

  it('strictly increases as n falls from 100000 to 2 (TestComputeProbability\'s second half)', () => {
    let prev = 0;
    for (let n = 100000; n > 1; n--) {
      const p = Number(computeProbability(n));
      if (!(p > prev)) throw new Error(`computeProbability(${n}) = ${p} is not above ${prev}`);
      prev = p;
    }
  });

  it('breaks exact ties to even like Go, where toFixed rounds up', () => {
    // 1/2048 = 0.00048828125 exactly: the only 1/n with an exact tie at the 11th digit.
    expect(computeProbability(2048)).toBe('0.0004882812');
    expect((1 / 2048).toFixed(10)).toBe('0.0004882813');
    // 3/2048 = 0.00146484375: the tie follows an odd digit, so it rounds up.
    expect(formatFixed10(3 / 2048)).toBe('0.0014648438');
    // 1/10240 is not exact in binary (the double is a little above 0.00009765625).
    expect(computeProbability(10240)).toBe('0.0000976563');
  });

  it('agrees with toFixed wherever there is no exact tie', () => {
    for (let n = 1; n <= 5000; n++) {
      if (n === 2048) continue;
      expect(computeProbability(n)).toBe((1 / n).toFixed(10));
    }
  });

  it('rejects what kube-proxy never asks for', () => {
    expect(() => computeProbability(0)).toThrow(RangeError);
    expect(() => computeProbability(1.5)).toThrow(RangeError);
  });
});
