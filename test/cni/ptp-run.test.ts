/**
 * A ptp conflist run end to end: no bridge, /32 routes. Two ptp pods on one
 * node would need the gateway address on two devices, which podwire's stack
 * does not hold: the loader says so.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';

const dir = mkdtempSync(join(tmpdir(), 'podwire-cni-ptp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PTP = { cniVersion: '1.1.0', name: 'p2p', plugins: [{ type: 'ptp', ipam: { type: 'host-local', subnet: '{{.PodCIDR}}', routes: [{ dst: '0.0.0.0/0' }] } }, { type: 'loopback' }] };

describe('ptp wiring', () => {
  it('answers pings across host-gw nodes', () => {
    const s = parseScenario(
      `name: ptp
duration: 1s
cni: { config: ${JSON.stringify(PTP)} }
nodes:
  - { name: n1, pods: [{ name: a }] }
  - { name: n2, pods: [{ name: c }] }
traffic:
  - ping: { name: to the node, from: n1/a, to: n1, count: 2, interval: 100ms }
  - ping: { name: cross node, from: n1/a, to: n2/c, count: 2, interval: 100ms, start: 300ms }
capture: none
`,
      join(dir, 'ptp.yaml'),
    );
    const r = runTopology(expandScenario(s), { outDir: join(dir, 'out') });
    const flows = Object.fromEntries((r.results.flows as { name: string; sent: number; received: number }[]).map((f) => [f.name, f]));
    expect(flows['to the node']).toMatchObject({ sent: 2, received: 2 });
    expect(flows['cross node']).toMatchObject({ sent: 2, received: 2 });
  });

  it('refuses two ptp pods on one node, naming the shared gateway address', () => {
    expect(() => parseScenario(`name: ptp2\ncni: { config: ${JSON.stringify(PTP)} }\nnodes: [{ name: n1, pods: [{ name: a }, { name: b }] }]\n`, join(dir, 'ptp2.yaml'))).toThrow(
      'pods a and b both need 10.244.1.1/32 on their host veth (ptp); podwire holds an address on one device only',
    );
  });
});
