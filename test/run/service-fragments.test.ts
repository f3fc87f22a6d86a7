import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { BROADCAST_FRAGMENTS, SERVICE_FRAGMENTS, dockerPublishLarge } from '../helpers/service-fragments.js';
import type { Results } from '../../scenarios/results.js';

function run(text: string, name: string): Results {
  const dir = mkdtempSync(join(tmpdir(), 'pw-svc-frag-'));
  try {
    return runTopology(expandScenario(parseScenario(text, `${name}.yaml`)), { outDir: dir }).results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const answered = (r: Results) => (r.flows as { sent: number; received: number }[]).map((f) => [f.sent, f.received]);

/**
 * br_netfilter with conntrack loaded reassembles fragments at the bridge port
 * (nf_defrag_ipv4, IP_DEFRAG_CONNTRACK_BRIDGE_IN), so a large datagram to a
 * Service is DNATed whole, and leaves cut again to its largest fragment's size
 * (ip_fragment after routing, br_nf_dev_queue_xmit after bridging). Before,
 * each fragment met kube-proxy's `--ctstate INVALID -j DROP` on its own.
 * test/kernel/fragments.kernel.test.ts compares the same run with the kernel.
 */
describe('large UDP datagrams through ClusterIP Services', () => {
  it('are answered, routed or bridged, with nothing dropped', () => {
    const results = run(SERVICE_FRAGMENTS, 'service-fragments');
    expect(answered(results)).toEqual([
      [2, 2],
      [2, 2],
      [2, 2],
    ]);
    expect(results.drops).toEqual({});
  });

  it("go from a host to its own published Docker port: DNATed from lo's MTU to docker0's, and cut there (skb->ignore_df)", () => {
    const results = run(dockerPublishLarge(), 'docker-publish-large');
    expect(answered(results).every(([sent, received]) => sent === received && sent! > 0)).toBe(true);
    expect(results.drops).toEqual({});
  });

  it('a large broadcast flooded by the bridge reaches every port, cut again at each', () => {
    const results = run(BROADCAST_FRAGMENTS, 'broadcast-fragments');
    expect(answered(results)).toEqual([[1, 1]]);
    expect(results.drops).toEqual({});
  });
});
