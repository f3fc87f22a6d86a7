/**
 * models/netfilter/conntrack: connection tracking and NAT for one network
 * namespace, after the Linux kernel's nf_conntrack and nf_nat. Start at
 * conntrack.ts (the hooks' entry points); tcp.ts, udp.ts and icmp.ts are the
 * protocol trackers, table.ts the hash table, nat.ts the binding choice,
 * nat-manip.ts the packet rewriting, dump.ts `conntrack -L`.
 */
export { Conntrack, type ConntrackOptions } from './conntrack.js';
export { TrackedConn, asTracked } from './conn.js';
export { type NatManip } from './nat.js';
export { type CtStats, formatStats } from './stats.js';
export { type CtTimeouts, DEFAULT_TIMEOUTS, type TcpTrackerConfig } from './timeouts.js';
export { TCP_STATE_NAMES } from './tcp.js';
