import type { NetDevice } from '../devices/net-device.js';
import { DropReason } from '../devices/drop-reason.js';
import { PacketType, type Packet } from '../packet.js';
import type { IpSendOptions, Netns, SendError } from './netns.js';
import { type CtSource, ctAttach } from './ct-attach.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { checksumReplace16, internetChecksum } from '../wire/checksum.js';
import {
  ICMP_DEST_UNREACH,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_FRAG_NEEDED,
  ICMP_HEADER_LEN,
  ICMP_HOST_UNREACH,
  ICMP_TIME_EXCEEDED,
  emitIcmp,
  icmpErrorQuoteLen,
  icmpNextHopMtu,
} from '../wire/icmp.js';
import {
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_HEADER_LEN,
  ipv4DscpEcn,
  ipv4Dst,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
} from '../wire/ipv4.js';
import { read16, read32, write16 } from '../wire/bytes.js';

/** Receives ICMP messages for one echo identifier (an iputils ping socket). */
export interface PingReceiver {
  onEchoReply(pkt: Packet, seq: number, ttl: number): void;
  /** An ICMP error quoting one of our echo requests. */
  onIcmpError(type: number, code: number, from: number, seq: number): void;
}

/** Receives ICMP errors about a UDP socket's datagrams. */
export interface IcmpErrorSink {
  onIcmpError(type: number, code: number, from: number, quotedDstPort: number): void;
}

/** Echo requests' IP options without a TTL: one shared object, not one per request. */
/** iputils ping leaves the socket's IP_PMTUDISC_WANT: DF on requests that fit the route MTU, larger ones fragmented. */
const ECHO_OPTS: IpSendOptions = { dontFragment: 'if-fits' };
const ECHO_BROADCAST_OPTS: IpSendOptions = { dontFragment: 'if-fits', broadcast: true };

/** Longest echo body copied byte by byte (see echoReply). */
const SMALL_COPY = 128;

/** XRLIM_BURST_FACTOR in net/ipv4/icmp.c */
const XRLIM_BURST_FACTOR = 6;
/** net.ipv4.icmp_ratemask default: dest unreachable, source quench, time exceeded, parameter problem. */
const ICMP_RATEMASK = 0x1818;

/**
 * ICMP for one namespace (net/ipv4/icmp.c): answers echo requests, delivers echo
 * replies and errors to sockets, and sends errors (icmp_send) with the kernel's
 * rules: never about an ICMP error, a non-first fragment or a frame that was not
 * addressed to us at link level; TOS 0xc0 (precedence internet control); the
 * quote as long as fits in 576 bytes; the per-destination token bucket of
 * icmp_ratelimit (1 s, burst 6) for the types in icmp_ratemask.
 */
export class IcmpLayer {
  private readonly pingSockets = new Map<number, PingReceiver>();
  /** The last socket found and its identifier: a pod has one ping, and the map is a cache miss among thousands of namespaces. */
  private lastIdent = -1;
  private lastSock: PingReceiver | undefined = undefined;
  /** inet_peer rate-limit state per destination: [tokens, lastNs]. */
  private readonly peers = new Map<number, [number, number]>();
  /** net.ipv4.icmp_ratelimit in ns */
  ratelimitNs = 1e9;
  /** net.ipv4.icmp_echo_ignore_broadcasts */
  echoIgnoreBroadcasts = true;
  sentErrors = 0;
  rateLimited = 0;

  constructor(private readonly ns: Netns) {}

  openPing(ident: number, receiver: PingReceiver): void {
    if (this.pingSockets.has(ident)) throw new Error(`${this.ns.name}: ICMP echo identifier ${ident} already in use`);
    this.pingSockets.set(ident, receiver);
  }

  closePing(ident: number): void {
    this.pingSockets.delete(ident);
    if (ident === this.lastIdent) this.lastIdent = -1;
  }

  private pingSocket(ident: number): PingReceiver | undefined {
    if (ident === this.lastIdent) return this.lastSock;
    const sock = this.pingSockets.get(ident);
    if (sock !== undefined) {
      this.lastIdent = ident;
      this.lastSock = sock;
    }
    return sock;
  }

  /** icmp_rcv */
  receive(dev: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    const hl = ipv4HeaderLen(b, ip);
    const icmp = ip + hl;
    const len = ipv4TotalLength(b, ip) - hl;
    if (len < ICMP_HEADER_LEN || internetChecksum(b, icmp, len) !== 0) {
      dev.dropRx(pkt, DropReason.ICMP_CSUM);
      return;
    }
    const type = b[icmp]!;
    this.deliverTrace(pkt, type === ICMP_ECHO ? 'ICMP echo responder' : 'ICMP');
    if (type === ICMP_ECHO) {
      if (pkt.pktType !== PacketType.HOST && this.echoIgnoreBroadcasts) return;
      this.echoReply(pkt, icmp, len);
      return;
    }
    if (type === ICMP_ECHOREPLY) {
      const sock = this.pingSocket(read16(b, icmp + 4));
      if (sock !== undefined) sock.onEchoReply(pkt, read16(b, icmp + 6), b[ip + 8]!);
      return;
    }
    if (type === ICMP_DEST_UNREACH || type === ICMP_TIME_EXCEEDED) {
      this.deliverError(pkt, icmp, len);
    }
  }

  private deliverTrace(pkt: Packet, to: string): void {
    const tr = this.ns.ctx.tracer;
    if (tr !== null && tr.wants(pkt)) {
      tr.add(pkt, this.ns.name, 'deliver', to);
      tr.delivered(this.ns.name, pkt);
    }
  }

  /** icmp_echo -> icmp_reply: same identifier, sequence and data, from the address that was pinged. */
  private echoReply(req: Packet, icmp: number, len: number): void {
    const b = req.buf;
    const ip = req.off + ETH_HLEN;
    const dst = ipv4Dst(b, ip);
    // fib_compute_spec_dst: the reply comes from the pinged address when it is a local unicast one.
    const src = this.ns.isLocal(dst) ? dst : 0;
    const opts: IpSendOptions = { dontFragment: false, tos: ipv4DscpEcn(b, ip) };
    if (icmp === ip + IPV4_HEADER_LEN && !req.shared) {
      // The request is consumed here, and its bytes from the ICMP header on are
      // the reply's: built in place (BSD's icmp_reflect), the reply needs no
      // copy, and its checksum follows from the request's, which was verified,
      // by the one word that changes (RFC 1624): the same bytes Linux's
      // icmp_reply computes afresh.
      const reply = this.ns.newPacketOn(b, req.off, req.len);
      const code = b[icmp + 1]!;
      b[icmp] = ICMP_ECHOREPLY;
      write16(b, icmp + 2, checksumReplace16(read16(b, icmp + 2), (ICMP_ECHO << 8) | code, (ICMP_ECHOREPLY << 8) | code));
      this.ns.sendIp(reply, IPPROTO_ICMP, src, ipv4Src(b, ip), opts);
      return;
    }
    const reply = this.ns.newPacket(IPV4_HEADER_LEN + len);
    const rb = reply.buf;
    const ricmp = reply.off + ETH_HLEN + IPV4_HEADER_LEN;
    // A ping's few dozen bytes copy faster by hand than through a subarray view made per reply.
    if (len <= SMALL_COPY) for (let i = 0; i < len; i++) rb[ricmp + i] = b[icmp + i]!;
    else rb.set(b.subarray(icmp, icmp + len), ricmp);
    rb[ricmp] = ICMP_ECHOREPLY;
    rb[ricmp + 2] = 0;
    rb[ricmp + 3] = 0;
    const c = internetChecksum(rb, ricmp, len);
    rb[ricmp + 2] = c >> 8;
    rb[ricmp + 3] = c & 0xff;
    this.ns.sendIp(reply, IPPROTO_ICMP, src, ipv4Src(b, ip), opts);
  }

  /** An ICMP error arrived: find the socket of the datagram it quotes. */
  private deliverError(pkt: Packet, icmp: number, len: number): void {
    const b = pkt.buf;
    const type = b[icmp]!;
    const code = b[icmp + 1]!;
    const from = ipv4Src(b, pkt.off + ETH_HLEN);
    const q = icmp + ICMP_HEADER_LEN;
    if (len < ICMP_HEADER_LEN + IPV4_HEADER_LEN + 8) return;
    const qhl = ipv4HeaderLen(b, q);
    const qproto = ipv4Protocol(b, q);
    const t = q + qhl;
    // ping_err / __udp4_lib_err: a "fragmentation needed" for one of our sockets updates the path MTU to its destination.
    const pmtu = type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED ? icmpNextHopMtu(b, icmp) : 0;
    if (qproto === IPPROTO_ICMP && b[t] === ICMP_ECHO) {
      const sock = this.pingSocket(read16(b, t + 4));
      if (sock === undefined) return;
      if (pmtu > 0) this.ns.updatePmtu(ipv4Dst(b, q), pmtu);
      sock.onIcmpError(type, code, from, read16(b, t + 6));
    } else if (qproto === IPPROTO_UDP) {
      if (this.ns.udp.deliverIcmpError(read16(b, t), type, code, from, read16(b, t + 2)) && pmtu > 0) this.ns.updatePmtu(ipv4Dst(b, q), pmtu);
    } else if (qproto === IPPROTO_TCP) {
      this.ns.tcp.deliverIcmpError(ipv4Src(b, q), read16(b, t), ipv4Dst(b, q), read16(b, t + 2), type, code, read32(b, t + 4), pmtu);
    }
  }

  /**
   * Sends an echo request from a ping socket (`broadcast`: ping -b, which sets
   * SO_BROADCAST). Returns the errno when it was not sent.
   */
  sendEcho(dst: number, ident: number, seq: number, payload: Uint8Array, broadcast = false): SendError | null {
    const len = ICMP_HEADER_LEN + payload.length;
    const pkt = this.ns.newPacket(IPV4_HEADER_LEN + len);
    emitIcmp({ type: ICMP_ECHO, code: 0, ident, seq, payload }, pkt.buf, pkt.off + ETH_HLEN + IPV4_HEADER_LEN);
    return this.ns.sendIp(pkt, IPPROTO_ICMP, 0, dst, broadcast ? ECHO_BROADCAST_OPTS : ECHO_OPTS);
  }

  /** arp_error_report -> ipv4_link_failure: the next hop never answered ARP. */
  sendHostUnreachable(pkt: Packet): void {
    this.sendError(pkt, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
  }

  /**
   * icmp_send (__icmp_send) about the IPv4 datagram in `orig`; `ct` says where
   * orig's connection is when that is not orig itself (REJECT runs inside a hook).
   */
  sendError(orig: Packet, type: number, code: number, info: number, ct: CtSource = orig): void {
    const b = orig.buf;
    const ip = orig.off + ETH_HLEN;
    if (orig.pktType !== PacketType.HOST) return;
    if (ipv4FragmentOffset(b, ip) !== 0) return;
    const origSrc = ipv4Src(b, ip);
    if (origSrc === 0 || (origSrc & 0xf0000000) >>> 0 === 0xe0000000 || origSrc === 0xffffffff) return;
    if (ipv4Protocol(b, ip) === IPPROTO_ICMP) {
      const t = b[ip + ipv4HeaderLen(b, ip)]!;
      // Never an error about an error: only echo, echo reply and other queries may be answered.
      if (t !== ICMP_ECHO && t !== ICMP_ECHOREPLY && t !== 13 && t !== 14) return;
    }
    const route = this.ns.outputRoute(origSrc);
    if (route === null) return;
    // icmpv4_mask_allow: "Don't limit PMTU discovery" (fragmentation needed is exempt).
    const limited = (ICMP_RATEMASK >> type) & 1 && !(type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED);
    if (limited && route.dev !== this.ns.lo && !this.allow(origSrc)) {
      this.rateLimited++;
      return;
    }
    const quoteLen = icmpErrorQuoteLen(b, ip, route.dev.mtu);
    const len = ICMP_HEADER_LEN + quoteLen;
    const pkt = this.ns.newPacket(IPV4_HEADER_LEN + len);
    emitIcmp(
      type === ICMP_DEST_UNREACH
        ? { type, code, ...(code === 4 ? { mtu: info } : {}), quoted: b.subarray(ip, ip + quoteLen) }
        : { type: ICMP_TIME_EXCEEDED, code, quoted: b.subarray(ip, ip + quoteLen) },
      pkt.buf,
      pkt.off + ETH_HLEN + IPV4_HEADER_LEN,
    );
    // Source: the address the datagram was sent to when it was for us, else chosen by the route back.
    const origDst = ipv4Dst(b, ip);
    const src = this.ns.isLocal(origDst) ? origDst : 0;
    // icmp_glue_bits: an error joins the offending packet's connection (nf_ct_attach).
    ctAttach(pkt, ct);
    this.sentErrors++;
    this.ns.sendIp(pkt, IPPROTO_ICMP, src, origSrc, {
      dontFragment: false,
      tos: (ipv4DscpEcn(b, ip) & 0x1e) | 0xc0,
    });
  }

  /** inet_peer_xrlim_allow: a token bucket per destination, full at first sight. */
  private allow(dst: number): boolean {
    const now = this.ns.now();
    const limit = this.ratelimitNs;
    let p = this.peers.get(dst);
    if (p === undefined) {
      p = [XRLIM_BURST_FACTOR * limit, now];
      this.peers.set(dst, p);
    }
    let tokens = p[0] + (now - p[1]);
    p[1] = now;
    if (tokens > XRLIM_BURST_FACTOR * limit) tokens = XRLIM_BURST_FACTOR * limit;
    let ok = false;
    if (tokens >= limit) {
      tokens -= limit;
      ok = true;
    }
    p[0] = tokens;
    return ok;
  }
}
