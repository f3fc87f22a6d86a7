import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { internetChecksum } from '../../models/wire/checksum.js';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { WireError } from '../../models/wire/errors.js';
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_EXC_TTL,
  ICMP_FRAG_NEEDED,
  ICMP_HEADER_LEN,
  ICMP_PORT_UNREACH,
  ICMP_TIME_EXCEEDED,
  type IcmpErrorRepr,
  type IcmpRepr,
  emitIcmp,
  icmpBufferLen,
  icmpChecksum,
  icmpCode,
  icmpEchoIdent,
  icmpEchoSeq,
  icmpErrorQuoteLen,
  icmpNextHopMtu,
  icmpType,
  parseIcmp,
} from '../../models/wire/icmp.js';
import { IPV4_HEADER_LEN } from '../../models/wire/ipv4.js';
import { bytes, u16, u8 } from './arbitraries.js';
import {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_FRAG_NEEDED_FRAME,
  ICMP_PORT_UNREACH_FRAME,
  ICMP_TIME_EXCEEDED_FRAME,
  UDP_FULL_CSUM,
  poisoned,
} from './fixtures.js';

/** Every fixture here has a 20-byte IP header, so ICMP starts at 34. */
const ICMP = ETH_HLEN + IPV4_HEADER_LEN;
const icmpOf = (frame: Uint8Array) => frame.subarray(ICMP);

/** Emits into a poisoned buffer of exactly icmpBufferLen bytes. */
function emitted(repr: IcmpRepr): Uint8Array {
  const buf = poisoned(icmpBufferLen(repr));
  emitIcmp(repr, buf, 0);
  return buf;
}

describe('ICMP echo fixture', () => {
  const msg = icmpOf(ICMP_ECHO_REQUEST);

  it('reads every field of the captured echo request', () => {
    expect(icmpType(msg, 0)).toBe(ICMP_ECHO);
    expect(icmpCode(msg, 0)).toBe(0);
    expect(icmpChecksum(msg, 0)).toBe(0x9e39);
    expect(icmpEchoIdent(msg, 0)).toBe(0x1234);
    expect(icmpEchoSeq(msg, 0)).toBe(1);
    const repr = parseIcmp(msg, 0, msg.length);
    expect(repr).toEqual({ type: ICMP_ECHO, code: 0, ident: 0x1234, seq: 1, payload: msg.subarray(8) });
    // The payload is a view, not a copy.
    expect(repr.type === ICMP_ECHO && repr.payload.buffer).toBe(msg.buffer);
  });

  it('emits every field and the checksum, equal to the capture', () => {
    const repr: IcmpRepr = { type: ICMP_ECHO, code: 0, ident: 0x1234, seq: 1, payload: msg.slice(8) };
    expect(emitted(repr)).toEqual(msg);
  });

  it('answers in place: the request turned into a reply equals the captured reply', () => {
    const buf = msg.slice();
    const req = parseIcmp(buf, 0, buf.length);
    emitIcmp({ ...req, type: ICMP_ECHOREPLY } as IcmpRepr, buf, 0);
    expect(buf).toEqual(icmpOf(ICMP_ECHO_REPLY));
  });
});

describe('ICMP error fixtures', () => {
  it('reads and re-emits a router time exceeded', () => {
    const msg = icmpOf(ICMP_TIME_EXCEEDED_FRAME);
    expect(icmpType(msg, 0)).toBe(ICMP_TIME_EXCEEDED);
    expect(icmpCode(msg, 0)).toBe(ICMP_EXC_TTL);
    expect(icmpChecksum(msg, 0)).toBe(0x0e17);
    const repr = parseIcmp(msg, 0, msg.length);
    expect(repr).toEqual({ type: ICMP_TIME_EXCEEDED, code: ICMP_EXC_TTL, quoted: msg.subarray(8) });
    expect(emitted({ type: ICMP_TIME_EXCEEDED, code: ICMP_EXC_TTL, quoted: msg.slice(8) })).toEqual(msg);
  });

  it('reads and re-emits a port unreachable', () => {
    const msg = icmpOf(ICMP_PORT_UNREACH_FRAME);
    const repr = parseIcmp(msg, 0, msg.length) as IcmpErrorRepr;
    expect(repr.type).toBe(ICMP_DEST_UNREACH);
    expect(repr.code).toBe(ICMP_PORT_UNREACH);
    expect(repr.mtu).toBeUndefined();
    expect(repr.quoted.length).toBe(45);
    expect(emitted({ type: ICMP_DEST_UNREACH, code: ICMP_PORT_UNREACH, quoted: msg.slice(8) })).toEqual(msg);
  });

  it('reads and re-emits a frag needed with the next-hop MTU', () => {
    const msg = icmpOf(ICMP_FRAG_NEEDED_FRAME);
    expect(icmpNextHopMtu(msg, 0)).toBe(1280);
    const repr = parseIcmp(msg, 0, msg.length) as IcmpErrorRepr;
    expect(repr).toEqual({ type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, mtu: 1280, quoted: msg.subarray(8) });
    const again = emitted({ type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, mtu: 1280, quoted: msg.slice(8) });
    expect(again).toEqual(msg);
  });
});

describe('icmpErrorQuoteLen (__icmp_send, net/ipv4/icmp.c)', () => {
  it('quotes 548 bytes of a 1380-byte datagram, as the Linux router did', () => {
    const quotedIp = ICMP_FRAG_NEEDED_FRAME.subarray(ICMP + ICMP_HEADER_LEN);
    const sent = icmpErrorQuoteLen(quotedIp, 0); // reads the original total length, 1380
    expect(sent).toBe(548);
    expect(ICMP_FRAG_NEEDED_FRAME.length - ICMP - ICMP_HEADER_LEN).toBe(sent);
  });

  it('quotes a short datagram whole, as the Linux host did', () => {
    const sent = icmpErrorQuoteLen(UDP_FULL_CSUM, ETH_HLEN);
    expect(sent).toBe(45);
    expect(ICMP_PORT_UNREACH_FRAME.length - ICMP - ICMP_HEADER_LEN).toBe(sent);
  });

  it('shrinks with a small route MTU and gives up below one IP header of room', () => {
    const quotedIp = ICMP_FRAG_NEEDED_FRAME.subarray(ICMP + ICMP_HEADER_LEN);
    expect(icmpErrorQuoteLen(quotedIp, 0, 68)).toBe(68 - 28);
    expect(icmpErrorQuoteLen(quotedIp, 0, 49)).toBe(21);
    expect(icmpErrorQuoteLen(quotedIp, 0, 48)).toBe(0);
  });
});

describe('ICMP repr properties', () => {
  const echo = fc.record({
    type: fc.constantFrom(ICMP_ECHO, ICMP_ECHOREPLY),
    code: u8,
    ident: u16,
    seq: u16,
    payload: bytes(100),
  });
  const error = fc
    .record({
      type: fc.constantFrom(ICMP_DEST_UNREACH, ICMP_TIME_EXCEEDED),
      code: u8,
      mtu: u16,
      quoted: fc.uint8Array({ minLength: 28, maxLength: 120 }),
    })
    .map(({ mtu, ...r }): IcmpErrorRepr =>
      r.type === ICMP_DEST_UNREACH && r.code === ICMP_FRAG_NEEDED ? { ...r, mtu } : r,
    );
  const fragNeeded = fc.record({
    type: fc.constant(ICMP_DEST_UNREACH),
    code: fc.constant(ICMP_FRAG_NEEDED),
    mtu: u16,
    quoted: fc.uint8Array({ minLength: 28, maxLength: 60 }),
  });

  it('parse(emit(r)) is r and the checksum verifies', () => {
    fc.assert(
      fc.property(fc.oneof(echo, error, fragNeeded), (repr) => {
        const buf = emitted(repr);
        expect(internetChecksum(buf, 0, buf.length)).toBe(0);
        expect(parseIcmp(buf, 0, buf.length)).toEqual(repr);
      }),
    );
  });
});

describe('ICMP parse errors name the field', () => {
  const msg = icmpOf(ICMP_ECHO_REQUEST);

  it('truncated header', () => {
    expect(() => parseIcmp(msg, 0, 7)).toThrow('icmp: header truncated: 7 bytes, need 8');
  });

  it('bad checksum, unless verification is off', () => {
    const buf = msg.slice();
    buf[7] = 2; // seq 2, checksum stale
    expect(() => parseIcmp(buf, 0, buf.length)).toThrow('icmp: checksum 0x9e39 is wrong');
    expect(parseIcmp(buf, 0, buf.length, { verifyChecksum: false })).toMatchObject({ seq: 2 });
  });

  it('unsupported type', () => {
    const buf = emitted({ type: ICMP_ECHO, code: 0, ident: 1, seq: 1, payload: new Uint8Array(4) });
    buf[0] = 5; // redirect
    expect(() => parseIcmp(buf, 0, buf.length, { verifyChecksum: false })).toThrow(WireError);
    expect(() => parseIcmp(buf, 0, buf.length, { verifyChecksum: false })).toThrow(/^icmp: type 5 is not supported/);
  });

  it('quote shorter than an IP header plus 8 bytes', () => {
    const buf = emitted({ type: ICMP_TIME_EXCEEDED, code: 0, quoted: new Uint8Array(27) });
    expect(() => parseIcmp(buf, 0, buf.length)).toThrow(
      'icmp: quoted datagram 27 bytes, need at least 28 (IP header + 8)',
    );
  });
});
