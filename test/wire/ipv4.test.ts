import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { WireError } from '../../models/wire/errors.js';
import {
  IPPROTO_ICMP,
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  type Ipv4Repr,
  decrementTtl,
  emitIpv4,
  fillIpv4Checksum,
  ipv4BufferLen,
  ipv4Checksum,
  ipv4ChecksumValid,
  ipv4DontFragment,
  ipv4DscpEcn,
  ipv4Dst,
  ipv4Flags,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4Ident,
  ipv4Ihl,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  ipv4Ttl,
  ipv4Version,
  parseIpv4,
  setIpv4Dst,
  setIpv4Ident,
  setIpv4Src,
  setIpv4TotalLength,
} from '../../models/wire/ipv4.js';
import { ipv4Addr, u16, u8 } from './arbitraries.js';
import { ICMP_ECHO_REQUEST, ICMP_PORT_UNREACH_FRAME, UDP_FULL_CSUM, poisoned } from './fixtures.js';

const IP = ETH_HLEN;
/** The IPv4 packet of the captured echo request (84 bytes). */
const ECHO_IP = ICMP_ECHO_REQUEST.subarray(IP);

const ECHO_REPR: Ipv4Repr = {
  dscpEcn: 0,
  totalLength: 84,
  ident: 0x452e,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  ttl: 64,
  protocol: IPPROTO_ICMP,
  src: 0x0af40102,
  dst: 0x0af40103,
  headerLength: 20,
};

/** Valid reprs; the buffer they are emitted into is totalLength bytes. */
const ipv4Repr = fc
  .record({
    dscpEcn: u8,
    ident: u16,
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentOffset: fc.integer({ min: 0, max: 0x1fff }).map((n) => n * 8),
    ttl: u8,
    protocol: u8,
    src: ipv4Addr,
    dst: ipv4Addr,
    optionWords: fc.integer({ min: 0, max: 10 }),
    payloadLen: fc.integer({ min: 0, max: 64 }),
  })
  .chain(({ optionWords, payloadLen, ...fields }) =>
    fc.uint8Array({ minLength: optionWords * 4, maxLength: optionWords * 4 }).map((options): Ipv4Repr => {
      const headerLength = IPV4_HEADER_LEN + options.length;
      const repr: Ipv4Repr = { ...fields, headerLength, totalLength: headerLength + payloadLen };
      if (options.length > 0) repr.options = options;
      return repr;
    }),
  );

function emitted(repr: Ipv4Repr): Uint8Array {
  const buf = poisoned(repr.totalLength);
  emitIpv4(repr, buf, 0);
  return buf;
}

function parseError(buf: Uint8Array, len = buf.length): WireError {
  try {
    parseIpv4(buf, 0, len);
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error('parse did not throw');
}

describe('IPv4 fixture', () => {
  it('reads every field of the captured echo request (DF set)', () => {
    expect(ipv4Version(ICMP_ECHO_REQUEST, IP)).toBe(4);
    expect(ipv4Ihl(ICMP_ECHO_REQUEST, IP)).toBe(5);
    expect(ipv4HeaderLen(ICMP_ECHO_REQUEST, IP)).toBe(20);
    expect(ipv4DscpEcn(ICMP_ECHO_REQUEST, IP)).toBe(0);
    expect(ipv4TotalLength(ICMP_ECHO_REQUEST, IP)).toBe(84);
    expect(ipv4Ident(ICMP_ECHO_REQUEST, IP)).toBe(0x452e);
    expect(ipv4Flags(ICMP_ECHO_REQUEST, IP)).toBe(0b010);
    expect(ipv4DontFragment(ICMP_ECHO_REQUEST, IP)).toBe(true);
    expect(ipv4MoreFragments(ICMP_ECHO_REQUEST, IP)).toBe(false);
    expect(ipv4FragmentOffset(ICMP_ECHO_REQUEST, IP)).toBe(0);
    expect(ipv4Ttl(ICMP_ECHO_REQUEST, IP)).toBe(64);
    expect(ipv4Protocol(ICMP_ECHO_REQUEST, IP)).toBe(IPPROTO_ICMP);
    expect(ipv4Checksum(ICMP_ECHO_REQUEST, IP)).toBe(0xdd8e);
    expect(ipv4Src(ICMP_ECHO_REQUEST, IP)).toBe(0x0af40102);
    expect(ipv4Dst(ICMP_ECHO_REQUEST, IP)).toBe(0x0af40103);
    expect(ipv4ChecksumValid(ICMP_ECHO_REQUEST, IP)).toBe(true);
    expect(parseIpv4(ICMP_ECHO_REQUEST, IP, ECHO_IP.length)).toEqual(ECHO_REPR);
  });

  it('emits every field and the checksum into a poisoned buffer, equal to the capture', () => {
    const buf = poisoned(ECHO_IP.length);
    buf.set(ECHO_IP.subarray(IPV4_HEADER_LEN), IPV4_HEADER_LEN);
    emitIpv4(ECHO_REPR, buf, 0);
    expect(ipv4BufferLen(ECHO_REPR)).toBe(20);
    expect(buf).toEqual(ECHO_IP);
  });
});

describe('IPv4 repr properties', () => {
  it('parse(emit(r)) is r, options included, and the checksum verifies', () => {
    fc.assert(
      fc.property(ipv4Repr, (repr) => {
        const buf = emitted(repr);
        expect(ipv4ChecksumValid(buf, 0)).toBe(true);
        expect(parseIpv4(buf, 0, buf.length)).toEqual(repr);
      }),
    );
  });

  it('emit zero-pads options shorter than the header length (EOL)', () => {
    const repr: Ipv4Repr = { ...ECHO_REPR, totalLength: 24, headerLength: 24, options: Uint8Array.of(1) };
    const buf = emitted(repr);
    expect([...buf.subarray(20, 24)]).toEqual([1, 0, 0, 0]);
    expect(parseIpv4(buf, 0, 24).options).toEqual(Uint8Array.of(1, 0, 0, 0));
  });
});

describe('IPv4 in-place rewrites keep the checksum right', () => {
  function recomputed(buf: Uint8Array): number {
    const copy = buf.slice();
    fillIpv4Checksum(copy, 0);
    return ipv4Checksum(copy, 0);
  }

  it('decrementTtl reproduces the header a Linux router forwarded', () => {
    // UDP_FULL_CSUM left the sender with TTL 64; the port-unreachable error
    // from the far host quotes the same datagram after one forwarding hop.
    const sent = UDP_FULL_CSUM.slice(IP, IP + IPV4_HEADER_LEN);
    const forwarded = ICMP_PORT_UNREACH_FRAME.subarray(IP + 28, IP + 28 + IPV4_HEADER_LEN);
    expect(decrementTtl(sent, 0)).toBe(63);
    expect(sent).toEqual(forwarded);
  });

  it('decrementTtl equals full recomputation (ip_decrease_ttl never yields 0xffff)', () => {
    fc.assert(
      fc.property(ipv4Repr, (repr) => {
        fc.pre(repr.ttl >= 1);
        const buf = emitted(repr);
        expect(decrementTtl(buf, 0)).toBe(repr.ttl - 1);
        expect(ipv4Ttl(buf, 0)).toBe(repr.ttl - 1);
        expect(ipv4Checksum(buf, 0)).toBe(recomputed(buf));
        expect(ipv4Checksum(buf, 0)).not.toBe(0xffff);
      }),
    );
  });

  it('decrementTtl at the carry boundaries of ip_decrease_ttl', () => {
    // check + 0x0100 reaching 0xffff (from 0xfeff) or overflowing (from 0xff00)
    // is where the end-around carry matters; 0x0000 is the other extreme.
    for (const target of [0xfeff, 0xff00, 0x0000]) {
      const buf = ECHO_IP.slice(0, 20);
      let ident = 0;
      for (; ident <= 0xffff; ident++) {
        setIpv4Ident(buf, 0, ident);
        if (recomputed(buf) === target) break;
      }
      expect(ident).toBeLessThanOrEqual(0xffff);
      fillIpv4Checksum(buf, 0);
      expect(ipv4Checksum(buf, 0)).toBe(target);
      decrementTtl(buf, 0);
      expect(ipv4Checksum(buf, 0)).toBe(recomputed(buf));
    }
  });

  it('setIpv4Src/Dst patch the header checksum like a full recomputation', () => {
    fc.assert(
      fc.property(ipv4Repr, ipv4Addr, ipv4Addr, (repr, src, dst) => {
        const buf = emitted(repr);
        setIpv4Src(buf, 0, src);
        expect(ipv4Src(buf, 0)).toBe(src);
        expect(ipv4Checksum(buf, 0)).toBe(recomputed(buf));
        setIpv4Dst(buf, 0, dst);
        expect(ipv4Dst(buf, 0)).toBe(dst);
        expect(ipv4Checksum(buf, 0)).toBe(recomputed(buf));
        expect(parseIpv4(buf, 0, buf.length)).toEqual({ ...repr, src, dst });
      }),
    );
  });
});

describe('IPv4 parse errors name the field', () => {
  it('truncated header', () => {
    expect(parseError(ECHO_IP, 19).message).toBe('ipv4: header truncated: 19 bytes, need 20');
  });

  it('bad version', () => {
    const buf = ECHO_IP.slice();
    buf[0] = 0x65;
    expect(parseError(buf).message).toBe('ipv4: version 6 is not 4');
  });

  it('IHL below 5 and header beyond the buffer', () => {
    const buf = ECHO_IP.slice();
    buf[0] = 0x44;
    expect(parseError(buf).message).toBe('ipv4: header length 16 (IHL 4) is below 20');
    buf[0] = 0x4f;
    expect(parseError(buf, 40).message).toBe('ipv4: header length 60 exceeds buffer (40)');
  });

  it('bad checksum, unless verification is off', () => {
    const buf = ECHO_IP.slice();
    buf[8] = 1; // TTL 1, checksum left stale
    const err = parseError(buf);
    expect(err.field).toBe('checksum');
    expect(err.message).toBe(`ipv4: checksum 0xdd8e is wrong (expected 0x${recomputedOf(buf)})`);
    expect(parseIpv4(buf, 0, buf.length, { verifyChecksum: false }).ttl).toBe(1);
  });

  it('total length beyond the buffer, or below the header', () => {
    const buf = ECHO_IP.slice();
    setIpv4TotalLength(buf, 0, 20000);
    fillIpv4Checksum(buf, 0);
    expect(parseError(buf).message).toBe('ipv4: total length 20000 exceeds buffer (84)');
    setIpv4TotalLength(buf, 0, 19);
    fillIpv4Checksum(buf, 0);
    expect(parseError(buf).message).toBe('ipv4: total length 19 is less than header length (20)');
  });

  it('a UDP packet parses with the UDP protocol number', () => {
    expect(parseIpv4(UDP_FULL_CSUM, IP, UDP_FULL_CSUM.length - IP).protocol).toBe(IPPROTO_UDP);
  });
});

function recomputedOf(buf: Uint8Array): string {
  const copy = buf.slice();
  fillIpv4Checksum(copy, 0);
  return ipv4Checksum(copy, 0).toString(16).padStart(4, '0');
}
