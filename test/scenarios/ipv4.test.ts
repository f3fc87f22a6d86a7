import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cidrBroadcast,
  cidrContains,
  cidrNetwork,
  cidrWithin,
  cidrsOverlap,
  formatIpv4,
  hexIp,
  parseCidr,
  parseIpv4,
} from '../../scenarios/ipv4.js';
import { closestMatch, levenshtein } from '../../scenarios/suggest.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const prefix = fc.record({ base: u32, len: fc.integer({ min: 0, max: 32 }) });

describe('scenario IPv4 helpers', () => {
  it('format and parse round-trip', () => {
    fc.assert(fc.property(u32, (a) => parseIpv4(formatIpv4(a)) === a));
  });

  it('rejects what is not a canonical dotted quad', () => {
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', '', 'a.b.c.d', '1.2.3.4 ']) {
      expect(parseIpv4(bad), bad).toBeUndefined();
    }
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0')).toBeUndefined();
    expect(parseCidr('10.244.1.7/24')).toEqual({ base: 0x0af40107, len: 24 });
  });

  it('network, broadcast and containment agree with a bitwise definition', () => {
    fc.assert(
      fc.property(prefix, u32, (c, a) => {
        const size = 2 ** (32 - c.len);
        const net = Math.floor(c.base / size) * size;
        expect(cidrNetwork(c)).toBe(net);
        expect(cidrBroadcast(c)).toBe(net + size - 1);
        expect(cidrContains(c, a)).toBe(a >= net && a < net + size);
      }),
    );
  });

  it('overlap is the intersection of address ranges being non-empty', () => {
    fc.assert(
      fc.property(prefix, prefix, (a, b) => {
        const lo = Math.max(cidrNetwork(a), cidrNetwork(b));
        const hi = Math.min(cidrBroadcast(a), cidrBroadcast(b));
        expect(cidrsOverlap(a, b)).toBe(lo <= hi);
        expect(cidrWithin(a, b)).toBe(cidrNetwork(a) >= cidrNetwork(b) && cidrBroadcast(a) <= cidrBroadcast(b));
      }),
    );
  });

  it('hexIp gives the MAC tail of the kernel-ref scheme', () => {
    expect(hexIp(parseIpv4('10.244.1.2')!)).toBe('0a:f4:01:02');
    expect(hexIp(parseIpv4('192.168.49.255')!)).toBe('c0:a8:31:ff');
  });
});

describe('did-you-mean', () => {
  it('levenshtein is a metric on small strings', () => {
    const s = fc.string({ maxLength: 8 });
    fc.assert(
      fc.property(s, s, s, (a, b, c) => {
        expect(levenshtein(a, a)).toBe(0);
        expect(levenshtein(a, b)).toBe(levenshtein(b, a));
        expect(levenshtein(a, c)).toBeLessThanOrEqual(levenshtein(a, b) + levenshtein(b, c));
      }),
    );
    expect(levenshtein('kitten', 'sitting')).toBe(3);
  });

  it('suggests close keys only', () => {
    expect(closestMatch('podCidr', ['name', 'address', 'podCIDR', 'bridge', 'pods'])).toBe('podCIDR');
    expect(closestMatch('adress', ['name', 'address', 'podCIDR'])).toBe('address');
    expect(closestMatch('colour', ['name', 'seed', 'duration'])).toBeUndefined();
  });
});
