/**
 * sparseLoad: whether a scenario's traffic is too sparse for worker threads
 * to pay (fewer than SPARSE_EVENTS_PER_WINDOW estimated events per window of
 * the smallest wire delay), which decides `podwire run`'s default thread count.
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { resolveScenario } from '../../scenarios/library.js';
import { SPARSE_EVENTS_PER_WINDOW, sparseLoad } from '../../scenarios/partition-plan.js';

const cluster = (traffic: string, delay = '20us') =>
  expandScenario(parseScenario(`name: x\nunderlay: { delay: ${delay} }\nscale: { nodes: 100, podsPerNode: 30 }\ntraffic:\n  - ${traffic}\n`, 'x.yaml'));

describe('sparseLoad', () => {
  it('finds the default scenario sparse: three pings in 2 s', () => {
    const s = sparseLoad(expandScenario(resolveScenario('default')));
    expect(s).not.toBeNull();
    expect(s!.windowNs).toBe(20_000);
    expect(s!.perWindow).toBeLessThan(1);
  });

  it('takes the smallest wire delay as the window, and counts about 12 events a request', () => {
    // 3,000 pods pinging every 100 ms: 30,000 requests a second, 12 events each, 7.2 a 20 us window.
    expect(sparseLoad(cluster('pingAll: { pattern: cross-node, interval: 100ms }'))).toEqual({ perWindow: 7.2, windowNs: 20_000 });
    expect(sparseLoad(cluster('pingAll: { pattern: cross-node, interval: 100ms }', '200us'))!.perWindow).toBeCloseTo(72);
  });

  it("finds dense load dense: the parallel benchmark's UDP request/response, and closed-loop TCP", () => {
    expect(sparseLoad(cluster('udpAll: { pattern: cross-node, rate: 2000, count: 100 }'))).toBeNull();
    expect(sparseLoad(cluster('tcpAll: { pattern: cross-node, concurrency: 1, count: 10 }'))).toBeNull();
    expect(SPARSE_EVENTS_PER_WINDOW).toBe(100);
  });
});
