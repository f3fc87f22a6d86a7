/**
 * What the per-protocol trackers (tcp.ts, udp.ts, icmp.ts, the generic one)
 * share with the core: the verdict they return (struct nf_conntrack_l4proto's
 * `packet` returns NF_ACCEPT, -NF_ACCEPT for invalid, -NF_REPEAT, NF_DROP), the
 * parsed packet they look at, and the services of the core they call.
 */
import type { TrackedConn } from './conn.js';
import type { CtTimeouts, TcpTrackerConfig } from './timeouts.js';

export const enum L4Verdict {
  ACCEPT = 0,
  /** -NF_ACCEPT: the packet is not part of the connection (ctstate INVALID), let it pass. */
  INVALID = 1,
  /** -NF_REPEAT: the tracker killed the entry (a SYN reopening a closed connection); look up again. */
  REPEAT = 2,
  DROP = 3,
}

/**
 * The datagram being tracked, parsed once by nf_conntrack_in. One instance is
 * reused for every packet.
 */
export interface L4Packet {
  buf: Uint8Array;
  ipOff: number;
  /** skb->len from the IP header: min(total length, bytes in the frame). */
  ipLen: number;
  /** dataoff: offset of the transport header. */
  l4Off: number;
  /** Bytes from l4Off to the end of the datagram. */
  l4Len: number;
}

/** The core's services a tracker uses. */
export interface L4Context {
  readonly now: number;
  readonly timeouts: CtTimeouts;
  readonly tcpConfig: TcpTrackerConfig;
  /** nf_ct_refresh_acct: set the timeout (relative while unconfirmed); no-op for IPS_FIXED_TIMEOUT. */
  refresh(ct: TrackedConn, timeout: number): void;
  /** nf_ct_kill: remove the entry now; false if it was already dying. */
  kill(ct: TrackedConn): boolean;
}
