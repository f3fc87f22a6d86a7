import { describe, expect, it } from 'vitest';
import { MAX_PODS } from '../../scenarios/manifests/index.js';
import { errorsOf, load, workDir } from './helpers.js';

const dir = workDir('manifests-sched');

const pod = (name: string, nodeName?: string) => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, labels: { app: x } }
spec:
${nodeName ? `  nodeName: ${nodeName}\n` : ''}  containers: [{ name: c }]
---
`;

const deployment = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: many }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: many } }
  template:
    metadata: { labels: { app: many } }
    spec: { containers: [{ name: c }] }
`;

function scenario(nodes: string, manifests = 'm.yaml'): string {
  return `name: t\nduration: 1s\nnodes:\n${nodes}manifests: [${manifests}]\n`;
}

describe('placing pods on nodes', () => {
  it('puts pods with spec.nodeName there and the others round-robin in document order, after the scenario\'s own pods', () => {
    const s = load(dir, scenario('  - name: n1\n    pods: [{ name: own }]\n  - name: n2\n  - name: n3\n'), {
      'm.yaml': pod('a') + pod('b') + pod('pinned', 'n3') + pod('c') + pod('d'),
    });
    expect(s.nodes.map((n) => n.pods.map((p) => p.name))).toEqual([['own', 'a', 'd'], ['b'], ['pinned', 'c']]);
    expect(s.nodes[0]!.pods[1]!.labels).toEqual({ app: 'x' });
    // Addresses come from each node's podCIDR like any pod's.
    expect(s.nodes[0]!.pods.map((p) => p.ip)).toEqual(['10.244.1.2', '10.244.1.3', '10.244.1.4']);
  });

  it(`skips nodes running ${MAX_PODS} pods (kubelet's max-pods)`, () => {
    const own = Array.from({ length: MAX_PODS - 1 }, (_, i) => `{ name: p${i} }`).join(', ');
    const s = load(dir, scenario(`  - name: n1\n    pods: [${own}]\n  - name: n2\n`), { 'm.yaml': deployment(5) });
    expect(s.nodes.map((n) => n.pods.length)).toEqual([MAX_PODS, 4]);
  });

  it('reports a pod that fits nowhere, an unknown nodeName and a full pinned node', () => {
    const errs = errorsOf(dir, scenario('  - name: n1\n  - name: n2\n'), {
      'm.yaml': pod('lost', 'n9') + deployment(2 * MAX_PODS + 1),
    });
    expect(errs).toEqual([
      'm.yaml:5:13: spec.nodeName: "n9" is not a node of the scenario (nodes are n1, n2)',
      expect.stringMatching(/^m\.yaml:10:19: metadata\.name: no node has room for pod many-\w{10}-\w{5} \(every node runs 110 pods, kubelet's max-pods\)$/),
    ]);
    const full = Array.from({ length: MAX_PODS }, (_, i) => `{ name: p${i} }`).join(', ');
    expect(errorsOf(dir, scenario(`  - name: n1\n    pods: [${full}]\n`), { 'm.yaml': pod('late', 'n1') })).toEqual([
      'm.yaml:5:13: spec.nodeName: node "n1" already runs 110 pods (kubelet\'s max-pods), no room for late',
    ]);
  });

  it('refuses a pod name the scenario already uses', () => {
    expect(errorsOf(dir, scenario('  - name: n1\n    pods: [{ name: a }]\n'), { 'm.yaml': pod('a') })).toEqual([
      'm.yaml:3:19: metadata.name: pod name "a" is already used by nodes[0].pods[0]',
    ]);
  });
});
