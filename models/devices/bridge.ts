import type { Packet } from '../packet.js';
import { PacketType } from '../packet.js';
import { DropReason } from './drop-reason.js';
import { NetDevice, type RxHandler } from './net-device.js';
import type { Netns } from '../stack/netns.js';
import { readMac } from '../wire/addr.js';

/** A forwarding database entry (struct net_bridge_fdb_entry). */
interface FdbEntry {
  /** null for the bridge's own address; the port for a port's own address (both BR_FDB_LOCAL) or a learned one. */
  port: NetDevice | null;
  updatedAt: number;
  local: boolean;
}

/** Linux default ageing time (BR_DEFAULT_AGEING_TIME, 300 s). */
export const DEFAULT_AGEING_NS = 300e9;

/**
 * A Linux bridge (net/bridge/): the bridge device itself (cni0, docker0) with its
 * MAC and addresses, plus the ports enslaved to it. Mirrors br_handle_frame /
 * br_handle_frame_finish (br_input.c) and br_forward / br_flood (br_forward.c):
 * learn the source on the ingress port, then deliver locally, forward to the
 * learned port or flood; never back out of the ingress port unless that port is
 * in hairpin mode. Entries age out lazily on lookup (like ns-3's bridge).
 */
export class BridgeDevice extends NetDevice implements RxHandler {
  /** Ports, most recently added first (br_add_if uses list_add_rcu at the head). */
  readonly ports: NetDevice[] = [];
  private readonly hairpin = new Set<NetDevice>();
  private readonly fdb = new Map<number, FdbEntry>();
  ageingNs = DEFAULT_AGEING_NS;

  constructor(ns: Netns, name: string, mac: number, mtu: number) {
    super(ns, name, mac, mtu);
    this.fdb.set(mac, { port: null, updatedAt: 0, local: true });
  }

  addPort(dev: NetDevice, hairpin = false): void {
    if (dev.ns !== this.ns) throw new Error(`${dev.path}: a bridge port must be in the bridge's namespace`);
    if (dev.rxHandler !== null) throw new Error(`${dev.path} is already a bridge port`);
    dev.rxHandler = this;
    this.ports.unshift(dev);
    // br_add_if -> br_fdb_add_local: the port's own address is a permanent local entry.
    if (!this.fdb.has(dev.mac)) this.fdb.set(dev.mac, { port: dev, updatedAt: 0, local: true });
    if (hairpin) this.hairpin.add(dev);
  }

  /** br_handle_frame + br_handle_frame_finish: a frame arrived on a port. */
  handleFrame(port: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const o = pkt.off;
    const dst = readMac(b, o);
    const src = readMac(b, o + 6);
    // !is_valid_ether_addr(src): multicast or all-zero sources are dropped.
    if ((b[o + 6]! & 1) !== 0 || src === 0) {
      port.dropRx(pkt, DropReason.NOT_SPECIFIED);
      return;
    }
    const now = this.ns.component.now;
    this.learn(src, port, now);

    if ((b[o]! & 1) !== 0) {
      // Broadcast/multicast: flood, then pass a copy up to the bridge device.
      this.flood(pkt, port, true);
      return;
    }
    const entry = this.lookup(dst, now);
    if (entry === null) {
      this.flood(pkt, port, false);
      return;
    }
    if (entry.local) {
      if (dst === this.mac) pkt.pktType = PacketType.HOST;
      this.passUp(pkt);
      return;
    }
    this.forward(entry.port!, pkt, port);
  }

  /** br_dev_xmit: the namespace transmits on the bridge device itself. */
  xmit(pkt: Packet): void {
    if (!this.up) {
      this.dropTx(pkt, DropReason.DEV_READY);
      return;
    }
    this.transmitted(pkt);
    const b = pkt.buf;
    const o = pkt.off;
    if ((b[o]! & 1) !== 0) {
      this.flood(pkt, null, false);
      return;
    }
    const entry = this.lookup(readMac(b, o), this.ns.component.now);
    if (entry === null) this.flood(pkt, null, false);
    else if (entry.port === null) this.passUp(pkt);
    else this.forward(entry.port, pkt, null);
  }

  /** The learned port of a MAC (for tests and dumps), honouring ageing. */
  portOf(mac: number): NetDevice | null | undefined {
    const e = this.lookup(mac, this.ns.component.now);
    return e === null ? undefined : e.port;
  }

  /** `bridge fdb show`-like dump: learned (non-local) entries, in MAC order. */
  fdbDump(): { mac: number; port: string; ageNs: number }[] {
    const now = this.ns.component.now;
    const out: { mac: number; port: string; ageNs: number }[] = [];
    for (const [mac, e] of this.fdb) {
      if (e.local || now - e.updatedAt >= this.ageingNs) continue;
      out.push({ mac, port: e.port!.name, ageNs: now - e.updatedAt });
    }
    return out.sort((a, b) => a.mac - b.mac);
  }

  /** br_fdb_update: learn or refresh `src` on `port`; local entries are never moved. */
  private learn(src: number, port: NetDevice, now: number): void {
    const e = this.fdb.get(src);
    if (e === undefined) {
      this.fdb.set(src, { port, updatedAt: now, local: false });
    } else if (!e.local) {
      e.port = port;
      e.updatedAt = now;
    }
  }

  private lookup(mac: number, now: number): FdbEntry | null {
    const e = this.fdb.get(mac);
    if (e === undefined) return null;
    // has_expired: updated + ageing_time <= now.
    if (!e.local && now - e.updatedAt >= this.ageingNs) {
      this.fdb.delete(mac);
      return null;
    }
    return e;
  }

  /** should_deliver: a different port, or the same one in hairpin mode. */
  private mayEgress(to: NetDevice, from: NetDevice | null): boolean {
    return to.up && (to !== from || this.hairpin.has(to));
  }

  private forward(to: NetDevice, pkt: Packet, from: NetDevice | null): void {
    if (!this.mayEgress(to, from)) {
      (from ?? this).dropRx(pkt, DropReason.BRIDGE_NO_EGRESS);
      return;
    }
    to.xmit(pkt);
  }

  /**
   * br_flood: a clone to every eligible port but the last, which gets the
   * original; with `local`, a copy is then passed up to the bridge device.
   */
  private flood(pkt: Packet, from: NetDevice | null, local: boolean): void {
    let last: NetDevice | null = null;
    for (const p of this.ports) {
      if (!this.mayEgress(p, from)) continue;
      if (last !== null) last.xmit(pkt.clone());
      last = p;
    }
    if (local) {
      if (last !== null) last.xmit(pkt.clone());
      this.passUp(pkt);
    } else if (last !== null) {
      last.xmit(pkt);
    }
  }

  /** br_pass_frame_up: the frame enters the bridge device's namespace stack. */
  private passUp(pkt: Packet): void {
    this.counters.rxPackets++;
    this.counters.rxBytes += pkt.len;
    if (this.tap !== null) this.tap.capture(this, pkt, 1);
    this.ns.netifReceive(this, pkt);
  }
}
