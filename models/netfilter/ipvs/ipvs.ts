/**
 * IPVS in one network namespace (net/netfilter/ipvs/ip_vs_core.c), NAT
 * ("masquerading") forwarding only, with net.ipv4.vs.conntrack=1 as
 * kube-proxy sets it. Its netfilter hooks (ip_vs_ops4):
 *
 * - LOCAL_IN,  NF_IP_PRI_NAT_SRC - 2: ip_vs_reply4        (replies to a local client)
 * - LOCAL_IN,  NF_IP_PRI_NAT_SRC - 1: ip_vs_remote_request4 (requests to a local VIP)
 * - LOCAL_OUT, NF_IP_PRI_NAT_DST + 1: ip_vs_local_reply4  (replies of a local real server)
 * - LOCAL_OUT, NF_IP_PRI_NAT_DST + 2: ip_vs_local_request4 (requests from local processes)
 * - FORWARD,   100:                   ip_vs_reply4        (replies routed through)
 *
 * A request to a virtual server finds or makes its connection (scheduling a
 * real server, through a persistence template when the service is
 * persistent), gets its destination rewritten to the real server and, unless
 * that server is this host, is stolen from the hook and sent out through
 * LOCAL_OUT on the real server's route (ip_vs_nat_xmit ->
 * ip_vs_nat_send_or_cont), so iptables POSTROUTING (kube-proxy's MASQUERADE)
 * still sees it. A reply from a real server gets its source rewritten back to
 * the virtual address. With no real server available the client gets ICMP
 * port unreachable (ip_vs_leave), for TCP as for UDP.
 *
 * Not modelled: ICMP errors about IPVS connections (ip_vs_in_icmp /
 * ip_vs_out_icmp, ip_vs_forward_icmp), fragments, connection reuse rules
 * for a SYN meeting a TIME_WAIT entry (conn_reuse_mode: the old entry is
 * simply replaced).
 */
import type { Packet } from '../../packet.js';
import { PacketType } from '../../packet.js';
import { NF_IP_PRI, NfHook, NfVerdict } from '../hooks.js';
import { CtStatus, type NfPacket, type Tuple } from '../types.js';
import { manipIpv4 } from '../conntrack/nat-manip.js';
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  decrementTtl,
  ipv4Dst,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  ipv4Ttl,
} from '../../wire/ipv4.js';
import { read16 } from '../../wire/bytes.js';
import { IpvsConn, IpvsConnTable } from './conn.js';
import { schedule } from './scheduler.js';
import { serviceKey, virtualServerOf, type VirtualServer, type VirtualServerSpec } from './service.js';
import { IpvsTcpState, TCP_TIMEOUTS_S, UDP_TIMEOUT_S, nextTcpState } from './tcp-state.js';

/** What IPVS asks of the namespace it runs in. */
export interface IpvsHost {
  now(): number;
  /**
   * ip_route_output towards the real server for `pkt`: 'local' when the
   * address is this host's, 'remote' (and pkt.route set) when routable, null otherwise.
   */
  routeTo(pkt: Packet, dst: number): 'local' | 'remote' | null;
  /** icmp_send(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH) about the packet (ip_vs_leave). */
  portUnreachable(p: NfPacket): void;
}

/** One function on a netfilter hook (struct nf_hook_ops). */
export interface IpvsHookOps {
  hook: NfHook;
  priority: number;
  name: string;
  run(p: NfPacket): NfVerdict;
}

/** Counters like /proc/net/ip_vs_stats, plus why packets were refused. */
export interface IpvsStats {
  conns: number;
  inPackets: number;
  outPackets: number;
  /** ip_vs_leave: no real server (ICMP port unreachable sent). */
  noDest: number;
  /** No route to the real server (tx_error). */
  noRoute: number;
}

const TH_SYN = 0x02;
const TH_RST = 0x04;

export class Ipvs {
  readonly services = new Map<number, VirtualServer>();
  readonly conns: IpvsConnTable;
  readonly stats: IpvsStats = { conns: 0, inPackets: 0, outPackets: 0, noDest: 0, noRoute: 0 };
  private readonly scratch: Tuple = { src: 0, dst: 0, protocol: 0, srcPort: 0, dstPort: 0 };

  constructor(private readonly host: IpvsHost) {
    this.conns = new IpvsConnTable(() => host.now());
  }

  /** `ipvsadm -A` then `-a` for each real server. */
  addService(spec: VirtualServerSpec): VirtualServer {
    const vs = virtualServerOf(spec);
    const key = serviceKey(vs.protocol, vs.addr, vs.port);
    if (this.services.has(key)) throw new Error(`ipvs: service ${spec.protocol} ${spec.address}:${spec.port} already exists`);
    this.services.set(key, vs);
    return vs;
  }

  /** `ipvsadm -d -t|-u VIP:PORT -r ADDR:PORT`; false when there was no such real server. */
  removeRealServer(protocol: number, vip: number, vport: number, addr: number, port: number): boolean {
    return this.services.get(serviceKey(protocol, vip, vport))?.removeDest(addr, port) ?? false;
  }

  hooks(): IpvsHookOps[] {
    return [
      { hook: NfHook.LOCAL_IN, priority: NF_IP_PRI.NAT_SRC - 2, name: 'ipvs reply', run: (p) => this.out(p) },
      { hook: NfHook.LOCAL_IN, priority: NF_IP_PRI.NAT_SRC - 1, name: 'ipvs remote request', run: (p) => this.in(p) },
      { hook: NfHook.LOCAL_OUT, priority: NF_IP_PRI.NAT_DST + 1, name: 'ipvs local reply', run: (p) => this.out(p) },
      { hook: NfHook.LOCAL_OUT, priority: NF_IP_PRI.NAT_DST + 2, name: 'ipvs local request', run: (p) => this.in(p) },
      { hook: NfHook.FORWARD, priority: 100, name: 'ipvs reply', run: (p) => this.out(p) },
    ];
  }

  /** The L4 ports of a whole TCP/UDP datagram, or null when IPVS passes it by. */
  private ports(p: NfPacket): { proto: number; l4: number } | null {
    const b = p.pkt.buf;
    const ip = p.ipOff;
    const proto = ipv4Protocol(b, ip);
    if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP) return null;
    if (ipv4MoreFragments(b, ip) || ipv4FragmentOffset(b, ip) !== 0) return null;
    const l4 = ip + ipv4HeaderLen(b, ip);
    if (l4 + (proto === IPPROTO_TCP ? 20 : 8) > ip + ipv4TotalLength(b, ip)) return null;
    return { proto, l4 };
  }

  /** ip_vs_in: a request towards a virtual server. */
  private in(p: NfPacket): NfVerdict {
    const pkt = p.pkt;
    if (pkt.ipvsProperty) return NfVerdict.ACCEPT;
    if (pkt.pktType !== PacketType.HOST && p.hook !== NfHook.LOCAL_OUT) return NfVerdict.ACCEPT;
    const l = this.ports(p);
    if (l === null) return NfVerdict.ACCEPT;
    const b = pkt.buf;
    const saddr = ipv4Src(b, p.ipOff);
    const daddr = ipv4Dst(b, p.ipOff);
    const sport = read16(b, l.l4);
    const dport = read16(b, l.l4 + 2);
    const flags = l.proto === IPPROTO_TCP ? b[l.l4 + 13]! : 0;

    let cp = this.conns.inGet(l.proto, saddr, sport, daddr, dport);
    if (cp !== null && l.proto === IPPROTO_TCP && (flags & (TH_SYN | 0x10)) === TH_SYN && (cp.state === IpvsTcpState.TIME_WAIT || cp.state === IpvsTcpState.CLOSE)) {
      cp = null; // a new connection on the same ports: the old entry is replaced
    }
    if (cp !== null && cp.dest.removed) {
      // net.ipv4.vs.expire_nodest_conn=1 (kube-proxy sets it): the packet is
      // dropped and the entry expired, so the client's next packet is scheduled anew.
      this.conns.expireNow(cp);
      this.stats.noDest++;
      return NfVerdict.DROP;
    }
    if (cp === null) {
      const svc = this.services.get(serviceKey(l.proto, daddr, dport));
      if (svc === undefined) return NfVerdict.ACCEPT;
      // tcp_conn_schedule: only a SYN (not a RST) creates a connection; other segments pass to the stack.
      if (l.proto === IPPROTO_TCP && ((flags & TH_SYN) === 0 || (flags & TH_RST) !== 0)) return NfVerdict.ACCEPT;
      cp = this.newConn(svc, l.proto, saddr, sport);
      if (cp === null) {
        // ip_vs_leave: "ICMP_PORT_UNREACH is sent here no matter it is TCP/UDP".
        this.stats.noDest++;
        this.host.portUnreachable(p);
        return NfVerdict.DROP;
      }
    }
    this.stats.inPackets++;
    this.setState(cp, flags, false);
    this.conns.touch(cp);
    return this.natXmit(p, cp, l.proto);
  }

  /** ip_vs_schedule / ip_vs_sched_persist: the connection of a new client flow, or null without a real server. */
  private newConn(svc: VirtualServer, proto: number, caddr: number, cport: number): IpvsConn | null {
    let template: IpvsConn | null = null;
    if (svc.persistenceTimeout > 0) {
      template = this.conns.templateGet(proto, caddr, svc);
      // expire_quiescent_template (kube-proxy sets it): a template of a drained or deleted dest is not used.
      if (template !== null && (template.dest.weight === 0 || template.dest.removed)) template = null;
      if (template === null) {
        const dest = schedule(svc, caddr, svc.addr);
        if (dest === null) return null;
        template = this.conns.add(new IpvsConn(proto, caddr, 0, svc.addr, svc.port, dest, svc, null, true));
      } else this.conns.touch(template);
    }
    const dest = template !== null ? template.dest : schedule(svc, caddr, svc.addr);
    if (dest === null) return null;
    this.stats.conns++;
    return this.conns.add(new IpvsConn(proto, caddr, cport, svc.addr, svc.port, dest, svc, template, false));
  }

  /** set_tcp_state / udp_state_transition: new state and timeout, and the dest's active/inactive counts. */
  private setState(cp: IpvsConn, flags: number, output: boolean): void {
    if (cp.protocol !== IPPROTO_TCP) {
      cp.timeoutS = UDP_TIMEOUT_S;
      return;
    }
    const next = nextTcpState(cp.state, flags, output);
    const d = cp.dest;
    if (!cp.inactive && next !== IpvsTcpState.ESTABLISHED) {
      d.activeConns--;
      d.inactConns++;
      cp.inactive = true;
    } else if (cp.inactive && next === IpvsTcpState.ESTABLISHED) {
      d.activeConns++;
      d.inactConns--;
      cp.inactive = false;
    }
    cp.state = next;
    cp.timeoutS = TCP_TIMEOUTS_S[next];
  }

  /**
   * ip_vs_nat_xmit: destination to the real server, conntrack's reply tuple
   * told (ip_vs_update_conntrack), then out through LOCAL_OUT on the real
   * server's route (STOLEN), or on to local delivery when it is this host.
   */
  private natXmit(p: NfPacket, cp: IpvsConn, proto: number): NfVerdict {
    const pkt = p.pkt;
    const b = pkt.buf;
    const where = this.host.routeTo(pkt, cp.daddr);
    if (where === null) {
      this.stats.noRoute++;
      return NfVerdict.DROP;
    }
    if (where === 'remote') {
      // __ip_vs_get_out_rt: decrement_ttl, as a router would.
      if (ipv4Ttl(b, p.ipOff) <= 1) return NfVerdict.DROP;
      decrementTtl(b, p.ipOff);
    }
    const t = this.scratch;
    t.protocol = proto;
    t.dst = cp.daddr;
    t.dstPort = cp.dport;
    const end = p.ipOff + ipv4TotalLength(b, p.ipOff);
    if (!manipIpv4(b, p.ipOff, end, t, 'dst')) return NfVerdict.DROP;
    this.updateConntrack(p, cp);
    pkt.ipvsProperty = true;
    return where === 'local' ? NfVerdict.ACCEPT : NfVerdict.STOLEN;
  }

  /**
   * ip_vs_update_conntrack (outin): the first packet's still unconfirmed
   * connection learns that replies come from the real server, so they are
   * tracked as replies and MASQUERADE's binding is made on the right tuple.
   */
  private updateConntrack(p: NfPacket, cp: IpvsConn): void {
    const ct = p.ct;
    if (ct === null || (ct.status & CtStatus.CONFIRMED) !== 0) return;
    ct.tuple[1].src = cp.daddr;
    ct.tuple[1].srcPort = cp.dport;
  }

  /** ip_vs_out / handle_response: a real server's reply gets the virtual address back as its source. */
  private out(p: NfPacket): NfVerdict {
    const pkt = p.pkt;
    if (pkt.ipvsProperty) return NfVerdict.ACCEPT;
    const l = this.ports(p);
    if (l === null) return NfVerdict.ACCEPT;
    const b = pkt.buf;
    const cp = this.conns.outGet(l.proto, ipv4Src(b, p.ipOff), read16(b, l.l4), ipv4Dst(b, p.ipOff), read16(b, l.l4 + 2));
    if (cp === null) return NfVerdict.ACCEPT;
    const t = this.scratch;
    t.protocol = l.proto;
    t.src = cp.vaddr;
    t.srcPort = cp.vport;
    if (!manipIpv4(b, p.ipOff, p.ipOff + ipv4TotalLength(b, p.ipOff), t, 'src')) return NfVerdict.DROP;
    this.stats.outPackets++;
    this.setState(cp, l.proto === IPPROTO_TCP ? b[l.l4 + 13]! : 0, true);
    this.conns.touch(cp);
    pkt.ipvsProperty = true;
    return NfVerdict.ACCEPT;
  }
}
