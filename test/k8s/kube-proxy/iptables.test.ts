/**
 * Behaviour of kubeProxyIptables() rule by rule, after the cases kube-proxy's
 * proxier_test.go covers (TestMasqueradeRule, TestDropInvalidRule,
 * TestNodePorts, TestInternalTrafficPolicy, TestExternalTrafficPolicyLocal,
 * TestLoadBalancer, the terminating-endpoint tests) and proxier.go v1.30.
 */
import { describe, expect, it } from 'vitest';
import {
  kubeProxyBaseRules,
  kubeProxyIptables,
  masqueradeMarkString,
  type Endpoint,
  type KubeProxyNode,
  type Service,
} from '../../../models/k8s/kube-proxy/index.js';
import { fakeProxierNode, TEST_NODE_NAME } from './fixtures.js';
import { checkRuleJumps } from './rule-jumps.js';

const rulesOf = (text: string, chain: string) => text.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
const tableOf = (text: string, table: string) => text.slice(text.indexOf(`*${table}\n`), text.indexOf('COMMIT', text.indexOf(`*${table}\n`)));

function svc1(over: Partial<Service> = {}, endpoints: Endpoint[] = [{ ip: '10.180.0.1' }]): Service {
  return { namespace: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', ports: [{ name: 'p80', protocol: 'TCP', port: 80 }], endpoints, ...over };
}

function sync(services: Service[], node: Partial<KubeProxyNode> = {}): string {
  const text = kubeProxyIptables({ node: { ...fakeProxierNode, ...node }, services });
  expect(checkRuleJumps(text)).toEqual([]);
  return text;
}

describe('KUBE-POSTROUTING, KUBE-MARK-MASQ and KUBE-FORWARD', () => {
  it('TestMasqueradeRule: --random-fully when iptables has it', () => {
    for (const randomFully of [false, true]) {
      expect(rulesOf(sync([], { randomFully }), 'KUBE-POSTROUTING')).toEqual([
        '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
        '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE' + (randomFully ? ' --random-fully' : ''),
      ]);
    }
  });

  it('the mark string is Go\'s %#08x of 1<<masqueradeBit', () => {
    expect(masqueradeMarkString(14)).toBe('0x00004000');
    expect(masqueradeMarkString(31)).toBe('0x80000000');
    const text = kubeProxyIptables({ node: { nodeName: 'n', nodeIPs: ['192.168.0.2'] }, services: [] });
    expect(rulesOf(text, 'KUBE-MARK-MASQ')).toEqual(['-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000']);
    expect(text).toContain('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully\n');
    const bit15 = kubeProxyIptables({ node: { nodeName: 'n', nodeIPs: [], masqueradeBit: 15 }, services: [] });
    expect(bit15).toContain('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00008000/0x00008000 -j ACCEPT');
  });

  it('TestDropInvalidRule: no INVALID drop when nf_conntrack_tcp_be_liberal is set', () => {
    const tail = [
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
      '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ];
    expect(rulesOf(sync([]), 'KUBE-FORWARD')).toEqual(['-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP', ...tail]);
    expect(rulesOf(sync([], { conntrackTCPLiberal: true }), 'KUBE-FORWARD')).toEqual(tail);
  });
});

describe('NodePorts (TestNodePorts)', () => {
  const np = svc1({ type: 'NodePort', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }] });
  const last = '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';

  it('localhost NodePorts on: every local address, and KUBE-FIREWALL drops martians', () => {
    const text = sync([np]);
    expect(text.trimEnd().split('\n').at(-2)).toBe(`${last} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`);
    expect(rulesOf(text, 'KUBE-FIREWALL')).toHaveLength(1);
    expect(rulesOf(text, 'KUBE-NODEPORTS')).toEqual(['-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O']);
  });

  it('localhost NodePorts off: loopback excluded, no KUBE-FIREWALL chain', () => {
    const text = sync([np], { localhostNodePorts: false });
    expect(text).toContain(`${last} -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS`);
    expect(text).not.toContain('KUBE-FIREWALL');
  });

  it('--nodeport-addresses: one rule per matching node address; loopback only if listed', () => {
    const one = sync([np], { nodePortAddresses: ['192.168.0.0/24'] });
    expect(rulesOf(one, 'KUBE-SERVICES').filter((l) => l.startsWith(last))).toEqual([`${last} -d 192.168.0.2 -j KUBE-NODEPORTS`]);
    expect(one).not.toContain('KUBE-FIREWALL');
    const two = sync([np], { nodePortAddresses: ['192.168.0.0/24', '127.0.0.1/32'] });
    expect(rulesOf(two, 'KUBE-SERVICES').filter((l) => l.startsWith(last))).toEqual([
      `${last} -d 127.0.0.1 -j KUBE-NODEPORTS`,
      `${last} -d 192.168.0.2 -j KUBE-NODEPORTS`,
    ]);
    expect(rulesOf(two, 'KUBE-FIREWALL')).toHaveLength(1);
  });

  it('a NodePort without endpoints is rejected in KUBE-EXTERNAL-SERVICES (TestNoEndpointsReject)', () => {
    const text = sync([{ ...np, endpoints: [] }]);
    expect(rulesOf(text, 'KUBE-EXTERNAL-SERVICES')).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT',
    ]);
    expect(rulesOf(tableOf(text, 'filter'), 'KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT',
    ]);
    expect(tableOf(text, 'nat')).not.toContain('KUBE-SVC-');
  });
});

describe('traffic policies', () => {
  const eps: Endpoint[] = [{ ip: '10.180.0.1' }, { ip: '10.180.2.1', nodeName: TEST_NODE_NAME }];

  it('TestExternalTrafficPolicyLocal: EXT short-circuits pods and the host to KUBE-SVC, the rest goes to KUBE-SVL', () => {
    const text = sync([
      svc1(
        {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }],
          loadBalancerIPs: ['1.2.3.4'],
          healthCheckNodePort: 30000,
        },
        eps,
      ),
    ]);
    const ext = 'KUBE-EXT-XPGD46QRK7WJZT7O';
    expect(rulesOf(text, ext)).toEqual([
      `-A ${ext} -m comment --comment "pod traffic for ns1/svc1:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-XPGD46QRK7WJZT7O`,
      `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
      `-A ${ext} -m comment --comment "route LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-XPGD46QRK7WJZT7O`,
      `-A ${ext} -j KUBE-SVL-XPGD46QRK7WJZT7O`,
    ]);
    // KUBE-SVL holds only the local endpoint and needs no masquerade rule of its own.
    expect(rulesOf(text, 'KUBE-SVL-XPGD46QRK7WJZT7O')).toEqual([
      '-A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.2.1:80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ',
    ]);
    expect(rulesOf(text, 'KUBE-SVC-XPGD46QRK7WJZT7O')).toHaveLength(3); // masquerade + two endpoints
    expect(rulesOf(text, 'KUBE-NODEPORTS')).toEqual([
      '-A KUBE-NODEPORTS -m comment --comment "ns1/svc1:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
      '-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O',
    ]);
    expect(rulesOf(text, 'KUBE-EXTERNAL-SERVICES')).toEqual([]);
  });

  it('internalTrafficPolicy Local with a local endpoint: the ClusterIP goes to KUBE-SVL', () => {
    const text = sync([svc1({ internalTrafficPolicy: 'Local' }, eps)]);
    expect(rulesOf(tableOf(text, 'nat'), 'KUBE-SERVICES')[0]).toBe(
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVL-XPGD46QRK7WJZT7O',
    );
    expect(rulesOf(text, 'KUBE-SVL-XPGD46QRK7WJZT7O')).toEqual([
      '-A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
      '-A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.2.1:80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ',
    ]);
    expect(text).not.toContain('KUBE-SVC-');
    expect(text.match(/^:KUBE-SEP-/gm)).toHaveLength(1);
  });

  it('internalTrafficPolicy Local without a local endpoint: DROP, not REJECT', () => {
    const text = sync([svc1({ internalTrafficPolicy: 'Local' }, [{ ip: '10.180.0.1', nodeName: 'node2' }])]);
    expect(rulesOf(tableOf(text, 'filter'), 'KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP',
    ]);
    expect(tableOf(text, 'nat')).not.toMatch(/KUBE-(SVC|SVL|SEP)-/);
  });

  it('without --cluster-cidr there is no local-traffic detection: no ! -s masquerade, no pod short-circuit', () => {
    const text = sync([svc1({ type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }] }, eps)], {
      clusterCIDR: undefined,
    });
    expect(rulesOf(text, 'KUBE-SVC-XPGD46QRK7WJZT7O').every((l) => !l.includes('KUBE-MARK-MASQ'))).toBe(true);
    expect(rulesOf(text, 'KUBE-EXT-XPGD46QRK7WJZT7O').map((l) => l.replace(/.*-j /, ''))).toEqual([
      'KUBE-MARK-MASQ',
      'KUBE-SVC-XPGD46QRK7WJZT7O',
      'KUBE-SVL-XPGD46QRK7WJZT7O',
    ]);
  });
});

describe('endpoints', () => {
  it('n endpoints are split 1/n, 1/(n-1), ... in "ip:port" string order', () => {
    const eps = ['10.180.0.10', '10.180.0.9', '10.180.0.2', '10.180.0.1'].map((ip) => ({ ip }));
    const lines = rulesOf(sync([svc1({}, eps)]), 'KUBE-SVC-XPGD46QRK7WJZT7O').slice(1);
    expect(lines.map((l) => /-> (\S+)"/.exec(l)![1])).toEqual(['10.180.0.10:80', '10.180.0.1:80', '10.180.0.2:80', '10.180.0.9:80']);
    expect(lines.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? null)).toEqual(['0.2500000000', '0.3333333333', '0.5000000000', null]);
  });

  it('falls back to serving terminating endpoints only when none is ready', () => {
    const eps: Endpoint[] = [
      { ip: '10.180.0.1', ready: false, serving: true, terminating: true },
      { ip: '10.180.0.2', ready: false, serving: false, terminating: true },
    ];
    const fallback = sync([svc1({}, eps)]);
    expect(rulesOf(fallback, 'KUBE-SVC-XPGD46QRK7WJZT7O').at(-1)).toContain('"ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-');
    expect(fallback.match(/^:KUBE-SEP-/gm)).toHaveLength(1);
    const withReady = sync([svc1({}, [...eps, { ip: '10.180.0.3' }])]);
    expect(withReady.match(/^:KUBE-SEP-/gm)).toHaveLength(1);
    expect(withReady).toContain('--to-destination 10.180.0.3:80');
    const none = sync([svc1({}, [eps[1]])]);
    expect(none).toContain('"ns1/svc1:p80 has no endpoints"');
  });

  it('uses the EndpointSlice port for the port name, else the numeric targetPort; skips headless services', () => {
    const text = sync([
      svc1({ ports: [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 }] }, [{ ip: '10.180.0.1' }, { ip: '10.180.0.2', ports: { dns: 53 } }]),
      { namespace: 'ns1', name: 'headless', clusterIP: 'None', ports: [{ name: 'p', protocol: 'TCP', port: 1 }], endpoints: [{ ip: '10.180.0.9' }] },
    ]);
    expect(text).toContain('-m comment --comment ns1/svc1:dns -m udp -p udp -j DNAT --to-destination 10.180.0.1:5353');
    expect(text).toContain('-m comment --comment ns1/svc1:dns -m udp -p udp -j DNAT --to-destination 10.180.0.2:53');
    expect(text).not.toContain('headless');
  });

  it('a terminating duplicate of an endpoint does not replace it', () => {
    const text = sync([svc1({}, [{ ip: '10.180.0.1' }, { ip: '10.180.0.1', ready: false, terminating: true }])]);
    expect(text.match(/^:KUBE-SEP-/gm)).toHaveLength(1);
  });
});

describe('LoadBalancer source ranges (TestLoadBalancer)', () => {
  it('allows the node\'s own VIP traffic when a range covers the node IP', () => {
    const text = sync([
      svc1({
        type: 'LoadBalancer',
        ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }],
        loadBalancerIPs: ['1.2.3.4', '5.6.7.8'],
        loadBalancerSourceRanges: ['192.168.0.0/24', ' 203.0.113.0/25'],
      }),
    ]);
    const fw = 'KUBE-FW-XPGD46QRK7WJZT7O';
    expect(rulesOf(text, fw)).toEqual([
      `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 192.168.0.0/24 -j KUBE-EXT-XPGD46QRK7WJZT7O`,
      `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-XPGD46QRK7WJZT7O`,
      `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 1.2.3.4 -j KUBE-EXT-XPGD46QRK7WJZT7O`,
      `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 5.6.7.8 -j KUBE-EXT-XPGD46QRK7WJZT7O`,
      `-A ${fw} -m comment --comment "other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
    ]);
    expect(rulesOf(text, 'KUBE-PROXY-FIREWALL')).toHaveLength(2);
  });
});

describe('kubeProxyBaseRules', () => {
  it('is what EnsureChain and EnsureRule(Prepend) leave in an empty namespace', () => {
    expect(kubeProxyBaseRules()).toBe(
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        ':FORWARD ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':KUBE-EXTERNAL-SERVICES - [0:0]',
        ':KUBE-NODEPORTS - [0:0]',
        ':KUBE-SERVICES - [0:0]',
        ':KUBE-FORWARD - [0:0]',
        ':KUBE-PROXY-FIREWALL - [0:0]',
        ':KUBE-FIREWALL - [0:0]',
        '-A INPUT -j KUBE-FIREWALL',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A OUTPUT -j KUBE-FIREWALL',
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        'COMMIT',
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':INPUT ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':POSTROUTING ACCEPT [0:0]',
        ':KUBE-SERVICES - [0:0]',
        ':KUBE-POSTROUTING - [0:0]',
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});

describe('input validation', () => {
  it('names the service whose address is not IPv4', () => {
    expect(() => kubeProxyIptables({ node: fakeProxierNode, services: [svc1({ clusterIP: 'fd00::1' })] })).toThrow(/ns1\/svc1:p80 clusterIP/);
    expect(() => kubeProxyIptables({ node: fakeProxierNode, services: [svc1({}, [{ ip: '10.0.0.300' }])] })).toThrow(/ns1\/svc1:p80 endpoint/);
  });
});
