/**
 * podwire's kube-proxy nftables mode and TCP against the kernel: the TCP
 * flows of the library scenario services-nftables ("client crr": pod ->
 * ClusterIP 10.96.0.3:80, and "n1 -> NodePort on n2": node -> NodePort 30000,
 * where the external chain jumps to mark-for-masquerade and nat-postrouting's
 * masquerading chain does `masquerade fully-random`), run by tcp-agent.py in
 * real namespaces loaded with the `table ip kube-proxy` podwire generates
 * (`nft -f`). Its UDP flows are dropped on both sides
 * (services-nftables.kernel.test.ts compares them); the echo-udp rules stay.
 *
 * As cluster-services-tcp.kernel.test.ts does for iptables mode
 * (service-tcp-flows.ts): the service chain's `numgen random mod 2 vmap` is,
 * in the kernel's copy only, a `tcp sport { ... }` match on the ports podwire
 * sent to the first endpoint (pin-nft-backends.ts), and the kernel's clients
 * bind podwire's source ports; then per connection and capture point the TCP
 * segments must agree (flags, relative seq/ack, payloads, windows, options,
 * TTLs, MACs, addresses and ports after DNAT and masquerade, the masqueraded
 * port as "<snat>"), checksums be valid, the ARP frames agree, and the nft rule
 * counters agree (kube-proxy writes none: checked and said). Timing is not compared.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { netfilterPrerequisites, tcpTrafficPrerequisites } from './kernel-harness.js';
import { nftablesPrerequisites } from './kernel-nftables.js';
import { expectSameNftCounters, podwireNftRulesets } from './nft-counters.js';
import { pinNftBackends } from './pin-nft-backends.js';
import { CRR, NODEPORT, ORIGIN, connectionDiffs, expectSameConnections, expectTcpChecksumsValid, nonTcpDifferences, runTcpComparison, tcpOnly, type TcpRuns } from './service-tcp-flows.js';
import { inTempDir } from './service-udp-flows.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const LABEL = 'kernel services-nftables TCP comparison';

function prerequisites(): { ok: boolean; reason: string } {
  // netfilterPrerequisites: br_netfilter's per-namespace sysctl (answers from echo-a to the client are bridged and un-DNATed on n1's bridge).
  for (const check of [netfilterPrerequisites, nftablesPrerequisites, tcpTrafficPrerequisites]) {
    const p = check();
    if (!p.ok) return p;
  }
  return { ok: true, reason: `${nftablesPrerequisites().reason}; python3` };
}

const pre = prerequisites();
if (!pre.ok) console.warn(`[${LABEL}] skipped: ${pre.reason}`);

interface Runs extends TcpRuns {
  /** podwire's `nft list ruleset` per node. */
  rulesets: Map<string, string>;
}

describe.skipIf(!pre.ok)('podwire kube-proxy nftables mode + TCP (services-nftables: crr to a ClusterIP, crr to a NodePort) against the kernel', () => {
  let runs: Runs | undefined;
  const r = (): Runs => {
    if (runs === undefined) throw new Error('the podwire and kernel runs failed (see beforeAll)');
    return runs;
  };

  beforeAll(async () => {
    const spec = tcpOnly('services-nftables');
    await inTempDir('pwk-podwire-services-nftables-tcp-', async (outDir) => {
      const base = await runTcpComparison(spec, outDir, (s, first) => pinNftBackends(s, 'default/echo-tcp/tcp', first), LABEL);
      runs = { ...base, rulesets: podwireNftRulesets(spec, outDir) };
    });
  }, 120_000);
  expectNamespacesCleanedUp();

  it('the kernel makes the same connections: client ports, answers and backends as podwire', () => {
    // seed 1: both backends get connections of both flows, so every path is compared.
    expectSameConnections(r(), { [CRR]: 8, [NODEPORT]: 4 });
  });

  it('what is compared holds the NAT: DNAT to the pod for every connection, masquerade for the NodePort\'s only', () => {
    for (const flow of [CRR, NODEPORT]) {
      for (const port of r().ports.get(flow)!) {
        const backend = r().backends.get(port)!;
        const syn = r().podwireConns.get(port)!.points.get(backend)!.find((e) => e.segment.flags === 'S')!;
        expect(syn.segment.dstPort, `${flow} ${port} at ${backend}`).toBe(8080);
        expect(syn.segment.dst, `${flow} ${port} at ${backend}`).toMatch(/^10\.244\./);
        const snat = syn.text.includes('.<snat> >');
        expect([flow, port, snat]).toEqual([flow, port, flow === NODEPORT]);
        if (flow === CRR) expect(syn.segment.src).toBe(ORIGIN[CRR]!.src);
      }
    }
  });

  it('segments per connection at every point (DNAT, SNAT, TTLs, MACs, flags, seq/ack, payloads, options, windows), Linux\'s separate ACKs left out', () => {
    expect(connectionDiffs(r(), { dropSeparateAcks: true }), 'podwire\'s TCP segments differ from the kernel\'s (nftables)').toBe('');
  });

  it('segments per connection, with Linux\'s separate quick ACKs and every window', () => {
    expect(connectionDiffs(r(), {}), 'podwire\'s TCP segments differ from the kernel\'s (nftables)').toBe('');
  });

  it('the handshake\'s windows (SYN 64240, SYN-ACK 65160)', () => {
    expect(connectionDiffs(r(), { synWindowsOnly: true, dropSeparateAcks: true })).toBe('');
  });

  it('checksums: podwire writes full ones; the kernel full or CHECKSUM_PARTIAL', () => {
    expectTcpChecksumsValid(r());
  });

  it('frames that are not TCP (ARP), point by point in order', () => {
    expect(nonTcpDifferences(r()), 'podwire\'s non-TCP frames differ from the kernel\'s (nftables)').toBe('');
  });

  it('nft rule counters on both nodes', () => {
    expect([...r().rulesets.keys()]).toEqual(['n1', 'n2']);
    expectSameNftCounters(r().rulesets, r().kernel.nftRulesets, LABEL);
  });
});
