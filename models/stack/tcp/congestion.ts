/**
 * Congestion control in segments: the interface the connection drives, the
 * part every module shares (CongestionBase), and Reno (RFC 5681; tcp_reno_cong_avoid,
 * tcp_slow_start, tcp_cong_avoid_ai and tcp_reno_ssthresh in
 * net/ipv4/tcp_cong.c), with NewReno's recovery (RFC 6582) driven by the
 * connection:
 *
 * - slow start while cwnd < ssthresh: cwnd grows by the segments ACKed;
 * - congestion avoidance: one segment per cwnd segments ACKed (snd_cwnd_cnt);
 * - growth only while the sender is cwnd-limited (tcp_is_cwnd_limited);
 * - three duplicate ACKs: ssthresh = max(cwnd / 2, 2), cwnd = ssthresh + 3,
 *   +1 per further duplicate, back to ssthresh when recovery ends;
 * - RTO: ssthresh = max(cwnd / 2, 2), cwnd = 1 (RFC 5681 3.1 eq. 4 and tcp_enter_loss);
 * - with SACK, recovery sets ssthresh and the connection moves cwnd towards
 *   it by Proportional Rate Reduction (RFC 6937, tcp_cwnd_reduction), then
 *   cwnd = ssthresh when recovery ends; a repaired loss probe (CWR) sets
 *   cwnd = ssthresh at once.
 */
export interface CongestionControl {
  /** snd_cwnd, in segments. */
  cwnd: number;
  ssthresh: number;
  readonly inSlowStart: boolean;
  /** The connection should time each ACK (CUBIC's HyStart and delay_min); Reno needs no samples. */
  readonly wantsAckRtt: boolean;
  /** The connection is established (tcp_init_congestion_control). */
  start?(nowNs: number, sndNxt: number): void;
  /** An ACK advanced snd_una, with its RTT sample if any (pkts_acked); before onAck. */
  onAckRtt?(rttNs: number | undefined, nowNs: number, sndUna: number, sndNxt: number): void;
  /** New data ACKed outside recovery (cong_avoid). */
  onAck(ackedSegs: number, cwndLimited: boolean, nowNs: number): void;
  enterRecovery(): void;
  enterSackRecovery(): void;
  /** tcp_init_cwnd_reduction: ssthresh from the module; cwnd then follows PRR, set by the connection. */
  enterCwndReduction(): void;
  inflate(): void;
  partialAck(ackedSegs: number): void;
  exitRecovery(): void;
  /** tcp_enter_loss: cwnd 1, and a new ssthresh unless `reduce` is false (already reduced in this window). */
  onRto(nowNs: number, sndNxt: number, reduce?: boolean): void;
  /** Data goes out with nothing in flight (CA_EVENT_TX_START); lastSendNs is when data last went out. */
  onTxStart?(nowNs: number, lastSendNs: number): void;
}

/**
 * What every congestion control shares, as tcp_cong.c and tcp_input.c keep it
 * for the modules: cwnd and ssthresh, tcp_slow_start and tcp_cong_avoid_ai,
 * and the recovery mechanics the connection drives (NewReno's inflation,
 * cwnd = ssthresh at once, cwnd 1 after a timeout). A module
 * supplies its growth (`onAck`) and its ssthresh after a loss (the module's
 * `ssthresh` op).
 */
export abstract class CongestionBase implements CongestionControl {
  cwnd: number;
  /** TCP_INFINITE_SSTHRESH */
  ssthresh = 0x7fffffff;
  abstract readonly wantsAckRtt: boolean;
  /** snd_cwnd_cnt */
  protected cwndCnt = 0;

  constructor(initCwnd: number) {
    this.cwnd = initCwnd;
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  abstract onAck(ackedSegs: number, cwndLimited: boolean, nowNs: number): void;

  /** The module's ssthresh op: the slow-start threshold after a loss. */
  protected abstract lossSsthresh(): number;

  /** tcp_slow_start: grow by the segments ACKed up to ssthresh; returns those left for congestion avoidance. */
  protected slowStart(ackedSegs: number): number {
    const cwnd = Math.min(this.cwnd + ackedSegs, this.ssthresh);
    ackedSegs -= cwnd - this.cwnd;
    this.cwnd = cwnd;
    return ackedSegs;
  }

  /** tcp_cong_avoid_ai: one segment per `w` segments ACKed (credits kept in snd_cwnd_cnt). */
  protected congAvoidAi(w: number, ackedSegs: number): void {
    // Credits accumulated at a higher w are applied gently now.
    if (this.cwndCnt >= w) {
      this.cwndCnt = 0;
      this.cwnd++;
    }
    this.cwndCnt += ackedSegs;
    if (this.cwndCnt >= w) {
      const delta = Math.floor(this.cwndCnt / w);
      this.cwndCnt -= delta * w;
      this.cwnd += delta;
    }
  }

  /** Fast retransmit (RFC 5681 3.2 steps 2-3). */
  enterRecovery(): void {
    this.ssthresh = this.lossSsthresh();
    this.cwnd = this.ssthresh + 3;
    this.cwndCnt = 0;
  }

  /** cwnd reduced to the new ssthresh at once (tcp_process_tlp_ack's CWR). */
  enterSackRecovery(): void {
    this.ssthresh = this.lossSsthresh();
    this.cwnd = this.ssthresh;
    this.cwndCnt = 0;
  }

  enterCwndReduction(): void {
    this.ssthresh = this.lossSsthresh();
    this.cwndCnt = 0;
  }

  /** A further duplicate ACK in recovery (RFC 5681 3.2 step 4). */
  inflate(): void {
    this.cwnd++;
  }

  /** RFC 6582 3.2 step 5 (partial ACK): deflate by the data ACKed, add back one segment. */
  partialAck(ackedSegs: number): void {
    this.cwnd = Math.max(this.cwnd - ackedSegs + 1, 1);
  }

  /** Recovery ends with a full ACK (RFC 6582 3.2 step 6). */
  exitRecovery(): void {
    this.cwnd = this.ssthresh;
  }

  /** Retransmission timeout (tcp_enter_loss): ssthresh from the module unless already reduced, cwnd 1. */
  onRto(_nowNs = 0, _sndNxt = 0, reduce = true): void {
    if (reduce) this.ssthresh = this.lossSsthresh();
    this.cwnd = 1;
    this.cwndCnt = 0;
  }
}

export class Reno extends CongestionBase {
  readonly wantsAckRtt = false;

  /** tcp_reno_cong_avoid: new data ACKed outside recovery. */
  onAck(ackedSegs: number, cwndLimited: boolean): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      ackedSegs = this.slowStart(ackedSegs);
      if (ackedSegs <= 0) return;
    }
    this.congAvoidAi(this.cwnd, ackedSegs);
  }

  /** tcp_reno_ssthresh */
  protected lossSsthresh(): number {
    return Math.max(this.cwnd >> 1, 2);
  }
}
