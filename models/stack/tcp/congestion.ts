/**
 * Reno congestion control in segments (RFC 5681; tcp_reno_cong_avoid,
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
 * - with SACK, recovery follows RFC 6675 4.2: cwnd = ssthresh at once, no
 *   inflation or deflation (the pipe estimate does that job), ssthresh after.
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
  inflate(): void;
  partialAck(ackedSegs: number): void;
  exitRecovery(): void;
  onRto(nowNs: number, sndNxt: number): void;
  /** Data goes out with nothing in flight (CA_EVENT_TX_START); lastSendNs is when data last went out. */
  onTxStart?(nowNs: number, lastSendNs: number): void;
}

export class Reno implements CongestionControl {
  cwnd: number;
  readonly wantsAckRtt = false;
  /** TCP_INFINITE_SSTHRESH */
  ssthresh = 0x7fffffff;
  /** snd_cwnd_cnt */
  private cwndCnt = 0;

  constructor(initCwnd: number) {
    this.cwnd = initCwnd;
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  /** New data ACKed outside recovery. */
  onAck(ackedSegs: number, cwndLimited: boolean): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      // tcp_slow_start: grow up to ssthresh, the rest counts for congestion avoidance.
      const cwnd = Math.min(this.cwnd + ackedSegs, this.ssthresh);
      ackedSegs -= cwnd - this.cwnd;
      this.cwnd = cwnd;
      if (ackedSegs <= 0) return;
    }
    // tcp_cong_avoid_ai with w = cwnd
    this.cwndCnt += ackedSegs;
    if (this.cwndCnt >= this.cwnd) {
      const delta = Math.floor(this.cwndCnt / this.cwnd);
      this.cwndCnt -= delta * this.cwnd;
      this.cwnd += delta;
    }
  }

  /** tcp_reno_ssthresh */
  private halve(): number {
    return Math.max(this.cwnd >> 1, 2);
  }

  /** Fast retransmit (RFC 5681 3.2 steps 2-3). */
  enterRecovery(): void {
    this.ssthresh = this.halve();
    this.cwnd = this.ssthresh + 3;
    this.cwndCnt = 0;
  }

  /** SACK loss recovery begins (RFC 6675 5 step 4.2: ssthresh = cwnd = half). */
  enterSackRecovery(): void {
    this.ssthresh = this.halve();
    this.cwnd = this.ssthresh;
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

  /** Retransmission timeout. */
  onRto(): void {
    this.ssthresh = this.halve();
    this.cwnd = 1;
    this.cwndCnt = 0;
  }
}
