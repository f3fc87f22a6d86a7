import type { RandomStream } from '../../../engine/rng.js';
import type { NetDevice } from '../../devices/net-device.js';
import { DropReason } from '../../devices/drop-reason.js';
import { PacketType, type Packet } from '../../packet.js';
import { HashBuckets, hash3 } from '../../hash-buckets.js';
import type { Netns } from '../netns.js';
import { read32 } from '../../wire/bytes.js';
import { ETH_HLEN } from '../../wire/ethernet.js';
import { formatIpv4 } from '../../wire/addr.js';
import { ipv4Dst, ipv4HeaderLen, ipv4Src, ipv4TotalLength } from '../../wire/ipv4.js';
import {
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_RST,
  TCP_SYN,
  computeTcpChecksum,
  parseTcp,
  tcpAck,
  tcpChecksum,
  tcpDstPort,
  tcpFlags,
  tcpHeaderLen,
  tcpSeq,
  tcpSrcPort,
  tcpWindow,
} from '../../wire/tcp.js';
import { Connection, type ConnectionHandlers } from './connection.js';
import { DEFAULT_TCP_PARAMS, TCP_IPV4_OVERHEAD, type TcpParams } from './params.js';
import { SegmentWriter } from './segment.js';
import { TcpState } from './states.js';
import { TimeWaitSock } from './time-wait.js';

/** net.ipv4.route.min_adv_mss (ip_rt_min_advmss). */
const MIN_ADVMSS = 256;
/** include/net/ip.h: the largest IPv4 datagram, which caps an advertised MSS. */
const IPV4_MAX_PMTU = 65535;

/** A listening socket's application. */
export interface ListenHandlers {
  /**
   * A connection completed its handshake (accept() returned it). Return the
   * handlers for it, or set `conn.handlers` yourself.
   */
  onAccept(conn: Connection): ConnectionHandlers | void;
}

export interface ConnectOptions {
  /** bind() before connect(): 0 or absent picks an ephemeral port. */
  srcPort?: number;
  /** Local address; absent: chosen by the route (inet_select_addr). */
  src?: number;
  /** TCP_NODELAY */
  noDelay?: boolean;
}

/** What the table holds for a 4-tuple: a connection, or what is left of one in TIME-WAIT. */
export type TcpSocket = Connection | TimeWaitSock;

/**
 * TCP for one namespace (net/ipv4/tcp_ipv4.c): listeners by port on any
 * address, connections by 4-tuple, segment dispatch (tcp_v4_rcv), and the
 * RST a segment for no socket gets (tcp_v4_send_reset) — TCP answers a
 * closed port with RST, never ICMP port unreachable.
 *
 * Integration: Netns creates `readonly tcp = new TcpLayer(this)` and
 * ip_local_deliver_finish calls `this.tcp.receive(dev, pkt)` for protocol 6.
 */
export class TcpLayer {
  readonly params: TcpParams;
  readonly writer: SegmentWriter;
  /** The hash secret and ephemeral ports: a stream of its own, so TCP leaves other models' draws alone. */
  readonly rng: RandomStream;
  /** net_secret / ts_secret: the key of the ISN and timestamp-offset hashes. */
  readonly secret: number;
  private readonly listeners = new Map<number, ListenHandlers>();
  /** The ehash: sockets by socketHash of their 4-tuple. */
  private readonly table = new HashBuckets<TcpSocket, SocketKey>(isSocketOf);
  /** The 4-tuple a lookup asks for (reused: a lookup makes nothing). */
  private readonly key: SocketKey = { remoteAddr: 0, remotePort: 0, localAddr: 0, localPort: 0 };
  private count = 0;
  /** RSTs sent for segments that found no socket. */
  resetsSent = 0;
  /** Segments dropped for a bad checksum (TCP_MIB_CSUMERRORS). */
  checksumErrors = 0;

  constructor(
    readonly ns: Netns,
    params: Partial<TcpParams> = {},
  ) {
    this.params = { ...DEFAULT_TCP_PARAMS, ...params };
    this.writer = new SegmentWriter(ns);
    this.rng = ns.component.random(`tcp/${ns.name}`);
    this.secret = Math.floor(this.rng.next() * 2 ** 32) >>> 0;
  }

  // ------------------------------------------------------------ sockets

  /** listen() on `port`, any local address. */
  listen(port: number, handlers: ListenHandlers): void {
    if (this.listeners.has(port)) throw new Error(`${this.ns.name}: TCP port ${port} already in use (EADDRINUSE)`);
    this.listeners.set(port, handlers);
  }

  /** Whether a socket listens on `port`. */
  isListening(port: number): boolean {
    return this.listeners.has(port);
  }

  unlisten(port: number): void {
    this.listeners.delete(port);
  }

  /** connect(): sends the SYN now. Throws ENETUNREACH when there is no route, or the destination is a broadcast (tcp_v4_connect). */
  connect(dst: number, dstPort: number, handlers: ConnectionHandlers, opts: ConnectOptions = {}): Connection {
    const route = this.ns.outputRoute(dst);
    if (route === null || this.ns.isBroadcast(dst)) throw new Error(`${this.ns.name}: connect to ${formatIpv4(dst)}: Network is unreachable (ENETUNREACH)`);
    const src = opts.src ?? this.ns.sourceFor(route, dst);
    let port = opts.srcPort ?? 0;
    if (port === 0) port = this.ephemeralPort(src, dst, dstPort);
    else if (this.lookup(dst, dstPort, src, port) !== undefined) {
      throw new Error(`${this.ns.name}: ${formatIpv4(src)}:${port} -> ${formatIpv4(dst)}:${dstPort} in use (EADDRNOTAVAIL)`);
    }
    const conn = new Connection(this, src, port, dst, dstPort, TcpState.SYN_SENT, handlers, this.params);
    if (opts.noDelay) conn.noDelay = true;
    this.insert(conn);
    conn.startActive();
    return conn;
  }

  /**
   * __inet_hash_connect: a random starting point in ip_local_port_range, then
   * the first port whose 4-tuple is free (TIME_WAIT included) and that no
   * listener holds.
   */
  private ephemeralPort(src: number, dst: number, dstPort: number): number {
    const lo = this.params.ephemeralLow;
    const span = this.params.ephemeralHigh - lo + 1;
    const start = Math.floor(this.rng.next() * span);
    for (let i = 0; i < span; i++) {
      const p = lo + ((start + i) % span);
      if (!this.listeners.has(p) && this.lookup(dst, dstPort, src, p) === undefined) return p;
    }
    throw new Error(`${this.ns.name}: no free ephemeral port towards ${formatIpv4(dst)}:${dstPort} (EADDRNOTAVAIL)`);
  }

  /** The socket for a 4-tuple (remote first, as a received segment's source). */
  lookup(remoteAddr: number, remotePort: number, localAddr: number, localPort: number): TcpSocket | undefined {
    const k = this.key;
    k.remoteAddr = remoteAddr;
    k.remotePort = remotePort;
    k.localAddr = localAddr;
    k.localPort = localPort;
    return this.table.find(socketHash(remoteAddr, remotePort, localAddr, localPort), k);
  }

  /** Every socket in the table (any state but LISTEN and CLOSED), as `ss -t` would list them (in hash order). */
  connections(): TcpSocket[] {
    return [...this.table.values()];
  }

  get size(): number {
    return this.count;
  }

  private insert(c: Connection): void {
    const old = this.lookup(c.remoteAddr, c.remotePort, c.localAddr, c.localPort);
    this.table.put(hashOf(c), c, old);
    if (old === undefined) this.count++;
  }

  /** tcp_time_wait: the timewait socket takes the connection's place. */
  replace(c: Connection, tw: TimeWaitSock): void {
    if (this.lookup(c.remoteAddr, c.remotePort, c.localAddr, c.localPort) === c) this.table.put(hashOf(c), tw, c);
  }

  /** Called by a socket that reached CLOSED (or ended its TIME-WAIT). */
  remove(c: TcpSocket): void {
    if (this.table.remove(hashOf(c), c)) this.count--;
  }

  /** A passive connection completed its handshake: hand it to the listener (inet_csk_accept). */
  accepted(c: Connection): void {
    const l = this.listeners.get(c.localPort);
    if (l === undefined) {
      c.abort(); // the listener went away: tcp_check_req finds no listener and resets
      return;
    }
    const h = l.onAccept(c);
    if (h !== undefined && h !== null) c.handlers = h;
  }

  /** dst_mtu towards `dst` (576 with no route): the device MTU, or the path MTU learned for dst while it lasts. */
  pathMtuTo(dst: number): number {
    const r = this.ns.outputRoute(dst);
    return r === null ? 576 : this.ns.pathMtu(r.dev, dst);
  }

  /**
   * The MSS this namespace advertises towards `dst` (tcp_advertise_mss:
   * ipv4_default_advmss, from dst_mtu, so a learned path MTU included): at
   * least ip_rt_min_advmss (256), at most IPV4_MAX_PMTU (65535) less the
   * headers, so 65495 on lo (MTU 65536), as Linux's SYNs over lo show.
   */
  advMssTo(dst: number): number {
    return Math.min(Math.max(this.pathMtuTo(dst) - TCP_IPV4_OVERHEAD, MIN_ADVMSS), IPV4_MAX_PMTU - TCP_IPV4_OVERHEAD);
  }

  // ------------------------------------------------------------ receive

  /**
   * tcp_v4_err: an ICMP error quoting a segment we sent from localAddr:localPort
   * to remoteAddr:remotePort with sequence number `seq`. One about a sequence
   * number not in flight (outside snd_una..snd_nxt) is ignored
   * (LINUX_MIB_OUTOFWINDOWICMPS). A "fragmentation needed" (`mtu`: its
   * next-hop MTU) lowers the path MTU and the MSS (Connection.mtuReduced);
   * the others become icmp_err_convert's errno.
   */
  deliverIcmpError(localAddr: number, localPort: number, remoteAddr: number, remotePort: number, type: number, code: number, seq: number, mtu: number): void {
    const conn = this.lookup(remoteAddr, remotePort, localAddr, localPort);
    // tcp_v4_err ignores errors about a TIME-WAIT socket.
    if (conn === undefined || conn instanceof TimeWaitSock || !conn.isInFlight(seq)) return;
    if (type === 3) {
      if (code === 4) conn.mtuReduced(mtu);
      else conn.icmpError(code === 3 ? 'ECONNREFUSED' : code === 0 || code === 6 ? 'ENETUNREACH' : 'EHOSTUNREACH');
    } else if (type === 11) {
      conn.icmpError('EHOSTUNREACH');
    }
  }

  /** tcp_v4_rcv */
  receive(dev: NetDevice, pkt: Packet): void {
    const b = pkt.buf;
    const ip = pkt.off + ETH_HLEN;
    const hl = ipv4HeaderLen(b, ip);
    const tcp = ip + hl;
    const segLen = ipv4TotalLength(b, ip) - hl;
    if (pkt.pktType !== PacketType.HOST) {
      dev.dropRx(pkt, DropReason.OTHERHOST);
      return;
    }
    if (segLen < TCP_HEADER_LEN || tcpHeaderLen(b, tcp) < TCP_HEADER_LEN || tcpHeaderLen(b, tcp) > segLen) {
      dev.dropRx(pkt, DropReason.PKT_TOO_SMALL);
      return;
    }
    const src = ipv4Src(b, ip);
    const dst = ipv4Dst(b, ip);
    if (computeTcpChecksum(b, tcp, segLen, src, dst) !== tcpChecksum(b, tcp)) {
      this.checksumErrors++;
      dev.dropRx(pkt, DropReason.TCP_CSUM);
      return;
    }
    const thl = tcpHeaderLen(b, tcp);
    const sport = tcpSrcPort(b, tcp);
    const dport = tcpDstPort(b, tcp);
    const flags = tcpFlags(b, tcp);
    const seq = tcpSeq(b, tcp);
    const ack = tcpAck(b, tcp);
    const dataLen = segLen - thl;
    let conn = this.lookup(src, sport, dst, dport);
    if (conn instanceof TimeWaitSock && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && this.listeners.has(dport) && conn.yieldsToSyn(seq)) {
      conn = undefined;
    }
    if (conn !== undefined) {
      this.deliverTrace(pkt, conn);
      // Options in full for a SYN and for anything beyond the timestamp (SACK blocks); else just the TSval.
      const opts = flags & TCP_SYN || !timestampOnly(b, tcp, thl) ? parseTcp(b, tcp, segLen, src, dst, { verifyChecksum: false }).options : null;
      const tsval = opts === null ? readTsval(b, tcp, thl) : (opts.timestamp?.tsval ?? -1);
      const tsecr = opts === null ? readTsecr(b, tcp, thl) : (opts.timestamp?.tsecr ?? -1);
      conn.segment(seq, ack, flags, tcpWindow(b, tcp), dataLen, opts, tsval, tsecr);
      return;
    }
    const listener = this.listeners.get(dport);
    if (listener !== undefined && this.ns.isLocal(dst)) {
      // tcp_v4_rcv on a listener -> tcp_rcv_state_process(LISTEN), RFC 9293 3.10.7.2.
      if (flags & TCP_RST) return;
      if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
        this.deliverTrace(pkt, dport);
        const opts = parseTcp(b, tcp, segLen, src, dst, { verifyChecksum: false }).options;
        const c = new Connection(this, dst, dport, src, sport, TcpState.SYN_RECV, {}, this.params);
        this.insert(c);
        c.startPassive(seq, tcpWindow(b, tcp), opts);
        return;
      }
      // An ACK (or anything else) that matches no request: reset it.
    }
    // No socket: tcp_v4_send_reset. The segment is dropped with NO_SOCKET either way.
    if (!(flags & TCP_RST) && this.ns.isLocal(dst)) {
      if (flags & TCP_ACK) this.sendReset(dst, src, dport, sport, ack, 0, TCP_RST);
      else {
        const len = dataLen + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
        this.sendReset(dst, src, dport, sport, 0, seq + len, TCP_RST | TCP_ACK);
      }
    }
    dev.dropRx(pkt, DropReason.NO_SOCKET);
  }

  /** tcp_v4_send_reset: a bare RST (window 0, no options) from the address the segment was sent to. */
  sendReset(src: number, dst: number, srcPort: number, dstPort: number, seq: number, ack: number, flags: number): void {
    this.resetsSent++;
    this.writer.send(src, dst, srcPort, dstPort, seq, ack, flags, 0, -1, 0, 0, 0);
  }

  /** `to`: the socket, or the port of the listener. Described only when traced: a run delivers millions. */
  private deliverTrace(pkt: Packet, to: TcpSocket | number): void {
    const tr = this.ns.ctx.tracer;
    if (tr !== null && tr.wants(pkt)) {
      tr.add(pkt, this.ns.name, 'deliver', `TCP ${typeof to === 'number' ? `listener on port ${to}` : to.describe()}`);
      tr.delivered(this.ns.name, pkt);
    }
  }
}

/** An (address, port) pair as one number, the table's key at each level. */
/**
 * The ehash key of a 4-tuple (inet_ehashfn): a 30-bit integer, so a lookup
 * neither makes nor hashes a heap number.
 */
export function socketHash(remoteAddr: number, remotePort: number, localAddr: number, localPort: number): number {
  return hash3(remoteAddr, (remotePort << 16) | localPort, localAddr);
}

/** A socket's 4-tuple, as the table is asked for it. */
interface SocketKey {
  remoteAddr: number;
  remotePort: number;
  localAddr: number;
  localPort: number;
}

function hashOf(c: TcpSocket): number {
  return socketHash(c.remoteAddr, c.remotePort, c.localAddr, c.localPort);
}

function isSocketOf(c: TcpSocket, k: SocketKey): boolean {
  return c.remoteAddr === k.remoteAddr && c.remotePort === k.remotePort && c.localAddr === k.localAddr && c.localPort === k.localPort;
}

/**
 * Whether a segment has no options or only the layout Linux uses on every
 * segment once timestamps are on (NOP NOP TS, tcp_options_write): the fast
 * path; anything else (SACK blocks, ...) goes through the full option parser.
 */
function timestampOnly(b: Uint8Array, tcp: number, thl: number): boolean {
  if (thl === TCP_HEADER_LEN) return true;
  const o = tcp + TCP_HEADER_LEN;
  return thl === 32 && b[o] === 1 && b[o + 1] === 1 && b[o + 2] === 8 && b[o + 3] === 10;
}

/** TSval of a segment timestampOnly accepts, or -1. */
function readTsval(b: Uint8Array, tcp: number, thl: number): number {
  return thl === TCP_HEADER_LEN ? -1 : read32(b, tcp + TCP_HEADER_LEN + 4);
}

/** The TSecr of a segment whose only option is the timestamp (NOP NOP TS), or -1. */
function readTsecr(b: Uint8Array, tcp: number, thl: number): number {
  return thl === TCP_HEADER_LEN ? -1 : read32(b, tcp + TCP_HEADER_LEN + 8);
}
