import type { Packet } from '../packet.js';
import { type Conn, CtDir, CtState } from '../netfilter/types.js';

/** Where the offending packet's connection is: the Packet, or a hook's NfPacket while iptables runs. */
export interface CtSource {
  ct: Conn | null;
  ctDir: number;
}

/**
 * nf_ct_attach -> nf_conntrack_attach (net/netfilter/core.c,
 * net/netfilter/nf_conntrack_core.c): a packet the stack generates in answer to
 * `skb` (an ICMP error, through icmp_glue_bits; REJECT's RST, in nf_send_reset)
 * belongs to skb's connection as RELATED, in the other direction. It then skips
 * nf_conntrack_in (already tracked), and NAT translates it with that
 * connection's bindings even while the connection is unconfirmed — so an error
 * about a DNATed packet dropped before it was confirmed quotes the address the
 * sender used (nf_nat_icmp_reply_translation), not the DNAT target.
 */
export function ctAttach(nskb: Packet, skb: CtSource): void {
  if (skb.ct === null) return;
  nskb.ct = skb.ct;
  nskb.ctState = CtState.RELATED;
  nskb.ctDir = skb.ctDir === CtDir.ORIGINAL ? CtDir.REPLY : CtDir.ORIGINAL;
}
