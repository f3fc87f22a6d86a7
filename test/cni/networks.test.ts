/**
 * Additional networks (Multus-style): a pod listing `networks: [storage]` gets
 * net1 from the storage network's CNI configuration, beside its eth0.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { readCapture } from '../../models/capture/capture-reader.js';

const work = mkdtempSync(join(tmpdir(), 'pw-networks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const scenario = (pods: string, extra = '') => `
name: multi
duration: 1s
underlay: { cidr: 192.168.49.0/24, gateway: 192.168.49.1 }
networks:
  - name: storage
    cni:
      config:
        cniVersion: 1.0.0
        name: storage
        plugins:
          - type: bridge
            bridge: br-storage
            ipam: { type: host-local, ranges: [[{ subnet: 10.50.0.0/24 }]] }
${extra}
nodes:
  - name: n1
    pods:
${pods}
traffic:
  - ping: { name: a to b on storage, from: n1/a, to: 10.50.0.3, count: 3, interval: 100ms }
capture: all
`;
const PODS = `      - { name: a, networks: [storage] }
      - { name: b, networks: [storage] }
      - { name: c }`;

describe('additional networks', () => {
  test('each listed pod gets net1 with host-local addresses on its own bridge; others keep eth0 only', () => {
    const spec = expandScenario(parseScenario(scenario(PODS), 'm.yaml'));
    const ns = (n: string) => spec.namespaces.find((x) => x.name === n)!;
    expect(ns('n1/a').interfaces.map((i) => [i.name, i.addresses])).toEqual([
      ['eth0', ['10.244.1.2/24']],
      ['net1', ['10.50.0.2/24']],
    ]);
    expect(ns('n1/b').interfaces.map((i) => i.addresses[0])).toEqual(['10.244.1.3/24', '10.50.0.3/24']);
    expect(ns('n1/c').interfaces.map((i) => i.name)).toEqual(['eth0']);
    expect(ns('n1').bridges.map((b) => b.name)).toEqual(['cni0', 'br-storage']);
    // The primary's default route stays the only default.
    expect(ns('n1/a').routes.filter((r) => r.dst === '0.0.0.0/0')).toHaveLength(1);
  });

  test('traffic to a storage address goes over net1 and the bridge of that network, and results are written per network', () => {
    const r = runTopology(expandScenario(parseScenario(scenario(PODS), 'm.yaml')), { outDir: join(work, 'run') });
    const f = (r.results.flows as { sent: number; received: number }[])[0]!;
    expect(f.received).toBe(f.sent);
    expect(readCapture(r.captureFiles.get('n1/a/net1')!).packets.length).toBeGreaterThan(0);
    // eth0 carries nothing: the storage address is reached over net1.
    expect(readCapture(r.captureFiles.get('n1/a/eth0')!).packets).toHaveLength(0);
    const result = JSON.parse(readFileSync(join(work, 'run', 'cni', 'n1.a.storage.json'), 'utf8'));
    expect(result.interfaces.find((i: { sandbox?: string }) => i.sandbox !== undefined).name).toBe('net1');
  });

  test('unknown or repeated network names are errors at the field', () => {
    expect(() => parseScenario(scenario('      - { name: a, networks: [storag] }'), 'm.yaml')).toThrow(/pods\[0\]\.networks\[0\]: unknown network "storag" \(networks are storage\)/);
    expect(() => parseScenario(scenario('      - { name: a, networks: [storage, storage] }'), 'm.yaml')).toThrow(/networks\[1\]: "storage" is listed twice/);
  });
});
