import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from '../../models/wire/checksum.js';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { WireError } from '../../models/wire/errors.js';
import { IPPROTO_UDP, IPV4_HEADER_LEN } from '../../models/wire/ipv4.js';
import {
  UDP_HEADER_LEN,
  type UdpRepr,
  computeUdpChecksum,
  emitUdp,
  parseUdp,
  setUdpChecksum,
  setUdpLength,
  udpChecksum,
  udpDstPort,
  udpLength,
  udpSrcPort,
} from '../../models/wire/udp.js';
import { bytes, ipv4Addr, u16 } from './arbitraries.js';
import { UDP_FULL_CSUM, UDP_PARTIAL_CSUM, UDP_PARTIAL_CSUM_FULL, poisoned } from './fixtures.js';

const UDP = ETH_HLEN + IPV4_HEADER_LEN;
const FULL = UDP_FULL_CSUM.subarray(UDP);
const FULL_SRC = 0x0af40102;
const FULL_DST = 0x0af40203;
const PARTIAL = UDP_PARTIAL_CSUM.subarray(UDP);
const PARTIAL_SRC = 0x0af40102;
const PARTIAL_DST = 0x0af40103;

/** Header poisoned, payload in place, as emit expects. */
function withPayload(payload: Uint8Array): Uint8Array {
  const buf = poisoned(UDP_HEADER_LEN + payload.length);
  buf.set(payload, UDP_HEADER_LEN);
  return buf;
}

/** Verification the receiver's way: pseudo-header + segment sum to 0xffff. */
function sumsToZero(buf: Uint8Array, src: number, dst: number): boolean {
  const pseudo = pseudoHeaderSum(src, dst, IPPROTO_UDP, buf.length);
  return finishChecksum(onesComplementSum(buf, 0, buf.length, pseudo)) === 0;
}

describe('UDP fixtures', () => {
  it('reads every field of a captured datagram with a full checksum', () => {
    expect(udpSrcPort(FULL, 0)).toBe(33877);
    expect(udpDstPort(FULL, 0)).toBe(9000);
    expect(udpLength(FULL, 0)).toBe(25);
    expect(udpChecksum(FULL, 0)).toBe(0x933b);
    expect(computeUdpChecksum(FULL, 0, FULL_SRC, FULL_DST)).toBe(0x933b);
    expect(parseUdp(FULL, 0, FULL.length, FULL_SRC, FULL_DST)).toEqual({ srcPort: 33877, dstPort: 9000, length: 25 });
  });

  it('emits every field and the checksum, equal to the capture', () => {
    const buf = withPayload(FULL.subarray(UDP_HEADER_LEN));
    emitUdp({ srcPort: 33877, dstPort: 9000, length: 25 }, buf, 0, FULL_SRC, FULL_DST);
    expect(buf).toEqual(FULL);
  });

  it('the kernel-ref datagram carries a CHECKSUM_PARTIAL value: emit reproduces it in partial mode', () => {
    const repr: UdpRepr = { srcPort: 5555, dstPort: 9000, length: 28 };
    expect(parseUdp(PARTIAL, 0, PARTIAL.length, PARTIAL_SRC, PARTIAL_DST, { verifyChecksum: false })).toEqual(repr);
    const buf = withPayload(PARTIAL.subarray(UDP_HEADER_LEN));
    emitUdp(repr, buf, 0, PARTIAL_SRC, PARTIAL_DST, { checksum: 'partial' });
    expect(buf).toEqual(PARTIAL);
  });

  it('the kernel-ref datagram with a full checksum gets the value tshark computes', () => {
    const buf = withPayload(PARTIAL.subarray(UDP_HEADER_LEN));
    emitUdp({ srcPort: 5555, dstPort: 9000, length: 28 }, buf, 0, PARTIAL_SRC, PARTIAL_DST);
    expect(udpChecksum(buf, 0)).toBe(UDP_PARTIAL_CSUM_FULL);
    expect(() => parseUdp(PARTIAL, 0, PARTIAL.length, PARTIAL_SRC, PARTIAL_DST)).toThrow(
      'udp: checksum 0x181a is wrong (expected 0xd30b)',
    );
  });
});

describe('UDP repr properties', () => {
  const repr = fc
    .record({ srcPort: u16, dstPort: u16, payload: bytes(80), src: ipv4Addr, dst: ipv4Addr })
    .map(({ payload, ...r }) => ({ ...r, payload, length: UDP_HEADER_LEN + payload.length }));

  it('parse(emit(r)) is r and the checksum verifies', () => {
    fc.assert(
      fc.property(repr, ({ srcPort, dstPort, length, payload, src, dst }) => {
        const buf = withPayload(payload);
        emitUdp({ srcPort, dstPort, length }, buf, 0, src, dst);
        expect(udpChecksum(buf, 0)).not.toBe(0);
        expect(sumsToZero(buf, src, dst)).toBe(true);
        expect(parseUdp(buf, 0, buf.length, src, dst)).toEqual({ srcPort, dstPort, length });
      }),
    );
  });

  it('a computed checksum of 0 is sent as 0xffff and still verifies', () => {
    // Choose the payload word that makes the sum come out at 0xffff.
    const buf = new Uint8Array(10); // ports 0, checksum 0, 2-byte payload
    setUdpLength(buf, 0, 10);
    let found = false;
    for (let w = 0; w <= 0xffff && !found; w++) {
      buf[8] = w >>> 8;
      buf[9] = w & 0xff;
      found = sumsToZero(buf, FULL_SRC, FULL_DST);
    }
    expect(found).toBe(true);
    emitUdp({ srcPort: 0, dstPort: 0, length: 10 }, buf, 0, FULL_SRC, FULL_DST);
    expect(udpChecksum(buf, 0)).toBe(0xffff);
    expect(sumsToZero(buf, FULL_SRC, FULL_DST)).toBe(true);
    expect(parseUdp(buf, 0, 10, FULL_SRC, FULL_DST).length).toBe(10);
  });

  it('a zero checksum means "none" and is not verified', () => {
    const buf = FULL.slice();
    setUdpChecksum(buf, 0, 0);
    expect(parseUdp(buf, 0, buf.length, FULL_SRC, FULL_DST).srcPort).toBe(33877);
  });
});

describe('UDP parse errors name the field', () => {
  const parseError = (buf: Uint8Array, len: number): WireError => {
    try {
      parseUdp(buf, 0, len, FULL_SRC, FULL_DST);
    } catch (e) {
      if (e instanceof WireError) return e;
      throw e;
    }
    throw new Error('parse did not throw');
  };

  it('truncated header', () => {
    expect(parseError(FULL, 7).message).toBe('udp: header truncated: 7 bytes, need 8');
  });

  it('length beyond the buffer or below the header', () => {
    expect(parseError(FULL, 20).message).toBe('udp: length 25 exceeds buffer (20)');
    const buf = FULL.slice();
    setUdpLength(buf, 0, 7);
    expect(parseError(buf, buf.length).message).toBe('udp: length 7 is less than the header (8)');
  });

  it('bad checksum', () => {
    const buf = FULL.slice();
    buf[UDP_HEADER_LEN] ^= 0x20; // flip a payload bit
    const err = parseError(buf, buf.length);
    expect(err.field).toBe('checksum');
    expect(err.message).toMatch(/^udp: checksum 0x933b is wrong \(expected 0x[0-9a-f]{4}\)$/);
  });
});
