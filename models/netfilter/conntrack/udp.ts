/**
 * UDP connection tracking: nf_conntrack_udp_packet
 * (net/netfilter/nf_conntrack_proto_udp.c, Linux 6.x).
 *
 * An entry lives nf_conntrack_udp_timeout (30 s) from its last packet until
 * a reply has been seen. After that, a packet arriving more than 2 s after
 * the entry was created marks it a stream: timeout
 * nf_conntrack_udp_timeout_stream (120 s) and ASSURED. Packets within those
 * first 2 s keep the 30 s timeout, so a single DNS query/answer never
 * becomes ASSURED.
 */
import { udpLength } from '../../wire/udp.js';
import { CtStatus } from '../types.js';
import type { TrackedConn } from './conn.js';
import { L4Verdict, type L4Context, type L4Packet } from './l4proto.js';
import { SECOND } from '../../../engine/time.js';

/** stream_ts = 2 * HZ + jiffies at creation. */
const STREAM_DELAY = 2 * SECOND;

export function udpPacket(ct: TrackedConn, pkt: L4Packet, ctx: L4Context): L4Verdict {
  // udp_error: truncated or malformed (the checksum is not verified: see conntrack.ts).
  if (pkt.l4Len < 8) return L4Verdict.INVALID;
  const len = udpLength(pkt.buf, pkt.l4Off);
  if (len > pkt.l4Len || len < 8) return L4Verdict.INVALID;

  const t = ctx.timeouts;
  const status = ct.status;
  if ((status & CtStatus.CONFIRMED) === 0) ct.udpStreamTs = ctx.now + STREAM_DELAY;

  if (status & CtStatus.SEEN_REPLY) {
    let extra = t.udp;
    let stream = false;
    // Still active after two seconds? Extend the timeout.
    if (ctx.now > ct.udpStreamTs) {
      extra = t.udpStream;
      stream = (status & CtStatus.ASSURED) === 0;
    }
    ctx.refresh(ct, extra);
    // Never ASSURED for a NAT clash entry: it times out soon.
    if (status & CtStatus.NAT_CLASH) return L4Verdict.ACCEPT;
    if (stream) ct.status |= CtStatus.ASSURED;
  } else {
    ctx.refresh(ct, t.udp);
  }
  return L4Verdict.ACCEPT;
}
