/**
 * nftables in the kernel namespaces: loading a namespace's `nft -f` text (the
 * spec's `nftables`, e.g. kube-proxy's `table ip kube-proxy`) after its
 * iptables texts, as podwire's build does, and `nft list ruleset` after the
 * traffic. Every command runs through `ip netns exec`.
 */
import { spawnSync } from 'node:child_process';
import type { TopologySpec } from '../../scenarios/topology.js';
import { inNetns, run, runSync, runWithInput } from './commands.js';
import { kernelPrerequisites, type Prerequisites } from './kernel-harness.js';
import { RUN_PREFIX, type KernelTopology } from './netns-topology.js';

/** Namespaces of the spec that have an nftables text. */
export function namespacesWithNftables(spec: TopologySpec): string[] {
  return spec.namespaces.filter((ns) => ns.nftables !== undefined).map((ns) => ns.name);
}

/** Loads every namespace's nftables text with `nft -f -` (after iptables, as podwire's build). */
export async function loadNftables(topo: KernelTopology): Promise<void> {
  for (const ns of topo.spec.namespaces) {
    if (ns.nftables === undefined) continue;
    try {
      await runWithInput('ip', inNetns(topo.netns(ns.name), ['nft', '-f', '-']), ns.nftables.text);
    } catch (err) {
      throw new Error(`${ns.name}: nft -f of ${ns.nftables.file} failed: ${(err as Error).message}`);
    }
  }
}

/** `nft list ruleset` of every namespace that has an nftables text, keyed by spec namespace. */
export async function dumpNftables(topo: KernelTopology): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const ns of namespacesWithNftables(topo.spec)) out.set(ns, await run('ip', inNetns(topo.netns(ns), ['nft', 'list', 'ruleset'])));
  return out;
}

/** What kube-proxy's nftables mode uses: hooks at its priorities, concatenated vmaps, numgen, dnat, masquerade fully-random, reject. */
const PROBE_RULESET = `add table ip probe
add chain ip probe nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ip probe nat-postrouting { type nat hook postrouting priority 100 ; }
add chain ip probe filter-forward { type filter hook forward priority -110 ; }
add chain ip probe ep-a
add chain ip probe ep-b
add chain ip probe svc
add chain ip probe reject-chain
add rule ip probe reject-chain reject
add map ip probe service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
add element ip probe service-ips { 10.96.0.2 . udp . 80 : goto svc }
add rule ip probe nat-prerouting ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip probe svc numgen random mod 2 vmap { 0 : goto ep-a , 1 : goto ep-b }
add rule ip probe svc udp sport { 40001, 40002 } goto ep-a
add rule ip probe ep-a meta l4proto udp dnat to 10.0.0.1:8080
add rule ip probe ep-b meta l4proto udp dnat to 10.0.0.2:8080
add rule ip probe nat-postrouting mark and 0x00004000 == 0 return
add rule ip probe nat-postrouting masquerade fully-random
add rule ip probe filter-forward ct state new counter
`;

let cached: Prerequisites | undefined;

/** kernelPrerequisites plus `nft` and the nf_tables expressions kube-proxy's ruleset uses, loaded into a probe namespace. Computed once. */
export function nftablesPrerequisites(): Prerequisites {
  cached ??= (() => {
    const base = kernelPrerequisites();
    if (!base.ok) return base;
    const version = runSync('nft', ['--version']);
    if (!version.ok) return { ok: false, reason: `"nft" is missing or does not run (install nftables): ${version.stderr.trim()}` };
    const probe = `${RUN_PREFIX}nftprobe`;
    const add = runSync('ip', ['netns', 'add', probe]);
    if (!add.ok) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
    try {
      const load = spawnSync('ip', ['netns', 'exec', probe, 'nft', '-f', '-'], { input: PROBE_RULESET, encoding: 'utf8', timeout: 10_000 });
      if (load.status !== 0) return { ok: false, reason: `nft cannot load the expressions kube-proxy's ruleset uses: ${(load.stderr ?? String(load.error)).trim()}` };
      const list = runSync('ip', ['netns', 'exec', probe, 'nft', 'list', 'ruleset']);
      if (!list.ok || !list.stdout.includes('numgen random mod 2')) return { ok: false, reason: `nft list ruleset does not show the probe rules: ${list.stderr.trim()}` };
    } finally {
      runSync('ip', ['netns', 'del', probe]);
    }
    return { ok: true, reason: `${base.reason}; ${version.stdout.trim()}` };
  })();
  return cached;
}
