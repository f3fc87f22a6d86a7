import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { SERVICE_FRAGMENTS } from '../helpers/service-fragments.js';

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
    const dir = mkdtempSync(join(tmpdir(), 'pw-svc-frag-'));
    try {
      const { results } = runTopology(expandScenario(parseScenario(SERVICE_FRAGMENTS, 'service-fragments.yaml')), { outDir: dir });
      const flows = results.flows as { name: string; sent: number; received: number }[];
      expect(flows.map((f) => [f.sent, f.received])).toEqual([
        [2, 2],
        [2, 2],
        [2, 2],
      ]);
      expect(results.drops).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
