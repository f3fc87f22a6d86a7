import type { Component, EventHandler } from '../../engine/simulation.js';
import type { Netfilter } from '../netfilter/netfilter.js';
import { NfHook, NfVerdict } from '../netfilter/hooks.js';
import type { RandomStream } from '../../engine/rng.js';
import type { NodeContext } from '../node-context.js';
import { Packet } from '../packet.js';
import { PacketType } from '../packet.js';
import type { NetDevice, IfAddr } from '../devices/net-device.js';
import { LoopbackDevice } from '../devices/loopback.js';
import type { BacklogTarget } from '../devices/backlog.js';
import { DropReason } from '../devices/drop-reason.js';
import { RouteTable, SharedRoute, type Route } from './route-table.js';
import type { RouteGroup } from './route-group.js';
import { NeighbourTable, type Neighbour } from './neighbour.js';
import { inPrefix, prefixMask, formatIpv4 } from '../wire/addr.js';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ethType, setEthDst, setEthSrc, setEthType } from '../wire/ethernet.js';
import {
  IPV4_HEADER_LEN,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  decrementTtl,
  writeIpv4Header,
  ipv4ChecksumValid,
  ipv4DontFragment,
  ipv4Dst,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  ipv4Ttl,
  ipv4Version,
} from '../wire/ipv4.js';
import { arpReceive, arpSolicit } from './arp.js';
import { flowOf, traceHook } from './trace-hook.js';
import { IcmpLayer } from './icmp.js';
import { UdpLayer } from './udp.js';
import { TcpLayer } from './tcp/tcp-layer.js';
import { ipFragment, newFragStats, type FragStats } from './fragment.js';
import { DefragUser, Reassembly, type Reassembled } from './reassembly.js';
import { ICMP_DEST_UNREACH, ICMP_EXC_FRAGTIME, ICMP_FRAG_NEEDED, ICMP_TIME_EXCEEDED } from '../wire/icmp.js';

// Continuations after a netfilter hook (NF_HOOK's okfn), as event kinds.
const K_RCV_FINISH = 0;
const K_LOCAL_DELIVER_FINISH = 1;
const K_FORWARD_FINISH = 2;
const K_OUTPUT_FINISH = 3;
const K_POST_FINISH = 4;
const K_STOLEN_OUTPUT = 5;
const K_LOOP_BROADCAST = 6;

/** net.ipv4.route.min_pmtu and mtu_expires (10 minutes): the floor and lifetime of a learned path MTU. */
const MIN_PMTU = 552;
const PMTU_EXPIRES_NS = 600e9;

/** Loopback network 127.0.0.0/8, all of it local (the kernel's local table). */
const LOOPBACK_NET = 0x7f000000;

/** The bit of an address (any signedness) in a namespace's one-word address filters. */
function addrBit(addr: number): number {
  return 1 << (Math.imul(addr, 0x9e3779b1) >>> 27);
}

/**
 * Why sendIp refused a datagram, as the errno a socket's sendmsg returns:
 * no route, a DF datagram above the route MTU, or a broadcast destination
 * from a socket without SO_BROADCAST.
 */
export type SendError = 'ENETUNREACH' | 'EMSGSIZE' | 'EACCES';

/** Options of locally generated datagrams (the parts of a socket's state that reach the header). */
export interface IpSendOptions {
  ttl?: number;
  tos?: number;
  /**
   * The DF bit. 'if-fits' is a socket's default, IP_PMTUDISC_WANT
   * (__ip_make_skb): DF when the datagram fits the route's MTU, else it is
   * fragmented here, without DF; `true` is IP_PMTUDISC_DO, where a datagram
   * above the MTU fails with EMSGSIZE.
   */
  dontFragment: boolean | 'if-fits';
  /** SO_BROADCAST: the socket may send to a broadcast address. */
  broadcast?: boolean;
}

/**
 * A network namespace: its devices (always `lo`), IPv4 addresses, the main
 * routing table, the neighbour table, sysctls, and the IPv4 receive, forward and
 * output paths (net/ipv4/ip_input.c, ip_forward.c, ip_output.c). Transport
 * protocols live in IcmpLayer and UdpLayer.
 */
export class Netns implements EventHandler {
  readonly devices = new Map<string, NetDevice>();
  readonly lo: LoopbackDevice;
  readonly routes = new RouteTable((name) => this.devices.get(name));
  readonly neigh: NeighbourTable;
  readonly icmp: IcmpLayer;
  readonly udp: UdpLayer;
  private tcpLayer: TcpLayer | null = null;
  /** net.ipv4.ip_forward */
  ipForward = false;
  /** False once the namespace is torn down (a deleted pod's sandbox): its apps stop, its devices are down. */
  alive = true;
  /** net.ipv4.ip_default_ttl */
  defaultTtl = 64;
  /** iptables and conntrack, when this namespace has rules (null: no hooks, no cost). See attachNetfilter. */
  netfilter: Netfilter | null = null;
  /** Lines written by the LOG target (the namespace's dmesg). */
  readonly netfilterLog: string[] = [];
  /** IPv4 fragment queues (ip_defrag), with the IpReasm* counters in `ipfrag.stats`. */
  readonly ipfrag: Reassembly;
  /** IpFragOKs, IpFragFails, IpFragCreates. */
  readonly fragStats: FragStats = newFragStats();
  /**
   * IPCB(skb)->frag_max_size of datagrams nf_defrag_ipv4 reassembled here, for
   * refragmenting them on output; `defragged` counts them so namespaces that
   * never reassembled at PRE_ROUTING skip the lookup.
   */
  private readonly defragInfo = new WeakMap<Packet, Reassembled>();
  private defragged = 0;
  /**
   * Local addresses (the local routing table's unicast entries) -> device.
   * Keys here and in `broadcasts` are `addr | 0`: Smis, not heap numbers to hash
   * (192.168/16 and 172.16/12 are above 2^31), on every packet received.
   */
  private readonly localAddrs = new Map<number, NetDevice>();
  /**
   * Directed broadcast addresses of configured prefixes (`| 0`) -> the device
   * of the first address that has it (the local table's `broadcast` entry).
   */
  private readonly broadcasts = new Map<number, NetDevice>();
  /**
   * One-word Bloom filters (addrBit) over `localAddrs` and `broadcasts`, and
   * the last address found local: with thousands of namespaces their maps are
   * cache misses, and most addresses a router tests are not its own.
   * 127.0.0.1 is local in every namespace, so it is a safe initial value.
   */
  private localBits = 0;
  private broadcastBits = 0;
  private lastLocal = 0x7f000001;
  /**
   * selectSource's last question and answer (a pod asks the same one for
   * every packet). addAddress and deleteDevice, the only writers of device
   * addresses, forget it.
   */
  private lastSrcDev: NetDevice | null = null;
  private lastSrcDst = 0;
  private lastSrc = 0;
  /** Extra IP protocols (inet_add_protocol), e.g. IPPROTO_IPIP for an ipip tunnel. */
  private readonly protocols = new Map<number, (dev: NetDevice, pkt: Packet) => void>();
  /**
   * Path MTUs learned from ICMP (the route exceptions of ip_rt_update_pmtu), by
   * destination `| 0`; null until the first. Every output asks, and an empty
   * map of its own would be one more cache miss per packet in a large cluster.
   */
  private pmtu: Map<number, { mtu: number; expiresAt: number }> | null = null;
  /** Where the looped copies of this host's broadcasts wait in the backlog; made at the first one. */
  private loopedBroadcasts: BacklogTarget | null = null;
  private ifindexCounter = 0;
  private ipIdent: number;
  readonly rng: RandomStream;

  constructor(
    readonly name: string,
    readonly ctx: NodeContext,
  ) {
    this.rng = ctx.component.random(`netns/${name}`);
    this.ipIdent = Math.floor(this.rng.next() * 0x10000);
    this.neigh = new NeighbourTable(
      {
        clock: ctx.component,
        schedule: (d, h, k, a) => this.ctx.component.schedule(d, h, k, a),
        solicit: (n, dst, last) => arpSolicit(this, n, dst, last),
        unreachable: (pkt) => this.icmp.sendHostUnreachable(pkt),
        isBroadcastOn: (dev, ip) => this.isBroadcastOn(dev, ip),
      },
      ctx.component.random(`neigh/${name}`),
    );
    this.icmp = new IcmpLayer(this);
    this.ipfrag = new Reassembly({
      now: () => this.ctx.component.now,
      schedule: (d, h, k, a) => this.ctx.component.schedule(d, h, k, a),
      drop: (pkt, reason) => (pkt.inDev !== null ? pkt.inDev.dropRx(pkt, reason) : this.dropped(null, pkt, reason)),
      timeExceeded: (head, user) => {
        // frag_expire_skip_icmp: conntrack's queues answer only for local destinations.
        if (user === DefragUser.CONNTRACK_IN && !this.isLocal(ipv4Dst(head.buf, head.off + ETH_HLEN))) return;
        this.icmp.sendError(head, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0);
      },
    });
    this.udp = new UdpLayer(this);
    this.lo = new LoopbackDevice(this);
    this.devices.set('lo', this.lo);
    this.addAddress(this.lo, 0x7f000001, 8);
  }

  /**
   * TCP, made on first use: most namespaces of a large run never see a
   * segment, and a layer with its random stream costs kilobytes. Its draws come
   * from its own stream, so when it is made changes nothing.
   */
  get tcp(): TcpLayer {
    if (this.tcpLayer === null) this.tcpLayer = new TcpLayer(this, this.ctx.tcpParams);
    return this.tcpLayer;
  }

  get component(): Component {
    return this.ctx.component;
  }

  get backlog() {
    return this.ctx.backlog;
  }

  now(): number {
    return this.ctx.component.now;
  }

  nextIfindex(): number {
    return ++this.ifindexCounter;
  }

  /** Registers a device created in this namespace. */
  attach(dev: NetDevice): void {
    if (dev.ns !== this) throw new Error(`${dev.path}: device belongs to another namespace`);
    if (this.devices.has(dev.name)) throw new Error(`${this.name}: device ${dev.name} already exists`);
    this.devices.set(dev.name, dev);
  }

  device(name: string): NetDevice {
    const d = this.devices.get(name);
    if (d === undefined) throw new Error(`${this.name}: no device ${name}`);
    return d;
  }

  /**
   * `ip addr add ADDR/LEN dev DEV`: the address becomes local, its directed
   * broadcast is recognised, and the connected route (proto kernel scope link) appears.
   */
  addAddress(dev: NetDevice, addr: number, prefixLen: number): void {
    if (this.localAddrs.has(addr | 0)) throw new Error(`${this.name}: address ${formatIpv4(addr)} already configured`);
    const a: IfAddr = { addr, prefixLen };
    dev.addrs.push(a);
    this.lastSrcDev = null;
    this.localAddrs.set(addr | 0, dev);
    this.localBits |= addrBit(addr);
    if (dev === this.lo) return; // 127.0.0.0/8 is handled as a whole by isLocal
    const broadcast = addr | ~prefixMask(prefixLen);
    if (prefixLen < 31 && !this.broadcasts.has(broadcast)) {
      this.broadcasts.set(broadcast, dev);
      this.broadcastBits |= addrBit(broadcast);
    }
    // fib_add_ifaddr adds no prefix route for a /32 (prefix == addr).
    if (prefixLen === 32) return;
    const net = (addr & prefixMask(prefixLen)) >>> 0;
    if (!this.routes.has(net, prefixLen, dev)) {
      this.routes.add({ dst: net, prefixLen, via: 0, dev, src: addr, metric: 0, proto: 'kernel', scope: 'link' });
    }
  }

  /**
   * The device is unregistered (`ip link del`, or the CNI DEL of a pod's host
   * veth): it goes down, and its addresses and every route through it go, as
   * unregister_netdevice takes them (inetdev_destroy, fib_disable_ip). The
   * object stays, so captures made on it keep their interface.
   */
  deleteDevice(dev: NetDevice): void {
    dev.up = false;
    for (const a of dev.addrs) this.localAddrs.delete(a.addr | 0);
    dev.addrs.length = 0;
    this.localBits = 0;
    for (const a of this.localAddrs.keys()) this.localBits |= addrBit(a);
    // Another device's address in the same prefix keeps its broadcast entry.
    this.broadcasts.clear();
    this.broadcastBits = 0;
    for (const d of this.devices.values()) {
      for (const a of d.addrs) {
        const broadcast = a.addr | ~prefixMask(a.prefixLen);
        if (d === this.lo || a.prefixLen >= 31 || this.broadcasts.has(broadcast)) continue;
        this.broadcasts.set(broadcast, d);
        this.broadcastBits |= addrBit(broadcast);
      }
    }
    this.lastLocal = 0x7f000001;
    this.lastSrcDev = null;
    this.routes.removeDevice(dev);
  }

  /** The sandbox goes away (kubelet killed the pod): every device down, apps stop at their next step. */
  shutdown(): void {
    this.alive = false;
    for (const dev of this.devices.values()) dev.up = false;
  }

  /** inet_add_protocol: `handler` receives datagrams of IP protocol `proto` delivered locally (after LOCAL_IN). */
  addProtocol(proto: number, handler: (dev: NetDevice, pkt: Packet) => void): void {
    if (proto === IPPROTO_ICMP || proto === IPPROTO_UDP || proto === IPPROTO_TCP || this.protocols.has(proto)) {
      throw new Error(`${this.name}: IP protocol ${proto} already has a handler`);
    }
    this.protocols.set(proto, handler);
  }

  /** `ip route add DST/LEN [via GW] dev DEV [src SRC] [metric M] [onlink]` */
  addRoute(dst: number, prefixLen: number, dev: NetDevice, via = 0, src = 0, metric = 0, onlink = false): void {
    this.checkGateway(dev, via, onlink);
    this.routes.add({ dst, prefixLen, via, dev, src, metric, proto: 'static', scope: via === 0 ? 'link' : 'universe' });
  }

  /** addRoute for a route many namespaces add alike (see SharedRoute): the same checks, no object per namespace. */
  addSharedRoute(route: SharedRoute, onlink = false): void {
    this.checkGateway(this.device(route.devName), route.via, onlink);
    this.routes.addShared(route);
  }

  /**
   * Holds a group of routes many namespaces hold (host-gw's), less `except`;
   * each route's gateway is checked as `ip route add` would check it.
   */
  attachRouteGroup(group: RouteGroup, except: SharedRoute | null, onlink: (route: SharedRoute) => boolean = () => false): void {
    const dev = this.device(group.devName);
    // Every gateway on-link at once when one on-link route through `dev` takes
    // all their addresses (one check per node, where a check per gateway is N²
    // in a host-gw cluster); otherwise each is checked on its own.
    const hull = group.gatewayHull;
    const all = hull === null ? null : this.routes.uniformRoute(hull.addr, hull.prefixLen);
    if (hull !== null && (all === null || all.dev !== dev || all.via !== 0)) {
      for (const r of group.routes) if (r !== except) this.checkGateway(dev, r.via, onlink(r));
    }
    this.routes.attachGroup(group, except);
  }

  private checkGateway(dev: NetDevice, via: number, onlink: boolean): void {
    // RTNH_F_ONLINK: the gateway is taken as on-link through `dev` without a check (flannel's overlay routes).
    if (via !== 0 && !onlink) {
      // fib_check_nh: the gateway must be reachable on-link through `dev`.
      const r = this.routes.lookup(via);
      if (r === null || r.dev !== dev || r.via !== 0) {
        throw new Error(`${this.name}: route via ${formatIpv4(via)} dev ${dev.name}: gateway is not on-link (RTNETLINK answers: Network is unreachable)`);
      }
    }
  }

  /** The device a local address is configured on. */
  localDevice(addr: number): NetDevice | undefined {
    return this.localAddrs.get(addr | 0);
  }

  /** inet_addr_type(...) == RTN_LOCAL */
  isLocal(addr: number): boolean {
    if (addr === this.lastLocal || addr >>> 24 === LOOPBACK_NET >>> 24) return true;
    if ((this.localBits & addrBit(addr)) === 0 || !this.localAddrs.has(addr | 0)) return false;
    this.lastLocal = addr;
    return true;
  }

  /** inet_addr_type(...) == RTN_BROADCAST: 255.255.255.255 or the directed broadcast of a configured prefix. */
  isBroadcast(addr: number): boolean {
    return (addr | 0) === -1 || ((this.broadcastBits & addrBit(addr)) !== 0 && this.broadcasts.has(addr | 0));
  }

  /**
   * inet_addr_type_dev_table(dev, addr) == RTN_BROADCAST, which arp_constructor
   * asks of every new neighbour: 255.255.255.255 and 0.0.0.0 anywhere, a
   * directed broadcast only on the device whose prefix it ends.
   */
  isBroadcastOn(dev: NetDevice, addr: number): boolean {
    if ((addr | 0) === -1 || addr === 0) return true;
    return (this.broadcastBits & addrBit(addr)) !== 0 && this.broadcasts.get(addr | 0) === dev;
  }

  /** inet_select_addr: an address of `dev`, preferring one on the same subnet as `dst`. */
  selectSource(dev: NetDevice, dst: number): number {
    if (dev === this.lastSrcDev && dst === this.lastSrcDst) return this.lastSrc;
    const src = this.firstAddress(dev, dst);
    this.lastSrcDev = dev;
    this.lastSrcDst = dst;
    this.lastSrc = src;
    return src;
  }

  /** inet_select_addr itself (selectSource without its memory). */
  private firstAddress(dev: NetDevice, dst: number): number {
    const addrs = dev.addrs;
    let first = 0;
    for (let i = 0; i < addrs.length; i++) {
      const a = addrs[i]!;
      if (inPrefix(dst, a.addr, a.prefixLen)) return a.addr;
      if (first === 0) first = a.addr;
    }
    if (first !== 0) return first;
    // No address on the device: any non-loopback address of the namespace.
    for (const [addr, d] of this.localAddrs) if (d !== this.lo) return addr >>> 0;
    return 0;
  }

  nextIpIdent(): number {
    this.ipIdent = (this.ipIdent + 1) & 0xffff;
    return this.ipIdent;
  }

  newPacket(ipLen: number): Packet {
    return this.created(Packet.alloc(ETH_HLEN + ipLen, this.ctx.newPacketId(), this.now()));
  }

  /** A new packet of this host over bytes it owns already: a received frame it consumes (see IcmpLayer.echoReply). */
  newPacketOn(buf: Uint8Array, off: number, len: number): Packet {
    return this.created(new Packet(buf, off, len, this.ctx.newPacketId(), this.now()));
  }

  private created(pkt: Packet): Packet {
    if (this.ctx.tracer !== null) this.ctx.tracer.created(this.name, pkt);
    return pkt;
  }

  /** Trace point in this namespace's stack (routing, hooks, delivery). Callers test ctx.tracer first, so the text is built only when tracing. */
  trace(pkt: Packet, what: string, text: string): void {
    const tr = this.ctx.tracer;
    if (tr !== null && tr.wants(pkt)) tr.add(pkt, this.name, what, text);
  }

  // ---------------------------------------------------------------- receive

  /** __netif_receive_skb_core -> the protocol handler for the frame's ethertype. */
  netifReceive(dev: NetDevice, pkt: Packet): void {
    const type = ethType(pkt.buf, pkt.off);
    if (type === ETHERTYPE_IPV4) this.ipRcv(dev, pkt);
    else if (type === ETHERTYPE_ARP) arpReceive(this, dev, pkt);
    else dev.dropRx(pkt, DropReason.UNHANDLED_PROTO);
  }

  /** ip_rcv: validate the header, then NF_INET_PRE_ROUTING. */
  private ipRcv(dev: NetDevice, pkt: Packet): void {
    if (pkt.pktType === PacketType.OTHERHOST) {
      dev.dropRx(pkt, DropReason.OTHERHOST);
      return;
    }
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    const avail = pkt.len - ETH_HLEN;
    if (avail < IPV4_HEADER_LEN || ipv4Version(b, ip) !== 4 || ipv4HeaderLen(b, ip) < IPV4_HEADER_LEN) {
      dev.dropRx(pkt, DropReason.IP_INHDR);
      return;
    }
    const total = ipv4TotalLength(b, ip);
    if (total > avail || total < ipv4HeaderLen(b, ip)) {
      dev.dropRx(pkt, DropReason.PKT_TOO_SMALL);
      return;
    }
    if (!ipv4ChecksumValid(b, ip)) {
      dev.dropRx(pkt, DropReason.IP_CSUM);
      return;
    }
    // Trim link-layer padding (pskb_trim_rcsum).
    pkt.len = ETH_HLEN + total;
    pkt.inDev = dev;
    // ip_sabotage_in: a frame that went through PREROUTING at a bridge port does not again.
    if (this.netfilter !== null && !pkt.brnfPrerouted) {
      // nf_defrag_ipv4 (priority -400): with conntrack loaded, the hooks see whole datagrams.
      if (this.netfilter.conntrack !== null && (ipv4MoreFragments(b, ip) || ipv4FragmentOffset(b, ip) !== 0)) {
        const whole = this.conntrackDefrag(pkt, DefragUser.CONNTRACK_IN);
        if (whole === null) return;
        pkt = whole;
      }
      if (this.runHook(NfHook.PRE_ROUTING, pkt, dev, null, K_RCV_FINISH)) return;
    }
    this.rcvFinish(pkt);
  }

  /** ip_rcv_finish: the routing decision (after any DNAT): deliver locally or forward. */
  private rcvFinish(pkt: Packet): void {
    const dev = pkt.inDev!;
    const dst = ipv4Dst(pkt.buf, pkt.off + ETH_HLEN);
    if (this.isLocal(dst) || this.isBroadcast(dst)) {
      if (this.ctx.tracer !== null) this.trace(pkt, 'route', `input: ${formatIpv4(dst)} is local, deliver`);
      this.localDeliver(dev, pkt);
      return;
    }
    if (!this.ipForward) {
      dev.dropRx(pkt, DropReason.IP_INADDRERRORS);
      return;
    }
    this.forward(dev, pkt);
  }

  /** ip_forward: TTL, MTU, TTL decrement, then NF_INET_FORWARD. */
  private forward(inDev: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    if (pkt.pktType !== PacketType.HOST) {
      inDev.dropRx(pkt, DropReason.OTHERHOST);
      return;
    }
    const route = this.routes.lookup(ipv4Dst(b, ip));
    if (route === null) {
      // ip_error: ENETUNREACH with forwarding on -> ICMP net unreachable.
      this.icmp.sendError(pkt, 3, 0, 0);
      inDev.dropRx(pkt, DropReason.IP_INNOROUTES);
      return;
    }
    if (ipv4Ttl(b, ip) <= 1) {
      this.icmp.sendError(pkt, 11, 0, 0);
      inDev.dropRx(pkt, DropReason.IP_TTL_EXPIRED);
      return;
    }
    // ip_exceeds_mtu: only DF datagrams fail here; others are fragmented after POST_ROUTING.
    // A datagram nf_defrag reassembled from DF fragments passes when its largest fragment fits.
    const total = ipv4TotalLength(b, ip);
    if (total > route.dev.mtu && ipv4DontFragment(b, ip) && !this.refragmentFits(pkt, route.dev.mtu)) {
      this.icmp.sendError(pkt, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, route.dev.mtu);
      inDev.dropRx(pkt, DropReason.PKT_TOO_BIG);
      return;
    }
    decrementTtl(b, ip);
    pkt.route = route;
    if (this.ctx.tracer !== null) this.trace(pkt, 'route', `forward: ${RouteTable.format(route)} (ttl ${ipv4Ttl(b, ip)})`);
    if (this.netfilter !== null && this.runHook(NfHook.FORWARD, pkt, inDev, route.dev, K_FORWARD_FINISH)) return;
    this.postRouting(pkt);
  }

  /** ip_local_deliver: NF_INET_LOCAL_IN, then the protocol. */
  private localDeliver(dev: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    if (ipv4MoreFragments(b, ip) || ipv4FragmentOffset(b, ip) !== 0) {
      const whole = this.ipfrag.defrag(pkt, DefragUser.LOCAL_DELIVER);
      if (whole === null) return;
      pkt = whole.pkt;
      dev = pkt.inDev!;
    }
    if (this.netfilter !== null && this.runHook(NfHook.LOCAL_IN, pkt, dev, null, K_LOCAL_DELIVER_FINISH)) return;
    this.localDeliverFinish(pkt);
  }

  /** ip_local_deliver_finish: hand the datagram to its transport protocol. */
  private localDeliverFinish(pkt: Packet): void {
    const dev = pkt.inDev!;
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    const proto = ipv4Protocol(b, ip);
    if (proto === IPPROTO_ICMP) this.icmp.receive(dev, pkt);
    else if (proto === IPPROTO_UDP) this.udp.receive(dev, pkt);
    else if (proto === IPPROTO_TCP) this.tcp.receive(dev, pkt);
    else if (this.protocols.has(proto)) this.protocols.get(proto)!(dev, pkt);
    else {
      // ip_local_deliver_finish: no handler -> ICMP protocol unreachable.
      if (this.isLocal(ipv4Dst(b, ip))) this.icmp.sendError(pkt, 3, 2, 0);
      dev.dropRx(pkt, DropReason.IP_NOPROTO);
    }
  }

  // ---------------------------------------------------------------- output

  /**
   * Sends a locally generated datagram whose transport header and payload are
   * already at `pkt.off + 14 + 20`: routes it, chooses the source when `src` is 0,
   * writes the IPv4 header, lets `finish(src)` complete the transport checksum,
   * then runs NF_INET_LOCAL_OUT and hands it on. Returns the errno when the
   * datagram was not sent (a missing route or a DO datagram too big also count a drop).
   */
  sendIp(pkt: Packet, proto: number, src: number, dst: number, opts: IpSendOptions, finish?: (src: number) => void): SendError | null {
    const route = this.outputRoute(dst);
    if (route === null) {
      this.dropped(null, pkt, DropReason.IP_OUTNOROUTES);
      return 'ENETUNREACH';
    }
    // udp_sendmsg, ping_v4_sendmsg: RTCF_BROADCAST without SOCK_BROADCAST -> EACCES, nothing sent.
    if (opts.broadcast !== true && this.isBroadcast(dst)) return 'EACCES';
    if (src === 0) src = this.sourceFor(route, dst);
    const ip = pkt.off + ETH_HLEN;
    const total = pkt.len - ETH_HLEN;
    // IP_PMTUDISC_WANT sizes against the path MTU learned for dst. TCP (DF always) does
    // not act on a learned path MTU here: its MSS stays the handshake's (not modelled).
    const df = opts.dontFragment === 'if-fits' ? total <= this.pathMtu(route.dev, dst) : opts.dontFragment;
    writeIpv4Header(pkt.buf, ip, opts.tos ?? 0, total, this.nextIpIdent(), df, opts.ttl ?? this.defaultTtl, proto, src, dst);
    if (finish !== undefined) finish(src);
    if (total > route.dev.mtu && df) {
      // A DF datagram larger than the route MTU fails with EMSGSIZE; others are fragmented in finishOutput.
      this.dropped(route.dev, pkt, DropReason.PKT_TOO_BIG);
      return 'EMSGSIZE';
    }
    pkt.route = route;
    pkt.inDev = null;
    // __ip_make_skb: skb->ignore_df = ip_sk_ignore_df(sk), true below IP_PMTUDISC_DO.
    pkt.ignoreDf = opts.dontFragment !== true;
    if (this.ctx.tracer !== null) this.trace(pkt, 'route', `output: ${RouteTable.format(route)}, src ${formatIpv4(src)}`);
    // Process context: what this send makes ready is processed when it returns.
    const backlog = this.ctx.backlog;
    backlog.hold();
    try {
      if (this.netfilter !== null && this.runHook(NfHook.LOCAL_OUT, pkt, null, route.dev, K_OUTPUT_FINISH)) return null;
      this.outputFinish(pkt);
    } finally {
      backlog.release();
    }
    return null;
  }

  /**
   * After LOCAL_OUT: nf_nat_ipv4_local_fn routes again (ip_route_me_harder)
   * whenever the packet's connection has its destination NATed in this
   * direction (tuple[dir].dst != tuple[!dir].src, DNAT in OUTPUT) — even when
   * the first route also covers the new destination (a default route, where a
   * more specific one now applies).
   */
  private outputFinish(pkt: Packet): void {
    const ct = pkt.ct;
    if (ct !== null && ct.tuple[pkt.ctDir]!.dst !== ct.tuple[1 - pkt.ctDir]!.src) {
      const r = this.outputRoute(ipv4Dst(pkt.buf, pkt.off + ETH_HLEN));
      if (r === null) {
        this.dropped(null, pkt, DropReason.IP_OUTNOROUTES);
        return;
      }
      pkt.route = r;
    }
    if (this.isBroadcast(ipv4Dst(pkt.buf, pkt.off + ETH_HLEN))) this.loopBroadcast(pkt);
    this.postRouting(pkt);
  }

  /**
   * ip_mc_output: a broadcast this host sends is also received by it. A copy
   * goes through POST_ROUTING first, then arrives on the output device
   * (dev_loopback_xmit -> netif_rx) with the sender's conntrack entry and
   * skips that device's counters and taps (af_packet ignores PACKET_LOOPBACK).
   */
  private loopBroadcast(pkt: Packet): void {
    // A copy of the bytes: NAT at POST_ROUTING writes into the original, which the kernel unshares first.
    const copy = pkt.clone();
    copy.route = pkt.route;
    if (this.netfilter !== null && this.runHook(NfHook.POST_ROUTING, copy, null, copy.route!.dev, K_LOOP_BROADCAST)) return;
    this.loopBroadcastFinish(copy);
  }

  private loopBroadcastFinish(pkt: Packet): void {
    pkt.inDev = pkt.route!.dev;
    pkt.route = null;
    pkt.pktType = PacketType.BROADCAST;
    this.loopedBroadcasts ??= { receive: (p) => this.receiveLooped(p) };
    this.ctx.backlog.enqueue(this.loopedBroadcasts, pkt);
  }

  /** The looped copy of a broadcast, from the backlog: ip_rcv, as if it had come in on its device. */
  private receiveLooped(pkt: Packet): void {
    const dev = pkt.inDev!;
    if (this.ctx.tracer !== null) this.trace(pkt, 'loop', `broadcast looped back to this host on ${dev.name} (no capture sees it)`);
    this.ipRcv(dev, pkt);
  }

  /** ip_output: NF_INET_POST_ROUTING on the way out of `pkt.route.dev`. */
  private postRouting(pkt: Packet): void {
    if (this.netfilter !== null && this.runHook(NfHook.POST_ROUTING, pkt, null, pkt.route!.dev, K_POST_FINISH)) return;
    this.finishOutput(pkt);
  }

  /**
   * ipv4_sk_update_pmtu -> __ip_rt_update_pmtu: an ICMP "fragmentation needed"
   * told a socket of this host that `dst` takes at most `mtu` bytes. The
   * exception lowers the route's MTU towards dst (never raises it), to at
   * least ip_rt_min_pmtu, for ip_rt_mtu_expires.
   */
  updatePmtu(dst: number, mtu: number): void {
    const route = this.outputRoute(dst);
    if (route === null || mtu <= 0) return;
    const old = this.pathMtu(route.dev, dst);
    if (old < mtu) return;
    if (mtu < MIN_PMTU) mtu = Math.min(old, MIN_PMTU);
    (this.pmtu ??= new Map()).set(dst | 0, { mtu, expiresAt: this.now() + PMTU_EXPIRES_NS });
  }

  /** Some destination has a learned path MTU (possibly expired, until looked up). */
  get hasPathMtus(): boolean {
    return this.pmtu !== null && this.pmtu.size !== 0;
  }

  /** dst_mtu of a route through `dev` towards `dst`: the device's MTU, or the path MTU learned for dst while it lasts. */
  pathMtu(dev: NetDevice, dst: number): number {
    const pmtu = this.pmtu;
    if (pmtu === null) return dev.mtu;
    const e = pmtu.get(dst | 0);
    if (e === undefined) return dev.mtu;
    if (e.expiresAt <= this.now()) {
      pmtu.delete(dst | 0);
      return dev.mtu;
    }
    return Math.min(e.mtu, dev.mtu);
  }

  /** The source address a socket not bound to one uses towards `dst` via `route`. */
  sourceFor(route: Route, dst: number): number {
    // The local table's prefsrc: an address's own /32 route has src = the
    // address; the rest of 127.0.0.0/8 has src 127.0.0.1 (`ip route get 127.1.2.3`).
    if (route.dev === this.lo) return this.localAddrs.has(dst | 0) ? dst : 0x7f000001;
    return route.src !== 0 ? route.src : this.selectSource(route.dev, dst);
  }

  /**
   * ip_route_output: local destinations go through lo (the local table); a
   * broadcast leaves on-link, with no gateway, from the device whose prefix
   * it ends (the local table's `broadcast` entry) or, for 255.255.255.255,
   * the device the main table routes it to.
   */
  outputRoute(dst: number): Route | null {
    if (this.isLocal(dst)) {
      return { dst, prefixLen: 32, via: 0, dev: this.lo, src: dst, metric: 0, proto: 'kernel', scope: 'host' };
    }
    if (this.isBroadcast(dst)) {
      const dev = (dst | 0) === -1 ? this.routes.lookup(dst)?.dev : this.broadcasts.get(dst | 0);
      if (dev === undefined) return null;
      return { dst, prefixLen: 32, via: 0, dev, src: 0, metric: 0, proto: 'kernel', scope: 'link' };
    }
    return this.routes.lookup(dst);
  }

  /** ip_finish_output2: to the neighbour of the next hop (or straight to lo). */
  private finishOutput(pkt: Packet): void {
    const route = pkt.route!;
    // ip_finish_output: `skb->len > mtu || IPCB(skb)->frag_max_size` -> ip_fragment.
    // A datagram of this host's without DF is cut to the path MTU it learned
    // (ip_skb_dst_mtu); a forwarded one to the device's (ip_forward_use_pmtu 0).
    let mtu = route.dev.mtu;
    if (this.pmtu !== null && pkt.inDev === null && !ipv4DontFragment(pkt.buf, pkt.off + ETH_HLEN)) {
      mtu = this.pathMtu(route.dev, ipv4Dst(pkt.buf, pkt.off + ETH_HLEN));
    }
    if (pkt.len - ETH_HLEN > mtu || (this.defragged !== 0 && this.defragInfo.has(pkt))) {
      this.fragmentOutput(pkt, route, mtu);
      return;
    }
    // An ip tunnel reads its next hop from skb_dst (rt_nexthop in ip_tunnel_xmit) and clears it.
    if (!route.dev.noArp) pkt.route = null;
    if (route.dev === this.lo) {
      const b = pkt.buf;
      setEthDst(b, pkt.off, 0);
      setEthSrc(b, pkt.off, 0);
      setEthType(b, pkt.off, ETHERTYPE_IPV4);
      this.lo.xmit(pkt);
      return;
    }
    this.neigh.output(route.dev, route.via !== 0 ? route.via : ipv4Dst(pkt.buf, pkt.off + ETH_HLEN), pkt);
  }

  /**
   * ip_fragment: a DF datagram gets ICMP fragmentation needed, unless this
   * host's own socket allowed fragmenting it (skb->ignore_df) or nf_defrag
   * reassembled it from fragments that fit; the rest is split by
   * ip_do_fragment into fragments of at most the MTU, or of the size the
   * largest original fragment had, and each goes on to the neighbour.
   */
  private fragmentOutput(pkt: Packet, route: Route, mtu: number): void {
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    const info = this.defragged !== 0 ? this.defragInfo.get(pkt) : undefined;
    // A reassembled datagram may be cut if its largest fragment fits; one of ours if its socket allowed it.
    const mayFragment = info !== undefined ? info.fragMaxSize <= mtu : pkt.ignoreDf;
    if (ipv4DontFragment(b, ip) && !mayFragment) {
      this.fragStats.fragFails++;
      this.icmp.sendError(pkt, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
      route.dev.dropTx(pkt, DropReason.PKT_TOO_BIG);
      return;
    }
    if (info !== undefined && info.fragMaxSize < mtu) mtu = info.fragMaxSize;
    const frags = ipFragment(pkt, mtu, info !== undefined && info.pmtu);
    if (frags === null) {
      this.fragStats.fragFails++;
      route.dev.dropTx(pkt, DropReason.PKT_TOO_BIG);
      return;
    }
    this.fragStats.fragOKs++;
    this.fragStats.fragCreates += frags.length;
    if (this.ctx.tracer !== null) this.trace(pkt, 'fragment', `${frags.length} fragments of at most ${mtu} bytes for ${route.dev.name}`);
    for (const f of frags) {
      f.route = route;
      this.finishOutput(f);
    }
  }

  /**
   * nf_defrag_ipv4 (priority -400, before conntrack): queues a fragment, and
   * returns the whole datagram once its last fragment is in, remembering the
   * largest fragment's size for refragmenting it on the way out.
   */
  conntrackDefrag(pkt: Packet, user: DefragUser): Packet | null {
    const whole = this.ipfrag.defrag(pkt, user);
    if (whole === null) return null;
    this.defragInfo.set(whole.pkt, whole);
    this.defragged++;
    return whole.pkt;
  }

  /**
   * br_nf_dev_queue_xmit: a datagram nf_defrag reassembled at a bridge port
   * leaves a port cut again to its largest fragment's size (or the port's
   * MTU, if smaller) when it does not fit that; null when it goes as it is.
   * The fragments are new packets, each a frame with the datagram's Ethernet header.
   */
  bridgeRefragment(pkt: Packet, port: NetDevice): Packet[] | null {
    if (this.defragged === 0) return null;
    const info = this.defragInfo.get(pkt);
    if (info === undefined) return null;
    const mtu = info.fragMaxSize < port.mtu ? info.fragMaxSize : port.mtu;
    if (pkt.len - ETH_HLEN <= mtu) return null;
    const frags = ipFragment(pkt, mtu, info.pmtu);
    if (frags === null) return null;
    this.fragStats.fragOKs++;
    this.fragStats.fragCreates += frags.length;
    return frags;
  }

  /**
   * A tunnel took the outer headers off `pkt`: the inner datagram goes through
   * ip_rcv afresh, which clears IPCB, so what nf_defrag recorded of the outer
   * datagram (its largest fragment) no longer applies.
   */
  forgetDefrag(pkt: Packet): void {
    if (this.defragged !== 0) this.defragInfo.delete(pkt);
  }

  /** skb_clone keeps what nf_defrag recorded of a datagram: a copy of `from` is refragmented as it would be. */
  shareDefragInfo(from: Packet, to: Packet): void {
    if (this.defragged === 0) return;
    const info = this.defragInfo.get(from);
    if (info !== undefined) this.defragInfo.set(to, info);
  }

  /** A DF datagram nf_defrag reassembled here may be refragmented when its largest fragment fits `mtu` (skb->ignore_df). */
  private refragmentFits(pkt: Packet, mtu: number): boolean {
    if (this.defragged === 0) return false;
    const info = this.defragInfo.get(pkt);
    return info !== undefined && info.fragMaxSize <= mtu;
  }

  // ---------------------------------------------------------------- netfilter

  /**
   * NF_HOOK: runs the hook's entries. Returns true when the packet is done
   * with here: dropped (a DROP or REJECT verdict), or its continuation
   * scheduled after the simulated cost of the rules it went through.
   */
  private runHook(hook: NfHook, pkt: Packet, inDev: NetDevice | null, outDev: NetDevice | null, then: number): boolean {
    const nf = this.netfilter!;
    if (!nf.active(hook)) return false;
    const before = this.ctx.tracer !== null ? flowOf(pkt) : '';
    const verdict = nf.hook(hook, pkt, inDev, outDev);
    if (this.ctx.tracer !== null) traceHook(this, hook, pkt, verdict, nf.lastCostNs, '', before);
    if (verdict === NfVerdict.STOLEN) {
      // Only IPVS steals (ip_vs_nat_send_or_cont): the packet, rewritten for its
      // real server with pkt.route set, goes out through LOCAL_OUT.
      if (nf.lastCostNs > 0) this.ctx.component.schedule(nf.lastCostNs, this, K_STOLEN_OUTPUT, pkt);
      else this.stolenOutput(pkt);
      return true;
    }
    if (verdict !== NfVerdict.ACCEPT) {
      if (inDev !== null) inDev.dropRx(pkt, DropReason.NETFILTER_DROP);
      else if (outDev !== null) outDev.dropTx(pkt, DropReason.NETFILTER_DROP);
      else this.dropped(null, pkt, DropReason.NETFILTER_DROP);
      return true;
    }
    if (nf.lastCostNs > 0) {
      this.ctx.component.schedule(nf.lastCostNs, this, then, pkt);
      return true;
    }
    return false;
  }

  /** NF_HOOK(NF_INET_LOCAL_OUT, ..., dst_output) for a packet a hook stole and re-routed (pkt.route). */
  private stolenOutput(pkt: Packet): void {
    pkt.inDev = null;
    if (this.runHook(NfHook.LOCAL_OUT, pkt, null, pkt.route!.dev, K_OUTPUT_FINISH)) return;
    this.outputFinish(pkt);
  }

  /** A continuation after a hook's simulated cost (the okfn of NF_HOOK). */
  handleEvent(kind: number, arg: unknown): void {
    const pkt = arg as Packet;
    switch (kind) {
      case K_RCV_FINISH:
        this.rcvFinish(pkt);
        break;
      case K_LOCAL_DELIVER_FINISH:
        this.localDeliverFinish(pkt);
        break;
      case K_FORWARD_FINISH:
        this.postRouting(pkt);
        break;
      case K_OUTPUT_FINISH:
        this.outputFinish(pkt);
        break;
      case K_POST_FINISH:
        this.finishOutput(pkt);
        break;
      case K_LOOP_BROADCAST:
        this.loopBroadcastFinish(pkt);
        break;
      case K_STOLEN_OUTPUT:
        this.stolenOutput(pkt);
        break;
    }
  }

  // ---------------------------------------------------------------- drops and timers

  /** kfree_skb with a reason: counted by the observer (statistics, tracer). */
  dropped(dev: NetDevice | null, pkt: Packet, reason: DropReason): void {
    pkt.orphan();
    this.ctx.observer.drop(this, dev, pkt, reason);
    if (this.ctx.tracer !== null) this.trace(pkt, 'drop', `${reason}${dev !== null ? ` at ${dev.name}` : ''}`);
  }

  /** The neighbour entry for a next hop (tests and dumps). */
  neighbour(dev: NetDevice, ip: number): Neighbour | undefined {
    return this.neigh.lookup(dev, ip);
  }

  /** Source IP of an IPv4 frame (helper for layers). */
  static srcOf(pkt: Packet): number {
    return ipv4Src(pkt.buf, pkt.off + ETH_HLEN);
  }
}
