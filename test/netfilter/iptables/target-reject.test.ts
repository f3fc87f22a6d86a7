/** iptables-extensions(8) REJECT: send the error, then drop; default icmp-port-unreachable. */
import { describe, expect, it } from 'vitest';
import { FakeHost, filter, nf, NfVerdict, packet, run, ruleset } from './helpers.js';

describe('-j REJECT', () => {
  const p = () => nf(packet({ src: '10.0.0.1', dst: '10.96.0.20', proto: 'tcp', dport: 80 }));
  it('asks the host for the error and answers DROP, ending the traversal', () => {
    const host = new FakeHost();
    const r = ruleset(filter('-A INPUT -j REJECT', '-A INPUT -j LOG'));
    expect(run(r, 'filter', p(), host)).toEqual({ verdict: NfVerdict.DROP, rulesEvaluated: 1 });
    expect(host.rejects).toEqual(['icmp-port-unreachable']);
    expect(host.logs).toEqual([]);
  });
  it('every --reject-with type, and the short aliases', () => {
    const kinds = [
      ['icmp-net-unreachable', 'net-unreach'],
      ['icmp-host-unreachable', 'host-unreach'],
      ['icmp-port-unreachable', 'port-unreach'],
      ['icmp-proto-unreachable', 'proto-unreach'],
      ['icmp-net-prohibited', 'net-prohib'],
      ['icmp-host-prohibited', 'host-prohib'],
      ['icmp-admin-prohibited', 'admin-prohib'],
      ['tcp-reset', 'tcp-rst'],
    ];
    for (const [kind, alias] of kinds) {
      for (const name of [kind, alias]) {
        const host = new FakeHost();
        const r = ruleset(filter(`-A INPUT -p tcp -j REJECT --reject-with ${name}`));
        run(r, 'filter', p(), host);
        expect(host.rejects).toEqual([kind]);
        expect(r.save()).toContain(`-j REJECT --reject-with ${kind}`);
      }
    }
  });
  it('refuses an unknown type', () => {
    expect(() => ruleset(filter('-A INPUT -j REJECT --reject-with icmp-echo-reply'))).toThrow(/unknown reject type "icmp-echo-reply"/);
  });
});
