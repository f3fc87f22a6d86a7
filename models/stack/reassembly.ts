/**
 * IPv4 reassembly (RFC 791 section 3.2) for one namespace, after
 * net/ipv4/ip_fragment.c (ip_defrag, ip_frag_queue, ip_frag_reasm, ip_expire)
 * and net/ipv4/inet_fragment.c (inet_frag_find, inet_frag_queue_insert).
 *
 * - Queues are keyed by (src, dst, protocol, ident) plus the defrag user
 *   (local delivery or conntrack), as struct frag_v4_compare_key.
 * - A queue's timer is armed once, when the queue is created, for
 *   net.ipv4.ipfrag_time (30 s); later fragments do not extend it. The
 *   timer is an event cancelled lazily: a queue that completed or was killed
 *   is marked dead and its event does nothing.
 * - ip_expire: the queue is dropped (ReasmFails, ReasmTimeout) and, when the
 *   first fragment had arrived, ICMP time exceeded code 1 goes to the source
 *   quoting it (RFC 792). Conntrack's queues send it only for local
 *   destinations (frag_expire_skip_icmp).
 * - Overlaps (RFC 5722 section 4 with erratum 3089, applied by Linux to IPv4
 *   since 4.19/5.0): a fragment overlapping queued data kills the whole queue
 *   (ReasmOverlaps, ReasmFails); one lying entirely inside data already
 *   queued is a duplicate and only it is dropped (IPFRAG_DUP). The kernel
 *   tests containment against "runs" of fragments that arrived in order; here
 *   against any contiguous stretch of queued data, which differs only for
 *   duplicates spanning two out-of-order fragments.
 * - A last fragment (MF clear) that ends before data already queued or
 *   disagrees with an earlier last fragment, a non-last one reaching past the
 *   known end, or an empty fragment, kills the queue (ip_frag_queue's
 *   discard_qp). A non-last fragment's length is trimmed to a multiple of 8.
 * - Memory: every queued fragment's frame length counts against
 *   ipfrag_high_thresh (4 MiB); beyond it no queue is found or created and the
 *   fragment is dropped (inet_frag_find returns NULL). The kernel counts
 *   skb truesize, which is larger than the frame.
 *
 * Not modelled: ipfrag_max_dist (ip_frag_too_far), ECN combination
 * (ip_frag_ecn_table), the low-threshold evictor of old kernels.
 */
import type { EventHandler } from '../../engine/simulation.js';
import { Packet } from '../packet.js';
import { DropReason } from '../devices/drop-reason.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { write16 } from '../wire/bytes.js';
import {
  fillIpv4Checksum,
  ipv4DontFragment,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4Ident,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Src,
  ipv4Dst,
  ipv4TotalLength,
  setIpv4TotalLength,
} from '../wire/ipv4.js';

/** net.ipv4.ipfrag_time default (30 s). */
export const IPFRAG_TIME_NS = 30e9;
/** net.ipv4.ipfrag_high_thresh default (4 MiB). */
export const IPFRAG_HIGH_THRESH = 4 * 1024 * 1024;

/** Who asked for reassembly (enum ip_defrag_users, the two podwire uses). */
export const enum DefragUser {
  LOCAL_DELIVER = 0,
  CONNTRACK_IN = 1,
  /** IP_DEFRAG_CONNTRACK_BRIDGE_IN: nf_defrag_ipv4 under br_netfilter, at a bridge port. */
  CONNTRACK_BRIDGE_IN = 2,
}

/** The IPSTATS_MIB_REASM* counters (`nstat`: IpReasmReqds, IpReasmOKs, IpReasmFails, IpReasmTimeout, IpReasmOverlaps). */
export interface ReasmStats {
  reasmReqds: number;
  reasmOKs: number;
  reasmFails: number;
  reasmTimeout: number;
  reasmOverlaps: number;
}

/** What reassembly needs from its namespace. */
export interface ReassemblyHost {
  now(): number;
  schedule(delay: number, handler: EventHandler, kind: number, arg: unknown): void;
  /** kfree_skb with a reason, for a fragment. */
  drop(pkt: Packet, reason: DropReason): void;
  /** ip_expire: ICMP time exceeded, fragment reassembly time exceeded, about the first fragment. */
  timeExceeded(head: Packet, user: DefragUser): void;
}

/** One queued fragment: its payload is [offset, end) of the datagram's. */
interface Frag {
  offset: number;
  end: number;
  pkt: Packet;
}

/** struct ipq: the fragments of one datagram so far. */
class FragQueue {
  /** Sorted by offset, never overlapping. */
  readonly frags: Frag[] = [];
  /** Payload length: exact once the last fragment arrived, else the furthest end seen. */
  len = 0;
  /** Payload bytes queued (q.meat). */
  meat = 0;
  firstIn = false;
  lastIn = false;
  /** Frame bytes held, counted against the high threshold. */
  mem = 0;
  /** Largest fragment (IP total length) seen, and largest with DF set (q.max_size, max_df_size). */
  maxSize = 0;
  maxDfSize = 0;
  dead = false;

  constructor(
    readonly key: string,
    readonly user: DefragUser,
  ) {}
}

/** The result of ip_defrag on one fragment. */
export interface Reassembled {
  /** The whole datagram, a new Packet (id and bornAt of the first fragment). */
  pkt: Packet;
  /** IPCB frag_max_size: the largest fragment's IP length, for refragmenting (conntrack defrag). */
  fragMaxSize: number;
  /** IPSKB_FRAG_PMTU: the largest fragment had DF set. */
  pmtu: boolean;
}

/**
 * The namespace's fragment queues (netns_ipv4.fqdir). `defrag` takes a
 * fragment and returns the reassembled datagram when it completes one.
 */
export class Reassembly implements EventHandler {
  /** net.ipv4.ipfrag_time in ns. */
  timeoutNs = IPFRAG_TIME_NS;
  /** net.ipv4.ipfrag_high_thresh in bytes. */
  highThresh = IPFRAG_HIGH_THRESH;
  readonly stats: ReasmStats = { reasmReqds: 0, reasmOKs: 0, reasmFails: 0, reasmTimeout: 0, reasmOverlaps: 0 };
  /** Bytes held by all queues (frag_mem_limit). */
  mem = 0;
  private readonly queues = new Map<string, FragQueue>();

  constructor(private readonly host: ReassemblyHost) {}

  /** Queues in progress. */
  get pending(): number {
    return this.queues.size;
  }

  /**
   * ip_defrag: queue the fragment in `pkt`. Returns the whole datagram when
   * this fragment completed it, else null (the fragment is held or dropped).
   */
  defrag(pkt: Packet, user: DefragUser): Reassembled | null {
    const st = this.stats;
    st.reasmReqds++;
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    // inet_frag_find: over the high threshold no queue is looked up or created.
    if (this.mem > this.highThresh) {
      st.reasmFails++;
      this.host.drop(pkt, DropReason.NOMEM);
      return null;
    }
    const key = `${user}:${ipv4Src(b, ip)}:${ipv4Dst(b, ip)}:${ipv4Protocol(b, ip)}:${ipv4Ident(b, ip)}`;
    let q = this.queues.get(key);
    if (q === undefined) {
      q = new FragQueue(key, user);
      this.queues.set(key, q);
      this.host.schedule(this.timeoutNs, this, 0, q);
    }
    return this.queue(q, pkt);
  }

  /** ip_frag_queue */
  private queue(q: FragQueue, pkt: Packet): Reassembled | null {
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    const ihl = ipv4HeaderLen(b, ip);
    const total = ipv4TotalLength(b, ip);
    const offset = ipv4FragmentOffset(b, ip);
    let end = offset + total - ihl;
    if (!ipv4MoreFragments(b, ip)) {
      // "If we already have some bits beyond end or have different end, the segment is corrupted."
      if (end < q.len || (q.lastIn && end !== q.len)) return this.discard(q, pkt, DropReason.IP_FRAG_INVALID);
      q.lastIn = true;
      q.len = end;
    } else {
      end &= ~7;
      if (end > q.len) {
        if (q.lastIn) return this.discard(q, pkt, DropReason.IP_FRAG_INVALID);
        q.len = end;
      }
    }
    if (end === offset) return this.discard(q, pkt, DropReason.IP_FRAG_INVALID);

    // inet_frag_queue_insert: find the place; a duplicate is dropped alone, an overlap kills the queue.
    const frags = q.frags;
    let i = 0;
    while (i < frags.length && frags[i]!.end <= offset) i++;
    if (i < frags.length && frags[i]!.offset < end) {
      if (this.covered(frags, i, offset, end)) {
        this.host.drop(pkt, DropReason.DUP_FRAG);
        return null;
      }
      this.stats.reasmOverlaps++;
      return this.discard(q, pkt, DropReason.IP_FRAG_OVERLAP);
    }
    frags.splice(i, 0, { offset, end, pkt });
    q.meat += end - offset;
    q.mem += pkt.len;
    this.mem += pkt.len;
    if (offset === 0) q.firstIn = true;
    if (total > q.maxSize) q.maxSize = total;
    if (ipv4DontFragment(b, ip) && total > q.maxDfSize) q.maxDfSize = total;

    if (q.firstIn && q.lastIn && q.meat === q.len) return this.reasm(q, pkt);
    return null;
  }

  /** Whether [offset, end) lies inside contiguous queued data starting at frags[i]. */
  private covered(frags: Frag[], i: number, offset: number, end: number): boolean {
    let f = frags[i]!;
    if (f.offset > offset) return false;
    let reach = f.end;
    while (reach < end && ++i < frags.length) {
      f = frags[i]!;
      if (f.offset !== reach) return false;
      reach = f.end;
    }
    return reach >= end;
  }

  /** ip_frag_reasm: one Packet from the queue, whose header is the first fragment's. */
  private reasm(q: FragQueue, last: Packet): Reassembled | null {
    this.kill(q);
    const head = q.frags[0]!.pkt;
    const hb = head.buf;
    const hip = head.off + ETH_HLEN;
    const ihl = ipv4HeaderLen(hb, hip);
    if (ihl + q.len > 0xffff) {
      // out_oversize: "Oversized IP packet"
      this.stats.reasmFails++;
      for (const f of q.frags) this.host.drop(f.pkt, DropReason.PKT_TOO_BIG);
      return null;
    }
    const whole = Packet.alloc(ETH_HLEN + ihl + q.len, head.id, head.bornAt);
    const wb = whole.buf;
    const wip = whole.off + ETH_HLEN;
    wb.set(hb.subarray(head.off, hip + ihl), whole.off);
    for (const f of q.frags) {
      const fb = f.pkt.buf;
      const fp = f.pkt.off + ETH_HLEN + ipv4HeaderLen(fb, f.pkt.off + ETH_HLEN);
      wb.set(fb.subarray(fp, fp + (f.end - f.offset)), wip + ihl + f.offset);
    }
    setIpv4TotalLength(wb, wip, ihl + q.len);
    // "iph->frag_off = qp->max_df_size == qp->q.max_size ? htons(IP_DF) : 0"
    const pmtu = q.maxDfSize === q.maxSize;
    write16(wb, wip + 6, pmtu ? 0x4000 : 0);
    fillIpv4Checksum(wb, wip);
    whole.copyMetadata(head);
    // The reassembled skb arrives on the device of the fragment that completed it.
    whole.inDev = last.inDev;
    this.stats.reasmOKs++;
    return { pkt: whole, fragMaxSize: q.maxSize, pmtu };
  }

  /** Takes the queue out of the table (inet_frag_kill); its timer event becomes stale. */
  private kill(q: FragQueue): void {
    q.dead = true;
    this.queues.delete(q.key);
    this.mem -= q.mem;
  }

  /** discard_qp: kill the queue, drop its fragments and this one. */
  private discard(q: FragQueue, pkt: Packet, reason: DropReason): null {
    this.kill(q);
    this.stats.reasmFails++;
    for (const f of q.frags) this.host.drop(f.pkt, reason);
    this.host.drop(pkt, reason);
    return null;
  }

  /** ip_expire */
  handleEvent(_kind: number, arg: unknown): void {
    const q = arg as FragQueue;
    if (q.dead) return; // completed or killed before its time
    this.kill(q);
    this.stats.reasmFails++;
    this.stats.reasmTimeout++;
    const first = q.frags[0];
    if (q.firstIn && first !== undefined) this.host.timeExceeded(first.pkt, q.user);
    for (const f of q.frags) this.host.drop(f.pkt, DropReason.FRAG_REASM_TIMEOUT);
  }
}
