import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARP_LEN,
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  type ArpRepr,
  arpOp,
  arpSenderIp,
  arpSenderMac,
  arpTargetIp,
  arpTargetMac,
  emitArp,
  isValidArp,
  parseArp,
} from '../../models/wire/arp.js';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { WireError } from '../../models/wire/errors.js';
import { ipv4Addr, mac } from './arbitraries.js';
import { ARP_REPLY, ARP_REQUEST, poisoned } from './fixtures.js';

const REQUEST: ArpRepr = {
  op: ARP_OP_REQUEST,
  senderMac: 0x0a580af40102,
  senderIp: 0x0af40102,
  targetMac: 0,
  targetIp: 0x0af40103,
};

describe('ARP', () => {
  it('reads every field of the captured request', () => {
    const off = ETH_HLEN;
    expect(arpOp(ARP_REQUEST, off)).toBe(ARP_OP_REQUEST);
    expect(arpSenderMac(ARP_REQUEST, off)).toBe(0x0a580af40102);
    expect(arpSenderIp(ARP_REQUEST, off)).toBe(0x0af40102);
    expect(arpTargetMac(ARP_REQUEST, off)).toBe(0);
    expect(arpTargetIp(ARP_REQUEST, off)).toBe(0x0af40103);
    expect(ARP_REQUEST.length - off).toBe(ARP_LEN);
    expect(parseArp(ARP_REQUEST, off, ARP_LEN)).toEqual(REQUEST);
  });

  it('reads the captured reply', () => {
    expect(parseArp(ARP_REPLY, ETH_HLEN, ARP_LEN)).toEqual({
      op: ARP_OP_REPLY,
      senderMac: 0x0a580af40103,
      senderIp: 0x0af40103,
      targetMac: 0x0a580af40102,
      targetIp: 0x0af40102,
    });
  });

  it('emits every field into a poisoned buffer, byte for byte equal to the capture', () => {
    for (const [frame, repr] of [
      [ARP_REQUEST, REQUEST],
      [ARP_REPLY, parseArp(ARP_REPLY, ETH_HLEN, ARP_LEN)],
    ] as const) {
      const buf = poisoned(ARP_LEN);
      emitArp(repr, buf, 0);
      expect(buf).toEqual(frame.subarray(ETH_HLEN));
    }
  });

  it('parse(emit(r)) is r', () => {
    const repr = fc.record({
      op: fc.constantFrom(ARP_OP_REQUEST, ARP_OP_REPLY),
      senderMac: mac,
      senderIp: ipv4Addr,
      targetMac: mac,
      targetIp: ipv4Addr,
    });
    fc.assert(
      fc.property(repr, (r) => {
        const buf = poisoned(ARP_LEN);
        emitArp(r, buf, 0);
        expect(parseArp(buf, 0, ARP_LEN)).toEqual(r);
      }),
    );
  });

  describe('rejects what Linux drops for Ethernet/IPv4, naming the field', () => {
    const corrupt = (at: number, value: number) => {
      const buf = ARP_REQUEST.slice(ETH_HLEN);
      buf[at] = value;
      return buf;
    };
    it.each([
      ['htype', corrupt(1, 6), 'arp: htype 6 is not Ethernet (1)'],
      ['ptype', corrupt(2, 0x86), 'arp: ptype 0x8600 is not IPv4 (0x0800)'],
      ['hlen', corrupt(4, 8), 'arp: hlen 8 is not 6'],
      ['plen', corrupt(5, 16), 'arp: plen 16 is not 4'],
      ['op', corrupt(7, 3), 'arp: op 3 is neither request (1) nor reply (2)'],
    ])('%s', (field, buf, message) => {
      let err: unknown;
      try {
        parseArp(buf, 0, ARP_LEN);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WireError);
      expect((err as WireError).field).toBe(field);
      expect((err as WireError).message).toBe(message);
      // The receive path's allocation-free check refuses exactly what parse refuses.
      expect(isValidArp(buf, 0, ARP_LEN)).toBe(false);
    });

    it('truncated', () => {
      expect(() => parseArp(ARP_REQUEST, ETH_HLEN, 27)).toThrow('arp: packet truncated: 27 bytes, need 28');
      expect(isValidArp(ARP_REQUEST, ETH_HLEN, 27)).toBe(false);
      expect(isValidArp(ARP_REQUEST, ETH_HLEN, ARP_LEN)).toBe(true);
      expect(isValidArp(ARP_REPLY, ETH_HLEN, ARP_LEN)).toBe(true);
    });
  });
});
