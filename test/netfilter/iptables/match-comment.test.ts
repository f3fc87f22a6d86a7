/** iptables-extensions(8) comment: any text, up to 256 characters; always matches. */
import { describe, expect, it } from 'vitest';
import { filter, matches, nf, packet, ruleset } from './helpers.js';

describe('-m comment', () => {
  const p = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2' }));
  it('always matches', () => {
    expect(matches('-m comment --comment "kubernetes service portals"', p)).toBe(true);
  });
  it('keeps the text, quoted back the way iptables-save quotes it', () => {
    const r = ruleset(filter('-A INPUT -m comment --comment "a \\"b\\" c\'d \\\\e" -j ACCEPT', '-A INPUT -m comment --comment plain_-text', '-A INPUT -m comment --comment ""'));
    expect(r.save()).toContain('-A INPUT -m comment --comment "a \\"b\\" c\\\'d \\\\e" -j ACCEPT\n');
    expect(r.save()).toContain('-A INPUT -m comment --comment plain_-text\n');
    expect(r.save()).toContain('-A INPUT -m comment --comment ""\n');
    expect(r.list('filter')).toContain('/* a "b" c\'d \\e */');
  });
  it('refuses more than 255 characters and a missing --comment', () => {
    expect(() => ruleset(filter(`-A INPUT -m comment --comment ${'x'.repeat(256)}`))).toThrow(/too long/);
    expect(() => ruleset(filter('-A INPUT -m comment -j ACCEPT'))).toThrow(/You must specify `--comment'/);
  });
});
