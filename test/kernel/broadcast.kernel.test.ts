/**
 * Broadcasts against the kernel (test/helpers/broadcasts.ts), every capture
 * point holding the same frames in the same order: UDP requests with
 * SO_BROADCAST to directed broadcasts and to 255.255.255.255 (out through
 * the default route's device, without the gateway), answered by the servers
 * that have the port and consumed by the hosts that do not, and `ping -b`,
 * whose requests every host ignores. No ARP request is made for a broadcast
 * address anywhere. test/models/broadcast.test.ts has the rules one by one.
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { kernelPrerequisites } from './kernel-harness.js';
import { compareWithKernel } from './compare-spec.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';
import { BROADCASTS } from '../helpers/broadcasts.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison, broadcast] skipped: ${pre.reason}`);

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
