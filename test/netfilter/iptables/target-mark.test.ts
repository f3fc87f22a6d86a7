/**
 * iptables-extensions(8) MARK and CONNMARK: every form is "clear the mask,
 * xor the value"; CONNMARK also copies between skb->mark and the
 * connection's mark. Both continue with the next rule.
 */
import { describe, expect, it } from 'vitest';
import { conn, filter, nf, NfVerdict, packet, run, ruleset } from './helpers.js';

const markAfter = (target: string, mark: number) => {
  const p = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', mark }));
  const r = ruleset(`*mangle\n-A INPUT -j MARK ${target}\nCOMMIT\n`);
  run(r, 'mangle', p);
  return p.pkt.mark;
};

describe('-j MARK', () => {
  it('--set-mark, --set-xmark, --and-mark, --or-mark, --xor-mark', () => {
    expect(markAfter('--set-mark 0x10', 0xff)).toBe(0x10);
    expect(markAfter('--set-mark 0x10/0xf0', 0xff)).toBe(0x1f);
    expect(markAfter('--set-xmark 0x10/0xf0', 0xff)).toBe(0x1f);
    expect(markAfter('--set-xmark 0x1/0x0', 0x1)).toBe(0x0);
    expect(markAfter('--and-mark 0x0f', 0xff)).toBe(0x0f);
    expect(markAfter('--or-mark 0x4000', 0x1)).toBe(0x4001);
    expect(markAfter('--xor-mark 0x4000', 0x4001)).toBe(0x1);
  });
  it('continues, so KUBE-MARK-MASQ can be followed by more rules; is allowed in nat', () => {
    const r = ruleset(filter('-A INPUT -j MARK --or-mark 0x4000', '-A INPUT -m mark --mark 0x4000/0x4000 -j DROP'));
    expect(run(r, 'filter', nf(packet({ src: '1.1.1.1', dst: '2.2.2.2' }))).verdict).toBe(NfVerdict.DROP);
    expect(() => ruleset('*nat\n-A PREROUTING -j MARK --or-mark 0x4000\nCOMMIT\n')).not.toThrow();
  });
  it('needs exactly one operation', () => {
    expect(() => ruleset(filter('-A INPUT -j MARK'))).toThrow(/--set\/and\/or\/xor-mark is required/);
    expect(() => ruleset(filter('-A INPUT -j MARK --or-mark 1 --and-mark 2'))).toThrow(/cannot be combined/);
  });
});

describe('-j CONNMARK', () => {
  const setup = (target: string, pktMark: number, ctMark: number) => {
    const ct = conn('1.1.1.1', 1, '2.2.2.2', 2, 1, { mark: ctMark });
    const p = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', mark: pktMark }), { ct });
    run(ruleset(`*mangle\n-A PREROUTING -j CONNMARK ${target}\nCOMMIT\n`), 'mangle', { ...p, hook: 0 });
    return [p.pkt.mark, ct.mark];
  };
  it('sets the connection mark like MARK sets the packet\'s', () => {
    expect(setup('--set-mark 0x5', 0, 0xf0)).toEqual([0, 0x5]);
    expect(setup('--set-xmark 0x5/0xf', 0, 0xf0)).toEqual([0, 0xf5]);
    expect(setup('--or-mark 0x1', 0, 0xf0)).toEqual([0, 0xf1]);
  });
  it('--save-mark copies packet -> connection, --restore-mark connection -> packet, under the masks', () => {
    expect(setup('--save-mark', 0x12, 0)).toEqual([0x12, 0x12]);
    expect(setup('--save-mark --mask 0x0f', 0x12, 0xf0)).toEqual([0x12, 0xf2]);
    expect(setup('--restore-mark', 0, 0x34)).toEqual([0x34, 0x34]);
    expect(setup('--restore-mark --nfmask 0xff --ctmask 0xf0', 0x100, 0x34)).toEqual([0x130, 0x34]);
  });
  it('does nothing to a packet without a connection', () => {
    const p = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', mark: 7 }));
    run(ruleset('*mangle\n-A PREROUTING -j CONNMARK --restore-mark\nCOMMIT\n'), 'mangle', { ...p, hook: 0 });
    expect(p.pkt.mark).toBe(7);
  });
});
