/**
 * iptables-extensions(8) addrtype: the route type of source and destination
 * as the namespace classifies them (NetfilterHost.addressType), optionally
 * only for the in or out device.
 */
import { describe, expect, it } from 'vitest';
import { dev, FakeHost, filter, ip, matches, matchesAt, nf, packet, ruleset } from './helpers.js';

describe('-m addrtype', () => {
  const host = new FakeHost();
  host.types.set(ip('192.168.1.10'), 'LOCAL');
  host.types.set(ip('192.168.1.255'), 'BROADCAST');
  const to = (dst: string) => nf(packet({ src: '10.0.0.1', dst, proto: 'tcp', dport: 30080 }));

  it('--dst-type LOCAL is what sends NodePort traffic to KUBE-NODEPORTS', () => {
    expect(matches('-m addrtype --dst-type LOCAL', to('192.168.1.10'), host)).toBe(true);
    expect(matches('-m addrtype --dst-type LOCAL', to('10.96.0.10'), host)).toBe(false);
    expect(matches('-m addrtype --dst-type LOCAL,BROADCAST', to('192.168.1.255'), host)).toBe(true);
  });
  it('--src-type, and "!" on each', () => {
    expect(matches('-m addrtype --src-type UNICAST', to('10.96.0.10'), host)).toBe(true);
    expect(matches('-m addrtype ! --dst-type LOCAL', to('10.96.0.10'), host)).toBe(true);
    expect(matches('-m addrtype --src-type UNICAST ! --dst-type LOCAL', to('192.168.1.10'), host)).toBe(false);
  });
  it('--limit-iface-in asks about the in device only', () => {
    const h = new FakeHost();
    h.devTypes.set('eth0', new Map([[ip('192.168.1.10'), 'LOCAL']]));
    const viaEth1 = nf(packet({ src: '10.0.0.1', dst: '192.168.1.10' }), { in: dev('eth1') });
    const viaEth0 = nf(packet({ src: '10.0.0.1', dst: '192.168.1.10' }), { in: dev('eth0') });
    expect(matchesAt('PREROUTING', '-m addrtype --dst-type LOCAL --limit-iface-in', viaEth0, h)).toBe(true);
    expect(matchesAt('PREROUTING', '-m addrtype --dst-type LOCAL --limit-iface-in', viaEth1, h)).toBe(false);
  });
  it('--limit-iface-out is refused where there is no out device, and both limits together', () => {
    expect(() => ruleset('*nat\n-A PREROUTING -m addrtype --dst-type LOCAL --limit-iface-out\nCOMMIT\n')).toThrow(/output interface limitation not valid in PREROUTING and INPUT/);
    expect(() => ruleset('*nat\n-A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-in\nCOMMIT\n')).toThrow(/input interface limitation not valid in POSTROUTING and OUTPUT/);
    expect(() => ruleset(filter('-A FORWARD -m addrtype --dst-type LOCAL --limit-iface-in --limit-iface-out'))).toThrow(/both --limit-iface-in and --limit-iface-out/);
  });
});
