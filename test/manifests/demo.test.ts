import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenario } from '../../scenarios/library.js';
import { runTopology } from '../../scenarios/run.js';
import { workDir } from './helpers.js';

const work = workDir('manifests-demo');

describe('manifests-demo library scenario', () => {
  it('places the Deployment and the client, and resolves both Services onto the echo pods', () => {
    const s = resolveScenario('manifests-demo');
    const pods = s.nodes.map((n) => n.pods.map((p) => p.name));
    // Document order: replicas 0, 1, 2 round-robin over n1, n2, n1; then the client, pinned to n1.
    expect(pods.map((p) => p.length)).toEqual([3, 1]);
    expect(pods[0]![2]).toBe('client');
    const echo = s.nodes.flatMap((n) => n.pods.filter((p) => p.labels?.['app'] === 'echo').map((p) => `${n.name}/${p.name}`));
    expect(echo).toHaveLength(3);
    // Round-robin after the pinned client: n1, n2, n1.
    expect(echo.map((e) => e.split('/')[0])).toEqual(['n1', 'n1', 'n2']);
    for (const e of echo) expect(e).toMatch(/^n[12]\/echo-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(s.services.map((x) => [x.name, x.type, x.clusterIP, x.endpoints.length])).toEqual([
      ['echo', 'ClusterIP', '10.96.0.2', 3],
      ['echo-nodeport', 'NodePort', '10.96.0.3', 3],
    ]);
    expect(s.services[1]!.ports[0]!.nodePort).toBe(30080);
  });

  it('answers every flow, and twice the same run gives the same bytes', () => {
    const run = (dir: string) => runTopology(expandScenario(resolveScenario('manifests-demo')), { outDir: join(work, dir) });
    const a = run('a');
    const flows = a.results.flows as { name: string; sent: number; received: number }[];
    expect(flows).toHaveLength(5);
    for (const f of flows) {
      expect(f.sent, f.name).toBeGreaterThan(0);
      expect(f.received, f.name).toBe(f.sent);
    }
    run('b');
    for (const file of ['results.json', 'captures/n1.client.eth0.pcapng', 'captures/n2.eth0.pcapng']) {
      expect(readFileSync(join(work, 'b', file)).equals(readFileSync(join(work, 'a', file))), file).toBe(true);
    }
  });
});
