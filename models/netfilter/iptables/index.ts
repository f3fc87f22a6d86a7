/**
 * models/netfilter/iptables: the iptables rule engine as the kernel runs it.
 * Start with ruleset.ts (IptablesRuleset); compile.ts and evaluate.ts hold
 * the ip_tables core, matches/ and targets/ the xtables extensions.
 */
export { IptablesRuleset, type RestoreOptions, type RulesetOptions, type RunResult, type SaveOptions } from './ruleset.js';
export type { IptTraceFn, IptTraceStep, TraceAction } from './evaluate.js';
export { DEFAULT_CHAIN_INDEX, type ChainIndexOptions, type IndexedRun } from './chain-index.js';
export type { ListOptions } from './list.js';
export { IptablesError } from './errors.js';
export { NfacctRegistry, NfacctObject } from './nfacct.js';
export { RecentTable, RecentEntry, IP_LIST_TOT, IP_PKT_LIST_TOT } from './recent-table.js';
export { parseRestore, parseRestoreBlocks, RuleLineCache } from './parse.js';
export type * from './ast.js';
export { formatLogPacket } from './log-format.js';
