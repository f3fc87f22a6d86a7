import type { EventHandler } from '../../../engine/simulation.js';
import { formatIpv4 } from '../../wire/addr.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.js';
import { LazyTimer } from './timer.js';
import { TcpState, tcpStateName, tcpStateSsName } from './states.js';
import { tsvalAt } from './ts-clock.js';
import type { TcpLayer } from './tcp-layer.js';

const K_EXPIRE = 0;

/** What the full socket leaves behind for TIME-WAIT (tcp_time_wait's copy into the timewait sock). */
export interface TimeWaitState {
  /** snd_nxt and rcv_nxt as wire sequence numbers. */
  sndNxt: number;
  rcvNxt: number;
  /** The window field every ACK from here carries (tw_rcv_wnd >> tw_rcv_wscale). */
  window: number;
  /** Timestamps were agreed: tsval is the 1 ms clock plus `tsOffset`, tsecr `tsRecent`. */
  tsOk: boolean;
  tsOffset: number;
  tsRecent: number;
}

/**
 * A connection in TIME-WAIT (inet_timewait_sock, tcp_timewait_sock): what is
 * left of it once the active closer has both FINs, so that the 4-tuple stays
 * taken for TCP_TIMEWAIT_LEN and a late segment of the old connection gets
 * the answer it should. Linux frees the full socket here (tcp_time_wait) and
 * so does podwire: a run of many short connections holds thousands of these,
 * a few fields each, not thousands of connections with their buffers,
 * timers and the application's callbacks.
 *
 * The connection makes it when it enters TIME-WAIT, and from then on the
 * layer's table holds this in its place. It refers to nothing of the
 * connection's, so the connection is garbage once its application lets go.
 */
export class TimeWaitSock implements EventHandler {
  private readonly timer: LazyTimer;
  private gone = false;

  constructor(
    private readonly layer: TcpLayer,
    readonly localAddr: number,
    readonly localPort: number,
    readonly remoteAddr: number,
    readonly remotePort: number,
    private readonly s: TimeWaitState,
  ) {
    this.timer = new LazyTimer(layer.ns.component, this, K_EXPIRE);
    this.timer.arm(layer.params.timewaitNs);
  }

  get state(): TcpState {
    return this.gone ? TcpState.CLOSED : TcpState.TIME_WAIT;
  }

  get stateName(): string {
    return tcpStateName(this.state);
  }

  get ssState(): string {
    return tcpStateSsName(this.state);
  }

  /** Gone: the wait ran out, a RST ended it, or a new SYN took the 4-tuple. */
  get finished(): boolean {
    return this.gone;
  }

  /**
   * tcp_timewait_state_process, TCP_TW_SYN: a SYN whose sequence number lies
   * beyond what the old connection used may open a new one. When it does,
   * this goes away quietly and the caller hands the SYN to the listener.
   */
  yieldsToSyn(seq: number): boolean {
    if (((seq - this.s.rcvNxt) | 0) <= 0) return false;
    this.end();
    return true;
  }

  /**
   * A segment of the old connection (tcp_timewait_state_process, what podwire
   * models of it): a RST at rcv_nxt ends the wait (tcp_rfc1337 = 0, "TIME-WAIT
   * assassination"); a SYN gets a challenge ACK (RFC 5961 4.2); a
   * retransmitted FIN is ACKed again and restarts the wait; the rest is dropped.
   */
  segment(seq: number, _ack: number, flags: number, ..._rest: unknown[]): void {
    if (this.gone) return; // one the connection's backlog held past the end of the wait
    const s = this.s;
    if (flags & TCP_RST) {
      if (seq === s.rcvNxt) this.end();
      return;
    }
    if (flags & TCP_SYN) {
      this.sendAck();
      return;
    }
    if (flags & TCP_FIN) {
      this.sendAck();
      this.timer.arm(this.layer.params.timewaitNs);
    }
  }

  handleEvent(): void {
    if (this.timer.expired() && !this.gone) this.end();
  }

  describe(): string {
    return `${formatIpv4(this.localAddr)}:${this.localPort} -> ${formatIpv4(this.remoteAddr)}:${this.remotePort} ${this.ssState}`;
  }

  /** tcp_v4_timewait_ack: a pure ACK of rcv_nxt from snd_nxt, with the frozen window; no SACK. */
  private sendAck(): void {
    const s = this.s;
    const ts = s.tsOk ? tsvalAt(s.tsOffset, this.layer.ns.component.now) : -1;
    this.layer.writer.send(this.localAddr, this.remoteAddr, this.localPort, this.remotePort, s.sndNxt, s.rcvNxt, TCP_ACK, s.window, ts, s.tsRecent, 0, 0);
  }

  /** inet_twsk_deschedule_put: out of the table, the timer off. */
  end(): void {
    if (this.gone) return;
    this.gone = true;
    this.timer.cancel();
    this.layer.remove(this);
  }
}
