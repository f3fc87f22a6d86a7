/**
 * ICMP connection tracking (net/netfilter/nf_conntrack_proto_icmp.c).
 *
 * Queries (echo, timestamp, info, address mask) are tracked like a flow
 * keyed by the identifier, 30 s from the last packet. Errors (destination
 * unreachable, source quench, redirect, time exceeded, parameter problem)
 * are never tracked themselves: nf_conntrack_icmpv4_error looks up the
 * connection the quoted datagram belongs to, and the error is RELATED to it.
 */
import { icmpEchoIdent } from '../../wire/icmp.js';
import { IPPROTO_ICMP } from '../../wire/ipv4.js';
import type { Tuple } from '../types.js';
import type { TrackedConn } from './conn.js';
import { L4Verdict, type L4Context, type L4Packet } from './l4proto.js';

/** NR_ICMP_TYPES: 18 is the highest type the kernel knows; higher ones are invalid. */
export const NR_ICMP_TYPES = 18;

/** icmp_is_err (include/linux/icmp.h) */
export function icmpIsError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

export const ICMP_REDIRECT = 5;

/** Types that may open a connection (valid_new[] in nf_conntrack_icmp_packet). */
function validNew(type: number): boolean {
  return type === 8 || type === 13 || type === 15 || type === 17;
}

/** The query types whose identifier NAT rewrites (icmp_manip_pkt). */
export function icmpIsQuery(type: number): boolean {
  return validNew(type) || type === 0 || type === 14 || type === 16 || type === 18;
}

/**
 * icmp_pkt_to_tuple: the ICMP part of the tuple of the header at `off`
 * (identifier, type, code). `len` is the bytes available.
 */
export function icmpTuple(buf: Uint8Array, off: number, len: number, out: Tuple): boolean {
  if (len < 8) return false;
  out.protocol = IPPROTO_ICMP;
  out.srcPort = icmpEchoIdent(buf, off);
  out.dstPort = (buf[off]! << 8) | buf[off + 1]!;
  return true;
}

/** nf_conntrack_icmp_packet */
export function icmpPacket(ct: TrackedConn, _pkt: L4Packet, ctx: L4Context): L4Verdict {
  // Can't create a new ICMP "connection" with anything but a query.
  if (!validNew(ct.tuple[0].dstPort >>> 8)) return L4Verdict.INVALID;
  ctx.refresh(ct, ctx.timeouts.icmp);
  return L4Verdict.ACCEPT;
}
