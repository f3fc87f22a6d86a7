/**
 * models/netfilter/explain: one packet walked through a node's iptables
 * rules without a scenario (`podwire iptables trace`). Start at explain.ts;
 * branch.ts is one walk through the hooks, node.ts the node's addresses and
 * routing, forced-draws.ts how -m statistic branches are followed.
 */
export { explainPacket, MAX_BRANCHES, type Destination, type Explanation, type Outcome, type TraceRequest } from './explain.js';
export { formatExplanation, formatPath, formatProbability } from './format.js';
export type { EntryHook } from './branch.js';
export type { NodeConfig } from './node.js';
export type { RulesLayer } from './layered-rules.js';
export type { FinalVerdict, PathStep } from './path.js';
export type { ProbeProto, ProbeSpec } from './probe-packet.js';
