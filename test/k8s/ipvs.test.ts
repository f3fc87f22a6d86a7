/**
 * kube-proxy's IPVS mode generator against the layout pkg/proxy/ipvs/proxier.go
 * (v1.30) writes: ClusterIPs on kube-ipvs0, a virtual server per ClusterIP:port
 * and per nodeIP:nodePort, ip sets carrying the service addresses, and the
 * iptables rules of writeIptablesRules matching those sets.
 */
import { describe, expect, test } from 'vitest';
import { kubeProxyIpvs, type KubeProxyInput, type Service } from '../../models/k8s/kube-proxy/index.js';
import { IptablesRuleset } from '../../models/netfilter/iptables/ruleset.js';
import { IpSetTable } from '../../models/netfilter/ipset.js';

const node = { nodeName: 'n1', nodeIPs: ['192.168.49.2'], clusterCIDR: '10.244.0.0/16' };
const services: Service[] = [
  {
    namespace: 'default',
    name: 'web',
    clusterIP: '10.96.0.2',
    ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 8080 }],
    endpoints: [
      { ip: '10.244.1.3', nodeName: 'n1', ports: { '': 8080 } },
      { ip: '10.244.2.2', nodeName: 'n2', ports: { '': 8080 } },
    ],
  },
  {
    namespace: 'default',
    name: 'dns',
    clusterIP: '10.96.0.10',
    sessionAffinity: 'ClientIP',
    ports: [{ name: 'dns', protocol: 'UDP', port: 53 }],
    endpoints: [{ ip: '10.244.2.7', nodeName: 'n2', ports: { dns: 53 } }],
  },
  {
    namespace: 'default',
    name: 'np',
    type: 'NodePort',
    externalTrafficPolicy: 'Local',
    clusterIP: '10.96.0.3',
    ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30000 }],
    endpoints: [
      { ip: '10.244.1.3', nodeName: 'n1', ports: { '': 8080 } },
      { ip: '10.244.2.2', nodeName: 'n2', ports: { '': 8080 } },
    ],
  },
  { namespace: 'default', name: 'empty', clusterIP: '10.96.0.4', ports: [{ name: '', protocol: 'UDP', port: 80 }], endpoints: [] },
];
const input: KubeProxyInput = { node, services };

describe('kube-proxy IPVS mode', () => {
  const c = kubeProxyIpvs(input);

  test('every ClusterIP is a /32 on kube-ipvs0', () => {
    expect(c.dummyAddresses).toEqual(['10.96.0.2/32', '10.96.0.3/32', '10.96.0.4/32', '10.96.0.10/32']);
  });

  test('virtual servers: ClusterIP:port and nodeIP:nodePort, rr, -p 10800 for ClientIP affinity, Local policy keeps local endpoints', () => {
    const vs = c.virtualServers.map((v) => `${v.protocol} ${v.address}:${v.port} ${v.scheduler}${v.persistenceTimeout ? ` -p ${v.persistenceTimeout}` : ''} -> ${v.realServers.map((r) => `${r.address}:${r.port}`).join(' ')}`);
    expect(vs).toEqual([
      'UDP 10.96.0.10:53 rr -p 10800 -> 10.244.2.7:53',
      'UDP 10.96.0.4:80 rr -> ',
      'TCP 10.96.0.3:80 rr -> 10.244.1.3:8080 10.244.2.2:8080',
      'TCP 192.168.49.2:30000 rr -> 10.244.1.3:8080',
      'TCP 10.96.0.2:80 rr -> 10.244.1.3:8080 10.244.2.2:8080',
    ]);
    expect(kubeProxyIpvs(input, { scheduler: 'lc' }).virtualServers.every((v) => v.scheduler === 'lc')).toBe(true);
  });

  test('ip sets: KUBE-CLUSTER-IP ip,port; KUBE-LOOP-BACK local endpoint ip,port,ip; NodePorts in bitmaps; all sets made even when empty', () => {
    const sets = Object.fromEntries(c.ipsets.map((s) => [s.name, `${s.type}: ${s.entries.join(' ')}`]));
    expect(sets).toEqual({
      'KUBE-LOOP-BACK': 'hash:ip,port,ip: 10.244.1.3,tcp:8080,10.244.1.3',
      'KUBE-CLUSTER-IP': 'hash:ip,port: 10.96.0.2,tcp:80 10.96.0.3,tcp:80 10.96.0.4,udp:80 10.96.0.10,udp:53',
      'KUBE-EXTERNAL-IP': 'hash:ip,port: ',
      'KUBE-EXTERNAL-IP-LOCAL': 'hash:ip,port: ',
      'KUBE-LOAD-BALANCER': 'hash:ip,port: ',
      'KUBE-LOAD-BALANCER-LOCAL': 'hash:ip,port: ',
      'KUBE-NODE-PORT-TCP': 'bitmap:port: 30000',
      'KUBE-NODE-PORT-LOCAL-TCP': 'bitmap:port: 30000',
      'KUBE-NODE-PORT-UDP': 'bitmap:port: ',
      'KUBE-NODE-PORT-LOCAL-UDP': 'bitmap:port: ',
      'KUBE-HEALTH-CHECK-NODE-PORT': 'bitmap:port: ',
      'KUBE-IPVS-IPS': 'hash:ip: 10.96.0.2 10.96.0.3 10.96.0.4 10.96.0.10',
    });
  });

  test('the nat rules: masquerade off-cluster sources to ClusterIPs, NodePorts and what KUBE-MARK-MASQ marked, hairpin via KUBE-LOOP-BACK', () => {
    const nat = c.rules.slice(c.rules.indexOf('*nat'));
    expect(nat).toBe(
      [
        '*nat',
        ':KUBE-SERVICES - [0:0]',
        ':KUBE-POSTROUTING - [0:0]',
        ':KUBE-NODE-PORT - [0:0]',
        ':KUBE-LOAD-BALANCER - [0:0]',
        ':KUBE-MARK-MASQ - [0:0]',
        '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
        '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN',
        '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ',
        '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
        '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT',
        '-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ',
        '-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT',
        '-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN',
        '-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000',
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
        '-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  test('the filter rules: KUBE-IPVS-FILTER rejects new connections to a VIP on a port no service has', () => {
    expect(c.rules).toContain('-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN\n');
    expect(c.rules).toContain('-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT\n');
    expect(c.rules).toContain('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT\n');
    expect(c.baseRules).toContain('-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER');
    expect(c.baseRules).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  });

  test('masqueradeAll masquerades every ClusterIP connection; without clusterCIDR, VIP-sourced ones (src,dst)', () => {
    expect(kubeProxyIpvs({ node: { ...node, masqueradeAll: true }, services }).rules).toContain('--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n');
    const { clusterCIDR: _unused, ...noCidr } = node;
    expect(kubeProxyIpvs({ node: noCidr, services }).rules).toContain('--match-set KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ\n');
  });

  test('the rules load into the iptables model with the sets, as iptables-restore would', () => {
    const sets = new Map(c.ipsets.map((s) => [s.name, IpSetTable.of(s.name, s.type, s.entries)]));
    const rs = new IptablesRuleset({ ipsets: (n) => sets.get(n) });
    rs.restore(c.baseRules, 'base');
    rs.restore(c.rules, 'sync', { noflush: true });
    const saved = rs.save();
    expect(saved).toContain('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT');
    expect(saved).toContain('-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE');
  });

  test('what IPVS mode here does not model is an error', () => {
    const withExternal: Service = { ...services[0]!, externalIPs: ['1.2.3.4'] };
    expect(() => kubeProxyIpvs({ node, services: [withExternal] })).toThrow('kube-proxy ipvs: service default/web: externalIPs are not modelled in IPVS mode');
  });
});
