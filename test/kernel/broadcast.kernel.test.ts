/**
 * Broadcasts against the kernel, every capture point holding the same frames
 * in the same order: UDP requests with SO_BROADCAST to the underlay's
 * directed broadcast (from a node: the switch floods them to every node, one
 * node's server answers, the others consume them) and to a pod network's
 * (from a pod: cni0 floods them to the other pod, whose server answers, and
 * up to the node), 255.255.255.255 from a pod (out through its default
 * route's device, without the gateway), and `ping -b`, whose requests every
 * host ignores. No ARP request is made for a broadcast address anywhere.
 * test/models/broadcast.test.ts has the rules one by one.
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { kernelPrerequisites } from './kernel-harness.js';
import { compareWithKernel } from './compare-spec.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison, broadcast] skipped: ${pre.reason}`);

// One flow at a time: the kernel's agents start on wall-clock time, so flows that overlap may interleave differently there.
const BROADCASTS = `name: broadcasts
duration: 1200ms
nodes:
  - name: n1
    pods: [{ name: a }, { name: a2 }]
  - name: n2
    pods: [{ name: b }]
  - name: n3
    pods: [{ name: c }]
servers:
  - { on: n2, port: 9000, responseSize: 64 }
  - { on: n1/a2, port: 9001, responseSize: 16 }
traffic:
  - udp: { from: n1, to: 192.168.49.255, port: 9000, count: 2, rate: 20, requestSize: 32, responseSize: 64, broadcast: true }
  - udp: { from: n1/a, to: 10.244.1.255, port: 9001, count: 2, rate: 20, requestSize: 8, responseSize: 16, broadcast: true, start: 300ms }
  - udp: { from: n3/c, to: 255.255.255.255, port: 9002, count: 1, requestSize: 8, responseSize: 0, broadcast: true, start: 600ms }
  - ping: { from: n2, to: 192.168.49.255, count: 2, interval: 100ms, broadcast: true, timeout: 200ms, start: 800ms }
capture: all
`;

describe.skipIf(!pre.ok)('broadcasts reproduce the kernel, capture point by capture point', () => {
  expectNamespacesCleanedUp();

  it('UDP with SO_BROADCAST to directed and limited broadcasts, and ping -b', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(BROADCASTS, 'broadcasts.yaml')));
    const frames = [...result.kernel.values()].flat();
    // The kernel did send each kind of broadcast, and never asked ARP about a broadcast address.
    const sent = new Set(frames.filter((f) => f.ethDst === 'ff:ff:ff:ff:ff:ff' && f.ipv4 !== undefined).map((f) => f.ipv4!.dst));
    expect([...sent].sort()).toEqual(['10.244.1.255', '192.168.49.255', '255.255.255.255']);
    expect(frames.filter((f) => f.arp !== undefined && f.arp.targetIp.endsWith('.255'))).toEqual([]);
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);
});
