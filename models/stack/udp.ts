import type { NetDevice } from '../devices/net-device.js';
import { DropReason } from '../devices/drop-reason.js';
import { PacketType, type Packet } from '../packet.js';
import type { IpSendOptions, Netns, SendError } from './netns.js';
import type { IcmpErrorSink } from './icmp.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { IPPROTO_UDP, IPV4_HEADER_LEN, ipv4Dst, ipv4HeaderLen, ipv4Src } from '../wire/ipv4.js';
import { UDP_HEADER_LEN, computeUdpChecksum, emitUdp, udpChecksum, udpDstPort, udpLength, udpSrcPort } from '../wire/udp.js';

/** A bound UDP socket's receive side. */
export interface UdpReceiver extends IcmpErrorSink {
  /** `payloadOff`/`payloadLen` locate the data in `pkt.buf`. */
  onDatagram(pkt: Packet, src: number, srcPort: number, dst: number, payloadOff: number, payloadLen: number): void;
}

/** Linux's default IP_PMTUDISC_WANT: DF on datagrams that fit the route MTU, larger ones fragmented here. */
const SEND_UNICAST: IpSendOptions = { dontFragment: 'if-fits' };
const SEND_BROADCAST: IpSendOptions = { dontFragment: 'if-fits', broadcast: true };

/** net.ipv4.ip_local_port_range default */
const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;

/**
 * UDP for one namespace (net/ipv4/udp.c): sockets bound to a port (on any
 * address), checksum verification, ICMP port unreachable when no socket
 * listens, and datagrams sent as Linux's default IP_PMTUDISC_WANT sends
 * them: with DF when they fit the route MTU, else fragmented here.
 */
export class UdpLayer {
  private readonly sockets = new Map<number, UdpReceiver>();

  constructor(private readonly ns: Netns) {}

  /** bind(); port 0 picks a free ephemeral port at random, as inet_csk_get_port does. */
  bind(port: number, receiver: UdpReceiver): number {
    if (port === 0) {
      const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
      let p = EPHEMERAL_LOW + Math.floor(this.ns.rng.next() * span);
      for (let i = 0; i < span && this.sockets.has(p); i++) p = p === EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
      port = p;
    }
    if (this.sockets.has(port)) throw new Error(`${this.ns.name}: UDP port ${port} already in use (EADDRINUSE)`);
    this.sockets.set(port, receiver);
    return port;
  }

  /** Whether a socket is bound to `port`. */
  isBound(port: number): boolean {
    return this.sockets.has(port);
  }

  unbind(port: number): void {
    this.sockets.delete(port);
  }

  /**
   * sendto(): `fill(buf, off)` writes `payloadLen` bytes of data; `broadcast` is
   * the socket's SO_BROADCAST. Returns the errno when the datagram was not sent
   * (no route, too big, a broadcast without SO_BROADCAST).
   */
  send(srcPort: number, dst: number, dstPort: number, payloadLen: number, fill?: (buf: Uint8Array, off: number) => void, broadcast = false): SendError | null {
    return this.sendFrom(0, srcPort, dst, dstPort, payloadLen, fill, broadcast);
  }

  /** sendto() from a socket bound to local address `src` (0 = chosen by the route). */
  sendFrom(
    src: number,
    srcPort: number,
    dst: number,
    dstPort: number,
    payloadLen: number,
    fill?: (buf: Uint8Array, off: number) => void,
    broadcast = false,
  ): SendError | null {
    const len = UDP_HEADER_LEN + payloadLen;
    const pkt = this.ns.newPacket(IPV4_HEADER_LEN + len);
    const udp = pkt.off + ETH_HLEN + IPV4_HEADER_LEN;
    if (fill !== undefined) fill(pkt.buf, udp + UDP_HEADER_LEN);
    return this.ns.sendIp(pkt, IPPROTO_UDP, src, dst, broadcast ? SEND_BROADCAST : SEND_UNICAST, (src) =>
      emitUdp({ srcPort, dstPort, length: len }, pkt.buf, udp, src, dst),
    );
  }

  /** udp_rcv */
  receive(dev: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    const udp = ip + ipv4HeaderLen(b, ip);
    const end = pkt.off + pkt.len;
    if (udp + UDP_HEADER_LEN > end || udp + udpLength(b, udp) > end || udpLength(b, udp) < UDP_HEADER_LEN) {
      dev.dropRx(pkt, DropReason.PKT_TOO_SMALL);
      return;
    }
    const src = ipv4Src(b, ip);
    const dst = ipv4Dst(b, ip);
    const check = udpChecksum(b, udp);
    if (check !== 0 && computeUdpChecksum(b, udp, src, dst) !== check) {
      dev.dropRx(pkt, DropReason.UDP_CSUM);
      return;
    }
    const sock = this.sockets.get(udpDstPort(b, udp));
    if (sock === undefined) {
      // __udp4_lib_mcast_deliver: a broadcast (or multicast, 224.0.0.0/4) no socket
      // wants is consumed (UDP_MIB_IGNOREDMULTI): no ICMP, and not a drop.
      if (this.ns.isBroadcast(dst) || dst >>> 28 === 0xe) return;
      if (pkt.pktType === PacketType.HOST && this.ns.isLocal(dst)) this.ns.icmp.sendError(pkt, 3, 3, 0);
      dev.dropRx(pkt, DropReason.NO_SOCKET);
      return;
    }
    const tr = this.ns.ctx.tracer;
    if (tr !== null && tr.wants(pkt)) {
      tr.add(pkt, this.ns.name, 'deliver', `UDP socket on port ${udpDstPort(b, udp)}`);
      tr.delivered(this.ns.name, pkt);
    }
    sock.onDatagram(pkt, src, udpSrcPort(b, udp), dst, udp + UDP_HEADER_LEN, udpLength(b, udp) - UDP_HEADER_LEN);
  }

  /** An ICMP error quoted a datagram we sent from `srcPort`; false when no socket is bound there. */
  deliverIcmpError(srcPort: number, type: number, code: number, from: number, dstPort: number): boolean {
    const sock = this.sockets.get(srcPort);
    if (sock === undefined) return false;
    sock.onIcmpError(type, code, from, dstPort);
    return true;
  }
}
