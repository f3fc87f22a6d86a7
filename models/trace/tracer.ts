import type { Packet } from '../packet.js';
import { ETH_HLEN, ETHERTYPE_IPV4, ethType } from '../wire/ethernet.js';
import { ipv4Dst, ipv4HeaderLen, ipv4Protocol, ipv4Src } from '../wire/ipv4.js';
import { read16 } from '../wire/bytes.js';
import { NOT_WATCHED, tagAlways, tagRoot, traceTag, type TraceTag } from './trace-tag.js';

/** One thing that happened to a traced packet. */
export interface TraceStep {
  /** Simulated time, ns. */
  t: number;
  /** Packet id (component id * 2^32 + counter): the request and its reply differ. */
  packet: number;
  /** A capture point (device) or a namespace. */
  where: string;
  /** rx, tx, route, hook, rule, nat, conntrack, bridge, deliver, drop, send, loop (a broadcast's copy for its sender). */
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

/** Where and when a tracer is: the simulation's clock and the key of the event running (engine/simulation.ts). */
export interface TraceClock {
  readonly now: number;
  readonly currentKey: number;
}

/** A packet a tracer selected (a root): when, in the run's canonical order. */
export interface TraceSelection {
  id: number;
  t: number;
  key: number;
}

/**
 * The tracer: models call it at their trace points only when a tracer is
 * installed (one null check otherwise), and it records steps for the packets
 * it watches. A packet is watched when its flow sends the selected request
 * (`armFlow`, called by apps), or when the first frame matching the filter is
 * transmitted; with followReply, the next packet its receiver creates is
 * watched too.
 *
 * Those are chosen when a packet is made or first sent, before any copy of it
 * exists, so they are kept by packet id (every copy shares it). The iptables
 * TRACE target instead marks one packet wherever it is, perhaps one copy of a
 * flood among others already on their way: as skb->nf_trace, the mark is the
 * packet's own (`Packet.traceFollow`), and copies made from it afterwards
 * inherit it. So a run traces the same copies however it is partitioned: a
 * copy already crossing a cut cannot learn of a mark made later.
 *
 * In a partitioned run each partition has its own tracer, which knows only
 * what happened there: a packet's watch state crosses cut wires as a TraceTag
 * (`tagOf` / `arrived`), and each step keeps its event key and tag so the
 * parts merge into the sequential trace (models/trace/trace-parts.ts).
 */
export class Tracer {
  readonly steps: TraceStep[] = [];
  /** Per step: the key of the event that made it and the packet's tag then. */
  readonly stepKeys: number[] = [];
  readonly stepTags: TraceTag[] = [];
  /** The packets selected here, in order: the flow's request, or the filter's matches. */
  readonly selections: TraceSelection[] = [];
  /** Packets watched by id -> the selected packet they belong to (themselves, or the request they answer). */
  private readonly roots = new Map<number, number>();
  /** Filter mode: packets already transmitted once (here, or before they crossed a cut wire). */
  private readonly seen = new Set<number>();
  /** Namespaces whose next new packet is to be watched, with the root it belongs to (-1: a flow's request). */
  private readonly armed = new Map<string, number>();
  private matched = 0;

  constructor(
    readonly selector: TraceSelector,
    private readonly clock: TraceClock,
  ) {}

  /** An app is about to send request `seq` of `flow` from namespace `ns`. */
  armFlow(flow: string, seq: number, ns: string): void {
    if (this.selector.flow === flow && (this.selector.packet ?? 1) === seq && !this.armed.has(ns)) this.armed.set(ns, -1);
  }

  /** A namespace made a new packet. */
  created(ns: string, pkt: Packet): void {
    const root = this.armed.get(ns);
    if (root === undefined) return;
    this.armed.delete(ns);
    if (root < 0 && this.selector.flow !== undefined && this.selections.length < 1) {
      this.select(pkt);
    } else if (root >= 0) {
      this.roots.set(pkt.id, root); // an answer belongs to its request
    } else {
      pkt.traceFollow = true; // another armed flow packet is watched, but never the selected one
    }
  }

  /** Follow this packet, and the copies made of it from now on (the iptables TRACE target asks for it). */
  watch(pkt: Packet): void {
    pkt.traceFollow = true;
  }

  wants(pkt: Packet): boolean {
    return pkt.traceFollow || this.roots.has(pkt.id);
  }

  /** Filter mode: decides on a packet the first time a device transmits it. */
  consider(pkt: Packet): boolean {
    if (this.wants(pkt)) return true;
    const sel = this.selector;
    if (sel.flow !== undefined || this.seen.has(pkt.id) || this.matched >= (sel.count ?? 1)) return false;
    this.seen.add(pkt.id);
    if (!this.matches(pkt)) return false;
    this.matched++;
    this.select(pkt);
    return true;
  }

  private select(pkt: Packet): void {
    this.roots.set(pkt.id, pkt.id);
    this.selections.push({ id: pkt.id, t: this.clock.now, key: this.clock.currentKey });
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
    if (!this.selector.followReply) return;
    // Only a selected packet (its own root) provokes a watched answer.
    if (this.roots.get(pkt.id) === pkt.id && !this.armed.has(ns)) this.armed.set(ns, pkt.id);
  }

  /** The packet's watch state as a tag (NOT_WATCHED when not watched): what a frame leaving for another partition carries. */
  tagOf(pkt: Packet): TraceTag {
    const root = this.roots.get(pkt.id);
    if (root === undefined && !pkt.traceFollow) return NOT_WATCHED;
    return traceTag(root ?? -1, pkt.traceFollow);
  }

  /**
   * A frame came in over a cut wire with the tag its sender gave it. It was
   * transmitted there, so the filter already considered it.
   */
  arrived(pkt: Packet, tag: TraceTag): void {
    if (tag !== NOT_WATCHED) {
      if (tagAlways(tag)) pkt.traceFollow = true;
      if (tagRoot(tag) >= 0) this.roots.set(pkt.id, tagRoot(tag));
    } else if (this.selector.flow === undefined && this.matched < (this.selector.count ?? 1)) {
      this.seen.add(pkt.id);
    }
  }

  add(pkt: Packet, where: string, what: string, text: string): void {
    this.steps.push({ t: this.clock.now, packet: pkt.id, where, what, text });
    this.stepKeys.push(this.clock.currentKey);
    this.stepTags.push(this.tagOf(pkt));
  }

  /** The trace as aligned text lines. */
  format(): string {
    return formatTrace(this.steps);
  }
}

/** Trace steps as aligned text lines. */
export function formatTrace(steps: readonly TraceStep[]): string {
  const w = Math.max(8, ...steps.map((s) => s.where.length));
  return steps.map((s) => `${(s.t / 1e9).toFixed(9)}  ${s.where.padEnd(w)}  ${s.what.padEnd(9)} ${s.text}`).join('\n');
}
