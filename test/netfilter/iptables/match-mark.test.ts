/** iptables-extensions(8) mark and connmark: (mark & mask) == value, on skb->mark or the connection's mark. */
import { describe, expect, it } from 'vitest';
import { conn, matches, nf, packet } from './helpers.js';

describe('-m mark', () => {
  const marked = (mark: number) => nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', mark }));
  it('compares the masked mark', () => {
    expect(matches('-m mark --mark 0x4000/0x4000', marked(0x4001))).toBe(true);
    expect(matches('-m mark --mark 0x4000/0x4000', marked(0x0001))).toBe(false);
    expect(matches('-m mark --mark 1', marked(1))).toBe(true);
    expect(matches('-m mark --mark 1', marked(0x4001))).toBe(false);
    expect(matches('-m mark --mark 16384/0x4000', marked(0x4000))).toBe(true);
  });
  it('"!" inverts (KUBE-POSTROUTING: "-m mark ! --mark 0x4000/0x4000 -j RETURN")', () => {
    expect(matches('-m mark ! --mark 0x4000/0x4000', marked(0))).toBe(true);
    expect(matches('-m mark ! --mark 0x4000/0x4000', marked(0x4000))).toBe(false);
  });
});

describe('-m connmark', () => {
  const withCt = (mark: number) => nf(packet({ src: '1.1.1.1', dst: '2.2.2.2' }), { ct: conn('1.1.1.1', 1, '2.2.2.2', 2, 1, { mark }) });
  it('compares the connection mark', () => {
    expect(matches('-m connmark --mark 0x5/0xf', withCt(0xf5))).toBe(true);
    expect(matches('-m connmark --mark 0x6/0xf', withCt(0xf5))).toBe(false);
    expect(matches('-m connmark ! --mark 0x6/0xf', withCt(0xf5))).toBe(true);
  });
  it('never matches a packet without a connection', () => {
    const p = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2' }));
    expect(matches('-m connmark --mark 0', p)).toBe(false);
    expect(matches('-m connmark ! --mark 1', p)).toBe(false);
  });
});
