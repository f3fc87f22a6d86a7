/**
 * `iptables -t TABLE -L [CHAIN] -v -n -x [--line-numbers]` output
 * (print_header and print_firewall in iptables/iptables.c): a header per
 * chain with the policy and its counters, or the number of references for
 * a user chain, then the column header and one line per rule; chains are
 * separated by an empty line.
 */
import { listRule } from './rule-text.js';
import { ruleBytes, rulePackets, type TableModel } from './table-model.js';

export interface ListOptions {
  /** Only this chain (iptables -L CHAIN). */
  chain?: string;
  /** --line-numbers */
  lineNumbers?: boolean;
}

export function listTable(model: TableModel, opts: ListOptions = {}): string {
  let chains = model.orderedChains();
  if (opts.chain !== undefined) {
    chains = chains.filter((c) => c.name === opts.chain);
    if (chains.length === 0) throw new Error(`iptables: chain \`${opts.chain}' does not exist in table ${model.name} (No chain/target/match by that name)`);
  }
  const num = opts.lineNumbers === true;
  const header =
    `${num ? 'num  ' : ''}${'pkts'.padStart(8)} ${'bytes'.padStart(10)} ${'target'.padEnd(9)} ` +
    ` prot opt ${'in'.padEnd(6)} ${'out'.padEnd(6)}  ${'source'.padEnd(19)}  ${'destination'.padEnd(19)} `;
  const blocks = chains.map((c) => {
    const title = c.builtin
      ? `Chain ${c.name} (policy ${c.policy} ${c.packets} packets, ${c.bytes} bytes)`
      : `Chain ${c.name} (${model.references(c.name)} references)`;
    const lines = [title, header];
    c.rules.forEach((r, i) => lines.push(listRule(r.spec, rulePackets(r), ruleBytes(r), num ? i + 1 : null)));
    return lines.join('\n') + '\n';
  });
  return blocks.join('\n');
}
