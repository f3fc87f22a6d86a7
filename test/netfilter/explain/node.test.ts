import { describe, expect, it } from 'vitest';
import { ExplainNode } from '../../../models/netfilter/explain/node.js';
import { parseIpv4 as ip } from '../../../models/wire/addr.js';

const node = new ExplainNode({ localAddrs: [{ addr: ip('192.168.0.10'), prefixLen: 24 }, { addr: ip('10.0.0.5'), prefixLen: 32 }], inIface: 'cni0' });

describe('ExplainNode', () => {
  it('owns its addresses and all of 127.0.0.0/8', () => {
    for (const a of ['192.168.0.10', '10.0.0.5', '127.0.0.1', '127.1.2.3']) expect(node.isLocal(ip(a))).toBe(true);
    for (const a of ['192.168.0.11', '10.0.0.6', '8.8.8.8']) expect(node.isLocal(ip(a))).toBe(false);
  });

  it('answers inet_addr_type, per device when asked (addrtype --limit-iface-in/out)', () => {
    expect(node.addressType(ip('192.168.0.10'), null)).toBe('LOCAL');
    expect(node.addressType(ip('192.168.0.10'), node.uplink.asNetDevice())).toBe('LOCAL');
    expect(node.addressType(ip('192.168.0.10'), node.inDev.asNetDevice())).toBe('UNICAST');
    expect(node.addressType(ip('127.0.0.1'), node.lo.asNetDevice())).toBe('LOCAL');
    expect(node.addressType(ip('192.168.0.255'), null)).toBe('BROADCAST');
    expect(node.addressType(ip('255.255.255.255'), null)).toBe('BROADCAST');
    expect(node.addressType(ip('224.0.0.1'), null)).toBe('MULTICAST');
    expect(node.addressType(ip('8.8.8.8'), null)).toBe('UNICAST');
  });

  it('routes local destinations to lo and the rest out of the uplink, which holds the addresses', () => {
    expect(node.route(ip('192.168.0.10'))).toEqual({ local: true, dev: node.lo });
    expect(node.route(ip('8.8.8.8'))).toEqual({ local: false, dev: node.uplink });
    expect(node.uplink.name).toBe('eth0');
    expect(node.inDev.name).toBe('cni0');
    expect(node.uplink.addrs.map((a) => a.addr)).toEqual([ip('192.168.0.10'), ip('10.0.0.5')]);
    expect(node.inDev.addrs).toEqual([]);
  });

  it('shares one device when in and out are named alike, and refuses bad names and repeated addresses', () => {
    const same = new ExplainNode({ localAddrs: [], inIface: 'eth1', outIface: 'eth1' });
    expect(same.inDev).toBe(same.uplink);
    expect(() => new ExplainNode({ localAddrs: [], inIface: 'a/b' })).toThrow(/not an interface name/);
    expect(() => new ExplainNode({ localAddrs: [{ addr: 1, prefixLen: 32 }, { addr: 1, prefixLen: 32 }] })).toThrow(/given twice/);
  });
});
