/**
 * The sender's SACK scoreboard (sack.ts) against RFC 6675's definitions:
 * IsLost with DupThresh 3 (three discontiguous SACKed ranges above, or more
 * than 2 x SMSS SACKed bytes above), SetPipe, and NextSeg rules (1) and (3).
 * Segments of 100 bytes; the RFC 2018 section 5 case 3 pattern: of eight
 * segments at 1..801, the 2nd, 4th, 6th and 8th are lost.
 */
import { describe, expect, it } from 'vitest';
import { SackScoreboard } from '../../../models/stack/tcp/sack.js';

const MSS = 100;
const seg = (n: number): [number, number] => [1 + (n - 1) * MSS, 1 + n * MSS];

describe('SACK scoreboard (RFC 6675)', () => {
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

  it('IsLost: three discontiguous SACKed ranges above, or more than 2 SMSS SACKed above', () => {
    const sb = new SackScoreboard();
    sb.add(...seg(3));
    sb.add(...seg(5));
    expect(sb.isLost(seg(2)[0], MSS)).toBe(false); // 2 ranges, 200 bytes: not lost
    sb.add(...seg(7));
    expect(sb.isLost(seg(2)[0], MSS)).toBe(true); // 3 ranges above segment 2
    expect(sb.isLost(seg(4)[0], MSS)).toBe(false); // 2 ranges above 4
    expect(sb.isLost(seg(6)[0], MSS)).toBe(false);
    // Bytes rule: 201 contiguous bytes SACKed above a hole make it lost; 200 do not.
    const b = new SackScoreboard();
    b.add(101, 301);
    expect(b.isLost(1, MSS)).toBe(false);
    b.add(301, 302);
    expect(b.isLost(1, MSS)).toBe(true);
  });

  it('SetPipe: unSACKed bytes not lost, plus retransmitted ones', () => {
    const sb = new SackScoreboard();
    for (const n of [3, 5, 7]) sb.add(...seg(n));
    const sndMax = seg(8)[1];
    // Segment 1 is ACKed; of the unSACKed 2, 4, 6 and 8, only 2 is lost.
    const una = seg(2)[0];
    // In flight: 4, 6 and 8 (300 bytes); 2 is lost and not yet retransmitted.
    expect(sb.pipe(una, sndMax, una, MSS)).toBe(300);
    // After retransmitting 2 (HighRxt = its end): 2 counts once more.
    expect(sb.pipe(una, sndMax, seg(2)[1], MSS)).toBe(400);
  });

  it('NextSeg: (1) the first lost hole above HighRxt; (3) the first unSACKed hole below HighSACK', () => {
    const sb = new SackScoreboard();
    for (const n of [3, 5, 7]) sb.add(...seg(n));
    const una = seg(2)[0];
    expect(sb.nextHole(una, una, MSS, true)).toEqual({ off: seg(2)[0], len: 100 });
    expect(sb.nextHole(una, seg(2)[1], MSS, true)).toBeNull(); // 4 and 6 are not lost yet
    expect(sb.nextHole(una, seg(2)[1], MSS, false)).toEqual({ off: seg(4)[0], len: 100 });
    expect(sb.nextHole(una, seg(6)[1], MSS, false)).toBeNull(); // 8 lies above HighSACK
    // A fourth range (segment 10) puts three ranges above hole 4: now it is lost too.
    sb.add(...seg(10));
    expect(sb.nextHole(una, seg(2)[1], MSS, true)).toEqual({ off: seg(4)[0], len: 100 });
    // A hole longer than SMSS is sent one SMSS at a time, never into SACKed data.
    const big = new SackScoreboard();
    big.add(451, 551);
    expect(big.nextHole(1, 1, MSS, false)).toEqual({ off: 1, len: 100 });
    expect(big.nextHole(1, 401, MSS, false)).toEqual({ off: 401, len: 50 });
    expect(big.skipSacked(460)).toBe(551);
    expect(big.skipSacked(400)).toBe(400);
    expect(big.sackedBelow(500)).toBe(49);
  });
});
