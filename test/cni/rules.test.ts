/**
 * The nat rules the bridge (ipMasq) and portmap plugins write: accepted by
 * podwire's iptables-restore, printed back identically by iptables-save, laid
 * out as the plugins document them, doing the NAT they are for, and removed
 * by DEL.
 */
import { describe, expect, it } from 'vitest';
import { parseConflist } from '../../scenarios/cni/conflist.js';
import { CniNode, sandboxId, sandboxNetns } from '../../scenarios/cni/execute.js';
import { chainName } from '../../scenarios/cni/nat-table.js';
import type { Attachment } from '../../scenarios/cni/plugin.js';
import { IptablesRuleset } from '../../models/netfilter/iptables/ruleset.js';
import { explainPacket } from '../../models/netfilter/explain/index.js';
import { parseIpv4 } from '../../models/wire/addr.js';

const LIST = parseConflist(
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'cbr0',
    plugins: [
      { type: 'bridge', isDefaultGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: '10.244.1.0/24' } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }),
  'rules.conflist',
);

function att(pod: string, portMappings: Attachment['portMappings'] = []): Attachment {
  const id = sandboxId('n1', pod);
  return { containerId: id, netns: sandboxNetns(id), ifName: 'eth0', portMappings };
}

function node(): { n: CniNode; web: Attachment; db: Attachment } {
  const n = new CniNode('n1');
  const web = att('web', [
    { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostPort: 8443, containerPort: 443, protocol: 'tcp' },
    { hostPort: 5353, containerPort: 53, protocol: 'udp' },
  ]);
  const db = att('db');
  n.add(LIST, web);
  n.add(LIST, db);
  return { n, web, db };
}

function restore(text: string): IptablesRuleset {
  const ipt = new IptablesRuleset();
  ipt.restore(text, 'cni-nat');
  return ipt;
}

describe('CNI nat rules', () => {
  it('are valid iptables-restore text that iptables-save prints back unchanged', () => {
    const text = node().n.nat.restoreText();
    const saved = restore(text).save();
    expect(saved.replace(':INPUT ACCEPT [0:0]\n', '')).toBe(text);
  });

  it('follow the plugins layout: ipMasq chain per container, portmap DNAT chains with multiport entries per protocol', () => {
    const { n, web, db } = node();
    const c = (id: string) => `"name: \\"cbr0\\" id: \\"${id}\\""`;
    const masqWeb = chainName('cbr0', web.containerId);
    const dn = chainName('cbr0', web.containerId, 'DN-');
    expect(masqWeb).toMatch(/^CNI-[0-9a-f]{24}$/);
    expect(dn).toMatch(/^CNI-DN-[0-9a-f]{21}$/);
    expect(n.nat.rules('POSTROUTING')).toEqual([
      '-m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
      `-s 10.244.1.2/32 -m comment --comment ${c(web.containerId)} -j ${masqWeb}`,
      `-s 10.244.1.3/32 -m comment --comment ${c(db.containerId)} -j ${chainName('cbr0', db.containerId)}`,
    ]);
    expect(n.nat.rules(masqWeb)).toEqual([`-d 10.244.1.0/24 -m comment --comment ${c(web.containerId)} -j ACCEPT`, `! -d 224.0.0.0/4 -m comment --comment ${c(web.containerId)} -j MASQUERADE`]);
    expect(n.nat.rules('PREROUTING')).toEqual(['-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT']);
    expect(n.nat.rules('OUTPUT')).toEqual(['-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT']);
    const dnat = `"dnat name: \\"cbr0\\" id: \\"${web.containerId}\\""`;
    expect(n.nat.rules('CNI-HOSTPORT-DNAT')).toEqual([
      `-p tcp -m comment --comment ${dnat} -m multiport --dports 8080,8443 -j ${dn}`,
      `-p udp -m comment --comment ${dnat} -m multiport --dports 5353 -j ${dn}`,
    ]);
    expect(n.nat.rules(dn)).toEqual([
      '-s 10.244.1.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK',
      '-s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK',
      '-p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.1.2:80',
      '-s 10.244.1.0/24 -p tcp -m tcp --dport 8443 -j CNI-HOSTPORT-SETMARK',
      '-s 127.0.0.1/32 -p tcp -m tcp --dport 8443 -j CNI-HOSTPORT-SETMARK',
      '-p tcp -m tcp --dport 8443 -j DNAT --to-destination 10.244.1.2:443',
      '-s 10.244.1.0/24 -p udp -m udp --dport 5353 -j CNI-HOSTPORT-SETMARK',
      '-s 127.0.0.1/32 -p udp -m udp --dport 5353 -j CNI-HOSTPORT-SETMARK',
      '-p udp -m udp --dport 5353 -j DNAT --to-destination 10.244.1.2:53',
    ]);
    expect(n.nat.rules('CNI-HOSTPORT-SETMARK')).toEqual(['-m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000']);
    expect(n.nat.rules('CNI-HOSTPORT-MASQ')).toEqual(['-m mark --mark 0x2000/0x2000 -j MASQUERADE']);
  });

  it('the newest container wins a host port: its entry is inserted first in CNI-HOSTPORT-DNAT', () => {
    const { n } = node();
    const late = att('late', [{ hostPort: 8080, containerPort: 8000, protocol: 'tcp' }]);
    n.add(LIST, late);
    expect(n.nat.rules('CNI-HOSTPORT-DNAT')[0]).toContain(`-j ${chainName('cbr0', late.containerId, 'DN-')}`);
  });

  it('do the NAT they are for: a hostPort is DNATed to the pod, pod traffic leaving the subnet masqueraded', () => {
    const text = node().n.nat.restoreText();
    const nodeCfg = { localAddrs: [{ addr: parseIpv4('192.168.49.2'), prefixLen: 24 }] };
    const inbound = explainPacket({
      rules: [{ text, file: 'cni-nat' }],
      probe: { proto: 'tcp', src: parseIpv4('192.168.49.3'), dst: parseIpv4('192.168.49.2'), sport: 40000, dport: 8443 },
      node: { ...nodeCfg, outIface: 'cni0' },
    });
    expect(inbound.destinations.map((d) => `${d.ip}:${d.port}`)).toEqual(['10.244.1.2:443']);
    expect(inbound.masquerade).toBe(false);
    const outbound = explainPacket({
      rules: [{ text, file: 'cni-nat' }],
      probe: { proto: 'udp', src: parseIpv4('10.244.1.3'), dst: parseIpv4('8.8.8.8'), sport: 40000, dport: 53 },
      node: { ...nodeCfg, inIface: 'cni0' },
    });
    expect(outbound.masquerade).toBe(true);
    const inside = explainPacket({
      rules: [{ text, file: 'cni-nat' }],
      probe: { proto: 'udp', src: parseIpv4('10.244.1.3'), dst: parseIpv4('10.244.1.2'), sport: 40000, dport: 53 },
      node: { ...nodeCfg, inIface: 'cni0', outIface: 'cni0' },
    });
    expect(inside.masquerade).toBe(false);
  });

  it('DEL releases the address and removes the container chains, leaving the shared ones', () => {
    const { n, web, db } = node();
    n.del(LIST, web);
    const text = n.nat.restoreText();
    expect(text).not.toContain(web.containerId);
    expect(text).not.toContain(chainName('cbr0', web.containerId));
    expect(n.nat.rules('CNI-HOSTPORT-DNAT')).toEqual([]);
    expect(n.nat.hasChain('CNI-HOSTPORT-SETMARK')).toBe(true);
    expect(text).toContain(db.containerId);
    expect(() => restore(text)).not.toThrow();
    // DEL of an unknown attachment is not an error (SPEC.md).
    expect(() => n.del(LIST, web)).not.toThrow();
    n.del(LIST, db);
    expect(n.nat.rules('POSTROUTING')).toEqual(['-m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ']);
    // Both addresses are free again; host-local continues after the last one it gave.
    expect(n.add(LIST, att('next')).result.ips[0]!.address).toBe('10.244.1.4/24');
  });
});
