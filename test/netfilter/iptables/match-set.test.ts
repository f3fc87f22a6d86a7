/**
 * iptables-extensions(8) set: membership in an ip set (ipset(8)), the flags
 * choosing source or destination per set dimension.
 */
import { describe, expect, it } from 'vitest';
import type { IpSet } from '../../../models/netfilter/types.js';
import { inPrefix } from '../../../models/wire/addr.js';
import { FakeHost, ip, matches, nf, packet } from './helpers.js';

function hashIp(name: string, addrs: string[]): IpSet {
  const s = new Set(addrs.map(ip));
  return { name, type: 'hash:ip', test: (a) => s.has(a) };
}
function hashNet(name: string, net: string, len: number): IpSet {
  return { name, type: 'hash:net', test: (a) => inPrefix(a, ip(net), len) };
}
function hashIpPort(name: string, entries: [string, number, number][]): IpSet {
  return { name, type: 'hash:ip,port', test: (a, proto, port) => entries.some(([e, pr, po]) => ip(e) === a && pr === proto && po === port) };
}
function bitmapPort(name: string, ports: number[]): IpSet {
  return { name, type: 'bitmap:port', test: (_a, _proto, port) => ports.includes(port) };
}

describe('-m set --match-set', () => {
  const host = new FakeHost();
  host.sets.set('allow', hashIp('allow', ['10.0.0.1']));
  host.sets.set('cluster', hashNet('cluster', '10.96.0.0', 12));
  host.sets.set('svc', hashIpPort('svc', [['10.96.0.10', 6, 80]]));
  host.sets.set('ports', bitmapPort('ports', [22, 443]));
  const p = (src: string, dst: string, dport = 80) => nf(packet({ src, dst, proto: 'tcp', sport: 40000, dport }));

  it('hash:ip on the source, hash:net on the destination', () => {
    expect(matches('-m set --match-set allow src', p('10.0.0.1', '1.1.1.1'), host)).toBe(true);
    expect(matches('-m set --match-set allow src', p('10.0.0.2', '1.1.1.1'), host)).toBe(false);
    expect(matches('-m set --match-set allow dst', p('1.1.1.1', '10.0.0.1'), host)).toBe(true);
    expect(matches('-m set --match-set cluster dst', p('1.1.1.1', '10.100.1.1'), host)).toBe(true);
    expect(matches('-m set ! --match-set cluster dst', p('1.1.1.1', '10.100.1.1'), host)).toBe(false);
  });
  it('hash:ip,port takes an address and a port, each chosen by a flag', () => {
    expect(matches('-m set --match-set svc dst,dst', p('1.1.1.1', '10.96.0.10', 80), host)).toBe(true);
    expect(matches('-m set --match-set svc dst,dst', p('1.1.1.1', '10.96.0.10', 81), host)).toBe(false);
    expect(matches('-m set --match-set svc dst,src', p('1.1.1.1', '10.96.0.10', 80), host)).toBe(false);
  });
  it('bitmap:port on the destination port', () => {
    expect(matches('-m set --match-set ports dst', p('1.1.1.1', '2.2.2.2', 443), host)).toBe(true);
    expect(matches('-m set --match-set ports dst', p('1.1.1.1', '2.2.2.2', 80), host)).toBe(false);
  });
  it('fewer flags than the set has dimensions never matches', () => {
    expect(matches('-m set --match-set svc dst', p('1.1.1.1', '10.96.0.10', 80), host)).toBe(false);
  });
  it('an unknown set matches nothing when sets are resolved per packet', () => {
    expect(matches('-m set --match-set nope src', p('1.1.1.1', '2.2.2.2'), host)).toBe(false);
  });
  it('with a load-time resolver the set is bound when the rules load', () => {
    const allow = hashIp('allow', ['10.0.0.9']);
    expect(matches('-m set --match-set allow src', p('10.0.0.9', '1.1.1.1'), new FakeHost(), { ipsets: (n) => (n === 'allow' ? allow : undefined) })).toBe(true);
  });
  it('refuses flags other than src/dst', () => {
    expect(() => matches('-m set --match-set allow source', p('1.1.1.1', '2.2.2.2'), host)).toThrow(/'src' or 'dst'/);
  });
});
