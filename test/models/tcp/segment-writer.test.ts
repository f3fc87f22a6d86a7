/**
 * SegmentWriter's payloads: byte i of a stream is i & 0xff, and the checksum
 * it writes takes the payload's sum from prefix sums of that pattern
 * (patternSum) instead of reading the bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { patternSum } from '../../../models/stack/tcp/segment.js';
import { onesComplementSum } from '../../../models/wire/checksum.js';
import { emitTcp, type TcpRepr } from '../../../models/wire/tcp.js';

const pattern = (start: number, len: number) => Uint8Array.from({ length: len }, (_, i) => (start + i) & 0xff);
const fold = (sum: number) => onesComplementSum(new Uint8Array(0), 0, 0, sum);

describe('TCP segment payloads', () => {
  it('patternSum is the sum of the pattern bytes, from any start, any length up to 64 KiB', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 65535 }), (start, len) => {
        expect(fold(patternSum(start, len))).toBe(onesComplementSum(pattern(start, len), 0, len));
      }),
      { numRuns: 200 },
    );
  });

  it('a checksum from the known payload sum is the one the bytes give', () => {
    const repr: TcpRepr = { srcPort: 40000, dstPort: 80, seq: 1, ack: 2, flags: 0x18, window: 502, urgent: 0, options: { timestamp: { tsval: 7, tsecr: 9 } } };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 1461 }), (start, len) => {
        const hlen = 32;
        const a = new Uint8Array(hlen + len);
        a.fill(0xee, 0, hlen); // a header's old bytes, its checksum field among them
        a.set(pattern(start, len), hlen);
        const b = a.slice();
        emitTcp(repr, a, 0, 0x0a000001, 0x0a000002, len);
        emitTcp(repr, b, 0, 0x0a000001, 0x0a000002, len, { payloadSum: patternSum(start, len) });
        expect(b).toEqual(a);
      }),
      { numRuns: 200 },
    );
  });
});
