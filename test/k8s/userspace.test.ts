/**
 * kube-proxy's userspace mode: the rules as the Kubernetes "Debug Services"
 * guide shows them (a KUBE-PORTALS-CONTAINER REDIRECT and a KUBE-PORTALS-HOST
 * DNAT per service port), proxy ports from the ephemeral range, and the
 * proxy's backend table.
 */
import { describe, expect, test } from 'vitest';
import { kubeProxyUserspace } from '../../models/k8s/kube-proxy/userspace.js';
import type { KubeProxyInput } from '../../models/k8s/kube-proxy/index.js';
import { IptablesRuleset } from '../../models/netfilter/iptables/ruleset.js';
import { randomStream } from '../../engine/rng.js';

const input: KubeProxyInput = {
  node: { nodeName: 'n1', nodeIPs: ['10.240.115.247'] },
  services: [
    {
      namespace: 'default',
      name: 'hostnames',
      clusterIP: '10.0.1.175',
      ports: [{ name: 'default', protocol: 'TCP', port: 80, targetPort: 9376 }],
      endpoints: [{ ip: '10.244.0.5' }, { ip: '10.244.0.6' }, { ip: '10.244.0.7', ready: false }],
    },
    {
      namespace: 'default',
      name: 'dns',
      type: 'NodePort',
      clusterIP: '10.0.0.10',
      sessionAffinity: 'ClientIP',
      ports: [{ name: '', protocol: 'UDP', port: 53, targetPort: 5353, nodePort: 30053 }],
      endpoints: [{ ip: '10.244.1.2', ports: { '': 5454 } }],
    },
  ],
};

function generate(seed = 1) {
  const rng = randomStream(seed, 'test');
  return kubeProxyUserspace(input, () => rng.next());
}

describe('kube-proxy userspace mode', () => {
  test('one REDIRECT (from containers) and one DNAT to the node (from the host) per service port', () => {
    const c = generate();
    const p = c.ports[0]!.proxyPort;
    expect(c.rules).toContain(
      `-A KUBE-PORTALS-CONTAINER -d 10.0.1.175/32 -p tcp -m comment --comment "default/hostnames:default" -m tcp --dport 80 -j REDIRECT --to-ports ${p}\n`,
    );
    expect(c.rules).toContain(
      `-A KUBE-PORTALS-HOST -d 10.0.1.175/32 -p tcp -m comment --comment "default/hostnames:default" -m tcp --dport 80 -j DNAT --to-destination 10.240.115.247:${p}\n`,
    );
  });

  test('a NodePort is redirected on local addresses and its proxy port let through INPUT', () => {
    const c = generate();
    const p = c.ports[1]!.proxyPort;
    expect(c.rules).toContain(`-A KUBE-NODEPORT-CONTAINER -p udp -m comment --comment "default/dns" -m udp --dport 30053 -j REDIRECT --to-ports ${p}\n`);
    expect(c.rules).toContain(`-A KUBE-NODEPORT-HOST -p udp -m comment --comment "default/dns" -m udp --dport 30053 -j DNAT --to-destination 10.240.115.247:${p}\n`);
    expect(c.rules).toContain(`-A KUBE-NODEPORT-NON-LOCAL -p udp -m comment --comment "default/dns" -m udp --dport ${p} -j ACCEPT\n`);
    expect(c.rules).toMatch(/-A PREROUTING -m addrtype --dst-type LOCAL .*-j KUBE-NODEPORT-CONTAINER\n/);
  });

  test('proxy ports are distinct, ephemeral, and the same for the same seed', () => {
    const a = generate(1).ports.map((p) => p.proxyPort);
    expect(generate(1).ports.map((p) => p.proxyPort)).toEqual(a);
    expect(new Set(a).size).toBe(a.length);
    for (const p of a) expect(p).toBeGreaterThanOrEqual(32768);
    expect(generate(2).ports.map((p) => p.proxyPort)).not.toEqual(a);
  });

  test('the proxy table holds ready endpoints on the target port (or the EndpointSlice port) and the affinity', () => {
    const c = generate();
    expect(c.ports[0]).toMatchObject({ name: 'default/hostnames:default', protocol: 'TCP', affinity: 'None', backends: [{ ip: '10.244.0.5', port: 9376 }, { ip: '10.244.0.6', port: 9376 }] });
    expect(c.ports[1]).toMatchObject({ name: 'default/dns', protocol: 'UDP', affinity: 'ClientIP', backends: [{ ip: '10.244.1.2', port: 5454 }] });
  });

  test('the rules load into the iptables model as iptables-restore would', () => {
    const rs = new IptablesRuleset({});
    rs.restore(generate().rules, 'userspace');
    const saved = rs.save();
    expect(saved).toContain(':KUBE-PORTALS-CONTAINER - [0:0]');
    expect(saved).toContain('-A OUTPUT -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST');
    expect(saved).toContain('-A INPUT -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL');
  });
});
