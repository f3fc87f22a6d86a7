import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubeProxyIptables } from '../../models/k8s/kube-proxy/index.js';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import type { Scenario } from '../../scenarios/scenario.js';
import { kubeProxyInput } from '../../scenarios/services.js';
import { errorsOf, load, workDir } from './helpers.js';

const dir = workDir('manifests-svc');

const PODS = `apiVersion: v1
kind: Pod
metadata: { name: client }
spec: { nodeName: n1, containers: [{ name: c }] }
---
apiVersion: v1
kind: Pod
metadata: { name: client-2 }
spec: { nodeName: n2, containers: [{ name: c }] }
---
apiVersion: v1
kind: Pod
metadata: { name: echo-1, labels: { app: echo } }
spec: { nodeName: n1, containers: [{ name: c }] }
---
apiVersion: v1
kind: Pod
metadata: { name: echo-2, labels: { app: echo } }
spec: { nodeName: n2, containers: [{ name: c }] }
---
`;

const service = (name: string, spec: string, status = '') => `apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: echo }
${spec}${status}---
`;

const SCENARIO = 'name: t\nduration: 1s\nnodes: [{ name: n1 }, { name: n2 }]\nmanifests: [m.yaml]\n';

function rules(s: Scenario, node: string): string {
  return kubeProxyIptables(kubeProxyInput(s, s.nodes.find((n) => n.name === node)!));
}

/** DNAT destinations of the chain `chain` jumps to, following KUBE-SEP chains. */
function destinations(text: string, chain: string): string[] {
  const seps = [...text.matchAll(new RegExp(`^-A ${chain} .*-j (KUBE-SEP-\\w+)$`, 'gm'))].map((m) => m[1]!);
  return seps.map((sep) => text.match(new RegExp(`^-A ${sep} .*--to-destination (\\S+)$`, 'm'))![1]!);
}

describe('Services from manifests', () => {
  it('maps a LoadBalancer Service: ingress IPs, NodePorts, and kube-proxy KUBE-FW / KUBE-EXT chains', () => {
    const s = load(dir, SCENARIO, {
      'm.yaml':
        PODS +
        service(
          'lb',
          '  type: LoadBalancer\n  ports: [{ protocol: UDP, port: 80, targetPort: 8080 }]\n  loadBalancerSourceRanges: [10.244.0.0/16]\n',
          'status:\n  loadBalancer:\n    ingress: [{ ip: 203.0.113.10 }]\n',
        ) +
        service('lb-open', '  type: LoadBalancer\n  loadBalancerIP: 203.0.113.11\n  ports: [{ protocol: TCP, port: 80, targetPort: 8080 }]\n'),
    });
    const [lb, open] = s.services;
    expect(lb).toMatchObject({ type: 'LoadBalancer', loadBalancerIPs: ['203.0.113.10'], loadBalancerSourceRanges: ['10.244.0.0/16'] });
    expect(lb!.ports[0]!.nodePort).toBe(30000);
    expect(open).toMatchObject({ type: 'LoadBalancer', loadBalancerIPs: ['203.0.113.11'], loadBalancerSourceRanges: [] });
    const r = rules(s, 'n1');
    const fw = r.match(/-d 203\.0\.113\.10 --dport 80 -j (KUBE-FW-\w+)/)![1]!;
    const ext = fw.replace('KUBE-FW-', 'KUBE-EXT-');
    expect(r).toContain(`-A ${fw} -m comment --comment "default/lb loadbalancer IP" -s 10.244.0.0/16 -j ${ext}`);
    expect(r).toMatch(/KUBE-PROXY-FIREWALL .*-d 203\.0\.113\.10 --dport 80 -j DROP/);
    // Without source ranges the load balancer IP goes straight to KUBE-EXT.
    expect(r).toMatch(/"default\/lb-open loadbalancer IP" -m tcp -p tcp -d 203\.0\.113\.11 --dport 80 -j KUBE-EXT-\w+/);
    expect(r).toMatch(/-A KUBE-NODEPORTS -m comment --comment default\/lb-open -m tcp -p tcp --dport 30001 -j KUBE-EXT-/);
  });

  it('lists only local endpoints for internalTrafficPolicy Local', () => {
    const s = load(dir, SCENARIO, {
      'm.yaml': PODS + service('local', '  internalTrafficPolicy: Local\n  ports: [{ protocol: UDP, port: 81, targetPort: 8080 }]\n') + service('all', '  ports: [{ protocol: UDP, port: 82, targetPort: 8080 }]\n'),
    });
    expect(s.services.map((x) => x.internalTrafficPolicy)).toEqual(['Local', 'Cluster']);
    const svl = (r: string) => r.match(/"default\/local cluster IP" .*-j (KUBE-SVL-\w+)/)![1]!;
    const svc = (r: string) => r.match(/"default\/all cluster IP" .*-j (KUBE-SVC-\w+)/)![1]!;
    const n1 = rules(s, 'n1');
    const n2 = rules(s, 'n2');
    expect(destinations(n1, svl(n1))).toEqual(['10.244.1.3:8080']);
    expect(destinations(n2, svl(n2))).toEqual(['10.244.2.3:8080']);
    expect(destinations(n1, svc(n1))).toEqual(['10.244.1.3:8080', '10.244.2.3:8080']);
  });

  it('carries the traffic: a client reaches the load balancer IP and a Local Service on its own node', () => {
    const text = PODS + service('lb', '  type: LoadBalancer\n  loadBalancerIP: 203.0.113.10\n  loadBalancerSourceRanges: [10.244.0.0/16]\n  ports: [{ protocol: UDP, port: 80, targetPort: 8080 }]\n') + service('local', '  internalTrafficPolicy: Local\n  ports: [{ protocol: UDP, port: 81, targetPort: 8080 }]\n');
    const traffic = `traffic:
  - udp: { name: lb, from: n1/client, to: 203.0.113.10, port: 80, count: 4, rate: 10 }
  - udp: { name: local, from: n2/client-2, to: 10.96.0.3, port: 81, count: 4, rate: 10 }
capture: [n2/echo-2/eth0, n1/echo-1/eth0]
`;
    const s = load(dir, SCENARIO + traffic, { 'm.yaml': text });
    const r = runTopology(expandScenario(s), { outDir: join(dir, 'run') });
    const flows = r.results.flows as { name: string; sent: number; received: number }[];
    for (const f of flows) expect(f.received, f.name).toBe(4);
  });

  it('adds LoadBalancer and internalTrafficPolicy to the services: key as well', () => {
    const s = parseScenario(
      `name: t
nodes:
  - name: n1
    pods: [{ name: a, labels: { app: echo } }]
services:
  - name: lb
    type: LoadBalancer
    selector: { app: echo }
    internalTrafficPolicy: Local
    loadBalancerIPs: [203.0.113.20]
    loadBalancerSourceRanges: [192.168.0.0/16]
    ports: [{ port: 80, nodePort: 31000 }]
`,
      't.yaml',
    );
    expect(s.services[0]).toMatchObject({ type: 'LoadBalancer', internalTrafficPolicy: 'Local', loadBalancerIPs: ['203.0.113.20'] });
    expect(rules(s, 'n1')).toMatch(/-d 203\.0\.113\.20 --dport 80 -j KUBE-FW-/);
    expect(() => parseScenario('name: t\nnodes: [{ name: n1 }]\nservices:\n  - { name: x, loadBalancerIPs: [1.2.3.4], ports: [{ port: 80 }] }\n', 't.yaml')).toThrow(
      't.yaml:4:33: services[0].loadBalancerIPs: applies to type LoadBalancer only',
    );
  });

  it('rejects fields that change networking and podwire does not model, at their line', () => {
    const errs = errorsOf(dir, SCENARIO, {
      'm.yaml':
        PODS +
        service('a', '  externalIPs: [198.51.100.1]\n  ports: [{ port: 80 }]\n') +
        service('b', '  ipFamilies: [IPv6]\n  ports: [{ port: 80 }]\n') +
        service('c', '  clusterIP: None\n  ports: [{ port: 80 }]\n') +
        service('d', '  ports: [{ port: 80, targetPort: http }]\n') +
        service('e', '  ports: [{ port: 80, protocol: SCTP }]\n') +
        service('f', '  type: ExternalName\n  ports: [{ port: 80 }]\n') +
        service('g', '  ports: [{ port: 80 }]\n', 'status:\n  loadBalancer:\n    ingress: [{ ip: 203.0.113.1 }]\n'),
    });
    expect(errs).toEqual([
      'm.yaml:26:16: spec.externalIPs: is not supported yet (externalIPs are not in the scenario model)',
      'm.yaml:34:16: spec.ipFamilies[0]: "IPv6" is not supported (podwire is IPv4 only)',
      'm.yaml:42:14: spec.clusterIP: is not supported yet (a headless Service has no virtual IP for kube-proxy to program)',
      'm.yaml:50:35: spec.ports[0].targetPort: "http": named target ports are not supported yet (give the number)',
      'm.yaml:57:33: spec.ports[0].protocol: "SCTP" is not supported (use TCP or UDP)',
      'm.yaml:64:9: spec.type: "ExternalName" is not supported (use ClusterIP or NodePort or LoadBalancer)',
      'm.yaml:75:21: status.loadBalancer.ingress[0].ip: 203.0.113.1: a load balancer address needs spec.type LoadBalancer (it is ClusterIP)',
    ]);
  });

  it('places what the scenario checks find wrong with a manifest Service in the manifest', () => {
    const errs = errorsOf(dir, SCENARIO.replace('duration: 1s', 'duration: 0s'), {
      'm.yaml': PODS + service('a', '  clusterIP: 10.200.0.1\n  ports: [{ port: 80 }]\n') + service('b', '  type: NodePort\n  ports: [{ port: 80, nodePort: 20000 }]\n'),
    });
    expect(errs).toEqual([
      's.yaml:2:11: duration: must be positive',
      'm.yaml:26:14: spec.clusterIP: 10.200.0.1 is outside serviceCIDR 10.96.0.0/12 (as services[0].clusterIP)',
      'm.yaml:35:33: spec.ports[0].nodePort: 20000 is outside the NodePort range 30000-32767 (as services[1].ports[0].nodePort)',
    ]);
  });

  it('accepts and ignores fields that do not change the network (images, resources, probes, annotations)', () => {
    const s = load(dir, SCENARIO, {
      'm.yaml': `apiVersion: v1
kind: Pod
metadata: { name: p, annotations: { a: b }, labels: { app: echo } }
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 5
  containers:
    - name: web
      image: nginx
      ports: [{ containerPort: 80, name: http }]
      resources: { limits: { memory: 64Mi } }
      livenessProbe: { httpGet: { path: /, port: 80 } }
      env: [{ name: A, value: b }]
---
${service('s', '  ports: [{ port: 80, appProtocol: http }]\n  publishNotReadyAddresses: false\n')}`,
    });
    expect(s.nodes[0]!.pods.map((p) => p.containers)).toEqual([['web']]);
    expect(s.services[0]!.endpoints.map((e) => e.pod)).toEqual(['p']);
  });
});
