/**
 * The sender's SACK scoreboard (sack.ts): SACKed ranges merged, counted and
 * forgotten as the cumulative ACK passes them. Segments of 100 bytes.
 */
import { describe, expect, it } from 'vitest';
import { SackScoreboard } from '../../../models/stack/tcp/sack.js';

const MSS = 100;
const seg = (n: number): [number, number] => [1 + (n - 1) * MSS, 1 + n * MSS];

describe('SACK scoreboard', () => {
  it('merges blocks, counts only newly SACKed bytes, and forgets what the cumulative ACK passes', () => {
    const sb = new SackScoreboard();
    expect(sb.add(...seg(3))).toBe(100);
    expect(sb.add(...seg(3))).toBe(0);
    expect(sb.add(...seg(5))).toBe(100);
    expect(sb.add(seg(4)[0], seg(5)[1])).toBe(100); // 4 is new, 5 was known: ranges 3..5 merge
    expect(sb.blocks()).toEqual([[201, 501]]);
    expect(sb.add(...seg(7))).toBe(100);
    expect(sb.sacked).toBe(400);
    sb.advance(251);
    expect(sb.blocks()).toEqual([[251, 501], [601, 701]]);
    expect(sb.sacked).toBe(350);
    sb.advance(701);
    expect(sb.empty).toBe(true);
    expect(sb.sacked).toBe(0);
  });

  it('finds where SACKed data ends and how much lies below an offset', () => {
    const big = new SackScoreboard();
    big.add(451, 551);
    expect(big.highSacked).toBe(551);
    expect(big.skipSacked(460)).toBe(551);
    expect(big.skipSacked(400)).toBe(400);
    expect(big.sackedBelow(500)).toBe(49);
  });
});
