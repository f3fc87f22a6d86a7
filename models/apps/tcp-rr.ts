import type { EventHandler } from '../../engine/simulation.js';
import type { RandomStream } from '../../engine/rng.js';
import type { Netns } from '../stack/netns.js';
import { MessageFramer, type Connection, type ConnectionHandlers, type TcpError } from '../stack/tcp/index.js';
import type { FlowStats } from '../stats/flow-stats.js';
import { RequestTracker } from './request-tracker.js';

const EV_START = 0;
const EV_ARRIVAL = 1;
/** Closed loop: the next transaction after one that failed synchronously (no recursion). */
const EV_NEXT = 2;

/**
 * netperf's test names: TCP_RR (requests on one persistent connection),
 * TCP_CRR (connect, request, response, close for every request) and a bulk
 * transfer (TCP_STREAM-like: `bytes` one way, then close).
 */
export type TcpMode = 'rr' | 'crr' | 'bulk';

export interface TcpClientOptions {
  /** The flow's name. */
  name: string;
  dst: number;
  port: number;
  mode: TcpMode;
  /** Requests (rr, crr) or transfers (bulk) to make. */
  count: number;
  /** Open loop: requests per second; 0 means closed loop (`concurrency` requests outstanding). */
  rate: number;
  arrivals: 'constant' | 'poisson';
  /** Closed loop: requests (rr: connections; crr, bulk: transactions) in progress at once. */
  concurrency: number;
  /** rr, crr: bytes of a request and of its answer (both at least 1: every request is answered). */
  requestSize: number;
  responseSize: number;
  /** bulk: payload bytes per transfer. */
  bytes: number;
  startNs: number;
  timeoutNs: number;
  /** TCP_NODELAY on the client's connections. */
  noDelay: boolean;
}

/**
 * The client of a TCP flow. The stack carries byte counts, not contents, so
 * a request cannot carry a header the way a UDP request carries its sequence
 * number: message sizes are fixed per server instead (TcpServer answers every
 * `requestSize` bytes with `responseSize` bytes, as UdpServer answers every
 * datagram with a fixed size), and answers on a connection are matched to
 * requests in order, which TCP guarantees.
 *
 * Latency is the request's full transaction: rr from the write to the last
 * byte of the answer; crr from connect() (SYN sent) to the last byte of the
 * answer, with connect() -> connected recorded as the setup time; bulk from
 * connect() until the peer's FIN (the server closes once it has read every
 * byte), with throughput = bytes / (connected -> peer FIN).
 *
 * Open-loop arrivals (rate > 0) start once the rr connection is up (netperf
 * measures after setup); for crr and bulk each arrival opens a connection.
 * Errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENETUNREACH) are counted per
 * request; an rr connection that fails ends its share of the flow.
 */
export class TcpClient implements EventHandler {
  private issued = 0;
  private readonly requests: RequestTracker;
  /** The open-loop rr connection's channel, once connected. */
  private openChannel: RrChannel | null = null;

  constructor(
    private readonly ns: Netns,
    private readonly opts: TcpClientOptions,
    readonly stats: FlowStats,
    private readonly rng: RandomStream,
  ) {
    this.requests = new RequestTracker(stats, opts.timeoutNs);
    stats.enableTcp();
    ns.component.scheduleAt(opts.startNs, this, EV_START);
  }

  handleEvent(kind: number): void {
    if (!this.ns.alive) return; // the pod was deleted: its process is gone
    if (kind === EV_START) this.start();
    else if (kind === EV_NEXT) this.transaction();
    else this.arrival();
  }

  private get openLoop(): boolean {
    return this.opts.rate > 0;
  }

  private start(): void {
    const o = this.opts;
    if (o.mode === 'rr') {
      const n = this.openLoop ? 1 : Math.min(o.concurrency, o.count);
      for (let i = 0; i < n; i++) this.openRr();
    } else if (this.openLoop) {
      this.arrival();
    } else {
      for (let i = 0, n = Math.min(o.concurrency, o.count); i < n; i++) this.transaction();
    }
  }

  /** The next open-loop arrival: a request on the rr connection or a new transaction. */
  private arrival(): void {
    if (this.issued >= this.opts.count) return;
    if (this.opts.mode === 'rr') this.openChannel?.request();
    else this.transaction();
    if (this.issued < this.opts.count) {
      const mean = 1e9 / this.opts.rate;
      const gap = this.opts.arrivals === 'poisson' ? this.rng.exponential(mean) : mean;
      this.ns.component.schedule(Math.max(1, Math.round(gap)), this, EV_ARRIVAL);
    }
  }

  /** connect(), or undefined after counting the error (no route). */
  private connect(handlers: ConnectionHandlers): Connection | undefined {
    try {
      const c = this.ns.tcp.connect(this.opts.dst, this.opts.port, handlers, { noDelay: this.opts.noDelay });
      this.stats.tcp!.connectionOpened(c.stats);
      return c;
    } catch (e) {
      // connect() throws with the errno in parentheses (ENETUNREACH, EADDRNOTAVAIL).
      this.stats.error(/\((E[A-Z]+)\)/.exec((e as Error).message)?.[1] ?? 'connect failed');
      return undefined;
    }
  }

  /** Every request has been issued. */
  get exhausted(): boolean {
    return this.issued >= this.opts.count;
  }

  /** Takes the next sequence number, or 0 when the flow has made all its requests. */
  nextSeq(): number {
    if (this.issued >= this.opts.count) return 0;
    const seq = ++this.issued;
    this.requests.sent(seq, this.ns.now());
    return seq;
  }

  answered(seq: number): void {
    this.requests.answer(seq, this.ns.now());
  }

  // ---- rr ------------------------------------------------------------------

  private openRr(): void {
    const t0 = this.ns.now();
    const ch = new RrChannel(this, this.opts.requestSize, this.opts.responseSize);
    // Before connect(): on a path with no delay the first answers arrive inside it.
    ch.closedLoop = !this.openLoop;
    this.connect({
      onConnected: (c) => {
        this.stats.tcp!.recordSetup(this.ns.now() - t0);
        ch.conn = c;
        if (this.openLoop) this.openChannel = ch;
        if (this.openLoop) this.ns.component.schedule(0, this, EV_ARRIVAL);
        else ch.request();
      },
      onData: (_c, n) => ch.framer.push(n),
      onEnd: (c) => c.close(),
      onClosed: (c) => this.stats.tcp!.connectionClosed(c.stats),
      onError: (c, err) => this.failed(c, err, ch.outstanding()),
    });
  }

  // ---- crr, bulk -------------------------------------------------------------

  /** One connection, one request (crr) or one transfer (bulk), then close. */
  private transaction(): void {
    const seq = this.nextSeq();
    if (seq === 0) return;
    const o = this.opts;
    const t0 = this.ns.now();
    let connectedAt = 0;
    let done = false;
    const finish = (): void => {
      done = true;
      if (!this.openLoop) this.transaction();
    };
    let conn: Connection | undefined;
    const framer = new MessageFramer(() => {
      this.answered(seq);
      conn?.close();
      finish();
    });
    conn = this.connect({
      onConnected: (c) => {
        // On a path with no delay the whole exchange can happen before connect() returns.
        conn = c;
        connectedAt = this.ns.now();
        this.stats.tcp!.recordSetup(connectedAt - t0);
        if (o.mode === 'bulk') {
          c.send(o.bytes);
          c.close();
          return;
        }
        c.send(o.requestSize);
        framer.expect(o.responseSize);
      },
      onData: (_c, n) => framer.push(n),
      onEnd: (c) => {
        if (o.mode === 'bulk' && !done) {
          const now = this.ns.now();
          this.answered(seq);
          this.stats.tcp!.recordTransfer(o.bytes, now - connectedAt);
          finish();
        }
        c.close();
      },
      onClosed: (c) => this.stats.tcp!.connectionClosed(c.stats),
      onError: (c, err) => {
        this.failed(c, err, done ? 0 : 1);
        if (!done) finish();
      },
    });
    if (conn === undefined && !this.openLoop) this.ns.component.schedule(1, this, EV_NEXT);
  }

  /** A connection failed: count the error once per request it took down. */
  private failed(c: Connection, err: TcpError, requests: number): void {
    this.stats.tcp!.connectionClosed(c.stats);
    for (let i = 0; i < Math.max(1, requests); i++) this.stats.error(err);
  }
}

/** One persistent rr connection: requests written in order, answers framed and matched in order. */
class RrChannel {
  conn: Connection | null = null;
  closedLoop = true;
  private readonly fifo: number[] = [];
  private head = 0;
  readonly framer: MessageFramer;

  constructor(
    private readonly client: TcpClient,
    private readonly requestSize: number,
    private readonly responseSize: number,
  ) {
    this.framer = new MessageFramer(() => this.answer());
  }

  outstanding(): number {
    return this.fifo.length - this.head;
  }

  request(): void {
    const c = this.conn;
    if (c === null) return;
    const seq = this.client.nextSeq();
    if (seq === 0) {
      if (this.outstanding() === 0) c.close();
      return;
    }
    c.send(this.requestSize);
    this.fifo.push(seq);
    this.framer.expect(this.responseSize);
  }

  private answer(): void {
    const seq = this.fifo[this.head++]!;
    this.client.answered(seq);
    if (this.closedLoop) this.request();
    else if (this.client.exhausted && this.outstanding() === 0) this.conn?.close();
  }
}

/**
 * The server side: listens on a port and answers every `requestSize` bytes a
 * connection delivers with `responseSize` bytes (an echo with fixed sizes:
 * netperf's netserver knows its sizes from the control connection, this one
 * from the scenario). A responseSize of 0 makes it a sink (bulk transfers).
 * It closes its side when the peer closes (read() returned 0 -> close()).
 */
export class TcpServer {
  /** Connections accepted, requests answered, payload bytes read. */
  accepted = 0;
  answered = 0;
  bytesReceived = 0;

  constructor(
    ns: Netns,
    readonly port: number,
    readonly requestSize: number,
    readonly responseSize: number,
  ) {
    ns.tcp.listen(port, { onAccept: (c) => this.accept(c) });
  }

  private accept(conn: Connection): ConnectionHandlers {
    this.accepted++;
    const size = this.requestSize;
    const framer =
      this.responseSize > 0
        ? new MessageFramer(() => {
            this.answered++;
            conn.send(this.responseSize);
            framer!.expect(size);
          })
        : null;
    framer?.expect(size);
    return {
      onData: (_c, n) => {
        this.bytesReceived += n;
        framer?.push(n);
      },
      onEnd: (c) => c.close(),
    };
  }
}
