/**
 * What compiled matches and targets see of the packet being judged: the
 * kernel's struct xt_action_param (fragoff, thoff, hotdrop, in/out devices),
 * filled once per table traversal into an object the ruleset reuses, so a
 * rule costs no allocation. Header fields are read from the bytes through
 * models/wire accessors.
 */
import type { NfPacket, NetfilterHost } from '../types.js';
import type { Packet } from '../../packet.js';
import { ipv4Dst, ipv4FragmentOffset, ipv4HeaderLen, ipv4Protocol, ipv4Src, ipv4TotalLength } from '../../wire/ipv4.js';

/** A target's "keep going" answer (XT_CONTINUE). Terminal answers are NfVerdict values (0 DROP, 1 ACCEPT). */
export const XT_CONTINUE = -1;

export class XtPacket {
  p!: NfPacket;
  host!: NetfilterHost;
  pkt!: Packet;
  buf!: Uint8Array;
  /** Offset of the IPv4 header in buf. */
  ipOff = 0;
  /** Offset of the transport header in buf (acpar.thoff). */
  thoff = 0;
  /** Fragment offset in 8-byte units, as ntohs(frag_off) & IP_OFFSET (acpar.fragoff). */
  fragoff = 0;
  proto = 0;
  src = 0;
  dst = 0;
  /** One past the last byte of the IP datagram within buf. */
  end = 0;
  /** skb->len at this hook: the IP datagram as it sits in the buffer. */
  skbLen = 0;
  hook = 0;
  /** Device names as ip_packet_match sees them ("" when absent). */
  inName = '';
  outName = '';
  /** A match found the packet malformed: the traversal ends in NF_DROP (acpar.hotdrop). */
  hotdrop = false;
  /** skb->nf_trace: set by the TRACE target. */
  traced = false;
  /** Entries the last traversal visited (tail entries included). */
  evaluated = 0;

  load(p: NfPacket, host: NetfilterHost, traced: boolean): void {
    const pkt = p.pkt;
    const buf = pkt.buf;
    const ip = p.ipOff;
    this.p = p;
    this.host = host;
    this.pkt = pkt;
    this.buf = buf;
    this.ipOff = ip;
    this.thoff = ip + ipv4HeaderLen(buf, ip);
    this.fragoff = ipv4FragmentOffset(buf, ip) >>> 3;
    this.proto = ipv4Protocol(buf, ip);
    this.src = ipv4Src(buf, ip);
    this.dst = ipv4Dst(buf, ip);
    const frameEnd = pkt.off + pkt.len;
    this.skbLen = frameEnd - ip;
    this.end = Math.min(frameEnd, ip + ipv4TotalLength(buf, ip));
    this.hook = p.hook;
    this.inName = p.inDev === null ? '' : p.inDev.name;
    this.outName = p.outDev === null ? '' : p.outDev.name;
    this.hotdrop = false;
    this.traced = traced;
  }

  /** Bytes of transport header and payload present (what skb_header_pointer can reach). */
  l4Avail(): number {
    return this.end - this.thoff;
  }
}

/** A compiled match (the kernel's xt_match->match with its matchinfo bound). */
export interface Matcher {
  match(x: XtPacket): boolean;
}

/** A compiled target: returns XT_CONTINUE or an NfVerdict. */
export interface TargetFn {
  run(x: XtPacket): number;
}
