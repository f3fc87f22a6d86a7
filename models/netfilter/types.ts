/**
 * The contracts between the netfilter pieces: the packet context a rule sees,
 * the connection-tracking entry, and what the host (a network namespace)
 * provides to matches and targets. Kept in one file so the rule engine
 * (iptables/), connection tracking (conntrack/) and the stack agree.
 */
import type { Packet } from '../packet.js';
import type { NetDevice } from '../devices/net-device.js';
import type { NfHook } from './hooks.js';

/** ctinfo as iptables sees it: the --ctstate / --state values. */
export const enum CtState {
  INVALID = 1,
  NEW = 2,
  ESTABLISHED = 4,
  RELATED = 8,
  UNTRACKED = 16,
}

/** Direction of a packet within its connection (IP_CT_DIR_ORIGINAL/REPLY). */
export const enum CtDir {
  ORIGINAL = 0,
  REPLY = 1,
}

/**
 * A conntrack tuple (struct nf_conntrack_tuple), flattened. For ICMP echo the
 * "ports" are the echo identifier (src) and 0/type (dst) as the kernel keys them.
 */
export interface Tuple {
  src: number;
  dst: number;
  protocol: number;
  srcPort: number;
  dstPort: number;
}

/** A NAT manipulation bound to a connection (struct nf_nat_range2 once resolved). */
export interface NatBinding {
  addr: number;
  /** 0 = port unchanged. */
  port: number;
}

/** Status bits of a connection (enum ip_conntrack_status), the ones podwire models. */
export const enum CtStatus {
  EXPECTED = 1 << 0,
  SEEN_REPLY = 1 << 1,
  ASSURED = 1 << 2,
  CONFIRMED = 1 << 3,
  SRC_NAT = 1 << 4,
  DST_NAT = 1 << 5,
  SRC_NAT_DONE = 1 << 7,
  DST_NAT_DONE = 1 << 8,
  DYING = 1 << 9,
  /** The timeout is never refreshed (a NAT clash entry). */
  FIXED_TIMEOUT = 1 << 10,
  UNTRACKED = 1 << 12,
  /** IPS_NAT_CLASH reuses the obsolete UNTRACKED bit (nf_ct_resolve_clash_harder). */
  NAT_CLASH = 1 << 12,
}

/** A resolved NAT range (struct nf_nat_range2): addresses and ports to choose from. */
export interface NatRange {
  minAddr: number;
  maxAddr: number;
  /** Both 0 = keep the port unless it clashes (then pick another, as nf_nat_l4proto_unique_tuple does). */
  minPort: number;
  maxPort: number;
  /** --random: randomise the port choice (NF_NAT_RANGE_PROTO_RANDOM). */
  random: boolean;
  /** --random-fully (NF_NAT_RANGE_PROTO_RANDOM_FULLY). */
  randomFully: boolean;
  /** --persistent: the same client always gets the same address. */
  persistent: boolean;
}

/** A tracked connection (struct nf_conn). */
export interface Conn {
  /** [ORIGINAL, REPLY] tuples; the reply tuple reflects NAT. */
  readonly tuple: [Tuple, Tuple];
  status: number;
  /** ct mark (CONNMARK, -m connmark). */
  mark: number;
  /** Absolute expiry time in ns. */
  expiresAt: number;
  /** TCP state name as `conntrack -L` prints it (SYN_SENT, ESTABLISHED...), '' for other protocols. */
  tcpState: string;
}

/**
 * The packet being judged at a hook (the parts of an sk_buff and of
 * struct nf_hook_state a rule can see).
 */
export interface NfPacket {
  pkt: Packet;
  /** Offset of the IPv4 header in pkt.buf. */
  ipOff: number;
  hook: NfHook;
  /** -i: the device the packet came in on (null for locally generated packets). */
  inDev: NetDevice | null;
  /** -o: the device it will leave by (null before routing / for local delivery). */
  outDev: NetDevice | null;
  /** -m physdev: bridge ports, when the packet is being bridged (br_netfilter). */
  physIn: NetDevice | null;
  physOut: NetDevice | null;
  /** True while the packet crosses a bridge with bridge-nf-call-iptables=1. */
  bridged: boolean;
  /** The connection and the packet's state in it (set by conntrack; null = untracked so far). */
  ct: Conn | null;
  ctState: CtState;
  ctDir: CtDir;
}

/** What matches and targets may ask of the namespace they run in. */
export interface NetfilterHost {
  now(): number;
  /** inet_addr_type: 'LOCAL' | 'UNICAST' | 'BROADCAST' | 'MULTICAST' | ..., optionally limited to one device. */
  addressType(addr: number, dev?: NetDevice | null): AddrType;
  /** A uniform draw in [0, 1) from the namespace's netfilter stream (-m statistic --mode random). */
  random(): number;
  /** Named ip sets defined in the scenario (-m set). */
  ipset(name: string): IpSet | undefined;
  /**
   * nf_nat_setup_info: bind the connection of `p` to `range` for the source
   * (SNAT, MASQUERADE: POSTROUTING/INPUT) or destination (DNAT, REDIRECT:
   * PREROUTING/OUTPUT) manipulation. Only called from the nat table, for a
   * connection's first packet.
   */
  setupNat(p: NfPacket, manip: 'src' | 'dst', range: NatRange): void;
  /** REJECT: emit the ICMP error (or TCP reset) for `p`. */
  reject(p: NfPacket, kind: RejectKind): void;
  /** LOG and TRACE feed the tracer. */
  log(p: NfPacket, prefix: string, text: string): void;
}

export type AddrType = 'UNSPEC' | 'UNICAST' | 'LOCAL' | 'BROADCAST' | 'ANYCAST' | 'MULTICAST' | 'BLACKHOLE' | 'UNREACHABLE' | 'PROHIBIT';

export type RejectKind =
  | 'icmp-net-unreachable'
  | 'icmp-host-unreachable'
  | 'icmp-port-unreachable'
  | 'icmp-proto-unreachable'
  | 'icmp-net-prohibited'
  | 'icmp-host-prohibited'
  | 'icmp-admin-prohibited'
  | 'tcp-reset';

/** An ip set (ipset(8)): hash:ip, hash:net, hash:ip,port, hash:ip,port,ip, bitmap:port. */
export interface IpSet {
  readonly name: string;
  readonly type: 'hash:ip' | 'hash:net' | 'hash:ip,port' | 'hash:ip,port,ip' | 'bitmap:port';
  /** Membership test for the packet's fields chosen by the --match-set flags (src/dst per dimension); addr2 is the third dimension of hash:ip,port,ip. */
  test(addr: number, protocol: number, port: number, addr2?: number): boolean;
}
