/**
 * CNI DEL of a deleted pod as a change to the node's nat table: the
 * `iptables-restore --noflush` text that scenarios/cni/del.ts derives from
 * the plugins' DEL, applied to the rules the ADDs left, must give exactly the
 * rules left after the DEL: portmap's CNI-DN-<hash> chain and its
 * CNI-HOSTPORT-DNAT jump gone (portmap_iptables.go unforwardPorts), the
 * bridge's ipMasq chain and its POSTROUTING jump gone, the shared chains kept.
 */
import { describe, expect, it } from 'vitest';
import { parseConflist } from '../../scenarios/cni/conflist.js';
import { cniDelNatChanges } from '../../scenarios/cni/del.js';
import { CniNode, sandboxId } from '../../scenarios/cni/execute.js';
import { chainName } from '../../scenarios/cni/nat-table.js';
import { podAttachment, runNodeCni, type CniPodInput } from '../../scenarios/cni/node-network.js';
import { IptablesRuleset } from '../../models/netfilter/iptables/ruleset.js';

const LIST = parseConflist(
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'cbr0',
    plugins: [
      { type: 'bridge', isDefaultGateway: true, ipMasq: true, ipam: { type: 'host-local', subnet: '10.244.1.0/24' } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'loopback' },
    ],
  }),
  'del.conflist',
);

const PODS: CniPodInput[] = [
  { name: 'web', hostPorts: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 5353, containerPort: 53, protocol: 'udp' }] },
  { name: 'db', hostPorts: [{ hostPort: 5432, containerPort: 5432, protocol: 'tcp' }] },
  { name: 'plain' },
];

const id = (pod: string) => sandboxId('n1', pod);

/** The node's nat table after ADD of every pod, then DEL of `deleted` in order, as iptables-save prints it. */
function savedAfterDel(deleted: string[]): string {
  const n = new CniNode('n1');
  for (const p of PODS) n.add(LIST, podAttachment('n1', p));
  for (const d of deleted) n.del(LIST, podAttachment('n1', PODS.find((p) => p.name === d)!));
  const ipt = new IptablesRuleset();
  ipt.restore(n.nat.restoreText() || '*nat\nCOMMIT\n', 'after');
  return ipt.save();
}

describe('CNI DEL as a nat table change', () => {
  const net = runNodeCni('n1', LIST, PODS);

  it("removes the pod's portmap chain and jump and its ipMasq chain and jump, and nothing shared", () => {
    const text = cniDelNatChanges('n1', net, ['web']).get('web')!;
    const dn = chainName('cbr0', id('web'), 'DN-');
    const masq = chainName('cbr0', id('web'));
    const lines = text.split('\n');
    expect(lines[0]).toBe('*nat');
    expect(lines).toContain(`:${dn} - [0:0]`);
    expect(lines).toContain(`-X ${dn}`);
    expect(lines).toContain(`:${masq} - [0:0]`);
    expect(lines).toContain(`-X ${masq}`);
    expect(lines.filter((l) => l.startsWith('-D CNI-HOSTPORT-DNAT '))).toEqual([
      `-D CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"cbr0\\" id: \\"${id('web')}\\"" -m multiport --dports 8080 -j ${dn}`,
      `-D CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \\"cbr0\\" id: \\"${id('web')}\\"" -m multiport --dports 5353 -j ${dn}`,
    ]);
    expect(lines.filter((l) => l.startsWith('-D POSTROUTING '))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith('-D POSTROUTING '))).toMatch(new RegExp(`-j ${masq}$`));
    // The db pod's chains and the shared chains are not touched.
    expect(text).not.toContain(chainName('cbr0', id('db'), 'DN-'));
    expect(text).not.toMatch(/-X CNI-HOSTPORT-|:CNI-HOSTPORT-/);
  });

  it('applied with --noflush to the rules the ADDs left, gives the rules left after the DEL (one pod, then two)', () => {
    const ipt = new IptablesRuleset();
    ipt.restore(net.iptables, 'cni');
    const changes = cniDelNatChanges('n1', net, ['web', 'db']);
    ipt.restore(changes.get('web')!, 'del web', { noflush: true });
    expect(ipt.save()).toBe(savedAfterDel(['web']));
    ipt.restore(changes.get('db')!, 'del db', { noflush: true });
    expect(ipt.save()).toBe(savedAfterDel(['web', 'db']));
    expect(ipt.save()).not.toContain('CNI-DN-');
    expect(ipt.save()).toContain(':CNI-HOSTPORT-DNAT - [0:0]');
  });

  it('a pod without host ports loses only its ipMasq chain', () => {
    const text = cniDelNatChanges('n1', net, ['plain']).get('plain')!;
    expect(text).not.toContain('CNI-DN-');
    expect(text.split('\n').filter((l) => l.startsWith('-X '))).toEqual([`-X ${chainName('cbr0', id('plain'))}`]);
  });
});
