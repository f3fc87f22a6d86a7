/**
 * iptables-extensions(8) physdev: the bridge ports of a bridged packet
 * (br_netfilter). A packet that is not being bridged matches only a rule
 * whose options are all negated.
 */
import { describe, expect, it } from 'vitest';
import { dev, matchesAt, nf, packet, ruleset } from './helpers.js';

const br = dev('cni0');
const vethA = dev('vethaaaa');
const vethB = dev('vethbbbb');
const bridged = () => nf(packet({ src: '10.244.1.2', dst: '10.244.1.3' }), { in: br, out: br, physIn: vethA, physOut: vethB, bridged: true });
const routed = () => nf(packet({ src: '10.244.1.2', dst: '8.8.8.8' }), { in: br, out: dev('eth0') });

describe('-m physdev', () => {
  it('--physdev-in / --physdev-out name the bridge ports, with "+"', () => {
    expect(matchesAt('FORWARD', '-m physdev --physdev-in vethaaaa', bridged())).toBe(true);
    expect(matchesAt('FORWARD', '-m physdev --physdev-in veth+ --physdev-out vethbbbb', bridged())).toBe(true);
    expect(matchesAt('FORWARD', '-m physdev --physdev-out vethaaaa', bridged())).toBe(false);
    expect(matchesAt('FORWARD', '-m physdev ! --physdev-out vethaaaa', bridged())).toBe(true);
  });
  it('--physdev-is-bridged, --physdev-is-in, --physdev-is-out', () => {
    expect(matchesAt('FORWARD', '-m physdev --physdev-is-bridged', bridged())).toBe(true);
    expect(matchesAt('FORWARD', '-m physdev --physdev-is-bridged', routed())).toBe(false);
    expect(matchesAt('FORWARD', '-m physdev ! --physdev-is-bridged', routed())).toBe(true);
    expect(matchesAt('FORWARD', '-m physdev --physdev-is-in --physdev-is-out', bridged())).toBe(true);
    const toHost = nf(packet({ src: '10.244.1.2', dst: '10.244.1.1' }), { in: br, physIn: vethA, bridged: true });
    expect(matchesAt('INPUT', '-m physdev --physdev-is-in ! --physdev-is-out', toHost)).toBe(true);
    expect(matchesAt('INPUT', '-m physdev ! --physdev-is-bridged', toHost)).toBe(true);
  });
  it('a non-bridged packet matches only all-negated options', () => {
    expect(matchesAt('FORWARD', '-m physdev ! --physdev-in vethaaaa ! --physdev-is-bridged', routed())).toBe(true);
    expect(matchesAt('FORWARD', '-m physdev ! --physdev-in vethaaaa --physdev-is-in', routed())).toBe(false);
  });
  it('--physdev-out for non-bridged traffic is refused in OUTPUT', () => {
    expect(() => ruleset('*filter\n-A OUTPUT -m physdev --physdev-out veth0\nCOMMIT\n')).toThrow(/--physdev-out and --physdev-is-out only supported/);
    expect(() => ruleset('*filter\n-A OUTPUT -m physdev --physdev-is-bridged --physdev-out veth0\nCOMMIT\n')).not.toThrow();
  });
});
