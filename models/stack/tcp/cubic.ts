/**
 * CUBIC congestion control with HyStart, as Linux's default
 * (net.ipv4.tcp_congestion_control = cubic; net/ipv4/tcp_cubic.c), in
 * segments. RFC 9438 describes the algorithm; the arithmetic here is Linux's
 * fixed point, so windows match the kernel's to the segment:
 *
 * - W_cubic(t) = C (t - K)^3 + W_max with K = cbrt(W_max (1 - beta) / C),
 *   t in 1/1024 s (BICTCP_HZ), C = bic_scale / 1024 * 10 (41 -> 0.4), K from
 *   cubic_root (a table lookup and one Newton-Raphson step, ~0.2% error);
 *   t counts from the epoch start (the first ACK in congestion avoidance)
 *   plus delay_min, the target one RTT ahead (RFC 9438 4.2);
 * - cwnd grows towards the target by tcp_cong_avoid_ai(cnt): one segment per
 *   cnt segments ACKed, cnt = cwnd / (target - cwnd), at least 2 (at most
 *   1.5x per RTT), 20 while no loss was seen yet (last_max_cwnd 0);
 * - the TCP-friendly region (RFC 9438 4.3): an estimate of Reno's window
 *   grows by one per cwnd * 8 / beta_scale segments ACKed (beta_scale 15, the
 *   AIMD alpha 3 (1 - beta) / (1 + beta) in Linux's integers); when it is
 *   ahead, cnt follows it;
 * - on loss: ssthresh = max(cwnd * 717 / 1024, 2) (beta 0.7); W_max = cwnd, or
 *   cwnd (1 + beta) / 2 when cwnd is below the last W_max (fast convergence,
 *   RFC 9438 4.7); the epoch ends. A timeout also resets all CUBIC state
 *   (cubictcp_state on TCP_CA_Loss);
 * - the CUBIC function moves at most once per jiffy (1 ms, HZ 1000) and, for
 *   an unchanged cwnd, waits HZ / 32 jiffies between recomputations;
 * - after idle (CA_EVENT_TX_START) the epoch start moves by the idle time.
 *
 * HyStart (hystart 1, hystart_detect 3) leaves slow start early, setting
 * ssthresh = cwnd, once cwnd >= hystart_low_window (16), on either signal:
 * - ACK train: ACKs arriving no more than hystart_ack_delta (2 ms) apart
 *   since the round began span more than delay_min / 2 (no pacing: the
 *   threshold is halved; hystart_ack_delay is 0 as podwire has no TSO/GRO);
 * - delay: after HYSTART_MIN_SAMPLES (8) RTT samples in a round, the round's
 *   least RTT exceeds delay_min + clamp(delay_min / 8, 4 ms, 16 ms).
 * A round ends when snd_una passes the snd_nxt recorded at its start.
 * RTT samples (cubictcp_acked) are the connection's per-ACK samples, none in
 * the first second of an epoch.
 *
 * Recovery is driven by the connection as for Reno (congestion.ts): SACK
 * recovery sets cwnd = ssthresh at once (Linux reduces it with PRR), NewReno
 * inflates by one per duplicate ACK. Not modelled: undo (tcp_reno_undo_cwnd),
 * initial_ssthresh (0 by default anyway).
 */
import { CongestionBase } from './congestion.js';

/** BICTCP_BETA_SCALE and beta: multiplicative decrease 717 / 1024 = 0.7. */
const BETA_SCALE = 1024;
export const CUBIC_BETA = 717;
/** bic_scale: C = 41 * 10 / 1024 = 0.4 (cube_rtt_scale = bic_scale * 10). */
const BIC_SCALE = 41;
const CUBE_RTT_SCALE = BigInt(BIC_SCALE * 10);
/** BICTCP_HZ: t in units of 2^-10 s. */
const BICTCP_HZ = 10;
/** cube_factor = 2^40 / (bic_scale * 10): K = cubic_root(cube_factor * (W_max - cwnd)). */
const CUBE_FACTOR = Math.floor(2 ** (10 + 3 * BICTCP_HZ) / (BIC_SCALE * 10));
/** beta_scale = 8 (1024 + beta) / 3 / (1024 - beta) = 15 (integer division, as in the kernel). */
const BETA_SCALE_FRIENDLY = Math.floor(Math.floor((8 * (BETA_SCALE + CUBIC_BETA)) / 3) / (BETA_SCALE - CUBIC_BETA));
/** HZ 1000: one jiffy = 1 ms. */
const HZ = 1000;
const NS_PER_JIFFY = 1e6;

/** hystart_detect bits */
export const HYSTART_ACK_TRAIN = 1;
export const HYSTART_DELAY = 2;
export const HYSTART_LOW_WINDOW = 16;
export const HYSTART_MIN_SAMPLES = 8;
/** HYSTART_DELAY_MIN / MAX, in us. */
const HYSTART_DELAY_MIN_US = 4000;
const HYSTART_DELAY_MAX_US = 16000;
/** hystart_ack_delta_us */
const HYSTART_ACK_DELTA_US = 2000;

/** cbrt(x) MSB values (tcp_cubic.c, refined by Willy Tarreau): v = cbrt(x << 18) - 1. */
const CBRT_V = [
  0, 54, 54, 54, 118, 118, 118, 118, 123, 129, 134, 138, 143, 147, 151, 156,
  157, 161, 164, 168, 170, 173, 176, 179, 181, 185, 187, 190, 192, 194, 197, 199,
  200, 202, 204, 206, 209, 211, 213, 215, 217, 219, 221, 222, 224, 225, 227, 229,
  231, 232, 234, 236, 237, 239, 240, 242, 244, 245, 246, 248, 250, 251, 252, 254,
];

/** fls64: position of the most significant set bit, 1-based; 0 for 0. */
function fls64(a: bigint): number {
  return a === 0n ? 0 : a.toString(2).length;
}

/** cubic_root: integer cube root, a table lookup and one Newton-Raphson iteration (avg error ~0.2%). */
export function cubicRoot(a: number | bigint): number {
  const x64 = BigInt(a);
  let b = fls64(x64);
  if (b < 7) return (CBRT_V[Number(x64)]! + 35) >> 6;
  b = ((b * 84) >> 8) - 1;
  const shift = Number(x64 >> BigInt(b * 3));
  let x = ((CBRT_V[shift]! + 10) * 2 ** b) >>> 6;
  x = 2 * x + Number(x64 / (BigInt(x) * BigInt(x - 1)));
  return Math.floor((x * 341) / 1024);
}

/** K in 1/1024 s for a window gap W_max - cwnd in segments (bic_K). */
export function cubicK(gap: number): number {
  return cubicRoot(BigInt(CUBE_FACTOR) * BigInt(gap));
}

/** c / rtt * (t - K)^3 in segments, t and K in 1/1024 s (the kernel's delta). */
function cubicDelta(offs: number): number {
  const o = BigInt(offs);
  return Number((CUBE_RTT_SCALE * o * o * o) >> BigInt(10 + 3 * BICTCP_HZ));
}

export class Cubic extends CongestionBase {
  readonly wantsAckRtt = true;

  // struct bictcp
  /** cnt: increase cwnd by 1 after this many segments ACKed. */
  cnt = 0;
  /** last_max_cwnd: W_max. */
  lastMaxCwnd = 0;
  private lastCwnd = 0;
  private lastTime = 0;
  /** bic_origin_point */
  originPoint = 0;
  /** bic_K in 1/1024 s */
  k = 0;
  /** delay_min in us (0: no sample yet) */
  delayMinUs = 0;
  /** epoch_start in jiffies, or -1 outside an epoch (the kernel's 0). */
  epochStart = -1;
  private ackCnt = 0;
  /** tcp_cwnd: the estimate of Reno's window in the TCP-friendly region. */
  tcpCwnd = 0;

  // HyStart
  private readonly hystart: boolean;
  private readonly hystartDetect: number;
  /** found: slow start was left by HyStart (until the next timeout). */
  hystartFound = false;
  /** Which HyStart signal ended slow start (LINUX_MIB_TCPHYSTARTTRAINDETECT / DELAYDETECT), if one did. */
  hystartExit: 'ack-train' | 'delay' | undefined;
  private sampleCnt = 0;
  private roundStartUs = 0;
  private endSeq = 0;
  private lastAckUs = 0;
  private currRttUs = Infinity;

  /** opts: the hystart and hystart_detect module parameters (on; 3 = ack train | delay). */
  constructor(initCwnd: number, opts: { hystart?: boolean; hystartDetect?: number } = {}) {
    super(initCwnd);
    this.hystart = opts.hystart ?? true;
    this.hystartDetect = opts.hystartDetect ?? (HYSTART_ACK_TRAIN | HYSTART_DELAY);
  }

  /** cubictcp_init / bictcp_hystart_reset: the first HyStart round starts now and ends at sndNxt. */
  start(nowNs: number, sndNxt: number): void {
    this.hystartReset(nowNs, sndNxt);
  }

  private hystartReset(nowNs: number, sndNxt: number): void {
    this.roundStartUs = this.lastAckUs = Math.floor(nowNs / 1000);
    this.endSeq = sndNxt;
    this.currRttUs = Infinity;
    this.sampleCnt = 0;
  }

  /**
   * cubictcp_acked: an ACK that advanced, with its RTT sample (ns) or undefined;
   * called before onAck, as pkts_acked comes before cong_avoid in tcp_ack.
   */
  onAckRtt(rttNs: number | undefined, nowNs: number, sndUna: number, sndNxt: number): void {
    if (rttNs === undefined) return;
    // Discard delay samples right after a reduction.
    if (this.epochStart >= 0 && jiffies(nowNs) - this.epochStart < HZ) return;
    const delay = Math.max(Math.floor(rttNs / 1000), 1);
    if (this.delayMinUs === 0 || this.delayMinUs > delay) this.delayMinUs = delay;
    if (!this.hystartFound && this.inSlowStart && this.hystart && this.cwnd >= HYSTART_LOW_WINDOW) {
      this.hystartUpdate(delay, nowNs, sndUna, sndNxt);
    }
  }

  private hystartUpdate(delayUs: number, nowNs: number, sndUna: number, sndNxt: number): void {
    if (sndUna > this.endSeq) this.hystartReset(nowNs, sndNxt);
    const now = Math.floor(nowNs / 1000);
    // ACK train: closely spaced ACKs spanning more than half the minimum RTT.
    if ((this.hystartDetect & HYSTART_ACK_TRAIN) !== 0 && now - this.lastAckUs <= HYSTART_ACK_DELTA_US) {
      this.lastAckUs = now;
      const threshold = this.delayMinUs >> 1;
      if (now - this.roundStartUs > threshold) this.exitSlowStart('ack-train');
    }
    if ((this.hystartDetect & HYSTART_DELAY) === 0) return;
    // Delay increase: the round's least RTT over delay_min plus a clamped eighth of it.
    if (this.currRttUs > delayUs) this.currRttUs = delayUs;
    if (this.sampleCnt < HYSTART_MIN_SAMPLES) {
      this.sampleCnt++;
    } else if (this.currRttUs > this.delayMinUs + Math.min(Math.max(this.delayMinUs >> 3, HYSTART_DELAY_MIN_US), HYSTART_DELAY_MAX_US)) {
      this.exitSlowStart('delay');
    }
  }

  private exitSlowStart(by: 'ack-train' | 'delay'): void {
    this.hystartFound = true;
    this.hystartExit ??= by;
    this.ssthresh = this.cwnd;
  }

  /** cubictcp_cong_avoid: new data ACKed outside recovery. */
  onAck(ackedSegs: number, cwndLimited: boolean, nowNs = 0): void {
    if (!cwndLimited) return;
    if (this.cwnd < this.ssthresh) {
      ackedSegs = this.slowStart(ackedSegs);
      if (ackedSegs <= 0) return;
    }
    this.update(ackedSegs, jiffies(nowNs));
    this.congAvoidAi(this.cnt, ackedSegs);
  }

  /** bictcp_update: recompute cnt from the CUBIC function and the TCP-friendly estimate. */
  private update(acked: number, now: number): void {
    const cwnd = this.cwnd;
    this.ackCnt += acked;
    if (this.lastCwnd === cwnd && now - this.lastTime <= HZ / 32) return;
    if (!(this.epochStart >= 0 && now === this.lastTime)) {
      this.lastCwnd = cwnd;
      this.lastTime = now;
      if (this.epochStart < 0) {
        this.epochStart = now;
        this.ackCnt = acked;
        this.tcpCwnd = cwnd;
        if (this.lastMaxCwnd <= cwnd) {
          this.k = 0;
          this.originPoint = cwnd;
        } else {
          this.k = cubicK(this.lastMaxCwnd - cwnd);
          this.originPoint = this.lastMaxCwnd;
        }
      }
      // t: time since the epoch plus one minimum RTT (usecs_to_jiffies rounds up), in 1/1024 s.
      const tJiffies = now - this.epochStart + Math.ceil(this.delayMinUs / 1000);
      const t = Math.floor((tJiffies * 2 ** BICTCP_HZ) / HZ);
      const delta = cubicDelta(Math.abs(t - this.k));
      const target = t < this.k ? this.originPoint - delta : this.originPoint + delta;
      this.cnt = target > cwnd ? Math.floor(cwnd / (target - cwnd)) : 100 * cwnd;
      // No loss seen yet: grow at least 5% per RTT.
      if (this.lastMaxCwnd === 0 && this.cnt > 20) this.cnt = 20;
    }
    // TCP friendliness: Reno's AIMD estimate (alpha from beta) leads when CUBIC is slower.
    const per = (cwnd * BETA_SCALE_FRIENDLY) >> 3;
    if (per > 0 && this.ackCnt > per) {
      const n = Math.floor((this.ackCnt - 1) / per);
      this.ackCnt -= n * per;
      this.tcpCwnd += n;
    }
    if (this.tcpCwnd > cwnd) {
      const maxCnt = Math.floor(cwnd / (this.tcpCwnd - cwnd));
      if (this.cnt > maxCnt) this.cnt = maxCnt;
    }
    // At most one segment per two ACKed: 1.5x per RTT.
    this.cnt = Math.max(this.cnt, 2);
  }

  /** cubictcp_recalc_ssthresh: W_max (with fast convergence) and the new ssthresh; ends the epoch. */
  protected lossSsthresh(): number {
    this.epochStart = -1;
    if (this.cwnd < this.lastMaxCwnd) this.lastMaxCwnd = Math.floor((this.cwnd * (BETA_SCALE + CUBIC_BETA)) / (2 * BETA_SCALE));
    else this.lastMaxCwnd = this.cwnd;
    return Math.max(Math.floor((this.cwnd * CUBIC_BETA) / BETA_SCALE), 2);
  }

  /** tcp_enter_loss: ssthresh from CUBIC, cwnd 1, then TCP_CA_Loss resets CUBIC and HyStart. */
  override onRto(nowNs = 0, sndNxt = 0, reduce = true): void {
    super.onRto(nowNs, sndNxt, reduce);
    this.cnt = 0;
    this.lastMaxCwnd = 0;
    this.lastCwnd = 0;
    this.lastTime = 0;
    this.originPoint = 0;
    this.k = 0;
    this.delayMinUs = 0;
    this.epochStart = -1;
    this.ackCnt = 0;
    this.tcpCwnd = 0;
    this.hystartFound = false;
    this.hystartExit = undefined;
    this.hystartReset(nowNs, sndNxt);
  }

  /** CA_EVENT_TX_START: sending again after idle; the epoch moves by the idle time so growth keeps to the curve. */
  onTxStart(nowNs: number, lastSendNs: number): void {
    const now = jiffies(nowNs);
    const delta = now - jiffies(lastSendNs);
    if (this.epochStart >= 0 && delta > 0) {
      this.epochStart += delta;
      if (this.epochStart > now) this.epochStart = now;
    }
  }
}

function jiffies(ns: number): number {
  return Math.floor(ns / NS_PER_JIFFY);
}
