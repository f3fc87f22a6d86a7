import type { EventHandler } from '../../engine/simulation.js';
import type { Netns } from '../stack/netns.js';
import type { Connection, ConnectionHandlers } from '../stack/tcp/index.js';
import { ProxyTcpSession, type ProxyKind, type ProxyProcess } from './proxy-tcp-session.js';
import type { Packet } from '../packet.js';

/**
 * kube-proxy's original "userspace" mode (pkg/proxy/userspace): for every
 * Service port, kube-proxy listens on a port of its own on the node, iptables
 * REDIRECTs (from pods) or DNATs (from the node) the Service's address and
 * port to it, and the proxy process does the rest in user space:
 *
 * - TCP (proxysocket.go, tcpProxySocket.ProxyLoop): accept the client's
 *   connection, pick a backend round-robin (LoadBalancerRR, with ClientIP
 *   affinity when the Service asks for it), open a second connection to the
 *   backend from the node (TryConnectEndpoints: a refused or unanswered dial
 *   goes to the next endpoint, up to four dials of 250 ms to 2 s; the accept
 *   loop waits for it, so new connections queue behind a dead backend's
 *   timeout), and copy bytes both ways (io.Copy in two
 *   goroutines); when either direction ends, copyBytes closes both
 *   connections (`dest.Close(); src.Close()`): the client gets its FIN
 *   without waiting for the backend's, and data either peer sends after that
 *   is answered with a RST.
 * - UDP (udpProxySocket): a socket per client address towards the chosen
 *   backend, datagrams copied both ways; the client's entry expires after
 *   `udpIdleNs` without traffic.
 *
 * Docker's userland proxy (docker-proxy, one process per published port) is
 * the same machine with one backend: the host's own traffic to a published
 * port reaches it, and it connects to the container. Its TCP broker
 * (libnetwork's tcp_proxy.go) dials once, in a goroutine per client, and
 * half-closes instead: when one direction ends it shuts down writing towards
 * the other peer (`to.CloseWrite()`), and the other direction goes on until
 * it ends too (models/apps/proxy-tcp-session.ts).
 *
 * Every hand-over through the process costs `copyNs` (a read and a write
 * syscall, a wakeup of the goroutine), charged before the bytes move on; a
 * new connection costs `acceptNs` more. Two TCP connections appear in the
 * captures, and the backend sees the node, not the client, as its peer.
 */
export interface ProxyPortConfig {
  /** "namespace/name:port" as kube-proxy names a service port. */
  name: string;
  protocol: 'TCP' | 'UDP';
  /** The port the proxy listens on (what the iptables rules redirect to). */
  proxyPort: number;
  backends: { ip: number; port: number }[];
  affinity: 'None' | 'ClientIP';
}

export interface UserspaceProxyCosts {
  /** Per copy of a chunk of bytes through the process (read + write + wakeup). */
  copyNs: number;
  /** Per accepted connection (accept, pick, connect). */
  acceptNs: number;
  /** A UDP client's backend socket is dropped after this long idle (kube-proxy's --udp-timeout, 250 ms; docker-proxy's UDPConnTrackTimeout, 90 s). */
  udpIdleNs: number;
}

export const DEFAULT_USERSPACE_COSTS: UserspaceProxyCosts = { copyNs: 10_000, acceptNs: 20_000, udpIdleNs: 250_000_000 };

/** libnetwork cmd/proxy/udp_proxy.go: UDPConnTrackTimeout, a client's socket idle this long is dropped. */
export const DOCKER_PROXY_UDP_IDLE_NS = 90e9;

/** What the proxy did, for results and tests. */
export interface UserspaceProxyStats {
  accepted: number;
  backendConnects: number;
  bytesCopied: number;
  datagramsCopied: number;
  errors: number;
}

const EV_RUN = 0;

/**
 * Work deferred by the processing cost: each piece runs its own cost after it
 * was handed over (the proxy's goroutines work side by side), as an event of
 * its own, so pieces with different costs (an accept, a copy) keep their times.
 */
class DeferredWork implements EventHandler {
  constructor(private readonly ns: Netns) {}

  after(delayNs: number, fn: () => void): void {
    this.ns.component.schedule(delayNs, this, EV_RUN, fn);
  }

  handleEvent(_kind: number, fn: unknown): void {
    (fn as () => void)();
  }
}

/**
 * LoadBalancerRR: round-robin over a port's backends, sticky per client
 * address with ClientIP affinity. An endpoints update that changes the set
 * (OnEndpointsUpdate) drops the affinities to removed backends
 * (updateAffinityMap), takes the new list and restarts the round at its first
 * entry; kube-proxy also shuffles the list there (ShuffleStrings), which the
 * model does not, as it does not at start.
 */
class RoundRobin {
  private next = 0;
  private backends: readonly { ip: number; port: number }[];
  private readonly sticky = new Map<number, { ip: number; port: number }>();

  constructor(private readonly affinity: ProxyPortConfig['affinity'], backends: readonly { ip: number; port: number }[]) {
    this.backends = backends;
  }

  /** The next backend; `reset` (sessionAffinityReset, after a failed dial) ignores the client's affinity and replaces it. */
  pick(client: number, reset = false): { ip: number; port: number } | undefined {
    const backends = this.backends;
    if (backends.length === 0) return undefined;
    if (this.affinity === 'ClientIP' && !reset) {
      const b = this.sticky.get(client);
      if (b !== undefined) return b;
    }
    const b = backends[this.next]!;
    this.next = (this.next + 1) % backends.length;
    if (this.affinity === 'ClientIP') this.sticky.set(client, b);
    return b;
  }

  update(backends: readonly { ip: number; port: number }[]): void {
    const key = (b: { ip: number; port: number }) => `${b.ip}:${b.port}`;
    const now = new Set(backends.map(key));
    const was = new Set(this.backends.map(key));
    if (now.size === was.size && [...now].every((k) => was.has(k))) return;
    for (const [client, b] of this.sticky) if (!now.has(key(b))) this.sticky.delete(client);
    this.backends = [...backends];
    this.next = 0;
  }
}

/**
 * kube-proxy's ProxyLoop: one goroutine per service port accepts a connection,
 * dials its backend, and only then accepts the next; the kernel completes the
 * handshakes of those waiting meanwhile (the listen backlog).
 */
class AcceptLoop {
  private busy = false;
  private readonly waiting: ((done: () => void) => void)[] = [];
  private readonly next = (): void => {
    const start = this.waiting.shift();
    if (start === undefined) this.busy = false;
    else start(this.next);
  };

  /** Runs `start` when the loop is free; `start` calls the `done` it is given when its dialing is over. */
  enqueue(start: (done: () => void) => void): void {
    if (this.busy) this.waiting.push(start);
    else {
      this.busy = true;
      start(this.next);
    }
  }
}

export class UserspaceProxy implements ProxyProcess {
  readonly stats: UserspaceProxyStats = { accepted: 0, backendConnects: 0, bytesCopied: 0, datagramsCopied: 0, errors: 0 };
  private readonly work: DeferredWork;
  /** Each service port's balancer, by name. */
  private readonly balancers = new Map<string, RoundRobin>();

  constructor(
    readonly ns: Netns,
    ports: readonly ProxyPortConfig[],
    private readonly costs: UserspaceProxyCosts = DEFAULT_USERSPACE_COSTS,
    readonly kind: ProxyKind = 'kube-proxy',
  ) {
    this.work = new DeferredWork(ns);
    for (const p of ports) {
      const rr = new RoundRobin(p.affinity, p.backends);
      this.balancers.set(p.name, rr);
      if (p.protocol === 'TCP') {
        const loop = kind === 'kube-proxy' ? new AcceptLoop() : null;
        ns.tcp.listen(p.proxyPort, { onAccept: (c) => this.acceptTcp(c, rr, loop) });
      } else ns.udp.bind(p.proxyPort, new UdpPortal(this, ns, p, rr, costs));
    }
  }

  /**
   * kube-proxy saw new endpoints for service port `name`: new connections and
   * new UDP clients go to `backends`; proxied connections and UDP client
   * sockets already open keep theirs (kube-proxy does not close them).
   */
  setBackends(name: string, backends: readonly { ip: number; port: number }[]): void {
    const rr = this.balancers.get(name);
    if (rr === undefined) throw new Error(`${this.ns.name}: the userspace proxy has no port ${name}`);
    rr.update(backends);
  }

  /** Runs `fn` after the process has spent `ns` on it. */
  defer(ns: number, fn: () => void): void {
    this.work.after(ns, fn);
  }

  get copyNs(): number {
    return this.costs.copyNs;
  }

  /** A client connection completed its handshake: its session dials once the process (and, for kube-proxy, its accept loop) gets to it. */
  private acceptTcp(client: Connection, rr: RoundRobin, loop: AcceptLoop | null): ConnectionHandlers {
    this.stats.accepted++;
    const session = new ProxyTcpSession(this, client, (reset) => rr.pick(client.remoteAddr, reset));
    const start = (done: () => void) => this.defer(this.costs.acceptNs, () => session.dial(done));
    if (loop === null) start(() => {});
    else loop.enqueue(start);
    return session.clientHandlers();
  }

  /** One chunk through the process: read, then write after the copy cost. */
  copy(n: number, write: () => void): void {
    this.stats.bytesCopied += n;
    this.defer(this.costs.copyNs, write);
  }
}

/** One UDP service port: a backend socket per client (address, port), as udpProxySocket's ClientCache. */
class UdpPortal {
  private readonly clients = new Map<number, { port: number; lastNs: number; backend: { ip: number; port: number } }>();

  constructor(
    private readonly proxy: UserspaceProxy,
    private readonly ns: Netns,
    private readonly cfg: ProxyPortConfig,
    private readonly rr: RoundRobin,
    private readonly costs: UserspaceProxyCosts,
  ) {}

  onDatagram(pkt: Packet, src: number, srcPort: number, _dst: number, off: number, len: number): void {
    const key = src * 65536 + srcPort;
    const now = this.ns.now();
    let c = this.clients.get(key);
    if (c !== undefined && now - c.lastNs > this.costs.udpIdleNs) {
      this.ns.udp.unbind(c.port);
      this.clients.delete(key);
      c = undefined;
    }
    if (c === undefined) {
      const backend = this.rr.pick(src);
      if (backend === undefined) {
        this.proxy.stats.errors++;
        return;
      }
      const entry = { port: 0, lastNs: now, backend };
      // The reply socket: answers from the backend go back to this client from the proxy port.
      entry.port = this.ns.udp.bind(0, {
        onDatagram: (rp: Packet, _s: number, _sp: number, _d: number, roff: number, rlen: number) => {
          entry.lastNs = this.ns.now();
          const bytes = rp.buf.slice(roff, roff + rlen);
          this.proxy.stats.datagramsCopied++;
          this.proxy.defer(this.costs.copyNs, () => this.ns.udp.send(this.cfg.proxyPort, src, srcPort, bytes.length, (b, o) => b.set(bytes, o)));
        },
        // proxyClient's Read fails (ECONNREFUSED, EHOSTUNREACH: not temporary): its loop ends and the client's socket goes.
        onIcmpError: () => {
          this.proxy.stats.errors++;
          if (this.clients.get(key) === entry) {
            this.ns.udp.unbind(entry.port);
            this.clients.delete(key);
          }
        },
      });
      c = entry;
      this.clients.set(key, c);
    }
    c.lastNs = now;
    const target = c.backend;
    const fromPort = c.port;
    const bytes = pkt.buf.slice(off, off + len);
    this.proxy.stats.datagramsCopied++;
    this.proxy.defer(this.costs.copyNs, () => this.ns.udp.send(fromPort, target.ip, target.port, bytes.length, (b, o) => b.set(bytes, o)));
  }

  onIcmpError(): void {
    this.proxy.stats.errors++;
  }
}
