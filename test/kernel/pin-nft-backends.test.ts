/** pinNftBackends (no root needed): the kernel's copy of services-nftables with numgen replaced by a source-port match. */
import { describe, expect, it } from 'vitest';
import { pinNftBackends } from './pin-nft-backends.js';
import { udpOnly } from './service-udp-flows.js';

describe('pinNftBackends', () => {
  const spec = udpOnly('services-nftables');
  const n1 = (s: typeof spec) => s.namespaces.find((ns) => ns.name === 'n1')!.nftables!.text;

  it('replaces the Service\'s numgen vmap on every node, and nothing else', () => {
    const pinned = pinNftBackends(spec, 'default/echo-udp/udp', [40001, 40003]);
    const before = n1(spec).split('\n');
    const after = n1(pinned).split('\n');
    const i = before.findIndex((l) => l.startsWith('add rule ip kube-proxy service-YKKIYQZW-default/echo-udp/udp/ numgen'));
    expect(i).toBeGreaterThan(0);
    expect(after.slice(0, i)).toEqual(before.slice(0, i));
    expect(after.slice(i, i + 2)).toEqual([
      'add rule ip kube-proxy service-YKKIYQZW-default/echo-udp/udp/ udp sport { 40001, 40003 } goto endpoint-EPJHDMV5-default/echo-udp/udp/__10.244.1.3/8080',
      'add rule ip kube-proxy service-YKKIYQZW-default/echo-udp/udp/ goto endpoint-QCHXDOYM-default/echo-udp/udp/__10.244.2.2/8080',
    ]);
    expect(after.slice(i + 2)).toEqual(before.slice(i + 1));
    // The TCP Service keeps its numgen rule; the spec given is not changed.
    expect(after.filter((l) => l.includes('numgen random mod 2')).length).toBe(1);
    expect(before.filter((l) => l.includes('numgen random mod 2')).length).toBe(2);
    const n2 = pinned.namespaces.find((ns) => ns.name === 'n2')!.nftables!.text;
    expect(n2).toContain('udp sport { 40001, 40003 } goto endpoint-EPJHDMV5-');
  });

  it('with no port for the first endpoint, everything goes to the second', () => {
    const after = n1(pinNftBackends(spec, 'default/echo-udp/udp', []));
    expect(after).not.toContain('udp sport');
    expect(after).toContain('add rule ip kube-proxy service-YKKIYQZW-default/echo-udp/udp/ goto endpoint-QCHXDOYM-');
  });

  it('refuses an unknown Service or protocol', () => {
    expect(() => pinNftBackends(spec, 'default/nope/udp', [40001])).toThrow(/default\/nope\/udp's numgen endpoint rule once per node \(2\), found 0/);
    expect(() => pinNftBackends(spec, 'default/echo-udp', [40001])).toThrow(/does not end in \/udp or \/tcp/);
  });
});
