/**
 * Netfilter's vocabulary, with the kernel's names and numbers
 * (include/uapi/linux/netfilter.h, netfilter_ipv4.h).
 */

/** enum nf_inet_hooks */
export const enum NfHook {
  PRE_ROUTING = 0,
  LOCAL_IN = 1,
  FORWARD = 2,
  LOCAL_OUT = 3,
  POST_ROUTING = 4,
}

export const HOOK_NAMES = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** Verdicts (NF_DROP ... NF_STOP). */
export const enum NfVerdict {
  DROP = 0,
  ACCEPT = 1,
  STOLEN = 2,
  QUEUE = 3,
  REPEAT = 4,
  STOP = 5,
}

/** enum nf_ip_hook_priorities: the order in which tables see a packet at one hook. */
export const NF_IP_PRI = {
  RAW: -300,
  CONNTRACK: -200,
  MANGLE: -150,
  NAT_DST: -100,
  FILTER: 0,
  NAT_SRC: 100,
  CONNTRACK_CONFIRM: 2147483647,
} as const;

export type TableName = 'raw' | 'mangle' | 'nat' | 'filter';

/** Which hooks each table's built-in chains attach to (iptable_*.c valid_hooks). */
export const TABLE_HOOKS: Record<TableName, readonly HookName[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};
