import type { Packet } from '../packet.js';
import { PacketType } from '../packet.js';
import { NicDevice } from './nic.js';
import { VethDevice } from './veth.js';
import { DropReason } from './drop-reason.js';
import { mayWriteOnReceive, NetDevice, type RxHandler } from './net-device.js';
import type { Netns } from '../stack/netns.js';
import { formatIpv4, readMac } from '../wire/addr.js';
import type { EventHandler } from '../../engine/simulation.js';
import { NfHook, NfVerdict } from '../netfilter/hooks.js';
import { Nud } from '../stack/neighbour.js';
import { flowOf, traceHook } from '../stack/trace-hook.js';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ethType, setEthDst, setEthSrc } from '../wire/ethernet.js';
import { ipv4ChecksumValid, ipv4Dst, ipv4FragmentOffset, ipv4MoreFragments } from '../wire/ipv4.js';
import { DefragUser } from '../stack/reassembly.js';

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
const EV_PRE_ROUTING_FINISH = 0;
const EV_EGRESS = 1;

export class BridgeDevice extends NetDevice implements RxHandler, EventHandler {
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

  /**
   * br_del_if: the port leaves the bridge (its veth is being deleted): its
   * FDB entries go (br_fdb_delete_by_port), so frames for its MACs flood again.
   */
  removePort(dev: NetDevice): void {
    const i = this.ports.indexOf(dev);
    if (i < 0) throw new Error(`${dev.path} is not a port of ${this.path}`);
    this.ports.splice(i, 1);
    this.hairpin.delete(dev);
    dev.rxHandler = null;
    for (const [mac, e] of this.fdb) if (e.port === dev) this.fdb.delete(mac);
  }

  /** br_handle_frame + br_handle_frame_finish: a frame arrived on a port. */
  handleFrame(port: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const o = pkt.off;
    const src = readMac(b, o + 6);
    // !is_valid_ether_addr(src): multicast or all-zero sources are dropped.
    if ((b[o + 6]! & 1) !== 0 || src === 0) {
      port.dropRx(pkt, DropReason.NOT_SPECIFIED);
      return;
    }
    const now = this.ns.component.now;
    this.learn(src, port, now);
    const nf = this.ns.netfilter;
    if (nf !== null && nf.bridgeNfCallIptables && ethType(b, o) === ETHERTYPE_IPV4) {
      // br_netfilter may rewrite the frame (DNAT, mangle): it needs bytes of its own.
      pkt.unshare();
      const p = this.brNfPreRouting(port, pkt);
      if (p === null) return;
      pkt = p;
    }
    this.handleFrameFinish(port, pkt);
  }

  /** br_handle_frame_finish: deliver locally, forward to the learned port or flood. */
  private handleFrameFinish(port: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const o = pkt.off;
    const dst = readMac(b, o);
    const now = this.ns.component.now;
    if ((b[o]! & 1) !== 0) {
      // Broadcast/multicast: flood, then pass a copy up to the bridge device.
      this.flood(pkt, port, true);
      return;
    }
    const entry = this.lookup(dst, now);
    if (entry === null) {
      if (this.ns.ctx.tracer !== null) this.trace(pkt, 'bridge', `from ${port.name}: unknown destination, flood`);
      this.flood(pkt, port, false);
      return;
    }
    if (entry.local) {
      if (dst === this.mac) pkt.pktType = PacketType.HOST;
      if (this.ns.ctx.tracer !== null) this.trace(pkt, 'bridge', `from ${port.name}: for this host (fdb local), up to ${this.name}`);
      this.passUp(pkt);
      return;
    }
    if (this.ns.ctx.tracer !== null) this.trace(pkt, 'bridge', `from ${port.name}: forward to ${entry.port!.name} (fdb)`);
    this.forward(entry.port!, pkt, port);
  }

  /** br_dev_xmit: the namespace transmits on the bridge device itself. */
  xmit(pkt: Packet): void {
    if (!this.up) {
      this.dropTx(pkt, DropReason.DEV_READY);
      return;
    }
    this.transmitted(pkt);
    const dnatPort = pkt.brnfDnatPort;
    if (dnatPort !== null) {
      // br_nf_pre_routing_finish_bridge_slow: a bridged-DNAT frame the neighbour layer
      // resolved; restore its source MAC and go on bridging from its ingress port.
      pkt.brnfDnatPort = null;
      setEthSrc(pkt.buf, pkt.off, pkt.brnfSrcMac);
      this.handleFrameFinish(dnatPort, pkt);
      return;
    }
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
    this.egress(to, pkt, from);
  }

  /**
   * br_forward -> out of port `to`. A frame that went through br_netfilter's
   * PREROUTING also goes through iptables FORWARD (br_nf_forward_ip) and
   * POSTROUTING (br_nf_post_routing), as seen from the bridge device, with the
   * ports as -m physdev sees them.
   */
  private egress(to: NetDevice, pkt: Packet, from: NetDevice | null): void {
    const nf = this.ns.netfilter;
    if (nf !== null && pkt.brnfPrerouted) {
      let cost = 0;
      for (const hook of [NfHook.FORWARD, NfHook.POST_ROUTING]) {
        if (!nf.active(hook)) continue;
        const fwd = hook === NfHook.FORWARD;
        const before = this.ns.ctx.tracer !== null ? flowOf(pkt) : '';
        const verdict = nf.hook(hook, pkt, fwd ? this : null, this, fwd ? from : null, to);
        if (this.ns.ctx.tracer !== null) traceHook(this.ns, hook, pkt, verdict, nf.lastCostNs, `bridge ${this.name} port ${to.name}`, before);
        if (verdict !== NfVerdict.ACCEPT) {
          (from ?? this).dropRx(pkt, DropReason.NETFILTER_DROP);
          return;
        }
        cost += nf.lastCostNs;
      }
      if (cost > 0) {
        pkt.nextDev = to;
        this.ns.component.schedule(cost, this, EV_EGRESS, pkt);
        return;
      }
    }
    this.queueXmit(to, pkt);
  }

  /**
   * br_nf_pre_routing (net/bridge/br_netfilter_hooks.c): with
   * bridge-nf-call-iptables=1 an IPv4 frame entering a port goes through iptables
   * PREROUTING (in = the bridge, physin = the port) before the bridge decides.
   * When DNAT changed its destination (br_nf_pre_routing_finish): if the new
   * destination is reached through this same bridge, the frame is re-addressed
   * to the new destination's MAC and bridged ("bridged DNAT": a pod reaching a
   * Service whose backend sits on the same bridge); otherwise it is addressed to
   * the bridge device and routed. With conntrack loaded a fragment first
   * waits for the rest of its datagram (nf_defrag_ipv4 as
   * IP_DEFRAG_CONNTRACK_BRIDGE_IN), and the whole datagram goes on. Returns
   * the frame to go on with, or null when it was dropped, queued as a fragment
   * or deferred by the rules' simulated cost.
   */
  private brNfPreRouting(port: NetDevice, pkt: Packet): Packet | null {
    const nf = this.ns.netfilter!;
    let b = pkt.buf;
    let ip = pkt.off + ETH_HLEN;
    // br_validate_ipv4: a frame with a broken header is dropped here.
    if (pkt.len < ETH_HLEN + 20 || (b[ip]! >> 4) !== 4 || !ipv4ChecksumValid(b, ip)) {
      port.dropRx(pkt, DropReason.IP_INHDR);
      return null;
    }
    if (nf.conntrack !== null && (ipv4MoreFragments(b, ip) || ipv4FragmentOffset(b, ip) !== 0)) {
      const whole = this.ns.conntrackDefrag(pkt, DefragUser.CONNTRACK_BRIDGE_IN);
      if (whole === null) return null;
      pkt = whole;
      b = pkt.buf;
      ip = pkt.off + ETH_HLEN;
    }
    const dstBefore = ipv4Dst(b, ip);
    if (nf.active(NfHook.PRE_ROUTING)) {
      const before = this.ns.ctx.tracer !== null ? flowOf(pkt) : '';
      const verdict = nf.hook(NfHook.PRE_ROUTING, pkt, this, null, port, null);
      if (this.ns.ctx.tracer !== null) traceHook(this.ns, NfHook.PRE_ROUTING, pkt, verdict, nf.lastCostNs, `bridge ${this.name} port ${port.name}`, before);
      if (verdict !== NfVerdict.ACCEPT) {
        port.dropRx(pkt, DropReason.NETFILTER_DROP);
        return null;
      }
    }
    pkt.brnfPrerouted = true;
    const dstAfter = ipv4Dst(b, ip);
    if (dstAfter !== dstBefore) {
      const route = this.ns.isLocal(dstAfter) ? null : this.ns.routes.lookup(dstAfter);
      if (route === null || route.dev !== this) {
        // Routed: addressed to the bridge device, handed to the IP layer.
        setEthDst(b, pkt.off, this.mac);
        pkt.pktType = PacketType.HOST;
      } else {
        // Bridged DNAT (br_nf_pre_routing_finish_bridge): re-address the frame to the new
        // destination's MAC and bridge it from its ingress port. A REACHABLE neighbour is used
        // at once; otherwise the neighbour layer resolves it and sends the frame through the
        // bridge device, which resumes bridging (br_nf_pre_routing_finish_bridge_slow).
        const hop = route.via !== 0 ? route.via : dstAfter;
        const n = this.ns.neigh.lookup(this, hop);
        if (this.ns.ctx.tracer !== null) this.trace(pkt, 'bridge', `DNAT to ${formatIpv4(dstAfter)} on this bridge: bridged DNAT`);
        if (n !== undefined && n.state === Nud.REACHABLE) {
          setEthDst(b, pkt.off, n.mac);
          pkt.pktType = PacketType.OTHERHOST;
        } else {
          pkt.brnfDnatPort = port;
          pkt.brnfSrcMac = readMac(b, pkt.off + 6);
          this.ns.neigh.output(this, hop, pkt);
          return null;
        }
      }
    }
    if (nf.lastCostNs > 0) {
      pkt.nextDev = port;
      this.ns.component.schedule(nf.lastCostNs, this, EV_PRE_ROUTING_FINISH, pkt);
      return null;
    }
    return pkt;
  }

  /**
   * br_nf_dev_queue_xmit: out of port `to`, a datagram br_netfilter reassembled
   * is cut again to its largest fragment's size (or the port's MTU) when it does
   * not fit that; anything else goes as it is.
   */
  private queueXmit(to: NetDevice, pkt: Packet): void {
    const frags = pkt.brnfPrerouted ? this.ns.bridgeRefragment(pkt, to) : null;
    if (frags === null) {
      to.xmit(pkt);
      return;
    }
    if (this.ns.ctx.tracer !== null) this.trace(pkt, 'bridge', `to ${to.name}: cut again into ${frags.length} fragments`);
    for (const f of frags) to.xmit(f);
  }

  /** Continuations after the simulated cost of br_netfilter's hooks. */
  handleEvent(kind: number, arg: unknown): void {
    const pkt = arg as Packet;
    const dev = pkt.nextDev!;
    pkt.nextDev = null;
    if (kind === EV_PRE_ROUTING_FINISH) this.handleFrameFinish(dev, pkt);
    else this.queueXmit(dev, pkt);
  }

  /**
   * br_flood: a clone to every eligible port but the last, which gets the
   * original; with `local`, a copy is then passed up to the bridge device.
   */
  private flood(pkt: Packet, from: NetDevice | null, local: boolean): void {
    let last: NetDevice | null = null;
    // NIC ports that egress goes straight to (no br_netfilter hooks to run on
    // each copy) only read their copy until it arrives: they share one (Packet.take).
    const direct = this.ns.netfilter === null || !pkt.brnfPrerouted;
    let wired: Packet | null = null;
    // An ARP frame's veth ports share one copy too: most of their receivers
    // read it in place and let go (NetDevice.receive), so a flood of a
    // 1,000-pod bridge makes no packet per port. Not while a tracer runs: it
    // follows, and marks, each copy as an object of its own. With a mark, each
    // port's scrub would decide it for all (skb_scrub_packet clears it across namespaces).
    const readOnly = direct && this.ns.ctx.tracer === null && pkt.mark === 0 && ethType(pkt.buf, pkt.off) === ETHERTYPE_ARP;
    let veths: Packet | null = null;
    for (const p of this.ports) {
      if (!this.mayEgress(p, from)) continue;
      if (last !== null) {
        let copy: Packet;
        if (direct && last instanceof NicDevice) {
          if (wired === null) {
            wired = pkt.share();
            wired.holders = 0;
          }
          wired.holders++;
          copy = wired;
        } else if (readOnly && last instanceof VethDevice) {
          if (veths === null) {
            veths = pkt.share();
            veths.holders = 0;
          }
          veths.holders++;
          copy = veths;
        } else copy = this.floodCopy(pkt);
        this.egress(last, copy, from);
      }
      last = p;
    }
    if (local) {
      if (last !== null) this.egress(last, this.floodCopy(pkt), from);
      this.passUp(pkt);
    } else if (last !== null) {
      this.egress(last, pkt, from);
    }
  }

  /**
   * deliver_clone: a flood's copy shares the frame (skb_clone), and with it
   * br_netfilter's record of a reassembled datagram, so each port cuts it again.
   */
  private floodCopy(pkt: Packet): Packet {
    const copy = pkt.share();
    if (pkt.brnfPrerouted) this.ns.shareDefragInfo(pkt, copy);
    return copy;
  }

  /** br_pass_frame_up: the frame enters the bridge device's namespace stack. */
  private passUp(pkt: Packet): void {
    this.counters.rxPackets++;
    this.counters.rxBytes += pkt.len;
    if (this.tap !== null) this.tap.capture(this, pkt, 1);
    this.traceFrame(pkt, 'rx');
    if (pkt.shared && mayWriteOnReceive(pkt)) pkt.unshare();
    this.ns.netifReceive(this, pkt);
  }
}
