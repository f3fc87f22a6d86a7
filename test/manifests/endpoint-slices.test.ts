import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubeProxyIptables } from '../../models/k8s/kube-proxy/index.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { kubeProxyInput } from '../../scenarios/services.js';
import { errorsOf, load, workDir } from './helpers.js';

const dir = workDir('manifests-eps');

const PODS = `apiVersion: v1
kind: Pod
metadata: { name: client }
spec: { nodeName: n1, containers: [{ name: c }] }
---
apiVersion: v1
kind: Pod
metadata: { name: db }
spec: { nodeName: n2, containers: [{ name: c }] }
---
apiVersion: v1
kind: Service
metadata: { name: db }
spec:
  ports: [{ name: sql, protocol: TCP, port: 5432, targetPort: 9999 }]
---
`;

const slice = (name: string, addresses: string[], opts: { port?: number; service?: string; extra?: string } = {}) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  labels: { kubernetes.io/service-name: ${opts.service ?? 'db'} }
addressType: IPv4
ports: [{ name: sql, protocol: TCP, port: ${opts.port ?? 6000} }]
endpoints:
${addresses.map((a) => `  - addresses: [${a}]\n${opts.extra ?? ''}`).join('')}---
`;

const SCENARIO = 'name: t\nduration: 1s\nnodes:\n  - name: n1\n  - name: n2\n    pods: [{ name: own, ip: 10.244.2.100 }]\nmanifests: [m.yaml]\n';

describe('EndpointSlices', () => {
  it('give a selector-less Service its endpoints (pods and nodes), the slice port and backend servers', () => {
    const s = load(dir, SCENARIO, { 'm.yaml': PODS + slice('db-1', ['10.244.2.2', '192.168.49.2']) + slice('db-2', ['10.244.2.100']) });
    const db = s.services[0]!;
    expect(db.endpoints).toEqual([
      { node: 'n2', pod: 'db', ip: '10.244.2.2' },
      { node: 'n1', pod: '', ip: '192.168.49.2' },
      { node: 'n2', pod: 'own', ip: '10.244.2.100' },
    ]);
    expect(db.ports[0]!.targetPort).toBe(6000);
    expect(s.servers.filter((x) => x.port === 6000).map((x) => x.ns)).toEqual(['n2/db', 'n1', 'n2/own']);
    const r = kubeProxyIptables(kubeProxyInput(s, s.nodes[0]!));
    // kube-proxy orders endpoints by their address text.
    expect([...r.matchAll(/--to-destination (\S+)/g)].map((m) => m[1])).toEqual(['10.244.2.100:6000', '10.244.2.2:6000', '192.168.49.2:6000']);
  });

  it('carries traffic to the slice endpoints', () => {
    const traffic = 'traffic:\n  - tcp: { name: sql, from: n1/client, to: 10.96.0.2, port: 5432, mode: crr, count: 6, rate: 20, requestSize: 64, responseSize: 64 }\ncapture: none\n';
    const s = load(dir, SCENARIO + traffic, { 'm.yaml': PODS + slice('db-1', ['10.244.2.2']) });
    const run = runTopology(expandScenario(s), { outDir: join(dir, 'run') });
    const [f] = run.results.flows as { sent: number; received: number }[];
    expect(f).toMatchObject({ sent: 6, received: 6 });
  });

  it('rejects addresses outside the scenario, slices of unknown or selector Services, and disagreeing ports', () => {
    const withSelector = `apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ name: sql, port: 80 }] }
---
`;
    const errs = errorsOf(dir, SCENARIO, {
      'm.yaml':
        PODS +
        withSelector +
        slice('a', ['10.244.9.9']) +
        slice('b', ['10.244.2.2'], { service: 'nope' }) +
        slice('c', ['10.244.2.2'], { service: 'web' }) +
        slice('d', ['10.244.2.2'], { port: 7000 }) +
        slice('e', ['10.244.2.2'], { extra: '    conditions: { ready: false }\n' }),
    });
    expect(errs).toEqual([
      'm.yaml:30:17: endpoints[0].addresses[0]: "10.244.9.9" is no pod\'s or node\'s address in the scenario',
      'm.yaml:36:41: metadata.labels.kubernetes.io/service-name: no Service "nope" in the scenario',
      'm.yaml:46:41: metadata.labels.kubernetes.io/service-name: Service "web" has a selector: its endpoints are the pods it selects (give slices only to Services without one)',
      'm.yaml:58:43: ports[0].port: 7000 differs from 6000 in another slice of "db" (per-slice ports are not supported yet)',
      'm.yaml:71:26: endpoints[0].conditions.ready: is not supported yet (every endpoint is ready and serving)',
    ]);
  });
});
