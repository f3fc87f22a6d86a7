/**
 * iptables-extensions(8) CT --notrack and NOTRACK (raw table): the packet is
 * left untracked. podwire's contract: p.ct stays null and p.ctState becomes
 * CtState.UNTRACKED, which connection tracking skips and -m state sees.
 */
import { describe, expect, it } from 'vitest';
import { CtState, conn, matches, nf, NfHook, packet, run, ruleset } from './helpers.js';

const raw = (...lines: string[]) => ['*raw', ...lines, 'COMMIT', ''].join('\n');

describe('-j CT --notrack / -j NOTRACK', () => {
  for (const target of ['CT --notrack', 'NOTRACK']) {
    it(`${target} marks the packet UNTRACKED and continues`, () => {
      const r = ruleset(raw(`-A PREROUTING -p udp --dport 53 -j ${target}`, '-A PREROUTING -p udp'));
      const p = nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', dport: 53 }), { hook: NfHook.PRE_ROUTING, ctState: CtState.INVALID });
      run(r, 'raw', p);
      expect(p.ctState).toBe(CtState.UNTRACKED);
      expect(p.ct).toBeNull();
      expect(r.chainCounters('raw', 'PREROUTING').rules[1]!.packets).toBe(1);
      // What the filter table then sees:
      expect(matches('-m state --state UNTRACKED', { ...p, hook: NfHook.LOCAL_IN })).toBe(true);
    });
  }
  it('leaves a packet that already has a connection alone', () => {
    const r = ruleset(raw('-A OUTPUT -j CT --notrack'));
    const p = nf(packet({ src: '10.0.0.1', dst: '10.0.0.2' }), { hook: NfHook.LOCAL_OUT, ct: conn('10.0.0.1', 7, '10.0.0.2', 0, 1), ctState: CtState.ESTABLISHED });
    run(r, 'raw', p);
    expect(p.ctState).toBe(CtState.ESTABLISHED);
  });
  it('save keeps the spelling; -L shows the kernel target CT', () => {
    const r = ruleset(raw('-A PREROUTING -j NOTRACK', '-A PREROUTING -j CT --notrack'));
    expect(r.save()).toContain('-A PREROUTING -j NOTRACK\n-A PREROUTING -j CT --notrack\n');
    expect(r.list('raw')).toMatch(/ CT .* NOTRACK\n.* CT .* CT notrack\n/);
  });
  it('other CT options are not modelled', () => {
    expect(() => ruleset(raw('-A PREROUTING -p udp -j CT --zone 1'))).toThrow(/CT: option "--zone" is not modelled/);
  });
});
