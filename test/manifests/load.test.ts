import { describe, expect, it } from 'vitest';
import { ManifestIssues, parseManifests } from '../../scenarios/manifests/load.js';
import { errorsOf, load, twoNodes, workDir } from './helpers.js';

const dir = workDir('manifests-load');

const POD = (name: string, extra = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
    - name: main
      image: nginx
${extra}`;

describe('manifest files', () => {
  it('reads every document of every file in order, skipping empty ones', () => {
    const issues = new ManifestIssues();
    const objs = parseManifests(`---\n${POD('a')}---\n${POD('b')}---\n---\n# only a comment\n`, 'x.yaml', issues);
    expect(issues.list).toEqual([]);
    expect(objs.map((o) => `${o.kind}/${o.name}`)).toEqual(['Pod/a', 'Pod/b']);
    const s = load(dir, twoNodes(['one.yaml', 'sub/two.yaml']), {
      'one.yaml': `${POD('a')}---\n${POD('b')}`,
      'sub/two.yaml': POD('c'),
    });
    expect(s.nodes.map((n) => n.pods.map((p) => p.name))).toEqual([['a', 'c'], ['b']]);
    expect(s.nodes[0]!.pods[0]!.containers).toEqual(['main']);
  });

  it('names the file, line and column of each problem', () => {
    const errs = errorsOf(dir, twoNodes(['bad.yaml', 'missing.yaml']), {
      'bad.yaml': `${POD('ok')}---
apiVersion: v1
kind: ConfigMap
metadata: { name: cm }
---
apiVersion: apps/v1
kind: Pod
metadata: { name: p }
---
${POD('Upper')}---
${POD('ns', '').replace('  name: ns', '  name: ns\n  namespace: kube-system')}---
${POD('hn', '  hostNetwork: true\n')}`,
    });
    expect(errs).toEqual([
      'bad.yaml:11:7: kind: "ConfigMap" is not supported (kinds are Pod, Service, Deployment, EndpointSlice)',
      'bad.yaml:14:13: apiVersion: "apps/v1": a Pod is read as v1',
      'bad.yaml:21:9: metadata.name: "Upper": must be a DNS label (lower-case letters, digits and "-", at most 63 characters)',
      'bad.yaml:31:14: metadata.namespace: "kube-system": only namespace "default" is modelled (scenario pods have no namespace)',
      'missing.yaml:1:1: scenario: cannot read the manifest: ENOENT',
      'bad.yaml:45:16: spec.hostNetwork: is not supported yet (a hostNetwork pod would share the node namespace; podwire gives every pod its own)',
    ]);
  });

  it('reports YAML syntax errors at their line, and duplicates with the first definition', () => {
    expect(errorsOf(dir, twoNodes(['syntax.yaml']), { 'syntax.yaml': `${POD('a')}---\nkind: [Pod\n` })[0]).toMatch(/^syntax\.yaml:1[01]:\d+: scenario: /);
    expect(errorsOf(dir, twoNodes(['dup.yaml']), { 'dup.yaml': `${POD('a')}---\n${POD('a')}` })).toEqual([
      'dup.yaml:13:9: metadata.name: Pod "a" is already defined at dup.yaml:4',
    ]);
  });

  it('refuses manifests without explicit nodes or with the docker runtime', () => {
    expect(errorsOf(dir, 'name: t\nscale: { nodes: 2 }\nmanifests: [a.yaml]\n', { 'a.yaml': POD('a') })).toEqual([
      's.yaml:3:12: manifests: needs nodes: listed explicitly (pods are placed onto them)',
    ]);
    expect(errorsOf(dir, `runtime: docker\n${twoNodes(['a.yaml'])}`, { 'a.yaml': POD('a') })[0]).toContain('manifests: need runtime cni (Kubernetes pods), not docker');
  });
});
