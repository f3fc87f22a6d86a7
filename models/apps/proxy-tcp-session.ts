import type { EventHandler } from '../../engine/simulation.js';
import type { Netns } from '../stack/netns.js';
import { TcpState, type Connection, type ConnectionHandlers } from '../stack/tcp/index.js';

/**
 * Which user-space proxy runs the session: what it does when a dial fails,
 * and when one direction of the proxied connection ends.
 * - 'kube-proxy' (pkg/proxy/userspace/proxysocket.go): TryConnectEndpoints
 *   dials up to four times, each to the next endpoint (ClientIP affinity
 *   reset after a failure) and given EndpointDialTimeouts[i]; copyBytes
 *   closes both connections when either direction ends.
 * - 'docker-proxy' (libnetwork cmd/proxy/tcp_proxy.go): one dial, no timeout
 *   but TCP's own; the broker half-closes (`to.CloseWrite()`).
 */
export type ProxyKind = 'kube-proxy' | 'docker-proxy';

/** EndpointDialTimeouts: 250 ms, 500 ms, 1 s, 2 s. */
export const KUBE_PROXY_DIAL_TIMEOUTS_NS: readonly number[] = [250e6, 500e6, 1e9, 2e9];

/** What a session needs of its proxy process. */
export interface ProxyProcess {
  readonly ns: Netns;
  readonly kind: ProxyKind;
  /** The cost of one hand-over through the process. */
  readonly copyNs: number;
  stats: { backendConnects: number; bytesCopied: number; errors: number };
  /** Runs `fn` after the process has spent `ns` on it. */
  defer(ns: number, fn: () => void): void;
  /** One chunk through the process: read, then `write` after the copy cost. */
  copy(n: number, write: () => void): void;
}

/** The next endpoint to dial; `reset` drops the client's affinity first (a dial failed). */
export type PickEndpoint = (reset: boolean) => { ip: number; port: number } | undefined;

/** A dial's deadline (net.DialTimeout), as an event that may be called off. */
class DialDeadline implements EventHandler {
  cancelled = false;

  constructor(private readonly expire: () => void) {}

  handleEvent(): void {
    if (!this.cancelled) this.expire();
  }
}

/**
 * One accepted client connection and the backend connection the proxy opens
 * for it: dialing (with kube-proxy's retries), copying both ways, and the end.
 */
export class ProxyTcpSession {
  private backend: Connection | null = null;
  /** Bytes read from the client before the backend connection was up (the Go process had not read them yet). */
  private pending = 0;
  private clientEnded = false;

  constructor(
    private readonly proxy: ProxyProcess,
    private readonly client: Connection,
    private readonly pick: PickEndpoint,
  ) {}

  /** The client connection's handlers: the proxy reads what the client sends. */
  clientHandlers(): ConnectionHandlers {
    return {
      onData: (_c, n) =>
        this.proxy.copy(n, () => {
          const b = this.backend;
          if (b === null) this.pending += n;
          else if (writable(b)) b.send(n);
        }),
      onEnd: () =>
        this.proxy.defer(this.proxy.copyNs, () => {
          this.clientEnded = true;
          if (this.backend !== null) this.ended(this.client, this.backend);
        }),
      // The client reset: the copy from it fails, which ends that direction as an EOF would.
      onError: () => {
        this.proxy.stats.errors++;
        if (this.backend !== null) this.ended(this.client, this.backend);
      },
    };
  }

  /**
   * Dials the backend (TryConnectEndpoints for kube-proxy, one DialTCP for
   * docker-proxy) and calls `done` once the dialing is over, connected or not:
   * kube-proxy's accept loop takes its next connection only then.
   */
  dial(done: () => void, attempt = 0): void {
    const kube = this.proxy.kind === 'kube-proxy';
    const target = this.pick(attempt > 0);
    if (target === undefined) {
      // No endpoints ("Couldn't find an endpoint"): the accepted connection is closed.
      this.giveUp(done);
      return;
    }
    this.proxy.stats.backendConnects++;
    let settled = false;
    let conn: Connection | null = null;
    let deadline: DialDeadline | null = null;
    const failed = () => {
      if (settled) return;
      settled = true;
      if (deadline !== null) deadline.cancelled = true;
      // A dial given up while in SYN-SENT closes its socket: nothing more on the wire.
      conn?.close();
      if (kube && attempt + 1 < KUBE_PROXY_DIAL_TIMEOUTS_NS.length) this.dial(done, attempt + 1);
      else this.giveUp(done);
    };
    try {
      conn = this.proxy.ns.tcp.connect(target.ip, target.port, {
        onConnected: (b) => {
          if (settled) return;
          settled = true;
          if (deadline !== null) deadline.cancelled = true;
          this.connected(b);
          done();
        },
        // A write to a connection the proxy has closed fails ("use of closed network connection") and is dropped.
        onData: (_b, n) =>
          this.proxy.copy(n, () => {
            if (writable(this.client)) this.client.send(n);
          }),
        onEnd: (b) => this.proxy.defer(this.proxy.copyNs, () => this.ended(b, this.client)),
        onError: (b) => {
          if (!settled) {
            failed(); // refused or unreachable: the next attempt, at once
            return;
          }
          // The backend reset: io.Copy from it fails, and the proxy ends that direction
          // as at an EOF, so the client gets a FIN, not a RST.
          this.proxy.stats.errors++;
          this.ended(b, this.client);
        },
      });
    } catch (err) {
      // No route (connect's ENETUNREACH); anything else thrown from the callbacks is a bug to surface.
      if (!(err instanceof Error) || !err.message.includes('ENETUNREACH')) throw err;
      failed();
      return;
    }
    if (kube && !settled) {
      deadline = new DialDeadline(failed);
      this.proxy.ns.component.schedule(KUBE_PROXY_DIAL_TIMEOUTS_NS[attempt]!, deadline, 0);
    }
  }

  private connected(b: Connection): void {
    this.backend = b;
    if (this.pending > 0) b.send(this.pending);
    this.pending = 0;
    if (this.clientEnded || this.client.state === TcpState.CLOSED) this.ended(this.client, b);
  }

  /**
   * No backend: the proxy closes the client's connection, which resets it if
   * the client's request is still unread in the socket (tcp_close with
   * data_was_unread), as it is when the proxy dials before it reads.
   */
  private giveUp(done: () => void): void {
    this.proxy.stats.errors++;
    // The process reads from the client only once a backend is connected: whatever it sent is unread.
    if (this.client.bytesReceived > 0) this.client.abort();
    else this.client.close();
    done();
  }

  /** One direction ended (EOF read from `from`), after the process got to it. */
  private ended(from: Connection, to: Connection): void {
    if (this.proxy.kind === 'docker-proxy') to.shutdown();
    else {
      // copyBytes: `dest.Close(); src.Close()` once io.Copy(dest, src) is done. Its own writes to
      // dest are done by then; the other direction's goroutine may be blocked writing to src, and
      // that write fails.
      to.close();
      from.close(true);
    }
  }
}

/** The proxy may still write to `c`: neither it nor a reset closed it for writing. */
function writable(c: Connection): boolean {
  return c.writeOpen;
}
