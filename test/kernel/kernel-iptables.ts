/**
 * iptables in the kernel namespaces: which backend the harness uses, loading
 * a namespace's iptables-restore texts, and dumping `iptables-save -c` after
 * the traffic, so that podwire's per-rule counters can be compared.
 *
 * One backend for the whole run. The default is the one `iptables` itself is
 * (Debian 12: iptables-nft, "iptables v1.8.9 (nf_tables)"); PODWIRE_KERNEL_IPTABLES=
 * legacy|nft picks one. Both print the same `iptables-save -c` format, and both
 * put the rules on the same hooks at the same priorities (ip_tables / nf_tables
 * nat chains at NF_IP_PRI_NAT_DST and NF_IP_PRI_NAT_SRC, filter at 0).
 */
import type { TopologySpec } from '../../scenarios/topology.js';
import { inNetns, run, runSync, runWithInput } from './commands.js';
import type { KernelTopology } from './netns-topology.js';

export type IptablesBackend = 'nft' | 'legacy';

export interface IptablesTools {
  backend: IptablesBackend;
  /** "iptables-nft-restore" / "iptables-legacy-restore". */
  restore: string;
  save: string;
  /** `iptables --version` of the chosen backend, as printed. */
  version: string;
}

let cachedTools: IptablesTools | null | undefined;

/** The backend to use, or null when the tools are missing (the reason is in `iptablesToolsProblem`). */
export function iptablesTools(): IptablesTools | null {
  if (cachedTools !== undefined) return cachedTools;
  cachedTools = null;
  const forced = process.env.PODWIRE_KERNEL_IPTABLES;
  let backend: IptablesBackend;
  if (forced === 'nft' || forced === 'legacy') backend = forced;
  else {
    const v = runSync('iptables', ['--version']);
    if (!v.ok) return null;
    backend = /\(legacy\)/.test(v.stdout) ? 'legacy' : 'nft';
  }
  const version = runSync(`iptables-${backend}`, ['--version']);
  if (!version.ok || !runSync(`iptables-${backend}-save`, ['--version']).ok) return null;
  cachedTools = { backend, restore: `iptables-${backend}-restore`, save: `iptables-${backend}-save`, version: version.stdout.trim() };
  return cachedTools;
}

/** Loads every namespace's iptables texts in order, the later ones with --noflush (as podwire's build does). */
export async function loadIptables(topo: KernelTopology, tools: IptablesTools): Promise<void> {
  for (const ns of topo.spec.namespaces) {
    for (const [k, src] of (ns.iptables ?? []).entries()) {
      const args = k > 0 ? [tools.restore, '--noflush'] : [tools.restore];
      try {
        await runWithInput('ip', inNetns(topo.netns(ns.name), args), src.text);
      } catch (err) {
        throw new Error(`${ns.name}: ${tools.restore} of ${src.file} failed: ${(err as Error).message}`);
      }
    }
  }
}

/** Namespaces of the spec that have iptables rules. */
export function namespacesWithRules(spec: TopologySpec): string[] {
  return spec.namespaces.filter((ns) => (ns.iptables ?? []).length > 0).map((ns) => ns.name);
}

/** `iptables-save -c` of every namespace that has rules, keyed by spec namespace. */
export async function dumpCounters(topo: KernelTopology, tools: IptablesTools): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const ns of namespacesWithRules(topo.spec)) out.set(ns, await run('ip', inNetns(topo.netns(ns), [tools.save, '-c'])));
  return out;
}
