import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { read16, read32, write16, write32 } from '../../models/wire/bytes.js';
import {
  checksumReplace16,
  checksumReplace32,
  finishChecksum,
  internetChecksum,
  onesComplementSum,
  partialChecksum,
  pseudoHeaderSum,
} from '../../models/wire/checksum.js';
import { IPPROTO_UDP } from '../../models/wire/ipv4.js';
import { bufferSlice, u16, u32 } from './arbitraries.js';
import { ICMP_ECHO_REQUEST, UDP_PARTIAL_CSUM, hex } from './fixtures.js';

/**
 * Independent oracle: the one's complement sum of 16-bit words is the
 * ordinary sum modulo 0xffff, written 0xffff (not 0) when the data is nonzero.
 */
function referenceSum(buf: Uint8Array, off: number, len: number): number {
  let total = 0;
  for (let i = 0; i < len; i++) total += buf[off + i]! * ((i & 1) === 0 ? 256 : 1);
  const r = total % 0xffff;
  return r === 0 && total !== 0 ? 0xffff : r;
}

/** referenceSum with a starting sum, as onesComplementSum chains it. */
function referenceSumWith(buf: Uint8Array, off: number, len: number, acc: number): number {
  let total = acc;
  for (let i = 0; i < len; i++) total += buf[off + i]! * ((i & 1) === 0 ? 256 : 1);
  const r = total % 0xffff;
  return r === 0 && total !== 0 ? 0xffff : r;
}

describe('RFC 1071 sum', () => {
  it('matches the worked example of RFC 1071 section 3', () => {
    const buf = hex('0001 f203 f4f5 f6f7');
    expect(onesComplementSum(buf, 0, 8)).toBe(0xddf2);
    expect(internetChecksum(buf, 0, 8)).toBe(0x220d);
  });

  it('pads an odd last byte with a zero low byte', () => {
    expect(onesComplementSum(hex('0001 f203 f4'), 0, 5)).toBe(0x0001 + 0xf203 + 0xf400 - 0xffff);
  });

  it('agrees with the modular oracle at any offset and length, odd or even', () => {
    fc.assert(
      fc.property(bufferSlice, ({ buf, off, len }) => {
        expect(onesComplementSum(buf, off, len)).toBe(referenceSum(buf, off, len));
      }),
    );
  });

  it('agrees with the oracle over long ranges of views anywhere in their buffer (the 32-bit word path)', () => {
    // Views at every alignment, as packets are views into slabs; all-ones data carries the most.
    const range = fc
      .record({ at: fc.integer({ min: 0, max: 7 }), len: fc.integer({ min: 0, max: 4096 }), ones: fc.boolean(), seed: fc.nat() })
      .map(({ at, len, ones, seed }) => {
        const whole = new Uint8Array(at + len + 8);
        let x = seed | 1;
        for (let i = 0; i < whole.length; i++) {
          x = (Math.imul(x, 1103515245) + 12345) | 0;
          whole[i] = ones ? 0xff : x >>> 24;
        }
        return { view: whole.subarray(at), off: (seed >>> 3) % 4, len };
      });
    fc.assert(
      fc.property(range, ({ view, off, len }) => {
        expect(onesComplementSum(view, off, len, 0x1234)).toBe(referenceSumWith(view, off, len, 0x1234));
      }),
      { numRuns: 300 },
    );
  });

  it('chains: summing two even-split parts equals summing the whole', () => {
    fc.assert(
      fc.property(bufferSlice, fc.nat(), ({ buf, off, len }, k) => {
        const first = (k % (len + 1)) & ~1;
        const acc = onesComplementSum(buf, off, first);
        expect(finishChecksum(onesComplementSum(buf, off + first, len - first, acc))).toBe(
          internetChecksum(buf, off, len),
        );
      }),
    );
  });

  it('is 0 over a real IPv4 header that carries its checksum', () => {
    expect(internetChecksum(ICMP_ECHO_REQUEST, 14, 20)).toBe(0);
    expect(internetChecksum(ICMP_ECHO_REQUEST, 34, 64)).toBe(0); // the ICMP message too
  });

  it('verifies after storing the computed value (any even-aligned field)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 128 }), fc.nat(), (raw, k) => {
        const buf = raw.subarray(0, raw.length & ~1);
        const field = (k % (buf.length / 2)) * 2;
        write16(buf, field, 0);
        write16(buf, field, internetChecksum(buf, 0, buf.length));
        expect(internetChecksum(buf, 0, buf.length)).toBe(0);
      }),
    );
  });
});

describe('pseudo-header', () => {
  it('reproduces the CHECKSUM_PARTIAL value Linux left in a captured UDP datagram', () => {
    const ip = 14;
    const src = read32(UDP_PARTIAL_CSUM, ip + 12);
    const dst = read32(UDP_PARTIAL_CSUM, ip + 16);
    const udpLen = read16(UDP_PARTIAL_CSUM, ip + 20 + 4);
    expect(partialChecksum(src, dst, IPPROTO_UDP, udpLen)).toBe(read16(UDP_PARTIAL_CSUM, ip + 20 + 6));
  });

  it('equals summing the 12-byte pseudo-header as bytes', () => {
    fc.assert(
      fc.property(u32, u32, fc.integer({ min: 0, max: 255 }), u16, (src, dst, proto, len) => {
        const ph = new Uint8Array(12);
        write32(ph, 0, src);
        write32(ph, 4, dst);
        ph[9] = proto;
        write16(ph, 10, len);
        expect(finishChecksum(pseudoHeaderSum(src, dst, proto, len))).toBe(internetChecksum(ph, 0, 12));
      }),
    );
  });
});

describe('RFC 1624 incremental update', () => {
  // A header-like buffer: even length, checksum in word 0 (field value then
  // recomputed from scratch). The ±0 ambiguity of eqn 3 only arises for
  // all-zero data, which no real header is (RFC 1624 section 3), so such
  // cases are excluded.
  const header = fc.uint8Array({ minLength: 4, maxLength: 60 }).map((b) => b.subarray(0, b.length & ~1));
  const fullChecksum = (buf: Uint8Array) => {
    write16(buf, 0, 0);
    return internetChecksum(buf, 0, buf.length);
  };
  const nonZeroData = (buf: Uint8Array) => buf.subarray(2).some((b) => b !== 0);

  it('checksumReplace16 equals full recomputation', () => {
    fc.assert(
      fc.property(header, fc.nat(), u16, (buf, k, next) => {
        const at = 2 + (k % (buf.length / 2 - 1)) * 2;
        const check = fullChecksum(buf);
        const old = read16(buf, at);
        write16(buf, at, next);
        fc.pre(nonZeroData(buf));
        expect(checksumReplace16(check, old, next)).toBe(fullChecksum(buf));
      }),
    );
  });

  it('checksumReplace32 equals full recomputation (unaligned to 32 bits too)', () => {
    fc.assert(
      fc.property(header.filter((b) => b.length >= 6), fc.nat(), u32, (buf, k, next) => {
        const at = 2 + (k % (buf.length / 2 - 2)) * 2;
        const check = fullChecksum(buf);
        const old = read32(buf, at);
        write32(buf, at, next);
        fc.pre(nonZeroData(buf));
        expect(checksumReplace32(check, old, next)).toBe(fullChecksum(buf));
      }),
    );
  });

  it('leaves the checksum alone when the value does not change', () => {
    expect(checksumReplace16(0x1234, 0xabcd, 0xabcd)).toBe(0x1234);
    expect(checksumReplace32(0xdd8e, 0x0af40102, 0x0af40102)).toBe(0xdd8e);
  });
});
