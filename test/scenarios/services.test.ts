import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeProxyBaseRules, kubeProxyIptables } from '../../models/k8s/kube-proxy/index.js';
import { ScenarioError } from '../../scenarios/errors.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenario } from '../../scenarios/library.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology, type RunResult } from '../../scenarios/run.js';
import { kubeProxyInput } from '../../scenarios/services.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-services-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NODES = `
nodes:
  - name: n1
    pods:
      - { name: client }
      - { name: a, labels: { app: echo, tier: web } }
  - name: n2
    pods:
      - { name: b, labels: { app: echo } }
      - { name: c, labels: { app: other } }
`;

function scenario(rest: string) {
  return parseScenario(`name: t\nduration: 2s\n${NODES}${rest}`, 't.yaml');
}

function errorsOf(rest: string): string[] {
  try {
    scenario(rest);
  } catch (e) {
    if (e instanceof ScenarioError) return e.errors.map((x) => `${x.path}: ${x.message}`);
    throw e;
  }
  return [];
}

/** `conntrack -L` of a namespace after a run. */
function conntrack(r: RunResult, ns: string): string[] {
  return r.world.namespaces.get(ns)!.netfilter!.conntrack!.dumpLines();
}

describe('service resolution', () => {
  const svc = `
services:
  - { name: s1, selector: { app: echo }, ports: [{ protocol: UDP, port: 53, targetPort: 5353 }] }
  - { name: s2, clusterIP: 10.96.0.2, type: NodePort, selector: { tier: web }, ports: [{ name: http, port: 80, targetPort: 8080 }, { name: alt, port: 81, nodePort: 30000 }] }
  - { name: s3, type: NodePort, selector: { app: nothing }, ports: [{ port: 443 }] }
`;

  it('allocates ClusterIPs from .2 up around explicit ones and NodePorts from 30000 up, the same every time', () => {
    const a = scenario(svc);
    const b = scenario(svc);
    expect(a.services).toEqual(b.services);
    expect(a.serviceCIDR).toBe('10.96.0.0/12');
    expect(a.services.map((s) => s.clusterIP)).toEqual(['10.96.0.3', '10.96.0.2', '10.96.0.4']);
    expect(a.services[1]!.ports.map((p) => p.nodePort)).toEqual([30001, 30000]);
    expect(a.services[2]!.ports[0]!.nodePort).toBe(30002);
    expect(a.services[0]!.ports[0]!.nodePort).toBeUndefined();
    expect(a.services[1]!.ports[1]!.targetPort).toBe(81);
  });

  it('allocates in a custom serviceCIDR, skipping the API service address', () => {
    const s = scenario(`serviceCIDR: 10.100.0.0/24\nservices:\n  - { name: x, ports: [{ port: 1 }] }\n`);
    expect(s.services[0]!.clusterIP).toBe('10.100.0.2');
  });

  it('selects the pods whose labels hold every selector pair, in node/pod order', () => {
    const s = scenario(svc);
    expect(s.services[0]!.endpoints).toEqual([
      { node: 'n1', pod: 'a', ip: '10.244.1.3' },
      { node: 'n2', pod: 'b', ip: '10.244.2.2' },
    ]);
    expect(s.services[1]!.endpoints.map((e) => e.pod)).toEqual(['a']);
    expect(s.services[2]!.endpoints).toEqual([]);
  });

  it('gives every endpoint pod a server per port on the targetPort, unless servers lists one', () => {
    const s = scenario(`${svc}servers:\n  - { on: n1/a, port: 5353, responseSize: 10 }\n`);
    expect(s.servers).toEqual([
      { ns: 'n1/a', port: 5353, responseSize: 10 },
      { ns: 'n2/b', port: 5353, responseSize: 64 },
      { ns: 'n1/a', port: 8080, responseSize: 64, protocol: 'tcp', requestSize: 64 },
      { ns: 'n1/a', port: 81, responseSize: 64, protocol: 'tcp', requestSize: 64 },
    ]);
  });

  it("puts kube-proxy's rules for the node after the node's own, equal to kubeProxyIptables for the same input", () => {
    const s = scenario(svc);
    const withOwn = parseScenario(
      `name: t\nduration: 2s\n${NODES.replace('  - name: n2\n', '    iptables: |\n      *filter\n      -A INPUT -p icmp -j ACCEPT\n      COMMIT\n  - name: n2\n')}${svc}`,
      't.yaml',
    );
    const t = expandScenario(withOwn);
    const n1 = t.namespaces.find((n) => n.name === 'n1')!;
    expect(n1.iptables!.map((x) => x.text)).toEqual([
      withOwn.nodes[0]!.iptables,
      kubeProxyBaseRules(),
      kubeProxyIptables(kubeProxyInput(withOwn, withOwn.nodes[0]!)),
    ]);
    const n2 = expandScenario(s).namespaces.find((n) => n.name === 'n2')!;
    const input = kubeProxyInput(s, s.nodes[1]!);
    expect(input.node).toEqual({ nodeName: 'n2', nodeIPs: ['192.168.49.3'], clusterCIDR: '10.244.0.0/16' });
    expect(input.services[0]!.endpoints).toEqual([
      { ip: '10.244.1.3', nodeName: 'n1', ports: { '': 5353 } },
      { ip: '10.244.2.2', nodeName: 'n2', ports: { '': 5353 } },
    ]);
    expect(n2.iptables!.map((x) => x.text)).toEqual([kubeProxyBaseRules(), kubeProxyIptables(input)]);
    expect(n2.iptables![1]!.text).toContain('--dport 30001 -j KUBE-EXT-');
  });

  it("makes kube-proxy's sync text when the build reads it, the same each time, and a cloned spec carries it", () => {
    for (const mode of ['iptables', 'nftables'] as const) {
      const s = scenario(`kubeProxy: { mode: ${mode} }\n${svc}`);
      const n1 = expandScenario(s).namespaces.find((n) => n.name === 'n1')!;
      const sync = mode === 'iptables' ? n1.iptables![1]! : n1.nftables!;
      // Not kept in the spec: a getter (a sync of 10,000 Services is ~8.7 MB a node).
      expect(typeof Object.getOwnPropertyDescriptor(sync, 'text')!.get).toBe('function');
      expect(sync.text).toBe(sync.text);
      expect(sync.text.length).toBeGreaterThan(1000);
      // A partition's spec goes to its worker by structured cloning, which reads the getter.
      const copy = structuredClone(n1);
      expect((mode === 'iptables' ? copy.iptables![1]! : copy.nftables!).text).toBe(sync.text);
    }
  });

  it('leaves nodes without netfilter when there are no services', () => {
    const t = expandScenario(scenario(''));
    for (const ns of t.namespaces) expect(ns.iptables).toBeUndefined();
  });
});

describe('validation', () => {
  it('reports each problem at its path', () => {
    const errors = errorsOf(`
services:
  - { name: s, selector: { app: echo }, ports: [{ port: 80 }] }
  - { name: s, ports: [{ port: 80 }] }
  - { name: s, namespace: other, clusterIP: 10.97.0.5, ports: [{ port: 80 }] }
  - { name: d, clusterIP: 10.97.0.5, ports: [{ port: 80 }] }
  - { name: out, clusterIP: 10.200.0.5, ports: [{ port: 80 }] }
  - { name: api, clusterIP: 10.96.0.1, ports: [{ port: 80 }] }
  - { name: np, type: NodePort, ports: [{ name: a, port: 80, nodePort: 29999 }, { name: b, port: 81, nodePort: 30005 }] }
  - { name: np2, type: NodePort, ports: [{ port: 80, nodePort: 30005 }] }
  - { name: cip, ports: [{ port: 80, nodePort: 30006 }] }
  - { name: two, ports: [{ port: 80 }, { name: x, port: 80 }] }
`);
    expect(errors).toEqual([
      'services[1].name: "default/s" is already used by services[0]',
      'services[3].clusterIP: 10.97.0.5 is already used by services[2].clusterIP',
      'services[4].clusterIP: 10.200.0.5 is outside serviceCIDR 10.96.0.0/12',
      "services[5].clusterIP: 10.96.0.1 is the kubernetes API service's (the first address of serviceCIDR)",
      'services[6].ports[0].nodePort: 29999 is outside the NodePort range 30000-32767',
      'services[7].ports[0].nodePort: 30005 is already used by services[6].ports[1].nodePort',
      'services[8].ports[0].nodePort: applies to type NodePort only',
      'services[9].ports[0]: needs a name (a Service with several ports names each)',
      'services[9].ports[1].port: 80/TCP is already used by ports[0]',
    ]);
  });

  it('rejects a serviceCIDR overlapping pod or underlay ranges', () => {
    expect(errorsOf('serviceCIDR: 10.244.0.0/16\n')).toEqual([
      'serviceCIDR: 10.244.0.0/16 overlaps clusterCIDR (10.244.0.0/16), nodes[0].podCIDR (10.244.1.0/24), nodes[1].podCIDR (10.244.2.0/24)',
    ]);
    expect(errorsOf('serviceCIDR: 192.168.0.0/16\n')).toEqual(['serviceCIDR: 192.168.0.0/16 overlaps underlay.cidr (192.168.49.0/24)']);
  });

  it('takes IPVS options only in mode ipvs', () => {
    expect(errorsOf('kubeProxy: { mode: ipvs, ipvs: { scheduler: lc } }\n')).toEqual([]);
    expect(errorsOf('kubeProxy: { ipvs: { scheduler: lc } }\n')).toEqual(['kubeProxy.ipvs: applies to mode ipvs only (mode is iptables)']);
    expect(errorsOf('kubeProxy: { mode: iptables }\n')).toEqual([]);
  });

  it('takes every scheduler kube-proxy takes, and names them when given another', () => {
    for (const s of ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sed', 'nq', 'sh', 'dh']) expect(errorsOf(`kubeProxy: { mode: ipvs, ipvs: { scheduler: ${s} } }\n`), s).toEqual([]);
    expect(errorsOf('kubeProxy: { mode: ipvs, ipvs: { scheduler: mh } }\n')).toEqual(['kubeProxy.ipvs.scheduler: unknown value "mh" (expected rr, wrr, lc, wlc, lblc, lblcr, sed, nq, sh or dh)']);
  });
});

describe('traffic through Services', () => {
  it('cluster-services: the ClusterIP reaches both backends, the NodePort works from a node', () => {
    const s = resolveScenario('cluster-services');
    const r = runTopology(expandScenario(s), { outDir: join(work, 'library') });
    for (const f of r.results.flows as { name: string; sent: number; received: number; errors: object }[]) {
      expect(f.received, f.name).toBe(f.sent);
      expect(f.sent, f.name).toBeGreaterThan(0);
    }
    const udp = s.services.find((x) => x.name === 'echo-udp')!;
    const tcp = s.services.find((x) => x.name === 'echo-tcp')!;
    // n1 DNATs the client's connections: its conntrack shows which backend each got.
    const n1 = conntrack(r, 'n1');
    for (const ep of udp.endpoints) {
      const hits = n1.filter((l) => l.startsWith('udp') && l.includes(`dst=${udp.clusterIP} sport=`) && l.includes(`src=${ep.ip} dst=10.244.1.2 sport=8080`));
      expect(hits.length, `${ep.pod} via ${udp.clusterIP}`).toBeGreaterThan(0);
    }
    for (const ep of tcp.endpoints) {
      const hits = n1.filter((l) => l.startsWith('tcp') && l.includes(`dst=${tcp.clusterIP} sport=`) && l.includes(`src=${ep.ip} dst=10.244.1.2 sport=8080`));
      expect(hits.length, `${ep.pod} via ${tcp.clusterIP}`).toBeGreaterThan(0);
    }
    // n2 DNATs n1's NodePort connections and masquerades them (KUBE-EXT marks
    // them) to the address of the interface they leave by: cni0's for echo-b,
    // eth0's for echo-a back on n1.
    const nodePort = tcp.ports[0]!.nodePort!;
    const n2 = conntrack(r, 'n2').filter((l) => l.startsWith('tcp') && l.includes(`dst=192.168.49.3 sport=`) && l.includes(`dport=${nodePort} `));
    expect(n2.length).toBe(6);
    const replies = n2.map((l) => / src=(\S+) dst=(\S+) sport=8080 /.exec(l)?.slice(1, 3).join(' '));
    for (const reply of replies) expect(['10.244.1.3 192.168.49.3', '10.244.2.2 10.244.2.1']).toContain(reply);
    expect(new Set(replies).size, 'both backends behind the NodePort').toBe(2);
  });

  it('sessionAffinity ClientIP sends every connection of a client to one backend', () => {
    const flows = [1, 2, 3, 4, 5, 6]
      .map((k) => `  - udp: { name: c${k}, from: n1/client, to: 10.96.0.30, port: 80, sourcePort: ${40000 + k}, count: 1, start: ${k * 100}ms }`)
      .join('\n');
    const s = scenario(`
services:
  - { name: sticky, clusterIP: 10.96.0.30, sessionAffinity: ClientIP, selector: { app: echo }, ports: [{ protocol: UDP, port: 80, targetPort: 8080 }] }
traffic:
${flows}
capture: none
`);
    const r = runTopology(expandScenario(s), { outDir: join(work, 'sticky') });
    for (const f of r.results.flows as { name: string; sent: number; received: number }[]) expect(f.received, f.name).toBe(f.sent);
    const backends = conntrack(r, 'n1')
      .filter((l) => l.startsWith('udp') && l.includes('dst=10.96.0.30 '))
      .map((l) => / src=(10\.244\.\d+\.\d+) dst=10\.244\.1\.2 sport=8080 /.exec(l)?.[1]);
    expect(backends).toHaveLength(6);
    expect(new Set(backends).size).toBe(1);
  });

  it('a Service without endpoints rejects: ICMP port unreachable for UDP, a RST (ECONNREFUSED) for TCP', () => {
    const s = scenario(`
services:
  - { name: none-udp, clusterIP: 10.96.0.20, selector: { app: nobody }, ports: [{ protocol: UDP, port: 53 }] }
  - { name: none-tcp, clusterIP: 10.96.0.21, selector: { app: nobody }, ports: [{ protocol: TCP, port: 80 }] }
traffic:
  - udp: { name: u, from: n1/client, to: 10.96.0.20, port: 53, count: 2, rate: 10 }
  - tcp: { name: t, from: n1/client, to: 10.96.0.21, port: 80, mode: crr, count: 2, rate: 10 }
capture: none
`);
    const r = runTopology(expandScenario(s), { outDir: join(work, 'reject') });
    const flows = r.results.flows as { name: string; sent: number; received: number; errors: Record<string, number> }[];
    const u = flows.find((f) => f.name === 'u')!;
    const t = flows.find((f) => f.name === 't')!;
    expect(u.received).toBe(0);
    expect(t.received).toBe(0);
    // REJECT answers, then drops the packet it rejected (NF_DROP): 2 datagrams + 2 SYNs.
    expect(r.results.drops).toEqual({ n1: { NETFILTER_DROP: 4 } });
    expect(Object.keys(u.errors)).toEqual([expect.stringMatching(/unreachable/i)]);
    expect(Object.keys(t.errors)).toEqual([expect.stringMatching(/ECONNREFUSED/)]);
  });
});
