import type { EventHandler } from '../../engine/simulation.js';
import type { RandomStream } from '../../engine/rng.js';
import type { Packet } from '../packet.js';
import type { Netns } from '../stack/netns.js';
import type { UdpReceiver } from '../stack/udp.js';
import type { FlowStats } from '../stats/flow-stats.js';
import { icmpErrorName, sendErrorName } from './error-names.js';
import { RequestTracker } from './request-tracker.js';
import { read32, write32 } from '../wire/bytes.js';

const EV_SEND = 0;

export interface UdpClientOptions {
  /** The flow's name (what `podwire trace --flow` selects). */
  name: string;
  dst: number;
  port: number;
  sourcePort: number;
  count: number;
  /** Requests per second. */
  rate: number;
  arrivals: 'constant' | 'poisson';
  requestSize: number;
  responseSize: number;
  /** SO_BROADCAST: requests may go to a broadcast address. */
  broadcast: boolean;
  startNs: number;
  timeoutNs: number;
}

/**
 * The client of a UDP request/response flow. Each request carries its
 * sequence number in its first 4 bytes (when it has 4), which the server echoes
 * at the start of its response, so responses are matched whatever their order.
 * Arrivals are constant (1/rate apart) or Poisson (exponential gaps drawn from
 * the flow's own random stream). A one-way flow (responseSize 0) is measured at
 * the server instead.
 */
export class UdpClient implements EventHandler, UdpReceiver {
  private seq = 0;
  private readonly requests: RequestTracker;
  private fifoNext = 1;
  readonly localPort: number;

  constructor(
    private readonly ns: Netns,
    private readonly opts: UdpClientOptions,
    readonly stats: FlowStats,
    private readonly rng: RandomStream,
  ) {
    this.requests = new RequestTracker(stats, opts.timeoutNs);
    this.localPort = ns.udp.bind(opts.sourcePort, this);
    ns.component.scheduleAt(opts.startNs, this, EV_SEND);
  }

  handleEvent(): void {
    if (!this.ns.alive) return; // the pod was deleted: its process is gone
    const seq = ++this.seq;
    this.requests.sent(seq, this.ns.now());
    this.ns.ctx.tracer?.armFlow(this.opts.name, seq, this.ns.name);
    const size = this.opts.requestSize;
    const err = this.ns.udp.send(
      this.localPort,
      this.opts.dst,
      this.opts.port,
      size,
      (b, off) => {
        for (let i = 0; i < size; i++) b[off + i] = i & 0xff;
        if (size >= 4) write32(b, off, seq);
      },
      this.opts.broadcast,
    );
    if (err !== null) this.stats.error(sendErrorName(err));
    if (seq < this.opts.count) {
      const mean = 1e9 / this.opts.rate;
      const gap = this.opts.arrivals === 'poisson' ? this.rng.exponential(mean) : mean;
      this.ns.component.schedule(Math.max(1, Math.round(gap)), this, EV_SEND);
    }
  }

  onDatagram(pkt: Packet, _src: number, _sport: number, _dst: number, off: number, len: number): void {
    if (this.opts.responseSize === 0) return;
    let seq: number;
    if (len >= 4 && this.opts.requestSize >= 4) seq = read32(pkt.buf, off);
    else {
      while (this.fifoNext <= this.seq && this.requests.isAnswered(this.fifoNext)) this.fifoNext++;
      seq = this.fifoNext;
    }
    this.requests.answer(seq, this.ns.now());
  }

  onIcmpError(type: number, code: number): void {
    this.stats.error(icmpErrorName(type, code));
  }
}

/**
 * The server side: bound to a port, it answers each request with
 * `responseSize` bytes (echoing the request's first 4 bytes, its sequence
 * number), and measures one-way flows whose statistics are registered with it
 * by client address and port.
 */
export class UdpServer implements UdpReceiver {
  private readonly oneWay = new Map<number, FlowStats>();

  constructor(
    private readonly ns: Netns,
    readonly port: number,
    readonly responseSize: number,
  ) {
    ns.udp.bind(port, this);
  }

  /** Statistics of a one-way flow from `src`:`srcPort`, recorded here at arrival. */
  measureOneWay(src: number, srcPort: number, stats: FlowStats): void {
    this.oneWay.set(src * 65536 + srcPort, stats);
  }

  onDatagram(pkt: Packet, src: number, srcPort: number, dst: number, off: number, len: number): void {
    const flow = this.oneWay.get(src * 65536 + srcPort);
    if (flow !== undefined) flow.arrival(pkt.id, this.ns.now() - pkt.bornAt);
    const size = this.responseSize;
    if (size === 0) return;
    const b = pkt.buf;
    const head = Math.min(4, len, size);
    // From the address the request was sent to, unless that was a broadcast:
    // then from the route's choice, as a socket bound to 0.0.0.0 answers.
    this.ns.udp.sendFrom(this.ns.isLocal(dst) ? dst : 0, this.port, src, srcPort, size, (rb, roff) => {
      for (let i = 0; i < size; i++) rb[roff + i] = i & 0xff;
      for (let i = 0; i < head; i++) rb[roff + i] = b[off + i]!;
    });
  }

  onIcmpError(): void {
    // A server does not track errors about its responses.
  }
}
