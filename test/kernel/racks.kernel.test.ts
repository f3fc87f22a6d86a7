/**
 * Racks behind a router against the kernel, every capture point (pods,
 * veths, bridges, node NICs, the switches' ports and the router's) holding the
 * same frames in the same order: the ARP each node and the router send, the
 * TTLs within and across racks, the MACs rewritten at the router.
 *
 * - `underlay.segments` written out, with a ping, UDP request/response and
 *   TCP connections across the router (one flow at a time: the kernel's
 *   agents start on wall-clock time, so flows that overlap may interleave
 *   differently there);
 * - a generated cluster in racks (`scale.nodesPerRack`), four nodes in two
 *   racks, with the default peers (one flow in two crosses a rack) and with
 *   nodeStride 2 (every flow does), over host-gw and vxlan; and, for
 *   contrast, a generated cluster on one flat segment.
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { kernelPrerequisites, tunnelPrerequisites } from './kernel-harness.js';
import { compareWithKernel } from './compare-spec.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';
import { twoRacks } from '../helpers/two-racks.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison, racks] skipped: ${pre.reason}`);
const vxlan = pre.ok ? tunnelPrerequisites('vxlan') : pre;
if (pre.ok && !vxlan.ok) console.warn(`[kernel comparison, racks] vxlan skipped: ${vxlan.reason}`);

const SEGMENTS = twoRacks(
  'name: segments\nduration: 1s',
  `traffic:
  - ping: { from: n1/p1, to: n3/p1, count: 2, interval: 100ms }
  - udp: { from: n3/p1, to: n2/p1, port: 9000, count: 5, rate: 50, requestSize: 100, responseSize: 400, start: 250ms }
  - tcp: { from: n2/p1, to: n3/p1, port: 8080, mode: crr, count: 2, rate: 10, requestSize: 100, responseSize: 1000, start: 500ms }
servers:
  - { on: n3/p1, port: 8080, protocol: tcp, requestSize: 100, responseSize: 1000 }
capture: all`,
);

const generated = (stride: string, routing = 'host-gw') => `name: scale-racks
duration: 1s
routing: ${routing}
underlay: { cidr: 192.168.10.0/24 }
scale: { nodes: 4, podsPerNode: 1, nodesPerRack: 2 }
traffic:
  - pingAll: { pattern: cross-node, count: 2, interval: 200ms${stride} }
capture: all
`;

// The same generated cluster on one flat segment, as the benchmarks build it: every node's ARP
// broadcast for its peer reaches every node. One ping per pod, 25 ms apart: the kernel's pings run
// on wall-clock time, so later rounds of concurrent flows would interleave differently there.
const FLAT = `name: scale-flat
duration: 1s
scale: { nodes: 4, podsPerNode: 3 }
traffic:
  - pingAll: { pattern: cross-node, count: 1, interval: 300ms }
capture: all
`;

describe.skipIf(!pre.ok)('racks behind a router reproduce the kernel, capture point by capture point', () => {
  expectNamespacesCleanedUp();

  it('scale, one flat segment', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(FLAT, 'flat.yaml')));
    expect(result.kernel.get('underlay/br0')!.length + result.kernel.get('underlay/node-1')!.length).toBeGreaterThan(0);
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);

  it.each([
    ['underlay.segments, ping, UDP and TCP', SEGMENTS, 'router/rack2'],
    ['scale.nodesPerRack, next node', generated(''), 'router/rack-2'],
    ['scale.nodesPerRack, nodeStride 2', generated(', nodeStride: 2'), 'router/rack-2'],
  ])('%s', (_what, text, routerPoint) => expectSameAsKernel(text, routerPoint), 60_000);

  // The overlay's outer packets between node addresses in different racks, routed by the router.
  it.skipIf(!vxlan.ok)('scale.nodesPerRack, nodeStride 2, vxlan', () => expectSameAsKernel(generated(', nodeStride: 2', 'vxlan'), 'router/rack-2'), 60_000);
});

async function expectSameAsKernel(text: string, routerPoint: string): Promise<void> {
  const result = await compareWithKernel(expandScenario(parseScenario(text, 'racks.yaml')));
  // The router forwarded something: the comparison is not of two quiet networks.
  expect(result.kernel.get(routerPoint)!.length).toBeGreaterThan(0);
  expect(result.text, 'podwire differs from the kernel').toBe('');
  expect(result.equal).toBe(true);
}
