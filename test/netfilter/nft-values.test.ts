/**
 * nft set keys (models/netfilter/nft/values.ts) over the whole unsigned 32-bit
 * range: addresses and marks above 2^31 are kept as int32 in a key part, and
 * must still match, order and print as the unsigned values they are.
 */
import { describe, expect, test } from 'vitest';
import { addElement, formatKeyPart, lookupElement, newSet, parseKeyPart } from '../../models/netfilter/nft/values.js';
import type { DataType, KeyPart } from '../../models/netfilter/nft/ast.js';
import { parseIpv4 } from '../../models/wire/addr.js';

function part(t: DataType, s: string): KeyPart {
  const p = parseKeyPart(t, s);
  if (p === null) throw new Error(`not a ${t}: ${s}`);
  return p;
}

describe('nft set keys', () => {
  test('print back as nft writes them, above 2^31 too', () => {
    for (const s of ['10.0.0.1', '192.168.0.0/16', '200.1.2.3', '255.255.255.255', '0.0.0.0/0', '128.0.0.0/1', '192.168.1.7-192.168.1.9']) {
      expect(formatKeyPart('ipv4_addr', part('ipv4_addr', s))).toBe(s);
    }
    expect(formatKeyPart('mark', part('mark', '0xffffffff'))).toBe('0xffffffff');
    expect(formatKeyPart('inet_service', part('inet_service', '1024-65535'))).toBe('1024-65535');
  });

  test('find exact and interval elements by the unsigned values a packet gives', () => {
    const s = newSet('ips', 'set', ['ipv4_addr'], null, 1);
    s.flags = ['interval'];
    for (const e of ['192.168.0.0/16', '200.1.2.3', '10.0.0.1', '255.255.255.0-255.255.255.254']) addElement(s, { key: [part('ipv4_addr', e)] });
    const find = (a: string) => lookupElement(s, [parseIpv4(a)], 0);
    expect(formatKeyPart('ipv4_addr', find('192.168.5.5')!.key[0]!)).toBe('192.168.0.0/16');
    expect(formatKeyPart('ipv4_addr', find('200.1.2.3')!.key[0]!)).toBe('200.1.2.3');
    expect(find('10.0.0.1')).toBeDefined();
    expect(formatKeyPart('ipv4_addr', find('255.255.255.100')!.key[0]!)).toBe('255.255.255.0-255.255.255.254');
    for (const miss of ['255.255.255.255', '192.169.0.0', '191.255.255.255', '10.0.0.2', '0.0.0.0']) expect(find(miss), miss).toBeUndefined();
  });

  test('an exact element replaces the one with the same key, whichever form made it', () => {
    const s = newSet('m', 'set', ['ipv4_addr', 'mark'], null, 1);
    addElement(s, { key: [part('ipv4_addr', '250.0.0.1'), part('mark', '0x80000000')], comment: 'first' });
    addElement(s, { key: [part('ipv4_addr', '250.0.0.1'), part('mark', '2147483648')], comment: 'second' });
    expect(s.elements.map((e) => e.comment)).toEqual(['second']);
    expect(lookupElement(s, [parseIpv4('250.0.0.1'), 0x80000000], 0)?.comment).toBe('second');
  });
});
