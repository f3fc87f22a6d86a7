/**
 * models/netfilter/nft: the nftables subset kube-proxy's nftables mode
 * writes. parse.ts reads `nft -f` text, evaluate.ts runs base chains,
 * list.ts prints `nft list ruleset`, ruleset.ts ties them together.
 */
export { NftRuleset, type NftBaseChain } from './ruleset.js';
export { NftRuleCache } from './parse.js';
export { NftError } from './errors.js';
export type { NftTraceStep, NftRunResult } from './evaluate.js';
export { ruleText, statementText } from './list.js';
