/**
 * The nftables ruleset of one network namespace: `nft -f` loads into it,
 * base chains are what netfilter registers at the hooks, `list()` is `nft
 * list ruleset`. Only the ip family is modelled.
 */
import type { NfHook } from '../hooks.js';
import type { NetfilterHost, NfPacket } from '../types.js';
import type { Chain, Table } from './ast.js';
import { NftEvaluator, hookOf, type NftRunResult, type NftTraceStep } from './evaluate.js';
import { listRuleset } from './list.js';
import { NftParser, type NftRuleCache } from './parse.js';

export interface NftBaseChain {
  table: string;
  chain: Chain;
  hook: NfHook;
  type: 'filter' | 'nat';
  priority: number;
}

export class NftRuleset {
  readonly tables = new Map<string, Table>();
  private evaluators = new Map<string, NftEvaluator>();

  /** `nft -f`: applies the file's commands; throws NftError (file:line) on bad input. `rules`: see NftRuleCache. */
  load(text: string, file: string, rules: NftRuleCache | null = null): void {
    new NftParser(this.tables, file, rules).parse(text);
    for (const t of this.tables.values()) compact(t);
    this.evaluators = new Map([...this.tables.values()].map((t) => [t.name, new NftEvaluator(t)]));
  }

  /** Every base chain, in table then creation order. */
  baseChains(): NftBaseChain[] {
    const out: NftBaseChain[] = [];
    for (const t of this.tables.values()) {
      for (const c of t.chains.values()) {
        if (c.base !== null) out.push({ table: t.name, chain: c, hook: hookOf(c.base.hook), type: c.base.type, priority: c.base.priority });
      }
    }
    return out;
  }

  /** Some rule reads connection state (ct state/status): conntrack must be loaded. */
  usesConntrack(): boolean {
    for (const t of this.tables.values()) {
      for (const c of t.chains.values()) {
        if (c.base?.type === 'nat') return true;
        for (const r of c.rules) if (r.stmts.some((s) => s.kind === 'ct state' || s.kind === 'ct status')) return true;
      }
    }
    return false;
  }

  run(b: NftBaseChain, p: NfPacket, host: NetfilterHost, trace?: (s: NftTraceStep) => void): NftRunResult {
    return this.evaluators.get(b.table)!.run(b.chain, p, host, trace);
  }

  list(): string {
    return listRuleset(this.tables.values());
  }

  get empty(): boolean {
    return this.tables.size === 0;
  }
}

/**
 * Lets go of the spare room push leaves in arrays that live as long as the
 * table: a chain of 2 rules holds 17 slots, and kube-proxy's sync makes
 * 30,000 chains a node.
 */
function compact(t: Table): void {
  for (const c of t.chains.values()) c.rules = c.rules.slice();
  for (const s of t.sets.values()) {
    s.elements = s.elements.slice();
    s.ranges = s.ranges.slice();
  }
}
