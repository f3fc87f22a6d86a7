import type { Packet } from '../packet.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ethType } from '../wire/ethernet.js';
import { ipv4Dst, ipv4HeaderLen, ipv4Protocol, ipv4Src } from '../wire/ipv4.js';
import { read16 } from '../wire/bytes.js';

/** One thing that happened to a traced packet. */
export interface TraceStep {
  /** Simulated time, ns. */
  t: number;
  /** Packet id (component id * 2^32 + counter): the request and its reply differ. */
  packet: number;
  /** A capture point (device) or a namespace. */
  where: string;
  /** rx, tx, route, hook, rule, nat, conntrack, bridge, deliver, drop, send. */
  what: string;
  text: string;
}

/** Which packets to trace: the n-th packet sent by a flow, or the first matching a filter. */
export interface TraceSelector {
  flow?: string;
  /** 1-based, the flow's n-th request (ping sequence / UDP request number). */
  packet?: number;
  proto?: 'icmp' | 'udp' | 'tcp';
  src?: number;
  dst?: number;
  dport?: number;
  /** Also trace the answer the traced packet provokes at its destination. */
  followReply?: boolean;
  /** How many packets matching the filter to trace (default 1). */
  count?: number;
  /** Show every iptables rule evaluated, not only those that matched (and chain ends). */
  allRules?: boolean;
}

/**
 * The tracer: models call it at their trace points only when a tracer is
 * installed (one null check otherwise), and it records steps for the packets
 * it watches. A packet is watched when its flow sends the selected request
 * (`armFlow`, called by apps), or when the first frame matching the filter is
 * transmitted; with followReply, the next packet its receiver creates is
 * watched too.
 */
export class Tracer {
  readonly steps: TraceStep[] = [];
  private readonly watched = new Set<number>();
  /** The selected packets themselves (not the answers they provoke). */
  private readonly originals = new Set<number>();
  private readonly seen = new Set<number>();
  /** Namespaces whose next new packet is to be watched. */
  private readonly armed = new Set<string>();
  private matched = 0;

  constructor(
    readonly selector: TraceSelector,
    private readonly now: () => number,
  ) {}

  /** An app is about to send request `seq` of `flow` from namespace `ns`. */
  armFlow(flow: string, seq: number, ns: string): void {
    if (this.selector.flow === flow && (this.selector.packet ?? 1) === seq) this.armed.add(ns);
  }

  /** A namespace made a new packet. */
  created(ns: string, pkt: Packet): void {
    if (!this.armed.delete(ns)) return;
    this.watched.add(pkt.id);
    if (this.selector.flow !== undefined && this.originals.size < 1) this.originals.add(pkt.id);
  }

  /** Follow this packet from now on (the iptables TRACE target asks for it). */
  watch(pkt: Packet): void {
    this.watched.add(pkt.id);
  }

  wants(pkt: Packet): boolean {
    return this.watched.has(pkt.id);
  }

  /** Filter mode: decides on a packet the first time a device transmits it. */
  consider(pkt: Packet): boolean {
    if (this.watched.has(pkt.id)) return true;
    const sel = this.selector;
    if (sel.flow !== undefined || this.seen.has(pkt.id) || this.matched >= (sel.count ?? 1)) return false;
    this.seen.add(pkt.id);
    if (!this.matches(pkt)) return false;
    this.matched++;
    this.watched.add(pkt.id);
    this.originals.add(pkt.id);
    return true;
  }

  private matches(pkt: Packet): boolean {
    const b = pkt.buf;
    if (ethType(b, pkt.off) !== ETHERTYPE_IPV4) return false;
    const ip = pkt.off + ETH_HLEN;
    const sel = this.selector;
    const proto = ipv4Protocol(b, ip);
    if (sel.proto !== undefined && proto !== { icmp: 1, tcp: 6, udp: 17 }[sel.proto]) return false;
    if (sel.src !== undefined && ipv4Src(b, ip) !== sel.src) return false;
    if (sel.dst !== undefined && ipv4Dst(b, ip) !== sel.dst) return false;
    if (sel.dport !== undefined && (proto === 1 || read16(b, ip + ipv4HeaderLen(b, ip) + 2) !== sel.dport)) return false;
    return true;
  }

  /** A watched packet reached a socket or responder: watch its answer. */
  delivered(ns: string, pkt: Packet): void {
    if (this.selector.followReply && this.originals.has(pkt.id)) this.armed.add(ns);
  }

  add(pkt: Packet, where: string, what: string, text: string): void {
    this.steps.push({ t: this.now(), packet: pkt.id, where, what, text });
  }

  /** The trace as aligned text lines. */
  format(): string {
    const w = Math.max(8, ...this.steps.map((s) => s.where.length));
    return this.steps
      .map((s) => `${(s.t / 1e9).toFixed(9)}  ${s.where.padEnd(w)}  ${s.what.padEnd(9)} ${s.text}`)
      .join('\n');
  }
}
