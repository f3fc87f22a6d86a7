import { describe, expect, it } from 'vitest';
import { parseConflist } from '../../scenarios/cni/conflist.js';
import { CniExecError, CniNode, sandboxId, sandboxNetns } from '../../scenarios/cni/execute.js';
import type { Attachment } from '../../scenarios/cni/plugin.js';
import { formatResult } from '../../scenarios/cni/result.js';

function conf(plugins: unknown[], cniVersion = '1.0.0') {
  return parseConflist(JSON.stringify({ cniVersion, name: 'mynet', plugins }), 'test.conflist');
}

function att(pod: string, extra: Partial<Attachment> = {}): Attachment {
  const id = sandboxId('n1', pod);
  return { containerId: id, netns: sandboxNetns(id), ifName: 'eth0', ...extra };
}

const ip = (n: CniNode, l: ReturnType<typeof conf>, pod: string) => n.add(l, att(pod)).result.ips.map((x) => x.address).join(',');

describe('host-local allocation', () => {
  const small = (ipam: Record<string, unknown>) => conf([{ type: 'bridge', isGateway: true, ipam: { type: 'host-local', ...ipam } }]);

  it('hands out addresses from the first after the gateway, in order, and reports exhaustion as the plugin does', () => {
    const l = small({ subnet: '10.1.1.0/29' });
    const n = new CniNode('n1');
    expect(['a', 'b', 'c', 'd', 'e'].map((p) => ip(n, l, p))).toEqual(['10.1.1.2/29', '10.1.1.3/29', '10.1.1.4/29', '10.1.1.5/29', '10.1.1.6/29']);
    expect(() => n.add(l, att('f'))).toThrow('test.conflist: plugins[0] (bridge): no IP addresses available in range set: 10.1.1.1-10.1.1.6');
    try {
      n.add(l, att('g'));
    } catch (e) {
      expect(e).toBeInstanceOf(CniExecError);
      expect((e as CniExecError).error.code).toBe(999);
    }
  });

  it('continues after the last reserved address, reusing a released one only after wrapping round', () => {
    const l = small({ subnet: '10.1.1.0/29' });
    const n = new CniNode('n1');
    for (const p of ['a', 'b', 'c']) n.add(l, att(p));
    n.del(l, att('a'));
    expect(ip(n, l, 'd')).toBe('10.1.1.5/29');
    expect(ip(n, l, 'e')).toBe('10.1.1.6/29');
    expect(ip(n, l, 'f')).toBe('10.1.1.2/29');
  });

  it('honours rangeStart, rangeEnd and an explicit gateway, and gives one address per range set', () => {
    const n = new CniNode('n1');
    const l = small({ ranges: [[{ subnet: '10.1.1.0/24', rangeStart: '10.1.1.10', rangeEnd: '10.1.1.11', gateway: '10.1.1.10' }], [{ subnet: '10.2.0.0/24' }]] });
    expect(ip(n, l, 'a')).toBe('10.1.1.11/24,10.2.0.2/24');
    expect(() => n.add(l, att('b'))).toThrow('no IP addresses available in range set: 10.1.1.10-10.1.1.11');
    // A failed ADD keeps nothing: the second set's address is not taken.
    n.del(l, att('a'));
    expect(ip(n, l, 'c')).toBe('10.1.1.11/24,10.2.0.3/24');
  });
});

describe('bridge', () => {
  const plugins = [
    { type: 'bridge', bridge: 'cbr0', isDefaultGateway: true, hairpinMode: true, mtu: 1450, ipam: { type: 'host-local', subnet: '10.22.0.0/24', routes: [{ dst: '10.96.0.0/12' }] } },
    { type: 'loopback' },
  ];

  it('1.0.0 result: bridge, host veth, sandbox interface; ips point at the sandbox interface; default route via the gateway', () => {
    const n = new CniNode('n1');
    const a = att('a');
    const r = n.add(conf(plugins), a);
    expect(formatResult(r.result)).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'cbr0', mac: '0a:58:0a:16:00:01' },
        { name: r.hostVeth.name, mac: '0e:58:0a:16:00:02' },
        { name: 'eth0', mac: '0a:58:0a:16:00:02', sandbox: a.netns },
      ],
      ips: [{ interface: 2, address: '10.22.0.2/24', gateway: '10.22.0.1' }],
      routes: [{ dst: '10.96.0.0/12' }, { dst: '0.0.0.0/0', gw: '10.22.0.1' }],
      dns: {},
    });
    expect(r.hostVeth).toMatchObject({ master: 'cbr0', hairpin: true, mtu: 1450 });
    expect(r.hostVeth.name).toMatch(/^veth[0-9a-f]{8}$/);
    expect(n.add(conf(plugins), att('b')).hostVeth.name).not.toBe(r.hostVeth.name);
    expect(r.podRoutes).toEqual([
      { dst: '10.96.0.0/12', via: '10.22.0.1', dev: 'eth0' },
      { dst: '0.0.0.0/0', via: '10.22.0.1', dev: 'eth0' },
    ]);
    expect([...n.bridges.values()]).toEqual([{ name: 'cbr0', mac: '0a:58:0a:16:00:01', mtu: 1450, addresses: ['10.22.0.1/24'] }]);
  });

  it('0.4.0 result: each IP carries version "4"', () => {
    const r = new CniNode('n1').add(conf(plugins, '0.4.0'), att('a'));
    const out = formatResult(r.result);
    expect(out.cniVersion).toBe('0.4.0');
    expect(out.ips).toEqual([{ version: '4', interface: 2, address: '10.22.0.2/24', gateway: '10.22.0.1' }]);
  });

  it('isDefaultGateway refuses an IPAM default route via another gateway', () => {
    const l = conf([{ type: 'bridge', isDefaultGateway: true, ipam: { type: 'host-local', subnet: '10.22.0.0/24', routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.254' }] } }]);
    expect(() => new CniNode('n1').add(l, att('a'))).toThrow('plugins[0] (bridge): isDefaultGateway ineffective because IPAM sets default route via "10.22.0.254"');
  });

  it('is deterministic: the same pods give the same names, addresses and rules', () => {
    const run = () => {
      const n = new CniNode('n1');
      const l = conf([{ ...plugins[0], ipMasq: true }, { type: 'portmap', capabilities: { portMappings: true } }]);
      const rs = ['a', 'b'].map((p) => JSON.stringify(formatResult(n.add(l, att(p, { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] })).result)));
      return [...rs, n.nat.restoreText()].join('\n');
    };
    expect(run()).toBe(run());
  });
});

describe('chaining', () => {
  it('portmap and bandwidth need a prevResult; loopback alone reports lo', () => {
    const n = new CniNode('n1');
    expect(() => n.add(conf([{ type: 'portmap' }]), att('a'))).toThrow('test.conflist: plugins[0] (portmap): must be called as chained plugin');
    expect(() => n.add(conf([{ type: 'bandwidth', ingressRate: 1000, ingressBurst: 100 }]), att('a'))).toThrow('plugins[0] (bandwidth): must be called as chained plugin');
    expect(() => n.add(conf([{ type: 'loopback' }]), att('a'))).toThrow('no plugin of the list created the pod interface');
  });

  it('ptp: /32 on both sides, the host end holds the gateway, a host route to the pod', () => {
    const n = new CniNode('n1');
    const r = n.add(conf([{ type: 'ptp', mtu: 1400, ipam: { type: 'host-local', subnet: '10.5.0.0/24', routes: [{ dst: '0.0.0.0/0' }] } }]), att('a'));
    expect(formatResult(r.result).ips).toEqual([{ interface: 1, address: '10.5.0.2/24', gateway: '10.5.0.1' }]);
    expect(r.hostVeth).toMatchObject({ addresses: ['10.5.0.1/32'], mtu: 1400 });
    expect(r.hostVeth.master).toBeUndefined();
    expect(r.podIf.addresses).toEqual(['10.5.0.2/32']);
    expect(r.podRoutes).toEqual([
      { dst: '10.5.0.1/32', dev: 'eth0' },
      { dst: '10.5.0.0/24', via: '10.5.0.1', dev: 'eth0', src: '10.5.0.2' },
      { dst: '0.0.0.0/0', via: '10.5.0.1', dev: 'eth0' },
    ]);
    expect(r.hostRoutes).toEqual([{ dst: '10.5.0.2/32', dev: r.hostVeth.name }]);
    expect(n.bridges.size).toBe(0);
  });

  it('flannel: delegates to bridge; FLANNEL_IPMASQ true means no ipMasq rules from the bridge', () => {
    const n = new CniNode('n1');
    const l = conf([
      { type: 'flannel', subnetEnv: { FLANNEL_NETWORK: '10.244.0.0/16', FLANNEL_SUBNET: '10.244.1.1/24', FLANNEL_MTU: 1450, FLANNEL_IPMASQ: true }, delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ]);
    const r = n.add(l, att('a'));
    expect(formatResult(r.result)).toMatchObject({
      ips: [{ interface: 2, address: '10.244.1.2/24', gateway: '10.244.1.1' }],
      routes: [{ dst: '10.244.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.244.1.1' }],
    });
    expect(r.hostVeth).toMatchObject({ master: 'cni0', hairpin: true, mtu: 1450 });
    expect([...n.bridges.values()]).toEqual([{ name: 'cni0', mac: '0a:58:0a:f4:01:01', mtu: 1450, addresses: ['10.244.1.1/24'] }]);
    expect(n.nat.restoreText()).toBe('');
    n.del(l, att('a'));
    expect(ip(n, l, 'b')).toBe('10.244.1.3/24');
  });

  it('bandwidth: token-bucket parameters on the host veth (ingress) and an ifb (egress), from runtimeConfig when declared', () => {
    const n = new CniNode('n1');
    const l = conf([
      { type: 'bridge', ipam: { type: 'host-local', subnet: '10.5.0.0/24' } },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
    ]);
    const r = n.add(l, att('a', { bandwidth: { ingressRate: 8_000_000, ingressBurst: 80_000, egressRate: 16_000_000, egressBurst: 160_000 } }));
    expect(r.shaping).toEqual({
      device: r.hostVeth.name,
      ingress: { rateBps: 8_000_000, burstBits: 80_000, limitBytes: 35_000 },
      egress: { rateBps: 16_000_000, burstBits: 160_000, limitBytes: 70_000, ifb: expect.stringMatching(/^bwp[0-9a-f]{12}$/) },
    });
    expect(r.result.interfaces.at(-1)).toEqual({ name: r.shaping!.egress!.ifb, mac: expect.stringMatching(/^0a(:[0-9a-f]{2}){5}$/), mtu: 1500 });
    expect(() => n.add(l, att('b', { bandwidth: { ingressRate: 1000 } }))).toThrow('if ingressRate is set, ingressBurst must also be set');
    expect(n.add(l, att('c')).shaping).toBeUndefined();
  });
});
