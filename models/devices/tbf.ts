/**
 * The token bucket filter qdisc (net/sched/sch_tbf.c, tc-tbf(8)) without a
 * peak rate, as the CNI bandwidth plugin installs it. Tokens are kept as time,
 * like the kernel: the bucket holds at most `buffer` ns of transmission at
 * `rate`; a packet of L bytes costs L·1e9/rate ns (qdisc_pkt_len: the whole
 * frame, Ethernet header included). The head packet leaves when the tokens
 * accrued since the last departure cover it (tbf_dequeue), else a watchdog
 * fires when they will. The packets waiting form a byte-limited FIFO (the
 * child bfifo): a packet that would take the backlog past `limit` bytes, or
 * that is longer than the bucket (max_size), is dropped with QDISC_DROP.
 *
 * The qdisc belongs to its device's component and schedules only through it.
 * Its owner attaches an output (the device's hard transmit, or the rest of its
 * receive path for an ifb) and a drop hook that counts on the device.
 */
import type { EventHandler } from '../../engine/simulation.js';
import type { Packet } from '../packet.js';
import type { Netns } from '../stack/netns.js';

const EV_WATCHDOG = 0;

export interface TbfParams {
  /** Rate in bytes per second (tc's `rate`, which the plugin gives as bits/8). */
  rateBytesPerSec: number;
  /** Bucket size in bytes (`burst`). */
  burstBytes: number;
  /** Bytes that may wait for tokens (`limit`). */
  limitBytes: number;
}

export class TbfQdisc implements EventHandler {
  readonly params: Readonly<TbfParams>;
  /** The bucket size as time (q->buffer). */
  readonly bufferNs: number;
  /** Tokens (ns) left after the last departure, and when that was (q->tokens, q->t_c). */
  private tokens: number;
  private tc = 0;

  // FIFO of waiting packets (ring, grown by doubling, never shrunk).
  private q: (Packet | null)[] = new Array(16).fill(null);
  private head = 0;
  private len = 0;
  /** Bytes waiting (the child qdisc's backlog). */
  backlogBytes = 0;
  private watchdog = false;

  /** Packets that left, and that were dropped (qdisc statistics). */
  sent = 0;
  dropped = 0;

  private out: ((pkt: Packet) => void) | null = null;
  private drop: ((pkt: Packet) => void) | null = null;

  constructor(
    private readonly ns: Netns,
    params: TbfParams,
  ) {
    if (!(params.rateBytesPerSec > 0)) throw new Error(`tbf: rate must be positive, got ${params.rateBytesPerSec} bytes/s`);
    if (!(params.burstBytes > 0)) throw new Error(`tbf: burst must be positive, got ${params.burstBytes} bytes`);
    if (!(params.limitBytes >= 0)) throw new Error(`tbf: limit must not be negative, got ${params.limitBytes} bytes`);
    this.params = { ...params };
    this.bufferNs = this.costNs(params.burstBytes);
    this.tokens = this.bufferNs; // a new qdisc starts with a full bucket (tbf_change)
  }

  /** Called once by the device the qdisc is put on. */
  attach(out: (pkt: Packet) => void, drop: (pkt: Packet) => void): void {
    if (this.out !== null) throw new Error('tbf: already attached to a device');
    this.out = out;
    this.drop = drop;
  }

  /** psched_l2t_ns: the time `bytes` take at the rate (truncated, as mult/shift does). */
  costNs(bytes: number): number {
    return Math.floor((bytes * 1e9) / this.params.rateBytesPerSec);
  }

  get queueLength(): number {
    return this.len;
  }

  /** tbf_enqueue, then qdisc_run when nothing was waiting. */
  enqueue(pkt: Packet): void {
    if (pkt.len > this.params.burstBytes || this.backlogBytes + pkt.len > this.params.limitBytes) {
      this.dropped++;
      this.drop!(pkt);
      return;
    }
    if (this.len === this.q.length) this.grow();
    this.q[(this.head + this.len) % this.q.length] = pkt;
    this.len++;
    this.backlogBytes += pkt.len;
    if (!this.watchdog) this.run();
  }

  handleEvent(_kind: number): void {
    this.watchdog = false;
    // The watchdog runs the qdisc from softirq context: frames it releases are
    // processed once it is done (net_tx_action), as from a backlog drain.
    const backlog = this.ns.backlog;
    backlog.hold();
    try {
      this.run();
    } finally {
      backlog.release();
    }
  }

  /** Dequeue while the tokens allow; otherwise arm the watchdog for the head packet. */
  private run(): void {
    const now = this.ns.component.now;
    while (this.len > 0) {
      const pkt = this.q[this.head]!;
      let toks = Math.min(now - this.tc, this.bufferNs) + this.tokens;
      if (toks > this.bufferNs) toks = this.bufferNs;
      toks -= this.costNs(pkt.len);
      if (toks < 0) {
        this.watchdog = true;
        this.ns.component.scheduleAt(now - toks, this, EV_WATCHDOG);
        return;
      }
      this.q[this.head] = null;
      this.head = (this.head + 1) % this.q.length;
      this.len--;
      this.backlogBytes -= pkt.len;
      this.tc = now;
      this.tokens = toks;
      this.sent++;
      this.out!(pkt);
    }
  }

  private grow(): void {
    const old = this.q;
    const q: (Packet | null)[] = new Array(old.length * 2).fill(null);
    for (let i = 0; i < this.len; i++) q[i] = old[(this.head + i) % old.length]!;
    this.q = q;
    this.head = 0;
  }
}
