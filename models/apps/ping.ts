import type { EventHandler } from '../../engine/simulation.js';
import type { Packet } from '../packet.js';
import type { Netns } from '../stack/netns.js';
import type { PingReceiver } from '../stack/icmp.js';
import type { FlowStats } from '../stats/flow-stats.js';
import { icmpErrorName, sendErrorName } from './error-names.js';
import { RequestTracker } from './request-tracker.js';

const EV_SEND = 0;

export interface PingOptions {
  /** The flow's name (what `podwire trace --flow` selects). */
  name: string;
  dst: number;
  count: number;
  intervalNs: number;
  /** ICMP payload bytes (ping -s). */
  size: number;
  /** ping -b: may ping a broadcast address (SO_BROADCAST). */
  broadcast: boolean;
  ident: number;
  startNs: number;
  timeoutNs: number;
  /** Wall-clock seconds that simulated time 0 stands for (the timestamp in the payload). */
  epochSeconds: number;
}

/**
 * iputils ping: echo requests with sequence numbers from 1, `interval` apart;
 * the payload starts with a struct timeval (16 bytes on 64-bit Linux) when it is
 * large enough, then bytes 0x10, 0x11, ... as ping's default pattern fills it.
 * A reply later than `timeout` after its request counts as late (and lost).
 */
export class PingApp implements EventHandler, PingReceiver {
  private seq = 0;
  private readonly requests: RequestTracker;
  private readonly payload: Uint8Array;

  constructor(
    private readonly ns: Netns,
    private readonly opts: PingOptions,
    readonly stats: FlowStats,
  ) {
    this.requests = new RequestTracker(stats, opts.timeoutNs);
    this.payload = new Uint8Array(opts.size);
    for (let i = 0; i < opts.size; i++) this.payload[i] = i & 0xff;
    ns.icmp.openPing(opts.ident, this);
    ns.component.scheduleAt(opts.startNs, this, EV_SEND);
  }

  handleEvent(): void {
    if (!this.ns.alive) return; // the pod was deleted: its process is gone
    const now = this.ns.now();
    const seq = ++this.seq;
    if (this.opts.size >= 16) this.writeTimeval(now);
    this.requests.sent(seq, now);
    this.ns.ctx.tracer?.armFlow(this.opts.name, seq, this.ns.name);
    const err = this.ns.icmp.sendEcho(this.opts.dst, this.opts.ident, seq & 0xffff, this.payload, this.opts.broadcast);
    if (err !== null) this.stats.error(sendErrorName(err));
    if (seq < this.opts.count) this.ns.component.schedule(this.opts.intervalNs, this, EV_SEND);
  }

  private writeTimeval(now: number): void {
    const p = this.payload;
    const sec = this.opts.epochSeconds + Math.floor(now / 1e9);
    const usec = Math.floor((now % 1e9) / 1e3);
    // struct timeval { time_t tv_sec; suseconds_t tv_usec; } little-endian, 8 bytes each
    writeU64le(p, 0, sec);
    writeU64le(p, 8, usec);
  }

  onEchoReply(_pkt: Packet, seq: number): void {
    this.requests.answer(seq, this.ns.now());
  }

  onIcmpError(type: number, code: number): void {
    this.stats.error(icmpErrorName(type, code));
  }
}

function writeU64le(b: Uint8Array, off: number, v: number): void {
  const lo = v % 2 ** 32;
  const hi = Math.floor(v / 2 ** 32);
  b[off] = lo & 0xff;
  b[off + 1] = (lo >>> 8) & 0xff;
  b[off + 2] = (lo >>> 16) & 0xff;
  b[off + 3] = (lo >>> 24) & 0xff;
  b[off + 4] = hi & 0xff;
  b[off + 5] = (hi >>> 8) & 0xff;
  b[off + 6] = (hi >>> 16) & 0xff;
  b[off + 7] = (hi >>> 24) & 0xff;
}
