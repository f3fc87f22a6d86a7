import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAC_BROADCAST,
  formatIpv4,
  formatMac,
  inPrefix,
  isMulticastMac,
  parseCidr,
  parseIpv4,
  parseMac,
  prefixMask,
  scanIpv4,
  readMac,
  writeMac,
} from '../../models/wire/addr.js';
import { WireError } from '../../models/wire/errors.js';
import { ipv4Addr, mac } from './arbitraries.js';
import { poisoned } from './fixtures.js';

describe('IPv4 addresses', () => {
  it('parses and formats a dotted quad as an unsigned 32-bit number', () => {
    expect(parseIpv4('10.244.1.2')).toBe(0x0af40102);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(formatIpv4(0xc0a83102)).toBe('192.168.49.2');
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
  });

  it.each(['10.244.1', '10.244.1.2.3', '10.244.1.256', '10.244.01.2', ' 10.0.0.1', '10.0.0.1/24', 'a.b.c.d', ''])(
    'rejects %j',
    (s) => {
      expect(() => parseIpv4(s)).toThrow(WireError);
    },
  );

  it('round-trips every address', () => {
    fc.assert(fc.property(ipv4Addr, (a) => parseIpv4(formatIpv4(a)) === a));
  });

  it('accepts exactly what the strict dotted-quad grammar accepts, on near-miss strings', () => {
    // The grammar, as a regular expression: four octets 0..255 without leading zeros.
    const octet = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
    const grammar = new RegExp(`^${octet}\\.${octet}\\.${octet}\\.${octet}$`);
    const nearMiss = fc.array(fc.constantFrom('0', '1', '2', '5', '9', '00', '25', '255', '256', '300', '1000', '.', '.', '.', '', 'a', ' ', '/', '-'), { maxLength: 9 }).map((p) => p.join(''));
    fc.assert(
      fc.property(fc.oneof(nearMiss, fc.string({ maxLength: 16 })), (s) => {
        const ok = grammar.test(s);
        expect(scanIpv4(s) >= 0, JSON.stringify(s)).toBe(ok);
        if (ok) expect(scanIpv4(s)).toBe(s.split('.').reduce((n, o) => n * 256 + Number(o), 0));
        else expect(() => parseIpv4(s)).toThrow(WireError);
      }),
      { numRuns: 3000 },
    );
  });

  it('parses CIDR, reporting the network of a host address', () => {
    expect(parseCidr('10.244.1.0/24')).toEqual({ addr: 0x0af40100, prefixLen: 24, network: 0x0af40100 });
    expect(parseCidr('10.244.1.2/24')).toEqual({ addr: 0x0af40102, prefixLen: 24, network: 0x0af40100 });
    expect(parseCidr('200.1.2.3/1').network).toBe(0x80000000);
    expect(parseCidr('0.0.0.0/0')).toEqual({ addr: 0, prefixLen: 0, network: 0 });
    expect(() => parseCidr('10.244.1.0')).toThrow(/cidr/);
    expect(() => parseCidr('10.244.1.0/33')).toThrow(/prefix length/);
    expect(() => parseCidr('10.244.1.0/024')).toThrow(/prefix length/);
  });

  it('builds masks for 0..32 and tests membership', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(8)).toBe(0xff000000);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(inPrefix(0x0af40102, 0x0af40100, 24)).toBe(true);
    expect(inPrefix(0x0af40202, 0x0af40100, 24)).toBe(false);
    expect(inPrefix(0xffffffff, 0, 0)).toBe(true);
  });

  it('prefix membership agrees with comparing the leading bits as text', () => {
    const bits = (a: number) => a.toString(2).padStart(32, '0');
    fc.assert(
      fc.property(ipv4Addr, ipv4Addr, fc.integer({ min: 0, max: 32 }), (a, n, len) => {
        expect(inPrefix(a, n, len)).toBe(bits(a).slice(0, len) === bits(n).slice(0, len));
      }),
    );
  });
});

describe('MAC addresses', () => {
  it('parses and formats as 48-bit numbers', () => {
    expect(parseMac('0a:58:0a:f4:01:02')).toBe(0x0a580af40102);
    expect(parseMac('FF:FF:FF:FF:FF:FF')).toBe(MAC_BROADCAST);
    expect(formatMac(0x0a580af40102)).toBe('0a:58:0a:f4:01:02');
    expect(formatMac(0)).toBe('00:00:00:00:00:00');
    expect(() => parseMac('0a:58:0a:f4:01')).toThrow(WireError);
    expect(() => parseMac('0a-58-0a-f4-01-02')).toThrow(/mac address/);
  });

  it('accepts exactly six colon-separated two-digit hex octets, either case', () => {
    const grammar = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
    const nearMiss = fc.array(fc.constantFrom('0', 'a', 'F', 'f0', 'A9', 'g', ':', ':', '-', ' ', '000'), { maxLength: 14 }).map((p) => p.join(''));
    fc.assert(
      fc.property(fc.oneof(nearMiss, mac.map(formatMac), mac.map((m) => formatMac(m).toUpperCase())), (s) => {
        if (grammar.test(s)) expect(parseMac(s)).toBe(parseInt(s.replaceAll(':', ''), 16));
        else expect(() => parseMac(s), JSON.stringify(s)).toThrow(/mac address/);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads and writes the six bytes in order, high bit included', () => {
    const buf = poisoned(10);
    writeMac(buf, 2, 0xfedcba987654);
    expect([...buf]).toEqual([0xa5, 0xa5, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0xa5, 0xa5]);
    expect(readMac(buf, 2)).toBe(0xfedcba987654);
  });

  it('round-trips every MAC through bytes and text', () => {
    fc.assert(
      fc.property(mac, (m) => {
        const buf = new Uint8Array(6);
        writeMac(buf, 0, m);
        expect(readMac(buf, 0)).toBe(m);
        expect(parseMac(formatMac(m))).toBe(m);
      }),
    );
  });

  it('tests the I/G bit', () => {
    expect(isMulticastMac(MAC_BROADCAST)).toBe(true);
    expect(isMulticastMac(0x01005e000001)).toBe(true); // 224.0.0.1
    expect(isMulticastMac(0x333300000001)).toBe(true); // IPv6 all-nodes
    expect(isMulticastMac(0x0a580af40102)).toBe(false);
    expect(isMulticastMac(0xfe0000000000)).toBe(false);
  });
});
