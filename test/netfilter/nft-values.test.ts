/**
 * nft set keys (models/netfilter/nft/values.ts) over the whole unsigned 32-bit
 * range: addresses and marks above 2^31 are kept as int32 in a key part, and
 * must still match, order and print as the unsigned values they are.
 */
import { describe, expect, test } from 'vitest';
import { addElement, exactKey, formatKeyPart, lookupElement, newSet, parseKeyPart } from '../../models/netfilter/nft/values.js';
import type { DataType, KeyPart } from '../../models/netfilter/nft/ast.js';
import { formatIpv4, parseIpv4 } from '../../models/wire/addr.js';

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

  test('elements whose values share an index key are each found, replaced and told apart', () => {
    // Two address . port keys under one exactKey: found by search, not written in.
    const seen = new Map<number, [number, number]>();
    let pair: [[number, number], [number, number]] | undefined;
    for (let i = 0; pair === undefined && i < 1 << 20; i++) {
      const v: [number, number] = [parseIpv4('10.0.0.0') + (i >>> 6), 8000 + (i & 63)];
      const k = exactKey(v);
      const other = seen.get(k);
      if (other !== undefined) pair = [other, v];
      else seen.set(k, v);
    }
    expect(pair).toBeDefined();
    const [va, vb] = pair!;
    const vc: [number, number] = [parseIpv4('10.0.0.1'), 1];
    const key = (v: [number, number]) => [part('ipv4_addr', formatIpv4(v[0])), part('inet_service', String(v[1]))];
    const s = newSet('svc', 'set', ['ipv4_addr', 'inet_service'], null, 1);
    addElement(s, { key: key(va), comment: 'a' });
    expect(lookupElement(s, vb, 0)).toBeUndefined();
    addElement(s, { key: key(vb), comment: 'b' });
    addElement(s, { key: key(vc), comment: 'c' });
    expect([va, vb, vc].map((v) => lookupElement(s, v, 0)?.comment)).toEqual(['a', 'b', 'c']);
    addElement(s, { key: key(va), comment: 'a2' });
    addElement(s, { key: key(vb), comment: 'b2' });
    expect([va, vb, vc].map((v) => lookupElement(s, v, 0)?.comment)).toEqual(['a2', 'b2', 'c']);
    expect(s.elements.map((e) => e.comment)).toEqual(['c', 'a2', 'b2']);
  });
});
