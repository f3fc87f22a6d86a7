import { describe, expect, it } from 'vitest';
import { conflistFromJson, parseConflist } from '../../scenarios/cni/conflist.js';

const bridge = (ipam: unknown, extra: Record<string, unknown> = {}) => ({ type: 'bridge', ...extra, ipam });
const list = (plugins: unknown[], cniVersion = '1.0.0') => JSON.stringify({ cniVersion, name: 'net', plugins });
const hl = { type: 'host-local', ranges: [[{ subnet: '10.22.0.0/16' }]] };

function error(text: string, vars: { podCIDR?: string } = {}): string {
  try {
    parseConflist(text, 'cni.conflist', vars);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('conflist parsing', () => {
  it('reads a list: name, version, plugins in order with their defaults', () => {
    const l = parseConflist(list([bridge(hl, { isDefaultGateway: true }), { type: 'portmap', capabilities: { portMappings: true } }, { type: 'loopback' }]), 'cni.conflist');
    expect(l.name).toBe('net');
    expect(l.cniVersion).toBe('1.0.0');
    expect(l.plugins.map((p) => `${p.path}:${p.conf.type}`)).toEqual(['plugins[0]:bridge', 'plugins[1]:portmap', 'plugins[2]:loopback']);
    const b = l.plugins[0]!.conf;
    if (b.type !== 'bridge') throw new Error('not bridge');
    expect(b).toMatchObject({ bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipMasq: false, hairpinMode: false, mtu: 1500 });
    expect(b.ipam.rangeSets[0]![0]).toMatchObject({ subnet: { len: 16 } });
  });

  it('accepts a single .conf as a list of one, and every supported version', () => {
    for (const v of ['0.4.0', '1.0.0', '1.1.0']) {
      const l = parseConflist(JSON.stringify({ cniVersion: v, name: 'single', type: 'ptp', ipMasq: true, ipam: hl }), 'x.conf');
      expect(l.plugins.map((p) => [p.path, p.conf.type])).toEqual([['', 'ptp']]);
    }
  });

  it('fills {{.PodCIDR}} with the node podCIDR, as containerd conf_template does', () => {
    const l = parseConflist(list([bridge({ type: 'host-local', ranges: [[{ subnet: '{{.PodCIDR}}' }]] })]), 'c', { podCIDR: '10.244.3.0/24' });
    const b = l.plugins[0]!.conf;
    if (b.type !== 'bridge') throw new Error('not bridge');
    expect(b.ipam.rangeSets[0]![0]!.subnet).toEqual({ base: ((10 << 24) | (244 << 16) | (3 << 8)) >>> 0, len: 24 });
    expect(error(list([bridge({ type: 'host-local', subnet: '{{.PodCIDR}}' })]))).toBe('cni.conflist: (text): {{.PodCIDR}} needs a node podCIDR');
  });

  it('names the file and JSON path of each problem', () => {
    const cases: [string, string][] = [
      ['{', 'cni.conflist: (JSON syntax): '],
      [list([bridge({ type: 'host-local', ranges: [[{ subnet: '10.1.0.0/33' }]] })]), 'cni.conflist: plugins[0].ipam.ranges[0][0].subnet: not a CIDR'],
      [list([bridge({ type: 'host-local', ranges: [[{ subnet: 'fd00::/64' }]] })]), 'cni.conflist: plugins[0].ipam.ranges[0][0].subnet: IPv6 is not supported (IPv4 only)'],
      [list([bridge({ type: 'host-local', ranges: [[{ subnet: '10.1.0.5/16' }]] })]), 'cni.conflist: plugins[0].ipam.ranges[0][0].subnet: 10.1.0.5/16 has host bits set (the network address is 10.1.0.0)'],
      [list([bridge({ type: 'host-local', subnet: '10.1.0.0/24', rangeStart: '10.2.0.1' })]), 'cni.conflist: plugins[0].ipam.rangeStart: 10.2.0.1 is not a usable address of 10.1.0.0/24'],
      [list([bridge({ type: 'host-local', ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.1.0.0/25' }]] })]), 'cni.conflist: plugins[0].ipam.ranges[1][0]: overlaps ranges[0][0]'],
      [list([bridge({ type: 'dhcp' })]), 'cni.conflist: plugins[0].ipam.type: unknown IPAM plugin "dhcp" (podwire models host-local)'],
      [list([{ type: 'bridge' }]), 'cni.conflist: plugins[0].ipam: is required (an IPAM plugin, e.g. {"type": "host-local", ...})'],
      [list([{ type: 'macvlan' }]), 'cni.conflist: plugins[0].type: unknown plugin type "macvlan" (podwire runs bridge, ptp, loopback, portmap, bandwidth, flannel)'],
      [list([bridge(hl, { promiscMode: true })]), 'cni.conflist: plugins[0].promiscMode: unsupported option (podwire does not model it)'],
      [list([bridge(hl, { mtu: 'big' })]), 'cni.conflist: plugins[0].mtu: must be an integer from 68 to 65535, not "big"'],
      [list([bridge(hl, { isGateway: 'yes' })]), 'cni.conflist: plugins[0].isGateway: must be true or false, not a string'],
      [list([bridge(hl)], '0.3.1'), 'cni.conflist: cniVersion: "0.3.1" is not supported (podwire runs 0.4.0, 1.0.0, 1.1.0)'],
      [list([bridge(hl)], '2.0.0'), 'cni.conflist: cniVersion: "2.0.0" is not supported (podwire runs 0.4.0, 1.0.0, 1.1.0)'],
      [JSON.stringify({ cniVersion: '1.0.0', plugins: [] }), 'cni.conflist: name: is required'],
      [JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [] }), 'cni.conflist: plugins: must list at least one plugin'],
      [JSON.stringify({ cniVersion: '1.0.0', name: 'n' }), 'cni.conflist: plugins: is required (or give a single plugin configuration with "type")'],
      [list([{ type: 'portmap', markMasqBit: 40 }]), 'cni.conflist: plugins[0].markMasqBit: must be an integer from 0 to 31, not 40'],
      [list([{ type: 'portmap', runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'sctp' }] } }]), 'cni.conflist: plugins[0].runtimeConfig.portMappings[0].protocol: "sctp" is not supported (tcp or udp)'],
      [list([{ type: 'flannel', subnetFile: '/run/flannel/subnet.env' }]), 'cni.conflist: plugins[0].subnetFile: podwire reads no subnet.env at run time; give its variables as subnetEnv'],
      [list([{ type: 'flannel', subnetEnv: { FLANNEL_NETWORK: '10.244.0.0/16', FLANNEL_SUBNET: '10.244.1.1/24' }, delegate: { foo: 1 } }]), 'cni.conflist: plugins[0].delegate.foo: unsupported option (podwire does not model it)'],
    ];
    for (const [text, message] of cases) expect(error(text)).toContain(message);
  });

  it('flannel: delegates to bridge with isGateway, ipMasq = !FLANNEL_IPMASQ, FLANNEL_MTU and host-local over FLANNEL_SUBNET', () => {
    const l = conflistFromJson(
      { cniVersion: '1.0.0', name: 'cbr0', plugins: [{ type: 'flannel', subnetEnv: { FLANNEL_NETWORK: '10.244.0.0/16', FLANNEL_SUBNET: '10.244.1.1/24', FLANNEL_MTU: 1450, FLANNEL_IPMASQ: true }, delegate: { hairpinMode: true, isDefaultGateway: true } }] },
      'flannel.conflist',
    );
    const f = l.plugins[0]!.conf;
    if (f.type !== 'flannel') throw new Error('not flannel');
    expect(f.delegate).toMatchObject({ type: 'bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipMasq: false, hairpinMode: true, mtu: 1450 });
    expect(f.delegate.ipam.routes).toEqual([{ dst: '10.244.0.0/16' }]);
    expect(f.delegate.ipam.rangeSets[0]![0]!.gateway).toBe(((10 << 24) | (244 << 16) | (1 << 8) | 1) >>> 0);
  });
});
