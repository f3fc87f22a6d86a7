/**
 * containers[].ports[].hostPort in Pod and Deployment manifests: the kubelet
 * hands them to the runtime as portMappings, the CNI portmap plugin DNATs them
 * (scenarios/cni/portmap.ts), and the scheduler's NodePorts filter keeps two
 * pods holding the same host port off one node.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { errorsOf, load, workDir } from './helpers.js';

const dir = workDir('manifests-hostports');
mkdirSync(join(dir, 'cni'), { recursive: true });
copyFileSync(new URL('../../scenarios/library/cni/10-bridge.conflist', import.meta.url), join(dir, 'cni', '10-bridge.conflist'));

const web = (replicas: number, ports = '[{ containerPort: 80, hostPort: 8080, protocol: UDP }]') => `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: server
          ports: ${ports}
`;

const scenario = (nodes: string, extra = '') => `name: t
duration: 1s
cni: { conflist: cni/10-bridge.conflist }
nodes:
${nodes}manifests: [m.yaml]
${extra}`;

describe('hostPorts from manifests', () => {
  it("become the pod's hostPorts, and replicas holding the same host port go to different nodes", () => {
    const s = load(dir, scenario('  - name: n1\n  - name: n2\n  - name: n3\n'), { 'm.yaml': web(3) });
    expect(s.nodes.map((n) => n.pods.length)).toEqual([1, 1, 1]);
    expect(s.nodes[0]!.pods[0]!.hostPorts).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
    // A node whose own pod already holds udp 8080 is skipped; tcp 8080 is another port.
    const own = '  - name: n1\n    pods: [{ name: own, hostPorts: [{ hostPort: 8080, containerPort: 1, protocol: udp }] }]\n  - name: n2\n';
    expect(load(dir, scenario(own), { 'm.yaml': web(1) }).nodes.map((n) => n.pods.map((p) => p.name.split('-')[0]))).toEqual([['own'], ['web']]);
    const tcpOwn = own.replace('protocol: udp', 'protocol: tcp');
    expect(load(dir, scenario(tcpOwn), { 'm.yaml': web(1) }).nodes.map((n) => n.pods.length)).toEqual([2, 0]);
  });

  it('reports a replica that fits on no node, and bad port fields, at their place in the manifest', () => {
    expect(errorsOf(dir, scenario('  - name: n1\n  - name: n2\n'), { 'm.yaml': web(3) })).toEqual([
      expect.stringMatching(/^m\.yaml:3:19: metadata\.name: no node has room for pod web-\w{10}-\w{5} \(every node runs 110 pods \(kubelet's max-pods\) or already has one of its host ports in use\)$/),
    ]);
    const bad = '[{ hostPort: 8080 }, { containerPort: 1, hostPort: 70000 }, { containerPort: 2, hostPort: 9, protocol: SCTP }, { containerPort: 3, hostPort: 10, hostIP: 127.0.0.1 }]';
    expect(errorsOf(dir, scenario('  - name: n1\n'), { 'm.yaml': web(1, bad) })).toEqual([
      'm.yaml:12:19: spec.template.spec.containers[0].ports[0].containerPort: is required',
      'm.yaml:12:69: spec.template.spec.containers[0].ports[1].hostPort: must be a port number (1-65535), not 70000',
      'm.yaml:12:121: spec.template.spec.containers[0].ports[2].protocol: "SCTP": host ports are modelled for TCP and UDP',
      "m.yaml:12:171: spec.template.spec.containers[0].ports[3].hostIP: is not supported yet (a host port on one node address; podwire's hostPorts map every address)",
    ]);
  });

  it('are DNATed to the pod by the portmap plugin: a client on another node reaches the pod through its node', () => {
    // The Service only puts a UDP server on the pod's port 80 (servers answer what Services select).
    const svc = `---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 80, protocol: UDP }]
`;
    const extra = `traffic:
  - udp: { name: to hostPort, from: n2, to: 192.168.49.2, port: 8080, count: 5, rate: 10, start: 100ms }
capture: none
`;
    const text = scenario('  - name: n1\n    address: 192.168.49.2\n  - name: n2\n    address: 192.168.49.3\n', extra);
    const s = load(dir, text, { 'm.yaml': web(1) + svc });
    const r = runTopology(expandScenario(s), { outDir: join(dir, 'out') });
    const flow = (r.results.flows as { name: string; sent: number; received: number }[])[0]!;
    expect([flow.sent, flow.received]).toEqual([5, 5]);
    const nat = r.world.namespaces.get('n1')!.netfilter!.iptables.save();
    expect(nat).toMatch(/-A CNI-DN-\w+ -p udp -m udp --dport 8080 -j DNAT --to-destination 10\.244\.\d+\.2:80/);
  });
});
