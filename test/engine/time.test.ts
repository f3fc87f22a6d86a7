import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MS, NS, SECOND, US, formatDuration, parseDuration } from '../../engine/time.js';

describe('parseDuration', () => {
  it.each([
    ['2s', 2 * SECOND],
    ['200ms', 200 * MS],
    ['50us', 50 * US],
    ['50µs', 50 * US],
    ['100ns', 100 * NS],
    ['1.5ms', 1_500_000],
    ['0.25s', 250_000_000],
    ['2m', 120 * SECOND],
    ['123', 123],
    ['0', 0],
    [' 3 ms ', 3 * MS],
    ['1.0000004us', 1_000], // rounded to whole nanoseconds
    ['0.0000005ms', 1], // half a nanosecond rounds up
  ])('parses %j as %d ns', (text, ns) => {
    expect(parseDuration(text)).toBe(ns);
  });

  it('takes a number as nanoseconds, rounded', () => {
    expect(parseDuration(1_500)).toBe(1_500);
    expect(parseDuration(12.6)).toBe(13);
    expect(parseDuration(0)).toBe(0);
  });

  it.each(['', 'abc', '-1s', '1h', '1e3', '1.ms', '.5s', '1 2s', '2 S', 'ms', '1s2'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });

  it.each([-1, Number.NaN, Infinity])('rejects the number %d', (n) => {
    expect(() => parseDuration(n)).toThrow(/invalid duration/);
  });

  it('reads an integer with any unit as that multiple', () => {
    const units: [string, number][] = [['ns', NS], ['us', US], ['µs', US], ['ms', MS], ['s', SECOND], ['m', 60 * SECOND]];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(...units), (n, [unit, scale]) => {
        expect(parseDuration(`${n}${unit}`)).toBe(n * scale);
      }),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ns'],
    [999, '999ns'],
    [1_000, '1.000us'],
    [1_234, '1.234us'],
    [999_999, '999.999us'],
    [1_500_000, '1.500ms'],
    [SECOND, '1.000s'],
    [90 * SECOND, '90.000s'],
  ])('formats %d ns as %j', (ns, text) => {
    expect(formatDuration(ns)).toBe(text);
  });

  it('round-trips through parseDuration within the 3 decimals it prints', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (ns) => {
        const back = parseDuration(formatDuration(ns));
        // Below 1 us it is exact; above, 3 decimals of a unit <= the value
        // lose at most 0.0005 of that unit, i.e. relative error <= 5e-4.
        if (ns < US) expect(back).toBe(ns);
        else expect(Math.abs(back - ns)).toBeLessThanOrEqual(ns * 5e-4 + 0.5);
      }),
    );
  });
});
