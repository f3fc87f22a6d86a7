import { describe, expect, it } from 'vitest';
import { errorsOf, load, twoNodes, workDir } from './helpers.js';

const dir = workDir('manifests-deploy');

function deployment(name: string, replicas: string, opts: { selector?: string; labels?: string; image?: string } = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
${replicas === '' ? '' : `  replicas: ${replicas}\n`}  selector:
    matchLabels: ${opts.selector ?? '{ app: web }'}
  template:
    metadata:
      labels: ${opts.labels ?? '{ app: web, tier: front }'}
    spec:
      containers:
        - { name: app, image: ${opts.image ?? 'nginx:1.27'} }
        - { name: sidecar, image: envoy }
`;
}

const podsOf = (text: string, file = 'd.yaml') => load(dir, twoNodes([file]), { [file]: text }).nodes.flatMap((n) => n.pods);

describe('Deployments', () => {
  it('expands spec.replicas pods named <name>-<hash>-<suffix>, with the template labels plus pod-template-hash', () => {
    const pods = podsOf(deployment('web', '4'));
    expect(pods).toHaveLength(4);
    const hash = pods[0]!.name.split('-')[1]!;
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
    for (const p of pods) {
      expect(p.name).toMatch(new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(p.labels).toEqual({ app: 'web', tier: 'front', 'pod-template-hash': hash });
      expect(p.containers).toEqual(['app', 'sidecar']);
    }
    expect(new Set(pods.map((p) => p.name)).size).toBe(4);
  });

  it('names pods deterministically: the same template gives the same names, another template another hash', () => {
    const a = podsOf(deployment('web', '3')).map((p) => p.name);
    expect(podsOf(deployment('web', '3')).map((p) => p.name)).toEqual(a);
    // More replicas keep the first names (suffixes depend on the index only).
    const five = podsOf(deployment('web', '5')).map((p) => p.name);
    expect(five).toHaveLength(5);
    expect(five).toEqual(expect.arrayContaining(a));
    const b = podsOf(deployment('web', '3', { image: 'nginx:1.28' })).map((p) => p.name);
    expect(b[0]!.split('-')[1]).not.toBe(a[0]!.split('-')[1]);
  });

  it('defaults replicas to 1 and accepts 0', () => {
    expect(podsOf(deployment('web', ''))).toHaveLength(1);
    expect(podsOf(deployment('web', '0'))).toHaveLength(0);
  });

  it('rejects a selector that does not match the template labels, a bad replica count, and matchExpressions', () => {
    expect(errorsOf(dir, twoNodes(['bad.yaml']), { 'bad.yaml': deployment('web', '2', { selector: '{ app: api }' }) })).toEqual([
      'bad.yaml:11:15: spec.template.metadata.labels: selector does not match template labels (app=api missing)',
    ]);
    expect(errorsOf(dir, twoNodes(['bad.yaml']), { 'bad.yaml': deployment('web', '-1') })).toEqual([
      'bad.yaml:6:13: spec.replicas: must be a non-negative integer (0-1000000), not -1',
    ]);
    expect(errorsOf(dir, twoNodes(['bad.yaml']), { 'bad.yaml': deployment('web', 'two') })).toEqual([
      'bad.yaml:6:13: spec.replicas: must be a non-negative integer (0-1000000), not "two"',
    ]);
    const expr = deployment('web', '1').replace('    matchLabels: { app: web }', '    matchLabels: { app: web }\n    matchExpressions: [{ key: tier, operator: Exists }]');
    expect(errorsOf(dir, twoNodes(['bad.yaml']), { 'bad.yaml': expr })).toEqual([
      'bad.yaml:9:23: spec.selector.matchExpressions: is not supported yet (give spec.selector.matchLabels)',
    ]);
    expect(errorsOf(dir, twoNodes(['bad.yaml']), { 'bad.yaml': deployment('web', '1', { selector: '{}' }) })).toEqual([
      'bad.yaml:8:5: spec.selector: empty selector is invalid for deployment (give matchLabels)',
    ]);
  });
});
