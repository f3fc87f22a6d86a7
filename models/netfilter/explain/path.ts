/**
 * The steps of one packet's way through the node, as `podwire iptables
 * trace` reports them (and prints them with --json): each hook entered, every
 * rule the traversal tested (from the IptTraceStep callback of ipt_do_table),
 * connection tracking's verdict on the packet, NAT rewrites, the routing
 * decision, REJECT/LOG side effects and the end.
 */
import type { HookName } from '../hooks.js';
import type { RejectKind } from '../types.js';
import type { IptTraceStep } from '../iptables/evaluate.js';

export type FinalVerdict = 'ACCEPT' | 'DROP' | 'REJECT';

export type PathStep =
  /** The packet enters a hook, as it is at that moment. */
  | { step: 'hook'; hook: HookName; in: string | null; out: string | null; packet: string }
  /** One entry the table traversal tested. */
  | ({ step: 'rule'; hook: HookName } & IptTraceStep)
  /** nf_conntrack_in looked the packet up: its state (NEW, ESTABLISHED, INVALID...). */
  | { step: 'conntrack'; hook: HookName; state: string }
  /** The nat hook rewrote the packet ('dst': DNAT/REDIRECT, 'src': SNAT/MASQUERADE). */
  | { step: 'nat'; hook: HookName; manip: 'src' | 'dst'; from: string; to: string }
  /** The routing decision: delivered here, or out of a device. */
  | { step: 'route'; dst: string; decision: 'local' | 'forward' | 'output'; out: string | null }
  | { step: 'reject'; hook: HookName; with: RejectKind }
  | { step: 'log'; hook: HookName; text: string }
  /** Something other than a rule dropped the packet (connection tracking, NAT). */
  | { step: 'drop'; hook: HookName; by: 'conntrack' | 'nat' }
  /** Where the packet's walk ended. */
  | { step: 'end'; verdict: FinalVerdict; at: HookName | null; delivered: 'local' | 'sent' | null; packet: string };
