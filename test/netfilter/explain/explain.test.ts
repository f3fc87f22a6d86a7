/**
 * explainPacket on a kube-proxy node (cluster.ts) and on small hand-written
 * rulesets: every -m statistic branch with its probability, DNAT, masquerade,
 * REJECT, local delivery, OUTPUT, --noflush layering.
 */
import { describe, expect, it } from 'vitest';
import { explainPacket, formatExplanation, type Explanation, type PathStep, type TraceRequest } from '../../../models/netfilter/explain/index.js';
import { parseIpv4 } from '../../../models/wire/addr.js';
import { endpointIps, kubeNode } from './cluster.js';

const k = kubeNode();
const layers = [
  { text: k.base, file: 'base.rules' },
  { text: k.rules, file: 'kube-proxy.rules' },
];
const node = { localAddrs: [{ addr: parseIpv4(k.nodeIP), prefixLen: 24 }] };

function tcp(src: string, dst: string, dport: number, extra: Partial<TraceRequest> = {}): Explanation {
  return explainPacket({ rules: layers, probe: { proto: 'tcp', src: parseIpv4(src), dst: parseIpv4(dst), sport: 40000, dport }, node, ...extra });
}

function targetPort(): number {
  return k.two.ports[0]!.targetPort!;
}

function sum(e: Explanation): number {
  return e.destinations.reduce((s, d) => s + d.probability, 0);
}

function steps<S extends PathStep['step']>(e: Explanation, kind: S): Extract<PathStep, { step: S }>[] {
  return e.path.filter((s): s is Extract<PathStep, { step: S }> => s.step === kind);
}

/** A small iptables-restore text of one table. */
function table(name: string, chains: string[], rules: string[]): string {
  return [`*${name}`, ...chains.map((c) => `:${c} ACCEPT [0:0]`), ...rules, 'COMMIT', ''].join('\n');
}

function run(rules: string, src: string, dst: string, dport = 80): Explanation {
  return explainPacket({ rules: [{ text: rules, file: 't.rules' }], probe: { proto: 'tcp', src: parseIpv4(src), dst: parseIpv4(dst), sport: 40000, dport }, node: { localAddrs: [] } });
}

describe('a kube-proxy node', () => {
  it('spreads a pod connection to a 2-endpoint ClusterIP over both endpoints, half each, without masquerade', () => {
    const e = tcp(k.pod, k.two.clusterIP, 80);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations.map((d) => d.ip).sort()).toEqual(endpointIps(k.two).sort());
    for (const d of e.destinations) {
      expect(d.port).toBe(targetPort());
      expect(d.probability).toBeCloseTo(1 / 2, 12);
    }
    expect(sum(e)).toBeCloseTo(1, 12);
    expect(e.masquerade).toBe(false);
    expect(e.branches).toBe(2);
    // The path shows the DNAT to the first destination and the forward decision.
    const nat = steps(e, 'nat');
    expect(nat).toEqual([{ step: 'nat', hook: 'PREROUTING', manip: 'dst', from: `${k.two.clusterIP}:80`, to: `${e.destinations[0]!.ip}:${targetPort()}` }]);
    expect(steps(e, 'route')).toEqual([{ step: 'route', dst: e.destinations[0]!.ip, decision: 'forward', out: 'eth0' }]);
    expect(e.path.filter((s) => s.step === 'hook').map((s) => (s as { hook: string }).hook)).toEqual(['PREROUTING', 'FORWARD', 'POSTROUTING']);
  });

  it('gives each of 3 endpoints a third, with the draws of rules of probability 1/3 and 1/2', () => {
    const e = tcp(k.pod, k.nodePort.clusterIP, 80);
    expect(e.destinations.map((d) => d.ip).sort()).toEqual(endpointIps(k.nodePort).sort());
    for (const d of e.destinations) expect(d.probability).toBeCloseTo(1 / 3, 9);
    expect(sum(e)).toBeCloseTo(1, 12);
    expect(e.masquerade).toBe(false);
    const statistic = steps(e, 'rule').filter((s) => s.matched && s.rule.includes('--mode random'));
    expect(statistic).toHaveLength(1);
    expect(statistic[0]!.rule).toContain('--probability 0.33333333349');
  });

  it('masquerades a connection to a ClusterIP from outside the cluster CIDR, with the node address', () => {
    const e = tcp(k.outside, k.two.clusterIP, 80);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.masquerade).toBe(true);
    expect(e.destinations).toHaveLength(2);
    const masq = steps(e, 'rule').filter((s) => s.matched && s.hook === 'POSTROUTING' && /-j MASQUERADE\b/.test(s.rule));
    expect(masq).toHaveLength(1);
    const snat = steps(e, 'nat').find((s) => s.manip === 'src')!;
    expect(snat.hook).toBe('POSTROUTING');
    expect(snat.to.split(':')[0]).toBe(k.nodeIP);
  });

  it('DNATs and masquerades a NodePort on the node address, and leaves it alone on an address the node does not own', () => {
    const np = k.nodePort.ports[0]!.nodePort!;
    const e = tcp(k.outside, k.nodeIP, np);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations.map((d) => `${d.ip}:${d.port}`).sort()).toEqual(endpointIps(k.nodePort).map((ip) => `${ip}:${targetPort()}`).sort());
    expect(sum(e)).toBeCloseTo(1, 12);
    expect(e.masquerade).toBe(true);
    expect(steps(e, 'nat').map((s) => s.manip)).toEqual(['dst', 'src']);

    // Without --local-ip the address is not local: -m addrtype --dst-type LOCAL fails, no NodePort.
    const other = explainPacket({ rules: layers, probe: { proto: 'tcp', src: parseIpv4(k.outside), dst: parseIpv4(k.nodeIP), sport: 40000, dport: np }, node: { localAddrs: [] } });
    expect(other.destinations).toEqual([{ ip: k.nodeIP, port: np, probability: 1 }]);
    expect(other.masquerade).toBe(false);
  });

  it('rejects a connection to a service without endpoints', () => {
    const e = tcp(k.pod, k.empty.clusterIP, 80);
    expect(e.verdict).toBe('REJECT');
    expect(e.destinations).toEqual([]);
    expect(e.masquerade).toBe(false);
    const reject = steps(e, 'reject');
    expect(reject).toEqual([{ step: 'reject', hook: 'FORWARD', with: 'icmp-port-unreachable' }]);
    // The REJECT step follows the rule that fired it.
    const i = e.path.indexOf(reject[0]!);
    const rule = e.path[i - 1]!;
    expect(rule.step === 'rule' && rule.matched && rule.rule.includes(`${k.empty.namespace}/${k.empty.name}:http has no endpoints`)).toBe(true);
    expect(e.path[e.path.length - 1]).toMatchObject({ step: 'end', verdict: 'REJECT', at: 'FORWARD', delivered: null });
  });

  it('forwards a packet to an unrelated address unchanged: one destination, the original', () => {
    const e = tcp(k.pod, '203.0.113.9', 443);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations).toEqual([{ ip: '203.0.113.9', port: 443, probability: 1 }]);
    expect(e.masquerade).toBe(false);
    expect(e.branches).toBe(1);
    expect(steps(e, 'nat')).toEqual([]);
  });

  it('delivers a packet for the node itself through INPUT', () => {
    const e = tcp(k.outside, k.nodeIP, 22);
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations).toEqual([{ ip: k.nodeIP, port: 22, probability: 1 }]);
    expect(steps(e, 'route')).toEqual([{ step: 'route', dst: k.nodeIP, decision: 'local', out: null }]);
    expect(e.path[e.path.length - 1]).toMatchObject({ step: 'end', at: 'INPUT', delivered: 'local' });
  });

  it('starts at OUTPUT when the source is the node, and at PREROUTING when --hook says so', () => {
    const out = tcp(k.nodeIP, k.two.clusterIP, 80);
    expect(out.entry).toBe('OUTPUT');
    expect(steps(out, 'hook').map((s) => s.hook)).toEqual(['OUTPUT', 'POSTROUTING']);
    // The node's address is outside the cluster CIDR: masqueraded, as kube-proxy intends.
    expect(out.masquerade).toBe(true);
    expect(out.destinations.map((d) => d.ip).sort()).toEqual(endpointIps(k.two).sort());
    // OUTPUT's DNAT re-routes the packet (ip_route_me_harder).
    expect(steps(out, 'route').map((s) => s.dst)).toEqual([k.two.clusterIP, out.destinations[0]!.ip]);

    const pre = tcp(k.nodeIP, k.two.clusterIP, 80, { hook: 'PREROUTING' });
    expect(pre.entry).toBe('PREROUTING');
    expect(steps(pre, 'hook')[0]!.hook).toBe('PREROUTING');
  });

  it('a localhost NodePort is sent through OUTPUT, DNATed and masqueraded', () => {
    const np = k.nodePort.ports[0]!.nodePort!;
    const e = tcp('127.0.0.1', '127.0.0.1', np);
    expect(e.entry).toBe('OUTPUT');
    expect(e.destinations).toHaveLength(3);
    expect(e.masquerade).toBe(true);
  });

  it('masquerades only the branch where a pod reaches itself through its service (hairpin)', () => {
    const self = endpointIps(k.two)[0]!;
    const e = tcp(self, k.two.clusterIP, 80);
    expect(e.destinations).toHaveLength(2);
    const hairpin = e.outcomes.filter((o) => o.masquerade);
    expect(hairpin).toHaveLength(1);
    expect(hairpin[0]!.destination!.ip).toBe(self);
    expect(hairpin[0]!.probability).toBeCloseTo(0.5, 12);
    expect(e.masquerade).toBe(true);
  });

  it('needs the base chains: kube-proxy\'s rules alone are never jumped to', () => {
    const alone = explainPacket({
      rules: [{ text: k.rules, file: 'kube-proxy.rules' }],
      probe: { proto: 'tcp', src: parseIpv4(k.pod), dst: parseIpv4(k.two.clusterIP), sport: 40000, dport: 80 },
      node,
    });
    expect(alone.destinations).toEqual([{ ip: k.two.clusterIP, port: 80, probability: 1 }]);
  });
});

describe('branches of -m statistic', () => {
  const nat = (rules: string[]) => table('nat', ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'], rules);

  it('follows nested random rules and multiplies their probabilities', () => {
    const rules = [
      ':SPLIT - [0:0]',
      '-A PREROUTING -p tcp -m statistic --mode random --probability 0.5 -j SPLIT',
      '-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.3:80',
      '-A SPLIT -p tcp -m statistic --mode random --probability 0.25 -j DNAT --to-destination 10.0.0.1:80',
      '-A SPLIT -p tcp -j DNAT --to-destination 10.0.0.2:80',
    ];
    const e = run(nat(rules), '10.1.0.1', '10.9.9.9');
    expect(e.destinations.map((d) => [d.ip, d.probability])).toEqual([
      ['10.0.0.1', 0.125],
      ['10.0.0.2', 0.375],
      ['10.0.0.3', 0.5],
    ]);
    expect(e.branches).toBe(3);
  });

  it('reads "! --probability p" as matching with probability 1 - p', () => {
    const rules = [
      '-A PREROUTING -p tcp -m statistic --mode random ! --probability 0.25 -j DNAT --to-destination 10.0.0.1:80',
      '-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.2:80',
    ];
    const e = run(nat(rules), '10.1.0.1', '10.9.9.9');
    expect(e.destinations).toEqual([
      { ip: '10.0.0.2', port: 80, probability: 0.25 },
      { ip: '10.0.0.1', port: 80, probability: 0.75 },
    ]);
  });

  it('merges branches that end at the same destination', () => {
    const rules = [
      '-A PREROUTING -p tcp -m statistic --mode random --probability 0.3 -j DNAT --to-destination 10.0.0.1:80',
      '-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80',
    ];
    const e = run(nat(rules), '10.1.0.1', '10.9.9.9');
    expect(e.destinations).toHaveLength(1);
    expect(e.destinations[0]!.probability).toBeCloseTo(1, 12);
    expect(e.branches).toBe(2);
  });

  it('skips branches of probability 0 and takes rules of probability 1 always', () => {
    const rules = [
      '-A PREROUTING -p tcp -m statistic --mode random --probability 0 -j DNAT --to-destination 10.0.0.1:80',
      '-A PREROUTING -p tcp -m statistic --mode random --probability 1 -j DNAT --to-destination 10.0.0.2:80',
    ];
    const e = run(nat(rules), '10.1.0.1', '10.9.9.9');
    expect(e.destinations).toEqual([{ ip: '10.0.0.2', port: 80, probability: 1 }]);
  });

  it('reports a partly dropped packet as ACCEPT with the dropped share missing from its destinations', () => {
    const rules = table('filter', ['INPUT', 'FORWARD', 'OUTPUT'], ['-A FORWARD -m statistic --mode random --probability 0.25 -j DROP']);
    const e = run(rules, '10.1.0.1', '10.9.9.9');
    expect(e.verdict).toBe('ACCEPT');
    expect(e.destinations).toEqual([{ ip: '10.9.9.9', port: 80, probability: 0.75 }]);
    expect(e.outcomes.map((o) => [o.verdict, o.probability])).toEqual([
      ['DROP', 0.25],
      ['ACCEPT', 0.75],
    ]);
    // The path shown is the accepted branch's.
    expect(e.path[e.path.length - 1]).toMatchObject({ step: 'end', verdict: 'ACCEPT' });
  });

  it('treats --mode nth as a first packet: counters fresh for every branch', () => {
    const nth = (packet: number) =>
      nat([
        ':NTH - [0:0]',
        '-A PREROUTING -p tcp -m statistic --mode random --probability 0.5 -j NTH',
        '-A PREROUTING -p tcp -j NTH',
        `-A NTH -p tcp -m statistic --mode nth --every 2 --packet ${packet} -j DNAT --to-destination 10.0.0.1:80`,
        '-A NTH -p tcp -j DNAT --to-destination 10.0.0.2:80',
      ]);
    // xt_statistic: the counter starts at every - packet, so --packet 0 matches the first packet...
    expect(run(nth(0), '10.1.0.1', '10.9.9.9').destinations).toEqual([{ ip: '10.0.0.1', port: 80, probability: 1 }]);
    // ... and --packet 1 the second, never the first: both branches see a fresh counter.
    expect(run(nth(1), '10.1.0.1', '10.9.9.9').destinations).toEqual([{ ip: '10.0.0.2', port: 80, probability: 1 }]);
  });
});

describe('rules in layers (iptables-restore --noflush)', () => {
  const base = table('filter', ['INPUT', 'FORWARD', 'OUTPUT'], ['-A INPUT -s 10.6.6.6/32 -j DROP']);
  const top = ['*filter', '-A INPUT -p tcp --dport 22 -j REJECT', 'COMMIT', ''].join('\n');
  const req = (src: string, dport: number, layers: { text: string; file: string }[]) =>
    explainPacket({ rules: layers, probe: { proto: 'tcp', src: parseIpv4(src), dst: parseIpv4('10.0.0.1'), sport: 40000, dport }, node: { localAddrs: [{ addr: parseIpv4('10.0.0.1'), prefixLen: 24 }] } });

  it('keeps the base rules and appends the next layer\'s', () => {
    const layered = [
      { text: base, file: 'base' },
      { text: top, file: 'top' },
    ];
    expect(req('10.6.6.6', 80, layered).verdict).toBe('DROP');
    expect(req('10.7.7.7', 22, layered).verdict).toBe('REJECT');
    expect(req('10.7.7.7', 80, layered).verdict).toBe('ACCEPT');
  });

  it('names the layer and line of a bad rule', () => {
    const bad = ['*filter', '-A INPUT -p tcp --dport 22 -j NOPE', 'COMMIT', ''].join('\n');
    expect(() =>
      req('10.7.7.7', 22, [
        { text: base, file: 'base' },
        { text: bad, file: 'top.rules' },
      ]),
    ).toThrow(/^top\.rules:2: /);
  });
});

describe('other protocols', () => {
  it('follows UDP and ICMP echo, ICMP without a port', () => {
    const rules = table('nat', ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'], [
      '-A PREROUTING -p udp --dport 53 -j DNAT --to-destination 10.0.0.53:5353',
      '-A PREROUTING -p icmp -j DNAT --to-destination 10.0.0.9',
    ]);
    const probe = (proto: 'udp' | 'icmp') =>
      explainPacket({ rules: [{ text: rules, file: 't' }], probe: { proto, src: parseIpv4('10.1.0.1'), dst: parseIpv4('10.9.9.9'), sport: 40000, dport: 53 }, node: { localAddrs: [] } });
    expect(probe('udp').destinations).toEqual([{ ip: '10.0.0.53', port: 5353, probability: 1 }]);
    expect(probe('icmp').destinations).toEqual([{ ip: '10.0.0.9', port: null, probability: 1 }]);
  });
});

describe('LOG', () => {
  it('records the line after its rule, with the TTL ip_forward already decremented', () => {
    const rules = table('filter', ['INPUT', 'FORWARD', 'OUTPUT'], ['-A FORWARD -j LOG --log-prefix "fwd: "', '-A INPUT -j LOG --log-prefix "in: "']);
    const fwd = run(rules, '10.1.0.1', '10.9.9.9');
    const i = fwd.path.findIndex((s) => s.step === 'log');
    expect(fwd.path[i - 1]).toMatchObject({ step: 'rule', chain: 'FORWARD', matched: true, verdict: 'CONTINUE' });
    expect((fwd.path[i] as { text: string }).text).toMatch(/^fwd: IN=eth0 OUT=eth0 .* TTL=63 /);
    const local = explainPacket({
      rules: [{ text: rules, file: 't' }],
      probe: { proto: 'tcp', src: parseIpv4('10.1.0.1'), dst: parseIpv4('10.0.0.1'), sport: 40000, dport: 22 },
      node: { localAddrs: [{ addr: parseIpv4('10.0.0.1'), prefixLen: 32 }] },
    });
    expect(steps(local, 'log').map((s) => s.text)).toEqual([expect.stringMatching(/^in: IN=eth0 OUT= .* TTL=64 /)]);
  });
});

describe('MASQUERADE without a node address', () => {
  it('drops, as nf_nat_masquerade_ipv4 does, and the text says why', () => {
    const e = explainPacket({
      rules: layers,
      probe: { proto: 'tcp', src: parseIpv4(k.outside), dst: parseIpv4(k.two.clusterIP), sport: 40000, dport: 80 },
      node: { localAddrs: [] },
    });
    expect([e.verdict, e.masquerade, e.destinations]).toEqual(['DROP', false, []]);
    expect(formatExplanation(e)).toMatch(/MASQUERADE found no address on the out device/);
  });
});
