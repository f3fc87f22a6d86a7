/**
 * What runs at each hook, in priority order (nf_hook_slow over the entries
 * registered by iptable_{raw,mangle,nat,filter} and nf_conntrack, see
 * ../hooks.ts NF_IP_PRI), for the tables a ruleset has. The same order
 * Netfilter.register builds for a simulated namespace, written out as data so
 * the trace can name every step. Connection tracking is always on: a node
 * running kube-proxy has it loaded, and with no rule looking at connection
 * state it changes no verdict.
 */
import { HOOK_NAMES, NF_IP_PRI, NfHook, TABLE_HOOKS, type TableName } from '../hooks.js';

export type HookEntry =
  | { kind: 'table'; table: Exclude<TableName, 'nat'>; priority: number }
  /** nf_nat_ipv4_fn: the nat table for a connection's first packet, then the rewrite. */
  | { kind: 'nat'; manip: 'src' | 'dst'; priority: number }
  /** nf_conntrack_in (PRE_ROUTING, LOCAL_OUT). */
  | { kind: 'conntrack'; priority: number }
  /** nf_conntrack_confirm (LOCAL_IN, POST_ROUTING), last. */
  | { kind: 'confirm'; priority: number };

const PRIORITY: Record<Exclude<TableName, 'nat'>, number> = { raw: NF_IP_PRI.RAW, mangle: NF_IP_PRI.MANGLE, filter: NF_IP_PRI.FILTER };

export function hookEntries(hook: NfHook, hasTable: (t: TableName) => boolean): HookEntry[] {
  const name = HOOK_NAMES[hook];
  const out: HookEntry[] = [];
  for (const table of ['raw', 'mangle', 'nat', 'filter'] as const) {
    if (!hasTable(table) || !TABLE_HOOKS[table].includes(name)) continue;
    if (table === 'nat') {
      const manip = hook === NfHook.PRE_ROUTING || hook === NfHook.LOCAL_OUT ? 'dst' : 'src';
      out.push({ kind: 'nat', manip, priority: manip === 'dst' ? NF_IP_PRI.NAT_DST : NF_IP_PRI.NAT_SRC });
    } else {
      out.push({ kind: 'table', table, priority: PRIORITY[table] });
    }
  }
  if (hook === NfHook.PRE_ROUTING || hook === NfHook.LOCAL_OUT) out.push({ kind: 'conntrack', priority: NF_IP_PRI.CONNTRACK });
  if (hook === NfHook.LOCAL_IN || hook === NfHook.POST_ROUTING) out.push({ kind: 'confirm', priority: NF_IP_PRI.CONNTRACK_CONFIRM });
  return out.sort((a, b) => a.priority - b.priority);
}
