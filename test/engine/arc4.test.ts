import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { Arc4Stream } from '../../engine/arc4.js';
import { randomStream } from '../../engine/rng.js';

// engine/arc4.ts replaces seedrandom in the engine; every draw of every
// stream must stay what seedrandom gives, or every run's numbers move.

describe('Arc4Stream draws what seedrandom draws', () => {
  it('on the seeds podwire makes (seed, NUL, component/purpose), 2,000 draws each', () => {
    for (const name of ['node-1/neigh', 'underlay/wire-loss/underlay/eth3', 'n1/p1/traffic/udp-1', '', 'x'.repeat(300)]) {
      for (const seed of [0, 1, 42, 2 ** 31 - 1]) {
        const key = `${seed}\u0000${name}`;
        const ours = new Arc4Stream(key);
        const theirs = seedrandom(key);
        for (let k = 0; k < 2000; k++) expect(ours.double(), `${JSON.stringify(key)} draw ${k}`).toBe(theirs.double());
      }
    }
  });

  it('on any string, including empty, long (key folding past 256) and non-ASCII ones', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 600 }), fc.string({ unit: 'grapheme', maxLength: 300 })), fc.integer({ min: 1, max: 50 }), (seed, draws) => {
        const ours = new Arc4Stream(seed);
        const theirs = seedrandom(seed);
        for (let k = 0; k < draws; k++) expect(ours.double()).toBe(theirs.double());
      }),
      { numRuns: 400 },
    );
  });

  it('keeps RandomStream helpers on top of the same draws', () => {
    const a = randomStream(7, 'n1/traffic');
    const b = seedrandom('7\u0000n1/traffic');
    for (let k = 0; k < 100; k++) {
      expect(a.int(3, 9)).toBe(3 + Math.floor(b.double() * 7));
      expect(a.exponential(5)).toBe(-Math.log(1 - b.double()) * 5);
      expect(a.next()).toBe(b.double());
    }
  });
});
