import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETH_HLEN,
  emitEthernet,
  ethDst,
  ethSrc,
  ethType,
  parseEthernet,
  setEthDst,
} from '../../models/wire/ethernet.js';
import { MAC_BROADCAST } from '../../models/wire/addr.js';
import { WireError } from '../../models/wire/errors.js';
import { mac, u16 } from './arbitraries.js';
import { ARP_REQUEST, ICMP_ECHO_REQUEST, poisoned } from './fixtures.js';

describe('Ethernet II', () => {
  it('reads every field of a captured ARP broadcast', () => {
    expect(ethDst(ARP_REQUEST, 0)).toBe(MAC_BROADCAST);
    expect(ethSrc(ARP_REQUEST, 0)).toBe(0x0a580af40102);
    expect(ethType(ARP_REQUEST, 0)).toBe(ETHERTYPE_ARP);
    expect(parseEthernet(ICMP_ECHO_REQUEST, 0, ICMP_ECHO_REQUEST.length)).toEqual({
      dst: 0x0a580af40103,
      src: 0x0a580af40102,
      ethertype: ETHERTYPE_IPV4,
    });
  });

  it('emits every field: header bytes equal the capture, nothing beyond is touched', () => {
    const buf = poisoned(ETH_HLEN + 2);
    emitEthernet({ dst: MAC_BROADCAST, src: 0x0a580af40102, ethertype: ETHERTYPE_ARP }, buf, 0);
    expect(buf.subarray(0, ETH_HLEN)).toEqual(ARP_REQUEST.subarray(0, ETH_HLEN));
    expect([...buf.subarray(ETH_HLEN)]).toEqual([0xa5, 0xa5]);
  });

  it('setters write in place at an offset', () => {
    const buf = ICMP_ECHO_REQUEST.slice();
    setEthDst(buf, 0, 0x0a580af40199);
    expect(ethDst(buf, 0)).toBe(0x0a580af40199);
    expect(buf.subarray(6)).toEqual(ICMP_ECHO_REQUEST.subarray(6));
  });

  it('parse(emit(r)) is r', () => {
    fc.assert(
      fc.property(fc.record({ dst: mac, src: mac, ethertype: u16 }), fc.nat(8), (repr, off) => {
        const buf = poisoned(off + ETH_HLEN);
        emitEthernet(repr, buf, off);
        expect(parseEthernet(buf, off, ETH_HLEN)).toEqual(repr);
      }),
    );
  });

  it('rejects a truncated header, naming it', () => {
    expect(() => parseEthernet(ARP_REQUEST, 0, 13)).toThrow(WireError);
    expect(() => parseEthernet(ARP_REQUEST, 0, 13)).toThrow('ethernet: header truncated: 13 bytes, need 14');
  });
});
