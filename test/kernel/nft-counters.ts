/**
 * nftables rule counters, podwire's against the kernel's (kube-proxy's
 * nftables mode): podwire's `nft list ruleset` as written to its out
 * directory, the `counter packets P bytes B` of every rule, and the check
 * that both sides have the same ones (kube-proxy v1.31 writes no `counter`
 * statements: then there is nothing to compare, which is checked and said).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { TopologySpec } from '../../scenarios/topology.js';
import { namespacesWithNftables } from './kernel-nftables.js';

/** `counter packets P bytes B` of every rule, "<table> <chain> #<n>: P/B", in listing order. */
export function nftCounters(listing: string): string[] {
  const out: string[] = [];
  let table = '';
  let chain = '';
  let n = 0;
  for (const line of listing.split('\n')) {
    const t = /^\s*table (\S+ \S+) \{/.exec(line);
    if (t) table = t[1]!;
    const c = /^\s*chain (\S+) \{/.exec(line);
    if (c) { chain = c[1]!; n = 0; continue; }
    if (chain === '' || /^\s*(type |comment |policy |\}|$)/.test(line)) continue;
    n++;
    const m = /counter packets (\d+) bytes (\d+)/.exec(line);
    if (m) out.push(`${table} ${chain} #${n}: ${m[1]}/${m[2]}`);
  }
  return out;
}

/** podwire's `nft list ruleset` of every namespace with an nftables text, as it wrote them to `outDir`. */
export function podwireNftRulesets(spec: TopologySpec, outDir: string): Map<string, string> {
  const rulesets = new Map<string, string>();
  for (const ns of namespacesWithNftables(spec)) {
    const file = join(outDir, 'netfilter', `${ns.replaceAll('/', '.')}.nft`);
    expect(existsSync(file), `podwire wrote ${file}`).toBe(true);
    rulesets.set(ns, readFileSync(file, 'utf8'));
  }
  return rulesets;
}

/** Rule counters: the same `counter` values on both sides, per namespace; `label` prefixes the note when there are none. */
export function expectSameNftCounters(podwireRulesets: Map<string, string>, kernelRulesets: Map<string, string>, label: string): void {
  for (const [ns, podwireRuleset] of podwireRulesets) {
    const kernelRuleset = kernelRulesets.get(ns);
    expect(kernelRuleset, `nft list ruleset of ${ns}`).toBeDefined();
    expect(kernelRuleset).toContain('table ip kube-proxy');
    const k = nftCounters(kernelRuleset!);
    expect(nftCounters(podwireRuleset), `${ns}: nft counters\n--- kernel\n${kernelRuleset}\n--- podwire\n${podwireRuleset}`).toEqual(k);
    if (k.length === 0) console.info(`[${label}] ${ns}: no nft counters to compare (kube-proxy's ruleset has no counter statements)`);
  }
}
