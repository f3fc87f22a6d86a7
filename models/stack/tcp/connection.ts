/**
 * One TCP connection: the state machine of RFC 9293 3.3.2 and its segment
 * processing (3.10.7), with Linux's timers and defaults. Read alongside:
 * RFC 9293 (states, sequence checks), RFC 6298 as Linux runs it (RTO, see rto.ts), RFC 5681
 * and RFC 6582 (Reno / NewReno, see congestion.ts), RFC 7323 (window scale,
 * timestamps), RFC 5961 (challenge ACKs), RFC 896 with Minshall's variant
 * (Nagle), and net/ipv4/tcp_input.c, tcp_output.c, tcp_timer.c.
 *
 * Sequence numbers are kept as offsets from the initial sequence numbers
 * (plain integers, no wrap) and turned into 32-bit wire values only when a
 * segment is written or read: offset 0 is the SYN, data starts at 1.
 *
 * SACK (RFC 2018, D-SACK RFC 2883), when both SYNs carried SACK_PERM: the
 * receiver reports out-of-order data in up to 3 blocks beside the timestamp
 * (4 without), kept as tcp_sack_new_ofo_skb and tcp_sack_remove keep them,
 * and a duplicate segment once in a D-SACK block; the sender keeps a
 * scoreboard (sack.ts) and a retransmit queue with each segment's send time
 * and marks (rtx-queue.ts), and finds losses as Linux does by default
 * (net.ipv4.tcp_recovery = 1): RACK (RFC 8985 6, rack.ts) marks a segment
 * lost once one sent after it is delivered and its RTT plus the reordering
 * window has passed, or when the reordering timer fires. Recovery starts when
 * a segment is marked lost (tcp_time_to_recover), resends only the segments
 * marked lost (tcp_xmit_retransmit_queue), and counts in flight what Linux's
 * tcp_packets_in_flight counts (unSACKed, less lost, plus retransmitted). A
 * lost retransmission is found the same way. cwnd comes down to the ssthresh
 * of the congestion control (TcpParams.congestionControl: Reno, congestion.ts,
 * or CUBIC with HyStart, cubic.ts, which times every ACK) by Proportional Rate
 * Reduction (RFC 6937, tcp_cwnd_reduction) and is set to it when recovery
 * ends. Without SACK agreed, recovery is NewReno (RFC 6582) with its cwnd
 * inflation (Linux uses PRR there too).
 *
 * Limited transmit (RFC 3042) as Linux gets it: before recovery, a duplicate
 * ACK without SACK counts one segment as SACKed (tcp_add_reno_sack, at most
 * two here, DupThresh - 1), with SACK the block does; either way the segment
 * leaves tcp_packets_in_flight and new data may go out, cwnd unchanged. As in
 * Linux, an ACK that grows the window is no duplicate (FLAG_WIN_UPDATE), which
 * costs NewReno many duplicate ACKs while out-of-order data grows the peer's
 * window (podwire also discounts one that shrinks it).
 *
 * The tail loss probe (RFC 8985 7; tcp_schedule_loss_probe,
 * tcp_send_loss_probe, tcp_process_tlp_ack; net.ipv4.tcp_early_retrans 3),
 * only with SACK agreed, as Linux: in the Open state (nothing SACKed or
 * duplicate-ACKed, not in recovery or after a timeout) each new send and each
 * forward ACK schedule a probe at PTO = 2 SRTT + TCP_TIMEOUT_MIN (2 ms), or
 * + rto_min when one segment is in flight (the peer's delayed ACK), 1 s
 * without an RTT sample, and never later than the RTO. It sends one new
 * segment if the peer's window admits it (cwnd and Nagle aside), else resends
 * the last segment; one probe per flight (tlp_high_seq); the RTO restarts
 * after it. An ACK beyond a retransmitted probe (not D-SACKed) means it
 * repaired a loss: ssthresh and cwnd halve once (CWR). A probe SACKed above a
 * hole makes RACK find the hole lost. packets_out is counted from byte offsets
 * (full segments, plus a FIN sent alone), not per skb.
 *
 * The persist timer (tcp_probe_timer, tcp_send_probe0, tcp_write_wakeup,
 * tcp_ack_probe): when data waits behind a window too small for the next
 * segment and nothing is in flight, the sender probes after max(RTO, 200 ms),
 * then at doubling intervals up to 120 s (persist.ts): with a window-sized
 * piece of new data when the window admits some bytes, else with an ACK of
 * seq snd_una - 1 and no data, which the receiver answers (tcp_sequence ->
 * tcp_send_dupack, rate-limited by tcp_invalid_ratelimit). Applications read
 * everything at once, so the window closes only while out-of-order data fills
 * the buffer; when the read's window update is lost, a probe recovers.
 * tcp_retries2 unanswered probes in a row end the connection (ETIMEDOUT).
 *
 * RTT samples as tcp_ack_update_rtt takes them: one from every ACK that newly
 * covers data sent once (the oldest segment it ACKs, else the oldest it SACKs),
 * into Linux's estimator (rto.ts). The handshake is timed on its own.
 *
 * TCP small queues (tcp_small_queue_check, tcp_wfree): every packet is charged
 * to its socket until it leaves the host (a veth or lo forwards it, a NIC takes
 * it from its queue, or it is dropped: Packet.orphan); new data and
 * retransmissions wait while more than about a millisecond at the pacing rate
 * is still charged, and go on when some leaves. So a sender whose own qdisc is
 * the bottleneck keeps it nearly empty; a pod's packets stop counting at its veth.
 * tcp_cwnd_validate remembers per window of data whether cwnd limited the
 * sender, or how many segments it had out, and cwnd grows only then
 * (tcp_is_cwnd_limited: in slow start, up to twice the most segments out).
 *
 * Not modelled: the growth of RACK's reordering window on D-SACKs
 * (reo_wnd_steps), Linux's one timer for RTO, probe and reordering (three
 * here), RTT from the timestamp echo when only retransmitted data was ACKed,
 * jiffies in the loss probe's timeout, SACK reneging beyond a SACKed head at a
 * timeout, undo of spurious retransmissions (tcp_try_undo_*, F-RTO), the orphan
 * and TCP_USER_TIMEOUT limits of the probe timer, retransmission timeouts into a
 * window the peer shrank (tcp_retransmit_timer's !snd_wnd case),
 * keepalive, urgent data, FIN_WAIT2 timeout of orphans, pacing (sch_fq or BBR).
 * The receive window is Linux's (receive-window.ts).
 */
import type { EventHandler } from '../../../engine/simulation.js';
import { formatIpv4 } from '../../wire/addr.js';
import { jhash2 } from '../../netfilter/conntrack/jhash.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_MAX_SACK_BLOCKS, type SackBlock, type TcpOptions } from '../../wire/tcp.js';
import { Reno, type CongestionControl } from './congestion.js';
import { Cubic } from './cubic.js';
import { DUP_THRESH, SackScoreboard } from './sack.js';
import { RetransmitQueue } from './rtx-queue.js';
import { Rack } from './rack.js';
import { RtoEstimator } from './rto.js';
import { TcpState, tcpStateName, tcpStateSsName } from './states.js';
import { LazyTimer } from './timer.js';
import { probe0BaseNs, probe0WhenNs } from './persist.js';
import { DATA_PUSHED, DATA_WINDOW_GREW, ReceiveWindow, skbTruesize } from './receive-window.js';
import { GSO_MAX_SIZE, SKB_EMPTY_TRUESIZE, SendBuffer } from './send-buffer.js';
import { tsoShouldDefer } from './tso-defer.js';
import { MinRtt } from './min-rtt.js';
import { RcvRttEstimator } from './rcv-rtt.js';
import type { TcpParams } from './params.js';
import type { TcpLayer } from './tcp-layer.js';
import { TimeWaitSock } from './time-wait.js';
import { DetachableHandler } from './detachable-handler.js';
import { tsvalAt } from './ts-clock.js';
import type { TxOwner } from '../../packet.js';

/** Errors reported to onError, with their errno names. */
export type TcpError = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'EHOSTUNREACH' | 'ENETUNREACH';

/** What an application hears from a connection. Every member is optional. */
export interface ConnectionHandlers {
  /** Active open: the handshake completed (connect() returned). */
  onConnected?(conn: Connection): void;
  /** `n` new in-order bytes; `conn.bytesReceived` is the stream total (see MessageFramer). */
  onData?(conn: Connection, n: number): void;
  /** The peer sent FIN: no more data will come (read() returned 0). */
  onEnd?(conn: Connection): void;
  /** Both directions are closed (TIME_WAIT or CLOSED reached without an error). */
  onClosed?(conn: Connection): void;
  /** The connection failed: refused, reset, or timed out. No onClosed follows. */
  onError?(conn: Connection, err: TcpError): void;
}

/** Per-connection statistics (a subset of tcp_info / `ss -ti`). */
export interface ConnectionStats {
  segsOut: number;
  segsIn: number;
  /** Segments sent again (timeouts and fast retransmits; SYN and FIN included). */
  retransmits: number;
  /** Retransmission timeouts that fired. */
  timeouts: number;
  fastRetransmits: number;
  /** Tail loss probes sent (LINUX_MIB_TCPLOSSPROBES), new data or a retransmission. */
  lossProbes: number;
  /** D-SACK blocks received (RFC 2883): the peer got a segment twice. */
  dsacksIn: number;
  /** "Fragmentation needed" errors that lowered the MSS (tcp_v4_mtu_reduced). */
  mtuReductions: number;
  /** Payload bytes handed to the network for the first time. */
  bytesSent: number;
  bytesRetrans: number;
  /** Payload bytes the peer ACKed. */
  bytesAcked: number;
  /** In-order payload bytes received. */
  bytesReceived: number;
  /** Every RTT sample taken (ns), in order (Karn's rule: never on a retransmitted segment), when `recordRtt` is set. */
  rttSamplesNs: number[];
  /** [time ns, cwnd, ssthresh] after each change, when `recordCwnd` is set. */
  cwndLog: [number, number, number][];
}

// Timer event kinds (Connection.handleEvent).
const K_RETRANSMIT = 0;
const K_DELACK = 1;
const K_PROBE0 = 3;
const K_LOSS_PROBE = 4;
/** The application's write, asleep in sk_stream_wait_memory, was woken (sk_stream_write_space). */
const K_WRITE_SPACE = 5;
/** RACK's reordering timer (ICSK_TIME_REO_TIMEOUT). */
const K_REO_TIMEOUT = 6;
/** TCP small queues: packets of this socket left the host while it was throttled (tcp_tsq_handler). */
const K_TSQ = 7;

/** tp->nonagle and tcp_write_xmit's `nonagle` argument. */
const TCP_NAGLE_OFF = 1;
const TCP_NAGLE_PUSH = 4;

/** One received out-of-order range [start, end) of stream offsets, and the skb truesize it holds. */
interface OooRange {
  start: number;
  end: number;
  truesize: number;
}

export class Connection implements EventHandler, TxOwner {
  /** The state; in TIME-WAIT the timewait socket's (see `state`). */
  private st: TcpState;
  handlers: ConnectionHandlers;
  /** TCP_NODELAY: off by default, so Nagle's algorithm applies. */
  noDelay = false;
  /** Keep stats.cwndLog. */
  recordCwnd = false;
  /** Keep stats.rttSamplesNs: one number per ACK, a long transfer's worth of them, so off by default. */
  recordRtt = false;
  readonly stats: ConnectionStats = {
    segsOut: 0, segsIn: 0, retransmits: 0, timeouts: 0, fastRetransmits: 0, lossProbes: 0, dsacksIn: 0, mtuReductions: 0, bytesSent: 0, bytesRetrans: 0,
    bytesAcked: 0, bytesReceived: 0, rttSamplesNs: [], cwndLog: [],
  };

  // ---- send side (offsets from iss)
  readonly iss: number;
  /** Oldest unacknowledged offset. */
  sndUna = 0;
  /** Next offset to send. */
  sndNxt = 0;
  /** Highest offset sent so far (below it, a send is a retransmission). */
  sndMax = 0;
  /** End of the data the application queued (offset): write_seq. */
  private writeEnd = 1;
  /** The send queue's skbs against sk_sndbuf, and their PSH marks. */
  readonly sendBuf: SendBuffer;
  /** Bytes of the application's write not yet in the send queue: it waits for memory (or for the connection). */
  private appPending = 0;
  /** Bytes the current write put in the queue so far (tcp_sendmsg_locked's `copied`). */
  private writeCopied = 0;
  /** SOCK_NOSPACE: the write waits in sk_stream_wait_memory. */
  private writerWaiting = false;
  /** close() or shutdown() called while the write still waited: done once it returns. */
  private closeAfterWrite: 'close' | 'shutdown' | null = null;
  /** pushed_seq: write_seq when an skb was last marked PSH (forced_push). */
  private pushedSeq = 1;
  /** tcp_write_xmit's `nonagle` for the output under way (tp->nonagle unless a push says otherwise). */
  private xmitNonagle = 0;
  /** Offset of our FIN once close() queued it, else -1. */
  private finOff = -1;
  /** Peer's receive window in bytes (scaled). */
  sndWnd = 0;
  private sndWl1 = 0;
  private sndWl2 = 0;
  /** Effective send MSS (peer's MSS option and our route MTU, less the timestamp option). */
  mss = 536;
  /** Our advertised MSS (route MTU - 40). */
  advMss = 536;
  /** icsk_pmtu_cookie: the path MTU the send MSS was computed for. */
  private pmtuCookie: number;
  /** The cookie is a learned path MTU, below the device's: it rises again when that expires. */
  private pmtuLearned = false;
  /** rx_opt.mss_clamp: the peer's MSS option (0 until its SYN or SYN-ACK arrives). */
  private mssClamp = 0;
  /** max_window: the largest window the peer has offered (tcp_bound_to_half_wnd). */
  private maxWindow = 0;
  /**
   * tcp_simple_retransmit's lost segments: [start, end) offset pairs from
   * lostHead on, runs of original transmissions each larger than the MSS a
   * "fragmentation needed" cut it to, resent in pieces of the new MSS.
   */
  private lostQueue: number[] = [];
  private lostHead = 0;
  private sndWscale = 0;
  /** End of the last sub-MSS segment sent (Minshall's Nagle, tcp_minshall_update). */
  private sndSml = 0;
  /** The send under way stopped because of cwnd (tcp_write_xmit's is_cwnd_limited, before tcp_cwnd_validate). */
  private cwndLimited = false;
  /** tcp_cwnd_validate's memory: cwnd limited this window (is_cwnd_limited), the most segments out, and where the window ends. */
  private isCwndLimited = false;
  private maxPacketsOut = 0;
  private cwndUsageSeq = 0;
  private dupAcks = 0;
  private inRecovery = false;
  /** TCP_CA_Loss: after a retransmission timeout, until everything sent before it is ACKed (sndUna >= recover). */
  private inLoss = false;
  /** tlp_high_seq: sndNxt when the loss probe of this flight went out, or 0 when none is outstanding. */
  private tlpHigh = 0;
  /** The loss probe resent data (tlp_retrans), rather than sending new data. */
  private tlpRetrans = false;
  /** Our FIN went out in a segment of its own (a separate skb for packetsOut). */
  private finAlone = false;
  /** NewReno `recover` (RFC 6675 RecoveryPoint): sndMax when the last recovery or timeout began. */
  private recover = 0;
  /** What the peer SACKed (used only when SACK was agreed). */
  private readonly sb = new SackScoreboard();
  /** RACK loss detection (rack.ts), with SACK agreed. */
  private readonly rack = new Rack();
  /** PRR (RFC 6937): cwnd when recovery began, and segments delivered and sent since. */
  private priorCwnd = 0;
  private prrDelivered = 0;
  private prrOut = 0;
  /** sk_wmem_alloc: truesize of this socket's packets not yet out of the host (TCP small queues). */
  private wmemAlloc = 0;
  /** TSQ_THROTTLED: output stopped because too much was queued; TSQ_QUEUED: the handler is scheduled. */
  private tsqThrottled = false;
  private tsqQueued = false;
  /** prior_fack: the highest SACKed offset before the ACK being processed (sndUna when none). */
  private priorHighSacked = 0;
  /** Retransmissions since the last forward progress (SYN retries, retries2). */
  private retries = 0;
  /** Window probes sent and not answered by an ACK (icsk_probes_out). */
  private probesOut = 0;
  /** RTT timing: the offset whose ACK ends the measurement, or -1 (one timed segment at a time). */
  private rttOff = -1;
  private rttStart = 0;
  readonly rto: RtoEstimator;
  /** tcp_min_rtt: the smallest RTT of the last 300 s. */
  private readonly minRtt = new MinRtt();
  readonly cc: CongestionControl;
  /**
   * The segments sent and not yet ACKed (rtx-queue.ts), with their last send times and Linux's
   * sacked bits. Their send times give per-ACK RTT samples (ca_rtt_us) and RACK's verdicts;
   * their bounds say which were larger than a reduced MSS (tcp_simple_retransmit).
   */
  private readonly rtxq = new RetransmitQueue();
  /** tcp_sock.lsndtime: when data last went out (CA_EVENT_TX_START after idle), or -1. */
  private lastDataSentAt = -1;
  /** The end of the burst being sent (writeBurst), else 0: the send queue is cut there, not after each segment. */
  private burstEnd = 0;
  /** tcp_wstamp_ns: when the last segment of any kind went out. */
  private lastXmitAt = -Infinity;

  // ---- receive side (offsets from irs)
  irs = 0;
  rcvNxt = 0;
  /** rcv_wup: rcvNxt when we last sent an ACK. */
  private rcvWup = 0;
  /** Our receive buffer and the window we advertise (rcv_wnd, rcv_ssthresh, window_clamp, rcvbuf). */
  private readonly rw: ReceiveWindow;
  /** The window field of ACKs sent in TIME-WAIT (tw_rcv_wnd >> rcv_wscale), once set; else -1. */
  private twWindow = -1;
  /** ICSK_ACK_PUSHED (1) and ICSK_ACK_PUSHED2 (2) of icsk_ack.pending: small segments since the last ACK. */
  private ackPushed = 0;
  private readonly ooo: OooRange[] = [];
  /** The SACK blocks we report (tp->selective_acks): stream offsets, the most recently changed first, at most 4. */
  private readonly sackBlocks: { start: number; end: number }[] = [];
  /** A duplicate segment to report once in a D-SACK block (tp->duplicate_sack), or start -1. */
  private dsackStart = -1;
  private dsackEnd = 0;
  /** Offset of the peer's FIN once seen, else -1. */
  private peerFinOff = -1;
  /** Quick-ACK credit (icsk_ack.quick) and interactive mode (icsk_ack.pingpong). */
  private quickAcks = 0;
  private pingpong = false;
  private lastRcvAt = -Infinity;
  private dataSeen = false;
  /** tp->rcv_rtt_est, DRS's round trip (rcv-rtt.ts). */
  private readonly rcvRtt = new RcvRttEstimator();
  /** TSecr of the segment being processed, or -1. */
  private segTsecr = -1;

  // ---- timestamps (RFC 7323): tsval is a 1 ms clock plus a random per-connection offset (tcp_clock_ms + tsoffset)
  tsOk = false;
  /** Window scaling and SACK_PERM agreed in the handshake (both SYNs carried the option). */
  private wsOk = false;
  private sackOk = false;
  private readonly tsOffset: number;
  private tsRecent = 0;

  /** What this connection's timers and deferred work are addressed to, detached once it is done. */
  private readonly events = new DetachableHandler(this);
  private readonly rtxTimer: LazyTimer;
  private readonly delackTimer: LazyTimer;
  /** What stands for this connection in TIME-WAIT (time-wait.ts), once it got there. */
  private tw: TimeWaitSock | null = null;
  /** The persist timer (ICSK_TIME_PROBE0): pending only while nothing is in flight. */
  private readonly probeTimer: LazyTimer;
  /**
   * The tail loss probe timer (ICSK_TIME_LOSS_PROBE). Linux keeps one timer for it and the RTO;
   * here rtxTimer stays armed for the RTO behind it, and the probe, when due first, goes first.
   */
  private readonly tlpTimer: LazyTimer;
  /** RACK's reordering timer. Linux arms it in place of the RTO; here the RTO stays armed behind it. */
  private readonly reoTimer: LazyTimer;
  /** When we last answered an out-of-window pure segment (tp->last_oow_ack_time), or -Infinity. */
  private lastOowAckAt = -Infinity;
  private finished = false;
  /** RCV_SHUTDOWN: close() was called, so the application reads no more. */
  private rcvShutdown = false;
  /** sock_owned_by_user: an application call or a timer of this connection is running (see `owned`). */
  private ownedDepth = 0;
  /** The socket backlog: segments that arrived while the connection was owned, as `segment`'s arguments. */
  private ownedBacklog: Parameters<Connection['segment']>[] | null = null;

  constructor(
    private readonly layer: TcpLayer,
    readonly localAddr: number,
    readonly localPort: number,
    readonly remoteAddr: number,
    readonly remotePort: number,
    state: TcpState,
    handlers: ConnectionHandlers,
    private readonly p: TcpParams,
  ) {
    this.st = state;
    this.handlers = handlers;
    // secure_tcp_seq: a keyed hash of the 4-tuple plus a clock ticking every 64 ns, so
    // a new connection on a 4-tuple starts beyond the old one (which TIME-WAIT reuse relies on);
    // secure_tcp_ts_off: a keyed hash of the address pair.
    this.iss = (jhash2([localAddr, remoteAddr, (localPort << 16) | remotePort], layer.secret) + Math.floor(layer.ns.component.now / 64)) >>> 0;
    this.tsOffset = jhash2([localAddr, remoteAddr], layer.secret ^ 0x5bd1e995);
    this.rto = new RtoEstimator(p);
    this.cc = p.congestionControl === 'cubic' ? new Cubic(p.initCwnd) : new Reno(p.initCwnd);
    this.cc.start?.(layer.ns.component.now, 0);
    const c = layer.ns.component;
    this.rtxTimer = new LazyTimer(c, this.events, K_RETRANSMIT);
    this.delackTimer = new LazyTimer(c, this.events, K_DELACK);
    this.probeTimer = new LazyTimer(c, this.events, K_PROBE0);
    this.tlpTimer = new LazyTimer(c, this.events, K_LOSS_PROBE);
    this.reoTimer = new LazyTimer(c, this.events, K_REO_TIMEOUT);
    this.advMss = layer.advMssTo(remoteAddr);
    this.mss = this.advMss;
    // tcp_connect_init / tcp_v4_syn_recv_sock: tcp_sync_mss(sk, dst_mtu(dst)), a learned path MTU included.
    this.pmtuCookie = layer.pathMtuTo(remoteAddr);
    this.pmtuLearned = layer.ns.hasPathMtus;
    this.rw = new ReceiveWindow(this.advMss, p);
    this.sendBuf = new SendBuffer(p.wmem, 1);
  }

  /** The socket's state, as `ss` shows it: after TIME-WAIT, which the timewait socket holds, CLOSED. */
  get state(): TcpState {
    return this.tw !== null && this.tw.finished ? TcpState.CLOSED : this.st;
  }

  get stateName(): string {
    return tcpStateName(this.state);
  }

  get ssState(): string {
    return tcpStateSsName(this.state);
  }

  /** In-order payload bytes received so far (the stream position an application has read to). */
  get bytesReceived(): number {
    return this.stats.bytesReceived;
  }

  /** Payload bytes queued by send() and not yet ACKed. */
  get bytesUnacked(): number {
    return this.writeEnd + this.appPending - Math.max(this.sndUna, 1);
  }

  /** Payload bytes the application's writes handed to TCP so far (write_seq). */
  get bytesWritten(): number {
    return this.writeEnd - 1;
  }

  /** Payload bytes of a write that waits for room in the send buffer (or for the handshake). */
  get bytesWaiting(): number {
    return this.appPending;
  }

  /** Bytes in flight (sent, not ACKed), SYN/FIN included. */
  get inFlight(): number {
    return this.sndNxt - this.sndUna;
  }

  /** The SACKed ranges of the send scoreboard, as [start, end) stream offsets (data starts at 1). */
  get sackedRanges(): [number, number][] {
    return this.sb.blocks();
  }

  private get now(): number {
    return this.layer.ns.component.now;
  }

  private tsval(): number {
    return tsvalAt(this.tsOffset, this.now);
  }

  // ------------------------------------------------------------ application calls

  /**
   * write() on a blocking socket: `nbytes` of payload go into the send queue
   * as tcp_sendmsg puts them there, the call waiting while the send buffer is
   * full (it returns, for the application, once all are queued: the model
   * goes on by itself, and a close() called meanwhile waits for it). Returns
   * the stream offset at which this message ends.
   */
  send(nbytes: number): number {
    if (this.finOff >= 0 || this.closeAfterWrite !== null || this.st === TcpState.CLOSED || this.st === TcpState.TIME_WAIT) {
      throw new Error(`tcp ${this.describe()}: send after close (EPIPE)`);
    }
    if (nbytes > 0) {
      const fresh = this.appPending === 0;
      this.appPending += nbytes;
      // Before the handshake completes the write waits for it (sk_stream_wait_connect).
      if (fresh && this.canWrite()) this.owned(() => this.sendmsg(true));
    }
    return this.writeEnd + this.appPending - 1;
  }

  /**
   * close(): send FIN after the queued data (tcp_close -> tcp_send_fin). The
   * application has let go of the socket (sk_shutdown = SHUTDOWN_MASK): data
   * that still arrives resets the connection (see `segment`). A write still
   * waiting for room finishes first, as when the same thread closes after it;
   * with `abortWaitingWrite`, the close comes from another thread and the
   * waiting write fails instead, its bytes not yet queued dropped (Go's Close
   * under a goroutine blocked in Write); what is queued still goes.
   */
  close(abortWaitingWrite = false): void {
    if (abortWaitingWrite) {
      this.appPending = 0;
      this.writerWaiting = false;
      this.closeAfterWrite = null;
    }
    if (this.appPending > 0 && !this.finished) {
      this.closeAfterWrite = 'close';
      return;
    }
    this.rcvShutdown = true;
    this.shutdown();
  }

  /** shutdown(SHUT_WR): send FIN after the queued data and go on receiving (tcp_shutdown). */
  shutdown(): void {
    if (this.appPending > 0 && !this.finished) {
      this.closeAfterWrite ??= 'shutdown';
      return;
    }
    this.owned(() => this.sendFin());
  }

  /** The connection takes writes: established, or the peer closed its side only. */
  private canWrite(): boolean {
    return this.st === TcpState.ESTABLISHED || this.st === TcpState.CLOSE_WAIT;
  }

  /**
   * send() would be accepted: the connection takes writes and the application
   * has not closed its side (a close() that waits for a write counts: the
   * socket is closed for the application already).
   */
  get writeOpen(): boolean {
    return this.canWrite() && this.finOff < 0 && this.closeAfterWrite === null;
  }

  /**
   * tcp_sendmsg_locked: the write's bytes go into the tail skb while it holds
   * less than size_goal, then into new skbs while the send buffer has room.
   * Each skb that fills is pushed at once (tcp_push_one: one burst), or with
   * everything pending once more than half the peer's largest window was
   * written since the last PSH (forced_push, which marks it). The write ends
   * with its last skb marked PSH and pushed (tcp_push); a write that finds
   * the buffer full marks and pushes what it queued and sleeps until an ACK
   * frees a third of it (sk_stream_wait_memory, woken by sk_stream_write_space).
   */
  private sendmsg(fresh: boolean): void {
    if (fresh) this.writeCopied = 0;
    const b = this.sendBuf;
    const sizeGoal = this.sizeGoal();
    while (this.appPending > 0) {
      let copy = b.tailUnsent(this.sndMax) ? sizeGoal - b.tailLength() : 0;
      if (copy <= 0) {
        if (!b.memoryFree()) {
          this.waitForSpace();
          return;
        }
        b.newSkb();
        copy = sizeGoal;
      }
      // The first bytes of a write into an skb the last write marked: its mark goes (it is marked again at the end).
      if (this.writeCopied === 0) b.markTail(false);
      copy = Math.min(copy, this.appPending);
      b.grow(copy);
      this.writeEnd += copy;
      this.appPending -= copy;
      this.writeCopied += copy;
      if (this.appPending === 0 || b.tailLength() < sizeGoal) continue;
      if (this.writeEnd > this.pushedSeq + (this.maxWindow >> 1)) {
        this.markPush();
        this.pushPendingFrames(TCP_NAGLE_PUSH, false);
      } else if (this.sndNxt === this.sndMax && b.skbEndAfter(this.sndMax) === this.writeEnd) {
        // The skb just filled is the send head (split skbs start at sndMax, so it is wholly unsent).
        this.pushPendingFrames(TCP_NAGLE_PUSH, true);
      }
      if (this.finished) return;
    }
    // out: tcp_push with the socket's own Nagle setting.
    if (this.writeCopied > 0) {
      this.markPush();
      this.pushPendingFrames(this.noDelay ? TCP_NAGLE_OFF : 0, false);
    }
    this.writeCopied = 0;
    if (this.closeAfterWrite !== null && !this.finished) {
      const how = this.closeAfterWrite;
      this.closeAfterWrite = null;
      if (how === 'close') this.rcvShutdown = true;
      this.sendFin();
    }
  }

  /** wait_for_space: what the write queued so far is marked and pushed, and the write sleeps. */
  private waitForSpace(): void {
    this.writerWaiting = true;
    if (this.writeCopied > 0) {
      this.markPush();
      this.pushPendingFrames(TCP_NAGLE_PUSH, false);
    }
  }

  /**
   * tcp_check_space -> tcp_new_space, after an ACK: while a write waits, the
   * buffer grows with cwnd when cwnd is not full (tcp_should_expand_sndbuf),
   * and the write wakes once a third of it is free. It runs after the ACK's
   * processing, as the woken thread runs after the softirq.
   */
  private checkSpace(): void {
    if (!this.writerWaiting || this.finished) return;
    if (this.packetsInFlight() < this.cc.cwnd) this.sendBuf.expand(this.cc.cwnd, this.mss, this.mssClamp);
    if (this.sendBuf.writable()) {
      this.writerWaiting = false;
      this.layer.ns.component.schedule(0, this.events, K_WRITE_SPACE);
    }
  }

  /** tcp_mark_push: the tail skb carries PSH, and pushed_seq catches up with write_seq. */
  private markPush(): void {
    this.sendBuf.markTail(true);
    this.pushedSeq = this.writeEnd;
  }

  /** __tcp_push_pending_frames (pushOne: tcp_push_one) with tcp_write_xmit's `nonagle`. */
  private pushPendingFrames(nonagle: number, pushOne: boolean): void {
    const saved = this.xmitNonagle;
    this.xmitNonagle = nonagle;
    try {
      if (pushOne) {
        const before = this.sndMax;
        this.writeXmit(true);
        if (this.sndMax > before) this.scheduleLossProbe(false);
      } else this.output();
    } finally {
      this.xmitNonagle = saved;
    }
  }

  /**
   * tcp_xmit_size_goal: skbs of as many full segments as fit in the GSO
   * limit and in half the peer's largest window (tcp_bound_to_half_wnd),
   * at least one. Devices without TSO still get them: Linux segments them
   * in software on the way out (sk_setup_caps sets NETIF_F_GSO for TCP).
   */
  private sizeGoal(): number {
    const goal = this.boundToHalfWnd(GSO_MAX_SIZE);
    return Math.max(Math.floor(goal / this.mss) * this.mss, this.mss);
  }

  /** tcp_init_buffer_space, on entering ESTABLISHED: the send buffer for the initial window; then a write that waited for the connection. */
  private initBufferSpace(): void {
    this.sendBuf.expand(this.cc.cwnd, this.mss, this.mssClamp);
    this.pushedSeq = this.writeEnd;
  }

  private sendFin(): void {
    switch (this.st) {
      case TcpState.SYN_SENT:
        this.destroy(false);
        return;
      case TcpState.SYN_RECV:
      case TcpState.ESTABLISHED:
        this.setState(TcpState.FIN_WAIT1);
        break;
      case TcpState.CLOSE_WAIT:
        this.setState(TcpState.LAST_ACK);
        break;
      default:
        return; // already closing
    }
    this.finOff = this.writeEnd;
    this.output();
  }

  /** abort() / close with SO_LINGER 0: RST now (tcp_send_active_reset), then CLOSED without callbacks. */
  abort(): void {
    this.appPending = 0;
    this.closeAfterWrite = null;
    if (this.st === TcpState.CLOSED) return;
    if (this.st !== TcpState.SYN_SENT && this.st !== TcpState.TIME_WAIT) {
      this.owned(() => this.transmit(this.sndNxt, TCP_RST | TCP_ACK, 0));
    }
    this.destroy(false);
  }

  /**
   * lock_sock ... release_sock: runs `fn` owning the socket. A segment for this
   * connection that arrives meanwhile (its peer answered at once, over lo or a
   * zero-delay veth) waits in the socket backlog (tcp_v4_rcv: sk_add_backlog)
   * and is processed when `fn` returns (__release_sock), never in the middle of
   * this connection's own output, before it has counted what it sent.
   */
  private owned(fn: () => void): void {
    this.ownedDepth++;
    try {
      fn();
    } finally {
      this.unown();
    }
  }

  /** The end of an `owned` stretch: the outermost one processes what waited. */
  private unown(): void {
    if (--this.ownedDepth === 0 && this.ownedBacklog !== null) this.releaseSock();
  }

  /** __release_sock: the backlog in order, still owned, until no more arrive. */
  private releaseSock(): void {
    this.ownedDepth++;
    try {
      for (let q = this.ownedBacklog; q !== null; q = this.ownedBacklog) {
        this.ownedBacklog = null;
        for (const args of q) if (!this.finished) this.processSegment(...args);
      }
    } finally {
      this.ownedDepth--;
    }
  }

  // ------------------------------------------------------------ opening

  /** tcp_connect: send the SYN. */
  startActive(): void {
    // tcp_connect_init: no timestamp is known yet, so the window counts whole advertised MSSs
    // (44 x 1460 = 64240 from tcp_rmem[1] = 128 KiB, half of it usable).
    this.rw.initial(this.advMss, true);
    this.sndNxt = 1;
    this.sndMax = 1;
    this.sndUna = 0;
    this.owned(() => {
      this.sendSyn(false);
      this.rtxTimer.arm(this.rto.timeoutNs);
    });
  }

  /** A SYN reached a listener: this connection is the request (tcp_conn_request); send SYN-ACK. */
  startPassive(seq: number, window: number, opts: TcpOptions): void {
    this.irs = seq;
    this.rcvNxt = 1;
    this.rcvWup = 1;
    this.acceptSynOptions(window, opts);
    // tcp_openreq_init_rwin: the passive side knows whether timestamps are on,
    // and sizes its window in segments of the MSS less their option (12 bytes):
    // 45 x 1448 = 65160 where the active side's SYN offered 44 x 1460 = 64240.
    this.rw.initial(this.advMss - (this.tsOk ? 12 : 0), this.wsOk);
    this.sndNxt = 1;
    this.sndMax = 1;
    this.sendSyn(true);
    this.rtxTimer.arm(this.rto.timeoutNs);
  }

  private acceptSynOptions(window: number, o: TcpOptions): void {
    const peerMss = o.mss ?? 536; // RFC 9293 3.7.1: 536 when the option is absent
    this.tsOk = this.p.timestamps && o.timestamp !== undefined;
    if (this.tsOk) this.tsRecent = o.timestamp!.tsval;
    this.sackOk = this.p.sack && o.sackPermitted === true;
    this.wsOk = o.wscale !== undefined;
    if (o.wscale !== undefined) this.sndWscale = Math.min(o.wscale, 14); // RFC 7323 2.3: clamp to 14
    else this.rw.noWindowScaling();
    this.mssClamp = peerMss;
    this.maxWindow = window;
    this.mss = this.boundToHalfWnd(this.mtuToMss(this.pmtuCookie));
    this.sndWnd = window; // the window of a SYN is never scaled
    this.sndWl1 = 0;
    this.sndWl2 = 0;
  }

  private sendSyn(ack: boolean): void {
    // tcp_syn_options / tcp_synack_options: MSS, SACK_PERM, TS, WS in tcp_options_write order.
    // A SYN-ACK carries only what the SYN offered (tcp_synack_options).
    const o: TcpOptions = { mss: this.advMss };
    if (ack ? this.sackOk : this.p.sack) o.sackPermitted = true;
    if (ack ? this.tsOk : this.p.timestamps) o.timestamp = { tsval: this.tsval(), tsecr: ack ? this.tsRecent : 0 };
    if (ack ? this.wsOk : true) o.wscale = this.rw.rcvWscale;
    const flags = ack ? TCP_SYN | TCP_ACK : TCP_SYN;
    this.layer.writer.send(
      this.localAddr, this.remoteAddr, this.localPort, this.remotePort,
      this.iss, ack ? this.irs + this.rcvNxt : 0, flags, this.rw.synWindow(), -1, 0, 0, 0, o,
    );
    this.stats.segsOut++;
    // RTT of the handshake: with timestamps the reply echoes the latest SYN, so the
    // latest transmission is timed (tcp_ack_update_rtt via tsecr); without, Karn's rule.
    if (this.retries === 0 || (ack ? this.tsOk : this.p.timestamps)) {
      this.rttOff = 1;
      this.rttStart = this.now;
    } else this.rttOff = -1;
  }

  // ------------------------------------------------------------ segment arrival

  /**
   * A segment for this connection (tcp_rcv_state_process). `seq`/`ack` are
   * wire values; `dataLen` payload bytes; `opts` for SYNs and segments with more
   * options than the timestamp (SACK blocks), else null; `tsval` -1 when absent.
   */
  segment(seq: number, ack: number, flags: number, window: number, dataLen: number, opts: TcpOptions | null, tsval: number, tsecr = -1): void {
    if (this.ownedDepth > 0) {
      (this.ownedBacklog ??= []).push([seq, ack, flags, window, dataLen, opts, tsval, tsecr]);
      return;
    }
    this.processSegment(seq, ack, flags, window, dataLen, opts, tsval, tsecr);
  }

  /** tcp_v4_do_rcv: the segment, to a connection nobody holds. */
  private processSegment(seq: number, ack: number, flags: number, window: number, dataLen: number, opts: TcpOptions | null, tsval: number, tsecr = -1): void {
    if (this.tw !== null) {
      // Queued before this reached TIME-WAIT (the socket backlog): the timewait socket's now.
      this.tw.segment(seq, ack, flags, window, dataLen, opts, tsval, tsecr);
      return;
    }
    this.segTsecr = tsecr;
    this.stats.segsIn++;
    if (this.st === TcpState.SYN_SENT) {
      this.synSentSegment(seq, ack, flags, window, opts);
      return;
    }
    const seqOff = this.rcvNxt + ((seq - (this.irs + this.rcvNxt)) | 0);
    const ackOff = this.sndUna + ((ack - (this.iss + this.sndUna)) | 0);
    const fin = (flags & TCP_FIN) !== 0;
    const segEnd = seqOff + dataLen + (fin ? 1 : 0);

    // RFC 5961 3.2 / tcp_validate_incoming: a RST must hit rcvNxt exactly; in window -> challenge ACK.
    if (flags & TCP_RST) {
      if (seqOff === this.rcvNxt) this.reset();
      else if (seqOff > this.rcvNxt && seqOff < this.rcvWindowEnd) this.sendAck();
      return;
    }
    if (flags & TCP_SYN) {
      if (this.st === TcpState.SYN_RECV && seqOff === 0) {
        this.sendSyn(true); // a retransmitted SYN: answer with the SYN-ACK again (tcp_check_req)
        return;
      }
      this.sendAck(); // RFC 5961 4.2: SYN in a synchronized state -> challenge ACK
      return;
    }
    // tcp_sequence: a segment without data or FIN ending before rcv_wup is old, as a zero-window
    // probe (seq snd_una - 1) is: tcp_send_dupack answers it (so the prober learns the window),
    // at most once per tcp_invalid_ratelimit (tcp_oow_rate_limited), and it is dropped unprocessed.
    if (segEnd === seqOff && seqOff < this.rcvWup) {
      if (!(this.now - this.lastOowAckAt < this.p.invalidRatelimitNs)) {
        this.lastOowAckAt = this.now;
        this.sendAck();
      }
      return;
    }
    // RFC 9293 3.10.7.4 first check: unacceptable segment -> ACK, drop.
    // (Segments wholly below rcvNxt are re-ACKed by receiveData.)
    if (segEnd > seqOff && seqOff >= this.rcvWindowEnd) {
      this.sendAck();
      return;
    }
    if (!(flags & TCP_ACK)) return;
    if (tsval >= 0 && this.tsOk && seqOff <= this.rcvWup) this.tsRecent = tsval;

    if (this.st === TcpState.SYN_RECV) {
      if (ackOff !== 1) {
        this.layer.sendReset(this.localAddr, this.remoteAddr, this.localPort, this.remotePort, ack, 0, TCP_RST);
        return;
      }
      this.sndWl1 = seqOff - 1;
      this.setState(TcpState.ESTABLISHED);
      this.rw.established(this.mss, this.rcvNxt, this.now);
      this.initBufferSpace();
      if (this.retries > 0) this.rto.fallback();
      this.layer.accepted(this);
      if (this.finished) return;
    }
    if (ackOff > this.sndMax) {
      this.sendAck(); // RFC 9293: ACK of something not yet sent
      return;
    }
    this.processAck(ackOff, window, seqOff, dataLen, fin, opts?.sack);
    if (this.finished) return;
    // tcp_rcv_state_process, FIN_WAIT1/2 of a closed socket (RFC 1122 4.2.2.13: MUST reset):
    // new data answers with a RST (tcp_v4_send_reset: seq = its ack) and the socket is
    // gone (tcp_reset, LINUX_MIB_TCPABORTONDATA). The application, having closed, hears nothing.
    if (this.rcvShutdown && dataLen > 0 && seqOff + dataLen > this.rcvNxt && (this.st === TcpState.FIN_WAIT1 || this.st === TcpState.FIN_WAIT2)) {
      this.layer.sendReset(this.localAddr, this.remoteAddr, this.localPort, this.remotePort, ack, 0, TCP_RST);
      this.destroy(false);
      return;
    }
    if (dataLen > 0 || fin) this.receiveData(seqOff, dataLen, fin, (flags & TCP_PSH) !== 0);
  }

  /** RFC 9293 3.10.7.3 (tcp_rcv_synsent_state_process). */
  private synSentSegment(seq: number, ack: number, flags: number, window: number, opts: TcpOptions | null): void {
    const hasAck = (flags & TCP_ACK) !== 0;
    if (hasAck && ((ack - this.iss) | 0) !== 1) {
      if (!(flags & TCP_RST)) this.layer.sendReset(this.localAddr, this.remoteAddr, this.localPort, this.remotePort, ack, 0, TCP_RST);
      return;
    }
    if (flags & TCP_RST) {
      if (hasAck) this.fail('ECONNREFUSED');
      return;
    }
    if (!(flags & TCP_SYN)) return;
    this.irs = seq;
    this.rcvNxt = 1;
    this.rcvWup = 1;
    this.acceptSynOptions(window, opts ?? {});
    if (!hasAck) {
      // Simultaneous open (RFC 9293 3.5 figure 8).
      this.setState(TcpState.SYN_RECV);
      this.sendSyn(true);
      return;
    }
    this.sndUna = 1;
    this.sndWl1 = 0;
    this.sndWl2 = 1;
    this.rttSampleOn(1);
    this.rtxTimer.cancel();
    if (this.retries > 0) this.rto.fallback();
    this.retries = 0;
    this.rto.backoff = 0;
    this.setState(TcpState.ESTABLISHED);
    this.rw.established(this.mss, this.rcvNxt, this.now);
    this.initBufferSpace();
    this.sendAck();
    this.handlers.onConnected?.(this);
    // A write made before the handshake completed starts now (sk_stream_wait_connect returned).
    if (!this.finished && this.appPending > 0 && !this.writerWaiting) this.sendmsg(true);
    if (!this.finished) this.output();
  }

  /** tcp_clean_rtx_queue: what the cumulative ACK covers leaves the retransmit queue. */
  private cleanRtxQueue(ackOff: number): void {
    const q = this.rtxq;
    q.ackTo(ackOff, this.sackOk ? this.rack : null);
    // A hole filled by a segment never retransmitted, below what was SACKed, is reordering.
    if (this.sackOk && q.ackedOriginalLow < this.priorHighSacked) this.rack.reorderingSeen(q.ackedOriginalLow, this.priorHighSacked, this.mss);
  }

  /**
   * tcp_ack_update_rtt: an RTT sample from every ACK that newly covers data sent
   * once (Karn's rule: none when it covers retransmitted data), from the oldest
   * such segment it ACKs, else the oldest it SACKs; ca_rtt (for min_rtt and the
   * congestion control) from the newest. Returns ca_rtt, or undefined.
   */
  private ackRttSample(advanced: boolean): number | undefined {
    const q = this.rtxq;
    const now = this.now;
    const karn = advanced && q.ackedRetrans;
    let seqRtt = advanced && !karn && q.ackedFirstAt >= 0 ? now - q.ackedFirstAt : -1;
    let caRtt = advanced && !karn && q.ackedLastAt >= 0 ? now - q.ackedLastAt : -1;
    if (q.sackedFirstAt >= 0) {
      if (seqRtt < 0) seqRtt = now - q.sackedFirstAt;
      caRtt = now - q.sackedLastAt;
    }
    if (seqRtt < 0) return undefined;
    this.minRtt.update(now, caRtt);
    this.rto.sample(seqRtt, this.sndUna, this.sndNxt);
    if (this.recordRtt) this.stats.rttSamplesNs.push(seqRtt);
    this.rto.backoff = 0;
    return caRtt;
  }

  private rttSampleOn(ackOff: number): void {
    if (this.rttOff >= 0 && ackOff >= this.rttOff) {
      const r = this.now - this.rttStart;
      this.rttOff = -1;
      this.rto.sample(r, this.sndUna, this.sndNxt);
      this.minRtt.update(this.now, r);
      if (this.recordRtt) this.stats.rttSamplesNs.push(r);
    }
  }

  /** tcp_ack: window update, newly ACKed data, duplicate ACKs, recovery. */
  private processAck(ackOff: number, window: number, seqOff: number, dataLen: number, fin: boolean, sack: readonly SackBlock[] | undefined): void {
    const wnd = window * 2 ** this.sndWscale;
    const wndChanged = wnd !== this.sndWnd;
    const priorPackets = this.sndMax > this.sndUna;
    // tcp_ack: any ACK that is not old answers the window probes sent so far.
    if (ackOff >= this.sndUna) this.probesOut = 0;
    // RFC 9293 3.10.7.4: update the window from newer segments only (SND.WL1 / SND.WL2).
    if (this.sndWl1 < seqOff || (this.sndWl1 === seqOff && this.sndWl2 <= ackOff)) {
      this.sndWnd = wnd;
      this.sndWl1 = seqOff;
      this.sndWl2 = ackOff;
      // tcp_ack_update_window: a larger window than ever may allow larger segments.
      if (wnd > this.maxWindow) {
        this.maxWindow = wnd;
        this.syncMss(this.pmtuCookie);
      }
    }
    const advanced = ackOff > this.sndUna;
    const dsacksBefore = this.stats.dsacksIn;
    const deliveredBefore = this.rtxq.delivered;
    const lostBefore = this.rtxq.markedLost;
    let newlySacked = 0;
    if (this.sackOk) {
      // prior_fack, and the clock and min_rtt this ACK's deliveries are judged by (tcp_rack_advance).
      this.priorHighSacked = this.sb.empty ? this.sndUna : this.sb.highSacked;
      this.rack.at(this.now, this.minRtt.valueNs);
      this.rtxq.startAck();
      if (advanced) this.sb.advance(ackOff);
      if (sack !== undefined) newlySacked = this.sackTag(sack, ackOff);
    }
    if (advanced) {
      const ackedBytes = ackOff - this.sndUna;
      const dataFrom = Math.max(this.sndUna, 1);
      const dataTo = Math.min(ackOff, this.writeEnd);
      if (dataTo > dataFrom) this.stats.bytesAcked += dataTo - dataFrom;
      const flightBefore = this.sndMax - this.sndUna;
      this.sndUna = ackOff;
      this.sendBuf.ack(ackOff, this.mss);
      if (this.sndNxt < ackOff) this.sndNxt = ackOff;
      this.dupAcks = 0;
      this.retries = 0;
      this.rto.backoff = 0;
      this.rttSampleOn(ackOff);
      this.cleanRtxQueue(ackOff);
      const rtt = this.ackRttSample(true);
      if (this.cc.wantsAckRtt) this.cc.onAckRtt?.(rtt, this.now, this.sndUna, this.sndMax);
      const ackedSegs = Math.ceil(ackedBytes / this.mss);
      if (this.inLoss && ackOff >= this.recover) this.inLoss = false;
      if (this.inRecovery) {
        if (ackOff >= this.recover) {
          this.inRecovery = false;
          this.cc.exitRecovery();
        } else if (this.sackOk) {
          // RFC 6675 5 (C): a partial ACK changes nothing but the pipe, which output() recomputes.
        } else {
          // NewReno partial ACK: the next hole is lost too; retransmit it at once.
          this.retransmitHead();
          this.cc.partialAck(ackedSegs);
        }
        this.logCwnd();
      } else if (flightBefore > 0) {
        const before = this.cc.cwnd;
        this.cc.onAck(ackedSegs, this.cwndMayGrow, this.now);
        if (this.cc.cwnd !== before) this.logCwnd();
      }
      if (this.sndUna >= this.sndMax) {
        this.rtxTimer.cancel();
        this.tlpTimer.cancel();
      } else this.rtxTimer.arm(this.rto.timeoutNs); // RFC 6298 5.3
      if (this.finOff >= 0 && ackOff > this.finOff) this.ourFinAcked();
      if (this.finished || this.st === TcpState.TIME_WAIT) return;
    }
    // tcp_ack_update_rtt runs for every ACK: one that only SACKs new data gives a sample too.
    if (!advanced && newlySacked > 0) this.ackRttSample(false);
    if (this.tlpHigh > 0) this.processTlpAck(ackOff, advanced || dataLen > 0 || fin || wndChanged, newlySacked > 0, dsacksBefore);
    if (this.sackOk) {
      // An ACK that SACKs new data counts as a duplicate (the loss probe holds back while any came).
      if (newlySacked > 0 && !this.inRecovery && this.sndMax > this.sndUna) this.dupAcks++;
      // tcp_ack_is_dubious -> tcp_fastretrans_alert -> tcp_identify_packet_loss: RACK marks what
      // it finds lost, and recovery starts when something is (tcp_time_to_recover: lost_out > 0).
      const pureDup = !advanced && dataLen === 0 && !fin && !wndChanged;
      const open = !this.inRecovery && this.sb.empty && this.rtxq.lostOut === 0;
      if (this.sndMax > this.sndUna && (newlySacked > 0 || pureDup || !open || this.stats.dsacksIn > dsacksBefore)) {
        this.rackMarkLost();
        if (this.rtxq.lostOut > 0 && !this.inRecovery && this.sndUna >= this.recover) this.sackRecoveryStart();
      }
      // tcp_cong_control: in recovery, cwnd follows PRR.
      if (this.inRecovery) this.cwndReduction(this.rtxq.delivered - deliveredBefore, this.rtxq.markedLost - lostBefore, advanced);
    } else if (
      !advanced && ackOff === this.sndUna && dataLen === 0 && !fin && !wndChanged && this.sndMax > this.sndUna
    ) {
      // RFC 5681 2: a duplicate ACK.
      this.dupAcks++;
      if (this.inRecovery) {
        this.cc.inflate();
        this.logCwnd();
      } else if (this.dupAcks === 3 && this.sndUna >= this.recover) {
        this.fastRetransmit();
      }
    }
    if (!priorPackets) this.ackProbe();
    // tcp_ack -> tcp_set_xmit_timer: an ACK that advanced restarts the RTO (done above) or schedules a probe.
    if (advanced && this.sndMax > this.sndUna) this.scheduleLossProbe(true);
    this.output();
    // tcp_data_snd_check -> tcp_check_space
    this.checkSpace();
  }

  /**
   * tcp_process_tlp_ack: the ACK reached the probe's sndNxt. A probe of new data
   * needs nothing more; a retransmitted probe that the peer D-SACKed was not needed;
   * an ACK beyond it means the probe repaired a loss, so cwnd is reduced once
   * (CWR: ssthresh and cwnd halved). A plain duplicate ACK ends the episode too.
   */
  private processTlpAck(ackOff: number, notDup: boolean, dataSacked: boolean, dsacksBefore: number): void {
    if (ackOff < this.tlpHigh) return;
    if (!this.tlpRetrans || this.stats.dsacksIn > dsacksBefore) {
      this.tlpHigh = 0;
    } else if (ackOff > this.tlpHigh) {
      this.tlpHigh = 0;
      if (!this.inRecovery && !this.inLoss) {
        this.cc.enterSackRecovery();
        this.logCwnd();
      }
    } else if (!notDup && !dataSacked) {
      this.tlpHigh = 0;
    }
  }

  /**
   * tcp_schedule_loss_probe: in the Open state (no SACKed or duplicate-ACKed data, not in
   * recovery or loss), with SACK agreed and tcp_early_retrans 3 or 4, probe after
   * PTO = 2 SRTT plus TCP_TIMEOUT_MIN, or plus rto_min (the peer's delayed ACK) when one
   * segment is in flight; 1 s without an RTT sample; never later than the RTO would fire.
   */
  private scheduleLossProbe(advancingRto: boolean): void {
    const er = this.p.earlyRetrans;
    const open = !this.inRecovery && !this.inLoss && this.dupAcks === 0 && this.sb.empty;
    if ((er !== 3 && er !== 4) || !this.sackOk || this.sndMax <= this.sndUna || !open) {
      // On an ACK, tcp_rearm_rto replaces a pending probe; after a send, a pending one stays.
      if (advancingRto) this.tlpTimer.cancel();
      return;
    }
    let pto: number;
    if (this.rto.hasSample) pto = 2 * this.rto.srttNs + (this.packetsOut() === 1 ? this.p.rtoMinNs : this.p.timeoutMinNs);
    else pto = this.p.rtoInitNs;
    // tcp_rto_delta_us: the RTO timer here restarts at each forward ACK, so its due time stands in for it.
    const rtoDelta = advancingRto || !this.rtxTimer.armed ? this.rto.timeoutNs : this.rtxTimer.due - this.now;
    if (rtoDelta > 0) pto = Math.min(pto, rtoDelta);
    this.tlpTimer.arm(Math.floor(pto));
  }

  /**
   * tcp_packets_out, from byte offsets: the full-sized segments of the data in
   * flight, plus the FIN when it went out alone (a count of skbs in Linux; small
   * segments sent one after another count as one here).
   */
  /** tcp_packets_in_flight: segments sent and neither ACKed nor SACKed. */
  private packetsInFlight(): number {
    const sacked = this.sackOk && !this.sb.empty ? this.sb.sackedBelow(this.sndNxt) : 0;
    return Math.ceil(Math.max(0, this.sndNxt - this.sndUna - sacked + this.rackInflightDelta()) / this.mss);
  }

  /**
   * retrans_out - lost_out, in bytes: what tcp_packets_in_flight adds to the
   * unSACKed bytes sent. Without SACK a timeout sends everything again from
   * sndUna (sndNxt went back), so the bytes below sndNxt already say it.
   */
  private rackInflightDelta(): number {
    return this.sackOk ? this.rtxq.retransOut - this.rtxq.lostOut : 0;
  }

  private packetsOut(): number {
    const dataEnd = Math.min(this.sndMax, this.writeEnd);
    const data = Math.max(0, dataEnd - Math.max(this.sndUna, 1));
    const finOut = this.finOff >= 0 && this.sndMax > this.finOff && this.sndUna <= this.finOff;
    return Math.ceil(data / this.mss) + (finOut && (this.finAlone || data === 0) ? 1 : 0);
  }

  /**
   * tcp_send_loss_probe (RFC 8985 7.3): once per flight (tlp_high_seq), send one
   * new segment if the peer's window admits it (Nagle and cwnd aside), else
   * retransmit the last segment sent; then the RTO restarts.
   */
  private sendLossProbe(): void {
    const s = this.st;
    if (this.finished || this.sndMax <= this.sndUna || this.inRecovery || this.inLoss) return;
    if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT && s !== TcpState.FIN_WAIT1 && s !== TcpState.CLOSING && s !== TcpState.LAST_ACK) return;
    if (this.tlpHigh > 0) return; // one probe per flight; the RTO timer stays as it is
    let off: number;
    if (this.sndNxt < this.writeEnd && this.sndNxt === this.sndMax) {
      off = this.sndNxt;
      const len = Math.min(this.mss, this.writeEnd - off);
      if (off + len > this.sndUna + this.sndWnd) return;
      this.transmitData(off, len, this.sendBuf.isMarkedEnd(off + len));
      this.tlpRetrans = false;
    } else if (this.finOff >= 0 && this.sndNxt === this.finOff && this.sndMax === this.finOff) {
      off = this.finOff;
      this.transmit(off, TCP_FIN | TCP_ACK, 0);
      this.finAlone = true;
      this.advance(off, 1);
      this.tlpRetrans = false;
    } else {
      const dataEnd = Math.min(this.writeEnd, this.sndMax);
      off = this.finAlone && this.sndMax === this.finOff + 1 ? this.finOff : Math.max(this.sndUna, dataEnd - this.mss);
      if (this.retransmitAt(off, this.sndMax - off) === 0) return;
      this.tlpRetrans = true;
    }
    this.stats.lossProbes++;
    this.tlpHigh = this.sndNxt;
    this.rtxTimer.arm(this.rto.timeoutNs);
  }

  /**
   * tcp_ack_probe: an ACK while nothing was in flight. If the window now
   * admits the next segment, the probe timer stops (output() sends it);
   * else the probe timer restarts with the current backoff.
   */
  private ackProbe(): void {
    if (this.sndNxt >= this.writeEnd) return; // no send head
    const len = Math.min(this.mss, this.writeEnd - this.sndNxt);
    if (this.sndNxt + len <= this.sndUna + this.sndWnd) {
      this.rto.backoff = 0;
      this.probeTimer.cancel();
    } else {
      this.probeTimer.arm(probe0WhenNs(this.rto.rtoNs, this.rto.backoff, this.p));
    }
  }

  private fastRetransmit(): void {
    this.stats.fastRetransmits++;
    this.tlpTimer.cancel();
    this.inRecovery = true;
    this.recover = this.sndMax;
    this.cc.enterRecovery();
    this.logCwnd();
    this.rttOff = -1; // Karn
    this.retransmitHead();
  }

  /**
   * RFC 6675 Update() (tcp_sacktag_write_queue): marks the SACK blocks of an
   * ACK on the scoreboard. A D-SACK block (RFC 2883 4: the first block below
   * the cumulative ACK, or inside the second block) and blocks outside
   * [sndUna, sndMax) are skipped (tcp_is_sackblock_valid). Returns the bytes newly SACKed.
   */
  private sackTag(sack: readonly SackBlock[], ackOff: number): number {
    let newly = 0;
    const base = this.iss + ackOff;
    const off = (wire: number): number => ackOff + ((wire - base) | 0);
    for (let i = 0; i < sack.length; i++) {
      const start = off(sack[i]!.left);
      const end = off(sack[i]!.right);
      if (i === 0) {
        const second = sack[1];
        if (start < ackOff || (second !== undefined && start >= off(second.left) && end <= off(second.right))) {
          this.stats.dsacksIn++;
          continue;
        }
      }
      if (end <= start || start < ackOff || end > this.sndMax) continue;
      const n = this.sb.add(start, end);
      if (n === 0) continue;
      newly += n;
      const reord = this.rtxq.markSacked(start, end, this.sackCovered, this.priorHighSacked, this.rack);
      if (reord !== Infinity) this.rack.reorderingSeen(reord, this.priorHighSacked, this.mss);
    }
    return newly;
  }

  /** The scoreboard holds all of [start, end). */
  private readonly sackCovered = (start: number, end: number): boolean => this.sb.skipSacked(start) >= end;

  /**
   * tcp_rack_mark_lost: after a delivery, mark what RACK finds lost; when some
   * segment must still wait, arm the reordering timer for that wait, in whole
   * jiffies (HZ 1000) plus TCP_TIMEOUT_MIN.
   */
  private rackMarkLost(): void {
    if (!this.rack.advanced) return;
    this.rack.advanced = false;
    const wait = this.rack.detectLoss(this.rtxq, this.now, this.reoWndNs());
    if (wait > 0) this.reoTimer.arm(Math.ceil(wait / 1e6) * 1e6 + this.p.timeoutMinNs);
  }

  private reoWndNs(): number {
    return this.rack.reoWnd(this.inRecovery || this.inLoss, this.rtxq.sackedOut, this.rto.srttNs);
  }

  /**
   * tcp_rack_reo_timeout: look for losses again; when some were found, enter
   * recovery if not in it and resend them. The timer is not armed again here:
   * the next delivery does that.
   */
  private reoTimeout(): void {
    if (this.finished || this.inLoss || this.sndMax <= this.sndUna) return;
    const lostBefore = this.rtxq.markedLost;
    this.rack.detectLoss(this.rtxq, this.now, this.reoWndNs());
    const newlyLost = this.rtxq.markedLost - lostBefore;
    if (newlyLost === 0) return;
    if (!this.inRecovery && this.sndUna >= this.recover) {
      this.sackRecoveryStart();
      this.cwndReduction(1, newlyLost, false);
    }
    this.output();
  }

  /**
   * tcp_enter_recovery (tcp_init_cwnd_reduction): ssthresh from the congestion control;
   * cwnd then follows PRR (cwndReduction) from the ACK that found the loss on, and
   * output() resends what RACK marked lost.
   */
  private sackRecoveryStart(): void {
    this.stats.fastRetransmits++;
    this.tlpTimer.cancel();
    this.inRecovery = true;
    this.recover = this.sndMax;
    this.cc.enterCwndReduction();
    this.priorCwnd = this.cc.cwnd;
    this.prrDelivered = 0;
    this.prrOut = 0;
    this.rttOff = -1; // Karn
  }

  /**
   * tcp_cwnd_reduction, Proportional Rate Reduction (RFC 6937): `delivered`
   * segments reached the peer with this ACK and `newlyLost` were marked lost.
   * While more is in flight than ssthresh, send ssthresh / prior_cwnd of what
   * was delivered (rounded up); below it, send what was delivered, one more on
   * a cumulative ACK that found no loss, up to ssthresh (PRR-SSRB). The first
   * ACK of a recovery always lets one segment go (the fast retransmit).
   */
  private cwndReduction(delivered: number, newlyLost: number, unaAdvanced: boolean): void {
    if (delivered <= 0 || this.priorCwnd === 0) return;
    this.prrDelivered += delivered;
    const inflight = this.packetsInFlight();
    const ssthresh = this.cc.ssthresh;
    const delta = ssthresh - inflight;
    let sndcnt: number;
    if (delta < 0) {
      sndcnt = Math.floor((ssthresh * this.prrDelivered + this.priorCwnd - 1) / this.priorCwnd) - this.prrOut;
    } else {
      sndcnt = Math.max(this.prrDelivered - this.prrOut, delivered);
      if (unaAdvanced && newlyLost === 0) sndcnt++;
      sndcnt = Math.min(delta, sndcnt);
    }
    sndcnt = Math.max(sndcnt, this.prrOut > 0 ? 0 : 1);
    this.cc.cwnd = inflight + sndcnt;
    this.logCwnd();
  }

  /**
   * tcp_xmit_retransmit_queue in recovery: resend the segments RACK marked lost,
   * in sequence order, while cwnd has room for what is in flight, until as much
   * is being retransmitted as is lost. New data follows in writeXmit.
   */
  private retransmitRackLost(): void {
    const q = this.rtxq;
    while (q.retransOut < q.lostOut) {
      const next = q.nextLost();
      if (next === null) return;
      if (this.cc.cwnd - this.packetsInFlight() <= 0) {
        this.cwndLimited = true;
        return;
      }
      const len = Math.min(next[1] - next[0], this.mss);
      if (this.tsqLimited(len + SKB_EMPTY_TRUESIZE, 1)) return;
      if (this.retransmitAt(next[0], len) === 0) return;
    }
  }

  /** Resends up to `len` bytes at `off` (our FIN alone at finOff). Returns the sequence space sent. */
  private retransmitAt(off: number, len: number, push = false): number {
    let n: number;
    if (this.finOff >= 0 && off === this.finOff) {
      this.transmit(off, TCP_FIN | TCP_ACK, 0);
      this.advance(off, 1);
      n = 1;
    } else {
      len = Math.min(len, this.writeEnd - off, this.sndMax - off);
      if (len <= 0) return 0;
      this.transmitData(off, len, push || this.sendBuf.isMarkedEnd(off + len));
      n = len + (this.finOff >= 0 && off + len === this.finOff ? 1 : 0);
    }
    if (off === this.sndUna) this.rtxTimer.arm(this.rto.timeoutNs);
    return n;
  }

  /** Resend one segment at sndUna (tcp_retransmit_skb of the head). */
  private retransmitHead(): void {
    const off = this.sndUna;
    if (this.finOff >= 0 && off === this.finOff) {
      this.transmit(off, TCP_FIN | TCP_ACK, 0);
      this.advance(off, 1);
      return;
    }
    const len = Math.min(this.mss, this.writeEnd - off, this.sndMax - off);
    if (len <= 0) return;
    this.transmitData(off, len, this.sendBuf.isMarkedEnd(off + len));
    this.rtxTimer.arm(this.rto.timeoutNs);
  }

  private ourFinAcked(): void {
    switch (this.st) {
      case TcpState.FIN_WAIT1:
        this.setState(TcpState.FIN_WAIT2);
        break;
      case TcpState.CLOSING:
        this.enterTimeWait();
        break;
      case TcpState.LAST_ACK:
        this.destroy(true);
        break;
      default:
        break;
    }
  }

  /** Data and FIN in sequence (tcp_data_queue, tcp_ofo_queue, tcp_fin). */
  private receiveData(seqOff: number, dataLen: number, fin: boolean, psh: boolean): void {
    const s = this.st;
    if (s !== TcpState.ESTABLISHED && s !== TcpState.FIN_WAIT1 && s !== TcpState.FIN_WAIT2) return; // peer already sent FIN
    const end = seqOff + dataLen;
    if (fin) this.peerFinOff = end;
    if (end + (fin ? 1 : 0) <= this.rcvNxt) {
      this.dsackSet(seqOff, end + (fin ? 1 : 0));
      this.sendAck(); // a retransmission of what we have: ACK at once (tcp_data_queue, "2nd most common case")
      return;
    }
    if (seqOff > this.rcvNxt) {
      if (dataLen > 0 && this.insertOoo(seqOff, end, dataLen) && this.sackOk) this.sackNewOfo(seqOff, end);
      this.sendAck(); // out of order: immediate duplicate ACK (RFC 5681 4.2)
      return;
    }
    if (seqOff < this.rcvNxt) this.dsackSet(seqOff, this.rcvNxt); // partly a duplicate
    const now = this.now;
    // tcp_rcv_rtt_measure_ts, before the data is queued (the application has read everything before it).
    if (this.tsOk && this.segTsecr >= 0) this.rcvRtt.measureTs(this.segTsecr, this.tsval(), dataLen, this.rw.rcvMss, true);
    // Queued for the application, which reads it after the ACK is decided.
    // tcp_event_data_recv: tcp_measure_rcv_mss, then (first data) quick-ACK mode, then tcp_grow_window.
    let queued = 0;
    let grew = false;
    if (dataLen > 0) {
      queued = skbTruesize(dataLen);
      const r = this.rw.dataQueued(dataLen, queued, psh || fin, this.tsOk ? 32 : 20);
      grew = (r & DATA_WINDOW_GREW) !== 0;
      if ((r & DATA_PUSHED) !== 0) this.ackPushed |= this.ackPushed & 1 ? 3 : 1;
    }
    // tcp_incr_quickack for the first data, and for data after a gap longer than the RTO ("apparently
    // the sender failed to restart window, so that we send ACKs quickly"); at least 2: a window smaller
    // than two segments (lo's 65495-byte MSS) still gets its quick ACKs.
    if (dataLen > 0 && (!this.dataSeen || now - this.lastRcvAt > this.rto.timeoutNs)) {
      this.dataSeen = true;
      this.quickAcks = Math.max(this.quickAcks, Math.min(Math.floor(this.rw.rcvWnd / (2 * this.rw.rcvMss)) || 2, this.p.maxQuickacks));
    }
    // tcp_grow_window: a window that opens is announced at once (icsk_ack.quick |= 1).
    if (grew) this.quickAcks |= 1;
    this.lastRcvAt = now;
    const before = this.rcvNxt;
    let filledHole = false;
    if (end > this.rcvNxt) this.rcvNxt = end;
    while (this.ooo.length > 0 && this.ooo[0]!.start <= this.rcvNxt) {
      const r = this.ooo.shift()!;
      if (r.end > this.rcvNxt) this.rcvNxt = r.end;
      queued += r.truesize;
      filledHole = true;
    }
    const delivered = this.rcvNxt - before;
    // tcp_event_data_recv's tcp_rcv_rtt_measure: a window's worth of data arrived since it was due.
    if (dataLen > 0) this.rcvRtt.measure(this.rcvNxt, this.rw.rcvWnd, now, false);
    if (this.sackBlocks.length > 0) this.sackRemove();
    let gotFin = false;
    if (this.peerFinOff >= 0 && this.rcvNxt === this.peerFinOff) {
      this.rcvNxt++;
      gotFin = true;
    }
    if (delivered > 0) this.stats.bytesReceived += delivered;
    // The softirq decides the ACK (__tcp_ack_snd_check) before the application
    // it woke can run: in quick-ACK mode a pure ACK leaves first, and the
    // application's answer follows as a segment of its own (as Linux sends them).
    const toTimeWait = gotFin && this.st === TcpState.FIN_WAIT2;
    if (gotFin) this.peerFinState();
    if (toTimeWait) this.enterTimeWait(false);
    // __tcp_ack_snd_check: with data still out of order, the in-order advance is ACKed at once
    // (without SACK at once; with SACK the first three ACKs after rcv_nxt moves are not compressed).
    this.ackCheck(filledHole || toTimeWait || this.ooo.length > 0);
    if (queued > 0) {
      // The application reads all of it (tcp_recvmsg), and DRS measures the reading.
      const last = this.ooo[this.ooo.length - 1];
      this.rw.read(queued, this.rcvNxt, now, this.rcvRtt.rttNs, last === undefined ? 0 : last.end - this.rcvNxt);
      this.cleanupRbuf();
    }
    if (delivered > 0) {
      this.handlers.onData?.(this, delivered);
      if (this.finished) return;
    }
    if (gotFin) this.handlers.onEnd?.(this);
    if (toTimeWait && !this.finished) this.handlers.onClosed?.(this);
  }

  /**
   * Queues [start, end) out of order; a segment already wholly queued is
   * dropped and reported with D-SACK (tcp_data_queue_ofo). Returns whether it was queued.
   */
  private insertOoo(start: number, end: number, dataLen: number): boolean {
    const q = this.ooo;
    if (q.some((r) => r.start <= start && r.end >= end)) {
      this.dsackSet(start, end);
      return false;
    }
    let truesize = skbTruesize(dataLen);
    if (this.rw.outOfOrderQueued(dataLen, truesize)) this.quickAcks |= 1;
    let i = 0;
    while (i < q.length && q[i]!.end < start) i++;
    // Merge every range that overlaps or touches [start, end).
    let j = i;
    while (j < q.length && q[j]!.start <= end) {
      start = Math.min(start, q[j]!.start);
      end = Math.max(end, q[j]!.end);
      truesize += q[j]!.truesize;
      j++;
    }
    q.splice(i, j - i, { start, end, truesize });
    return true;
  }

  /**
   * tcp_sack_new_ofo_skb: the block a new out-of-order segment extends moves
   * to the front (merging any others it now touches); else a new block goes
   * to the front and, with four already, the oldest is forgotten. RFC 2018
   * section 4: the first block reports the most recently received segment.
   */
  private sackNewOfo(start: number, end: number): void {
    const q = this.sackBlocks;
    const i = q.findIndex((b) => start <= b.end && b.start <= end); // tcp_sack_extend
    if (i >= 0) {
      const b = q[i]!;
      b.start = Math.min(b.start, start);
      b.end = Math.max(b.end, end);
      q.splice(i, 1);
      q.unshift(b);
      // tcp_sack_maybe_coalesce
      for (let k = 1; k < q.length; ) {
        const o = q[k]!;
        if (o.start <= b.end && b.start <= o.end) {
          b.start = Math.min(b.start, o.start);
          b.end = Math.max(b.end, o.end);
          q.splice(k, 1);
        } else k++;
      }
      return;
    }
    if (q.length >= TCP_MAX_SACK_BLOCKS) q.pop();
    q.unshift({ start, end });
  }

  /** tcp_sack_remove: rcvNxt moved; blocks it reached go (all of them once nothing is out of order). */
  private sackRemove(): void {
    const q = this.sackBlocks;
    if (this.ooo.length === 0) {
      q.length = 0;
      return;
    }
    for (let k = 0; k < q.length; ) {
      if (q[k]!.start <= this.rcvNxt) q.splice(k, 1);
      else k++;
    }
  }

  /** tcp_dsack_set: report [start, end) as a duplicate in the next segment's D-SACK block. */
  private dsackSet(start: number, end: number): void {
    if (!this.sackOk || !this.p.dsack || end <= start) return;
    this.dsackStart = start;
    this.dsackEnd = end;
  }

  /**
   * tcp_established_options / tcp_options_write: the options of a segment
   * carrying SACK blocks (the D-SACK block first, then ours, as many as fit
   * beside the timestamp: 3 with it, 4 without), or undefined when there are none.
   * The D-SACK block is sent once.
   */
  private sackOptions(): TcpOptions | undefined {
    if (this.sackBlocks.length === 0 && this.dsackStart < 0) return undefined;
    const max = this.tsOk ? 3 : TCP_MAX_SACK_BLOCKS;
    const base = this.irs;
    const sack: SackBlock[] = [];
    if (this.dsackStart >= 0) {
      sack.push({ left: (base + this.dsackStart) >>> 0, right: (base + this.dsackEnd) >>> 0 });
      this.dsackStart = -1;
    }
    for (const b of this.sackBlocks) {
      if (sack.length >= max) break;
      sack.push({ left: (base + b.start) >>> 0, right: (base + b.end) >>> 0 });
    }
    const o: TcpOptions = { sack };
    if (this.tsOk) o.timestamp = { tsval: this.tsval(), tsecr: this.tsRecent };
    return o;
  }

  /** tcp_fin: the state the peer's FIN moves us to (FIN_WAIT2 -> TIME_WAIT is the caller's). */
  private peerFinState(): void {
    const s = this.st;
    if (s === TcpState.ESTABLISHED) {
      this.setState(TcpState.CLOSE_WAIT);
      this.pingpong = true; // inet_csk_enter_pingpong_mode
    } else if (s === TcpState.FIN_WAIT1) {
      // Our FIN is not ACKed yet (else we would be in FIN_WAIT2): simultaneous close.
      this.setState(TcpState.CLOSING);
    }
  }

  /**
   * __tcp_ack_snd_check: ACK now when more than one full-sized segment is
   * unACKed, in quick-ACK mode, or when `now`; else arm the delayed ACK.
   */
  private ackCheck(now: boolean): void {
    if (this.rcvNxt === this.rcvWup) return; // an ACK went out meanwhile (with data or a FIN)
    const quick = this.quickAcks > 0 && !this.pingpong;
    if (now || quick || this.rcvNxt - this.rcvWup > this.rw.rcvMss || this.st === TcpState.CLOSING) {
      if (quick) this.quickAcks--;
      this.sendAck();
      return;
    }
    if (!this.delackTimer.armed) this.delackTimer.arm(this.p.delackNs);
  }

  /**
   * __tcp_cleanup_rbuf, after the application read everything queued: an ACK
   * still owed goes now for a small segment (ICSK_ACK_PUSHED; two of them in
   * an interactive exchange), or when the window can be opened "significantly".
   */
  private cleanupRbuf(): void {
    if (this.rcvNxt === this.rcvWup) return;
    if ((this.ackPushed & 2) !== 0 || ((this.ackPushed & 1) !== 0 && !this.pingpong)) {
      this.sendAck();
      return;
    }
    if (this.peerFinOff < 0 && this.rw.windowUpdateDue(this.rcvWup, this.rcvNxt)) this.sendAck();
  }

  /** A RST in window (tcp_reset). */
  private reset(): void {
    if (this.st === TcpState.SYN_RECV) {
      this.destroy(false); // a reset request socket is freed silently
      return;
    }
    this.fail('ECONNRESET');
  }

  // ------------------------------------------------------------ output

  /**
   * tcp_write_xmit: send what cwnd, the peer's window and Nagle allow, with
   * the FIN on the last data segment when close() was called (tcp_send_fin).
   */
  output(): void {
    const s = this.st;
    if (s !== TcpState.ESTABLISHED && s !== TcpState.CLOSE_WAIT && s !== TcpState.FIN_WAIT1 && s !== TcpState.CLOSING && s !== TcpState.LAST_ACK) return;
    if (this.pmtuLearned || this.layer.ns.hasPathMtus) this.currentMss();
    if (this.lostHead < this.lostQueue.length && !this.retransmitLost()) return;
    if ((this.inRecovery || this.inLoss) && this.sackOk) this.retransmitRackLost();
    const before = this.sndMax;
    this.writeXmit();
    // tcp_write_xmit: new segments went out; probe for their loss if they are the tail.
    if (this.sndMax > before) this.scheduleLossProbe(false);
    // tcp_push_pending_frames -> tcp_check_probe_timer: data waits and nothing is in flight, so
    // no ACK will come to open the window unasked; probe for it.
    if (this.sndMax === this.sndUna && this.sndNxt < this.writeEnd && !this.rtxTimer.armed && !this.probeTimer.armed) {
      this.probeTimer.arm(probe0BaseNs(this.rto.rtoNs, this.p));
    }
  }

  /**
   * tcp_write_xmit outside SACK recovery. New data goes from the send head
   * skb in bursts, each one GSO skb in Linux: at most half of cwnd
   * (tcp_cwnd_test), within cwnd, the peer's window and the skb
   * (tcp_mss_split_point), or none yet when the next ACK is due soon and
   * only a small part of the window is free (tcp_tso_should_defer). Linux
   * segments each burst in software on the way out, and its last segment
   * carries PSH; a single segment carries PSH only when it ends a marked skb.
   * `pushOne` (tcp_push_one) stops after the first burst. Data below sndMax
   * (resent after a timeout) goes a segment at a time.
   */
  private writeXmit(pushOne = false): void {
    const mss = this.mss;
    const sb = this.sackOk && !this.sb.empty ? this.sb : null;
    const nonagle = this.xmitNonagle | (this.noDelay ? TCP_NAGLE_OFF : 0);
    const startMax = this.sndMax;
    this.cwndLimited = false;
    for (;;) {
      // After a timeout, resending from sndUna skips what the peer SACKed since; SACKed bytes
      // are not in flight (Linux's in_flight = packets_out - sacked_out - lost_out + retrans_out).
      if (sb !== null && this.sndNxt < this.sndMax) this.sndNxt = sb.skipSacked(this.sndNxt);
      let inflight = this.sndNxt - this.sndUna - (sb === null ? 0 : sb.sackedBelow(this.sndNxt)) + this.rackInflightDelta();
      // Limited transmit (RFC 3042) as Linux gets it: without SACK, each duplicate ACK
      // before recovery counts one segment as SACKed (tcp_add_reno_sack, at most
      // packets_out - 1), so it leaves tcp_packets_in_flight and new data may go out, cwnd unchanged.
      if (!this.sackOk && this.dupAcks > 0 && !this.inRecovery && !this.inLoss) {
        inflight -= Math.min(Math.min(this.dupAcks, DUP_THRESH - 1) * mss, Math.max(0, inflight - mss));
      }
      if (this.sndNxt < this.writeEnd && this.sndNxt >= this.sndMax) {
        if (!this.writeBurst(mss, inflight, nonagle, pushOne) || pushOne) break;
        continue;
      }
      if (this.sndNxt < this.writeEnd) {
        // Resending below sndMax: no Nagle (it holds only new data), cwnd and the peer's window only.
        const len = Math.min(mss, this.writeEnd - this.sndNxt);
        const cwndBytes = this.cc.cwnd * mss;
        if (inflight + len > Math.min(cwndBytes, this.sndWnd)) {
          this.cwndLimited = cwndBytes <= this.sndWnd;
          break;
        }
        this.transmitData(this.sndNxt, len, this.sendBuf.isMarkedEnd(this.sndNxt + len));
        continue;
      }
      if (this.finOff >= 0 && this.sndNxt === this.finOff) {
        this.transmit(this.finOff, TCP_FIN | TCP_ACK, 0);
        if (this.finOff >= this.sndMax) this.finAlone = true;
        this.advance(this.finOff, 1);
      }
      this.cwndLimited = false;
      break;
    }
    // The end of tcp_write_xmit: is_cwnd_limited |= in flight >= cwnd, then tcp_cwnd_validate.
    const limited = this.cwndLimited || this.packetsInFlight() >= this.cc.cwnd;
    if (this.sndMax > startMax || limited) this.cwndValidate(limited);
  }

  /**
   * tcp_cwnd_validate: remember for the current window (until sndUna passes
   * cwndUsageSeq) whether cwnd limited the sender, or else the most segments
   * it had out, for tcp_is_cwnd_limited.
   */
  private cwndValidate(limited: boolean): void {
    const out = this.packetsOut();
    if (this.sndUna >= this.cwndUsageSeq || limited || (!this.isCwndLimited && out > this.maxPacketsOut)) {
      this.isCwndLimited = limited;
      this.maxPacketsOut = out;
      this.cwndUsageSeq = this.sndNxt;
    }
  }

  /** tcp_is_cwnd_limited: cwnd may grow (cong_avoid) when it limited this window, or in slow start below twice the most segments out. */
  private get cwndMayGrow(): boolean {
    if (this.isCwndLimited) return true;
    return this.cc.inSlowStart && this.cc.cwnd < 2 * this.maxPacketsOut;
  }

  /**
   * One burst of new data from the send head skb (see writeXmit), or false
   * when cwnd, the peer's window, Nagle or TSO deferral hold it back.
   */
  private writeBurst(mss: number, inflight: number, nonagle: number, pushOne: boolean): boolean {
    const off = this.sndNxt;
    const skbEnd = this.sendBuf.skbEndAfter(off);
    const skbLen = skbEnd - off;
    const cwnd = this.cc.cwnd;
    const inFlightSegs = Math.ceil(inflight / mss);
    // tcp_cwnd_test: "ensure we have at least 2 GSO packets in flight".
    if (inFlightSegs >= cwnd) {
      this.cwndLimited = true;
      return false;
    }
    const quota = Math.min(Math.max(cwnd >> 1, 1), cwnd - inFlightSegs);
    const wndEnd = this.sndUna + this.sndWnd;
    // tcp_snd_wnd_test: the first segment fits the peer's window.
    if (off + Math.min(mss, skbLen) > wndEnd) {
      this.cwndLimited = false;
      return false;
    }
    const isTail = skbEnd === this.writeEnd;
    let len = skbLen;
    if (skbLen <= mss) {
      // tcp_nagle_test, for the last skb only; not for the FIN's.
      if (isTail && (nonagle & TCP_NAGLE_PUSH) === 0 && this.finOff < 0 && this.nagleCheck(skbLen < mss, nonagle)) {
        this.cwndLimited = false;
        return false;
      }
    } else {
      const maxSegs = this.tsoMaxSegs();
      if (!pushOne) {
        const verdict = tsoShouldDefer({
          now: this.now, lastXmitAt: this.lastXmitAt, inRecovery: this.inRecovery || this.inLoss, mss, cwnd, inFlightSegs,
          sndWnd: this.sndWnd, sendWin: wndEnd - off, skbLen, isTail, skbHasFin: this.finOff >= 0 && skbEnd === this.finOff,
          maxSegs, headSentAt: this.rtxq.headSentAt, srttNs: this.rto.srttNs,
        });
        if (verdict !== 'send') {
          if (verdict === 'defer-cwnd-limited') this.cwndLimited = true;
          return false;
        }
      }
      len = Math.min(skbLen, this.mssSplitPoint(skbLen, Math.min(quota, maxSegs), isTail, wndEnd, nonagle));
    }
    if (this.tsqLimited(len + SKB_EMPTY_TRUESIZE, 0)) return false;
    const end = off + len;
    const psh = len > mss || this.sendBuf.isMarkedEnd(end);
    this.burstEnd = end;
    for (let o = off; o < end; o += mss) {
      const n = Math.min(mss, end - o);
      this.transmitData(o, n, psh && o + n === end);
    }
    this.burstEnd = 0;
    return true;
  }

  /** tcp_nagle_check: hold a partial segment while an earlier small one is unACKed (Minshall), or while corked. */
  private nagleCheck(partial: boolean, nonagle: number): boolean {
    return partial && nonagle === 0 && this.sndMax > this.sndUna && this.sndSml > this.sndUna && this.sndSml <= this.sndNxt;
  }

  /**
   * tcp_mss_split_point: how much of the send head skb one burst takes: `maxSegs`
   * segments, or what the peer's window admits of the last skb, less a partial
   * last segment that Nagle holds.
   */
  private mssSplitPoint(skbLen: number, maxSegs: number, isTail: boolean, wndEnd: number, nonagle: number): number {
    const mss = this.mss;
    const window = wndEnd - this.sndNxt;
    const maxLen = mss * maxSegs;
    if (maxLen <= window && !isTail) return maxLen;
    const needed = Math.min(skbLen, window);
    if (maxLen <= needed) return maxLen;
    const partial = needed % mss;
    return this.nagleCheck(partial !== 0, nonagle) ? needed - partial : needed;
  }

  /**
   * tcp_tso_segs (tcp_tso_autosize): a burst carries about a millisecond at
   * the pacing rate plus the GSO limit halved per 512 us of the minimum RTT,
   * at least two segments.
   */
  private tsoMaxSegs(): number {
    let bytes = GSO_MAX_SIZE;
    if (this.rto.srttNs > 0) {
      const rate = this.pacingRate();
      const r = Math.floor(this.minRtt.valueNs / 1000 / 512);
      bytes = Math.min(Math.floor(rate / 1024) + (r < 31 ? GSO_MAX_SIZE >> r : 0), GSO_MAX_SIZE);
    }
    return Math.max(Math.floor(bytes / this.mss), 2);
  }

  /**
   * sk_pacing_rate as tcp_update_pacing_rate sets it, in bytes per second:
   * 200 % of max(cwnd, packets_out) segments per SRTT in early slow start
   * (cwnd below half of ssthresh), else 120 %; unlimited before an RTT sample.
   */
  private pacingRate(): number {
    const srttNs = this.rto.srttNs;
    if (!(srttNs > 0)) return Infinity;
    const cwnd = this.cc.cwnd;
    return ((this.mss * Math.max(cwnd, this.packetsOut())) / (srttNs / 1e9)) * (cwnd < this.cc.ssthresh / 2 ? 2 : 1.2);
  }

  /**
   * tcp_small_queue_check: with more than about a millisecond at the pacing
   * rate (sk_pacing_shift 10; at least two of this skb, at most
   * tcp_limit_output_bytes without pacing, doubled for retransmissions) still
   * in this host's queues, hold the skb back until some leaves (TSQ_THROTTLED),
   * unless at most one skb is unACKed.
   */
  private tsqLimited(truesize: number, factor: number): boolean {
    let limit = Math.max(2 * truesize, Math.floor(this.pacingRate() / 1024));
    limit = Math.min(limit, this.p.limitOutputBytes) * (1 << factor);
    if (this.wmemAlloc <= limit || this.rtxq.size <= 1) return false;
    this.tsqThrottled = true;
    return true;
  }

  /** tcp_wfree: `truesize` bytes of this socket's packets left the host; a throttled writer gets to run. */
  txFreed(truesize: number): void {
    this.wmemAlloc -= truesize;
    if (!this.tsqThrottled || this.tsqQueued || this.finished) return;
    this.tsqThrottled = false;
    this.tsqQueued = true;
    this.layer.ns.component.schedule(0, this.events, K_TSQ);
  }

  /** Sends [off, off + len) of the stream, with FIN when it ends where our FIN goes; advances sndNxt. */
  private transmitData(off: number, len: number, psh: boolean): void {
    let flags = TCP_ACK;
    const end = off + len;
    if (psh) flags |= TCP_PSH;
    const withFin = this.finOff >= 0 && end === this.finOff;
    if (withFin) flags |= TCP_FIN;
    // tcp_event_data_sent: data leaving with nothing in flight (SACKed data aside) restarts after idle.
    if (this.cc.onTxStart !== undefined && this.sndMax <= this.sndUna && this.lastDataSentAt >= 0) this.cc.onTxStart(this.now, this.lastDataSentAt);
    this.lastDataSentAt = this.now;
    this.transmit(off, flags, len);
    if (len < this.mss) this.sndSml = end;
    this.advance(off, len + (withFin ? 1 : 0));
  }

  /** Bookkeeping after sending [off, off + n): sndNxt, retransmission counts, RTT timing, the RTO. */
  private advance(off: number, n: number): void {
    const end = off + n;
    if (this.inRecovery && this.sackOk) this.prrOut++; // tcp_xmit_retransmit_queue, tcp_write_xmit
    if (off < this.sndMax) {
      const again = Math.min(end, this.sndMax) - off;
      this.stats.retransmits++;
      const dataAgain = Math.min(end, this.sndMax, this.writeEnd) - off;
      if (dataAgain > 0) this.stats.bytesRetrans += dataAgain;
      if (again > 0) this.rttOff = -1; // Karn's algorithm
      if (again > 0) this.rtxq.retransmitted(off, off + again, this.now);
    }
    if (end > this.sndMax) {
      // tso_fragment: what goes of the send head skb (a whole burst) becomes an skb of its own.
      this.sendBuf.splitAt(Math.min(Math.max(end, this.burstEnd), this.writeEnd));
      this.rtxq.push(Math.max(off, this.sndMax), end, this.now);
      const newData = Math.min(end, this.writeEnd) - Math.max(off, this.sndMax);
      if (newData > 0) this.stats.bytesSent += newData;
      this.sndMax = end;
    }
    if (end > this.sndNxt) this.sndNxt = end;
    if (!this.rtxTimer.armed) this.rtxTimer.arm(this.rto.timeoutNs);
    this.probeTimer.cancel(); // one of ICSK_TIME_RETRANS and ICSK_TIME_PROBE0 is pending
  }

  /** Writes one segment at stream offset `off` carrying `len` payload bytes. */
  private transmit(off: number, flags: number, len: number): void {
    const ack = (flags & TCP_ACK) !== 0;
    const window = this.windowField();
    const sackOpts = ack && this.sackOk && this.st !== TcpState.TIME_WAIT ? this.sackOptions() : undefined;
    // __tcp_transmit_skb -> skb_set_owner_w: charged until the packet leaves the host.
    const truesize = len + SKB_EMPTY_TRUESIZE;
    this.wmemAlloc += truesize;
    this.layer.writer.send(
      this.localAddr, this.remoteAddr, this.localPort, this.remotePort,
      this.iss + off, ack ? this.irs + this.rcvNxt : 0, flags, window,
      this.tsOk ? this.tsval() : -1, this.tsRecent, len, off - 1, sackOpts, this, truesize,
    );
    this.stats.segsOut++;
    this.lastXmitAt = this.now;
    if (ack) {
      // tcp_event_ack_sent: this ACK covers everything received; no delayed ACK pending.
      this.rcvWup = this.rcvNxt;
      this.delackTimer.cancel();
      this.ackPushed = 0;
    }
    if (len > 0) {
      // tcp_event_data_sent: data sent soon after data arrived marks an interactive exchange.
      if (this.now - this.lastRcvAt < this.p.delackNs) this.pingpong = true;
    }
  }

  /** The right edge of the window last advertised (rcv_nxt + tcp_receive_window). */
  private get rcvWindowEnd(): number {
    return this.rcvWup + this.rw.rcvWnd;
  }

  /**
   * The window field of a segment (tcp_select_window). In TIME-WAIT the
   * timewait socket repeats what the last ACK of the full socket advertised
   * (tcp_time_wait keeps tcp_receive_window; tcp_v4_timewait_ack).
   */
  private windowField(): number {
    if (this.st === TcpState.TIME_WAIT && this.twWindow >= 0) return this.twWindow;
    const field = this.rw.selectWindow(this.rcvWup, this.rcvNxt);
    if (this.st === TcpState.TIME_WAIT) this.twWindow = field;
    return field;
  }

  /** A pure ACK (tcp_send_ack): seq = sndNxt. */
  private sendAck(): void {
    this.transmit(this.sndNxt, TCP_ACK, 0);
  }

  // ------------------------------------------------------------ timers

  handleEvent(kind: number): void {
    // A timer runs with the socket held (bh_lock_sock): what its transmissions bring back waits.
    // (`owned` inlined: timers are frequent, and a closure per expiry is garbage.)
    this.ownedDepth++;
    try {
      this.timerFired(kind);
    } finally {
      this.unown();
    }
  }

  private timerFired(kind: number): void {
    switch (kind) {
      case K_RETRANSMIT:
        if (this.rtxTimer.expired()) this.retransmitTimeout();
        break;
      case K_DELACK:
        if (this.delackTimer.expired() && this.rcvNxt !== this.rcvWup && !this.finished) {
          // tcp_delack_timer_handler: send the ACK; a timeout ends interactive mode.
          this.pingpong = false;
          this.sendAck();
        }
        break;
      case K_PROBE0:
        if (this.probeTimer.expired()) this.probeTimeout();
        break;
      case K_LOSS_PROBE:
        if (this.tlpTimer.expired()) this.sendLossProbe();
        break;
      case K_REO_TIMEOUT:
        if (this.reoTimer.expired()) this.reoTimeout();
        break;
      case K_TSQ:
        // tcp_tsq_write: what TSQ held back goes now, as far as the queues allow.
        this.tsqQueued = false;
        if (!this.finished) this.output();
        break;
      case K_WRITE_SPACE:
        if (!this.finished && this.appPending > 0 && !this.writerWaiting && this.canWrite()) this.sendmsg(false);
        break;
    }
  }

  /**
   * tcp_probe_timer: while data waits behind the peer's window and nothing is
   * in flight, probe; give up with ETIMEDOUT after tcp_retries2 probes in a row
   * went unanswered (RFC 1122 4.2.2.17: a peer that answers keeps the
   * connection open indefinitely; the rules for orphans and TCP_USER_TIMEOUT are not modelled).
   */
  private probeTimeout(): void {
    if (this.finished || this.st === TcpState.TIME_WAIT) return;
    if (this.sndMax > this.sndUna || this.sndNxt >= this.writeEnd) {
      this.probesOut = 0;
      return;
    }
    if (this.probesOut >= this.p.retries2) {
      this.fail('ETIMEDOUT');
      return;
    }
    this.sendProbe0();
  }

  /** tcp_send_probe0: one probe (tcp_write_wakeup), then the next at a doubled interval. */
  private sendProbe0(): void {
    this.writeWakeup();
    if (this.sndMax > this.sndUna || this.sndNxt >= this.writeEnd) {
      // The probe carried data: the retransmission timer now watches it.
      this.probesOut = 0;
      this.rto.backoff = 0;
      return;
    }
    this.probesOut++;
    if (this.rto.backoff < this.p.retries2) this.rto.backoff++;
    this.probeTimer.arm(probe0WhenNs(this.rto.rtoNs, this.rto.backoff, this.p));
  }

  /**
   * tcp_write_wakeup: when the window admits part of the next segment, send
   * that part (with PSH) as new data; else a zero-window probe, an ACK with
   * seq snd_una - 1 and no data (tcp_xmit_probe_skb), which the peer must answer.
   */
  private writeWakeup(): void {
    const wndEnd = this.sndUna + this.sndWnd;
    if (this.sndNxt < wndEnd) {
      const len = Math.min(wndEnd - this.sndNxt, this.mss, this.writeEnd - this.sndNxt);
      this.transmitData(this.sndNxt, len, true);
      return;
    }
    this.transmit(this.sndUna - 1, TCP_ACK, 0);
  }

  /** tcp_retransmit_timer (and tcp_write_timeout for the retry limits). */
  private retransmitTimeout(): void {
    if (this.finished) return;
    this.stats.timeouts++;
    if (this.st === TcpState.SYN_SENT || this.st === TcpState.SYN_RECV) {
      const limit = this.st === TcpState.SYN_SENT ? this.p.synRetries : this.p.synackRetries;
      if (this.retries >= limit) {
        if (this.st === TcpState.SYN_SENT) this.fail('ETIMEDOUT');
        else this.destroy(false); // inet_csk_reqsk_queue_drop: the request just goes away
        return;
      }
      this.retries++;
      this.rto.backoff++;
      this.stats.retransmits++;
      this.sendSyn(this.st === TcpState.SYN_RECV);
      this.rtxTimer.arm(this.rto.timeoutNs);
      return;
    }
    if (this.sndUna >= this.sndMax) return;
    if (this.retries >= this.p.retries2) {
      this.fail('ETIMEDOUT');
      return;
    }
    // tcp_enter_loss: ssthresh is reduced unless it already was in this window (fast recovery
    // still under way, or a timeout again with no progress since); cwnd collapses either way.
    const reduce = (!this.inRecovery && !this.inLoss) || this.sndUna >= this.recover || (this.inLoss && this.retries === 0);
    this.retries++;
    this.cc.onRto(this.now, this.sndMax, reduce);
    this.inRecovery = false;
    this.inLoss = true;
    this.tlpHigh = 0;
    this.tlpTimer.cancel();
    this.reoTimer.cancel();
    this.dupAcks = 0;
    this.recover = this.sndMax;
    this.lostQueue.length = 0;
    this.lostHead = 0;
    this.rttOff = -1;
    this.rto.backoff++;
    if (this.sackOk) {
      // tcp_timeout_mark_lost: the head and whatever was sent an RTT ago or more is lost; what the
      // peer SACKed stays SACKed (unless it reneged on the head) and is not sent again. cwnd is what
      // is still in flight plus one; the head goes again now, the rest as ACKs open cwnd.
      if (this.rtxq.timeoutMarkLost(this.now, this.rack.rttNs)) this.sb.clear();
      this.cc.cwnd = this.packetsInFlight() + 1;
      this.logCwnd();
      const head = this.rtxq.nextLost();
      if (head !== null) this.retransmitAt(head[0], Math.min(head[1] - head[0], this.mss));
    } else {
      // Without SACK every segment is lost: go back to sndUna.
      this.logCwnd();
      this.sndNxt = this.sndUna;
      this.retransmitHead();
    }
    if (!this.rtxTimer.armed) this.rtxTimer.arm(this.rto.timeoutNs);
  }

  // ------------------------------------------------------------ endings

  /**
   * tcp_time_wait: a timewait socket takes this one's place in the table and
   * its timer starts. This connection finishes the processing under way (the
   * ACK of the FIN, the application's callbacks) in TIME-WAIT and is then
   * left to whoever holds it: nothing refers to it from here on (the timewait
   * socket has none), so a run of many short connections keeps only their
   * timewait sockets.
   * `notify`: tell the application now (false when the caller does, after the segment's other callbacks).
   */
  private enterTimeWait(notify = true): void {
    this.setState(TcpState.TIME_WAIT);
    this.rtxTimer.cancel();
    this.tlpTimer.cancel();
    this.reoTimer.cancel();
    this.delackTimer.cancel();
    this.probeTimer.cancel();
    // Nothing moves these any more: only pure ACKs of rcv_nxt from snd_nxt go out from here.
    const tw = new TimeWaitSock(this.layer, this.localAddr, this.localPort, this.remoteAddr, this.remotePort, {
      sndNxt: (this.iss + this.sndNxt) >>> 0,
      rcvNxt: (this.irs + this.rcvNxt) >>> 0,
      window: this.windowField(),
      tsOk: this.tsOk,
      tsOffset: this.tsOffset,
      tsRecent: this.tsRecent,
    });
    this.tw = tw;
    this.layer.replace(this, tw);
    // Every event still queued for this connection would do nothing now: its timers are
    // cancelled, and output() and the writer take no TIME-WAIT socket. Let them go without it.
    this.events.detach();
    if (notify) this.handlers.onClosed?.(this);
  }



  /**
   * tcp_v4_err: an ICMP error about one of our segments. While connecting
   * (SYN_SENT, SYN_RECV) it ends the attempt with the error's errno; on an
   * established connection it is only a soft error (IP_RECVERR is off), which
   * podwire does not keep.
   */
  icmpError(err: TcpError): void {
    if (this.st === TcpState.SYN_SENT || this.st === TcpState.SYN_RECV) this.fail(err);
  }

  /** Whether sequence number `seq` is one we sent and the peer has not ACKed (tcp_v4_err's between(seq, snd_una, snd_nxt)). */
  isInFlight(seq: number): boolean {
    const rel = (seq - this.iss) >>> 0;
    const una = this.sndUna >>> 0;
    return ((rel - una) >>> 0) <= ((this.sndMax - this.sndUna) >>> 0);
  }

  /**
   * tcp_v4_err's "fragmentation needed" for a segment in flight, then
   * tcp_v4_mtu_reduced: the route learns the path MTU (inet_csk_update_pmtu)
   * and, when that is below the MTU the MSS was cut for, the MSS shrinks to
   * it (tcp_sync_mss) and the segments too large for it, certainly dropped,
   * are sent again at once (tcp_simple_retransmit).
   */
  mtuReduced(mtu: number): void {
    // A connection still in SYN_RECV is a request sock in Linux: tcp_req_err ignores what is not fatal.
    if (this.finished || this.st === TcpState.CLOSED || this.st === TcpState.SYN_RECV) return;
    this.layer.ns.updatePmtu(this.remoteAddr, mtu);
    const pmtu = this.layer.pathMtuTo(this.remoteAddr);
    if (this.pmtuCookie <= pmtu) return;
    this.syncMss(pmtu);
    this.stats.mtuReductions++;
    // Before the SYN-ACK the MSS is not settled: acceptSynOptions cuts it for this cookie.
    if (this.mssClamp !== 0) this.simpleRetransmit();
  }

  /**
   * tcp_current_mss: before sending, the MSS follows the route's MTU when it
   * moved since it was cut: lowered by an error another socket got, or back up
   * once the learned MTU expired. Nothing is sent again for it.
   */
  private currentMss(): void {
    const pmtu = this.layer.pathMtuTo(this.remoteAddr);
    if (pmtu !== this.pmtuCookie) this.syncMss(pmtu);
  }

  /** tcp_sync_mss: the MSS cut for path MTU `pmtu` (once the peer's MSS is known), which becomes the cookie. */
  private syncMss(pmtu: number): void {
    this.pmtuCookie = pmtu;
    this.pmtuLearned = this.layer.ns.hasPathMtus;
    if (this.mssClamp !== 0) this.mss = this.boundToHalfWnd(this.mtuToMss(pmtu));
  }

  /**
   * tcp_bound_to_half_wnd: no segment above half the largest window the peer
   * offered (all of it when that is at most 536), so that two are in flight:
   * lo's 65483-byte MSS against a 65483-byte window gives 32741-byte segments.
   */
  private boundToHalfWnd(mss: number): number {
    const cutoff = this.maxWindow > 536 ? this.maxWindow >> 1 : this.maxWindow;
    return cutoff !== 0 && mss > cutoff ? Math.max(cutoff, 68 - (this.tsOk ? 32 : 20)) : mss;
  }

  /** tcp_mtu_to_mss: the MTU less the IPv4 and TCP headers, at most the peer's MSS, at least tcp_min_snd_mss (48), less the timestamp option. */
  private mtuToMss(pmtu: number): number {
    return Math.max(Math.min(pmtu - 40, this.mssClamp), 48) - (this.tsOk ? 12 : 0);
  }

  /**
   * tcp_simple_retransmit: every segment in flight longer than the MSS now
   * (and not SACKed) is lost. The sender enters Loss without touching cwnd
   * (the data in the network did not grow; its units shrank), with ssthresh
   * at least 3/4 of cwnd (tcp_current_ssthresh), and resends them
   * (tcp_xmit_retransmit_queue).
   */
  private simpleRetransmit(): void {
    const dataEnd = Math.min(this.sndMax, this.writeEnd);
    const lost: number[] = [];
    for (const [recStart, recEnd] of this.rtxq.records()) {
      const start = Math.max(this.sndUna, recStart);
      const end = Math.min(recEnd, dataEnd);
      if (end - start <= this.mss) continue;
      if (this.sackOk && this.sb.skipSacked(start) >= end) continue;
      // Lost segments next to each other go again as one run cut at the MSS, as Linux 6.18
      // resends them without GSO: 1,448 + 1,448 as 1,398 + 1,398 + 100 (test/kernel/tcp-pmtu.kernel.test.ts).
      if (lost.length > 0 && lost[lost.length - 1] === start) lost[lost.length - 1] = end;
      else lost.push(start, end);
    }
    if (lost.length === 0) return;
    for (let i = 0; i < lost.length; i += 2) this.rtxq.markLost(lost[i]!, lost[i + 1]!);
    this.lostQueue = lost;
    this.lostHead = 0;
    if (!this.inLoss && !this.inRecovery) {
      this.recover = this.sndMax;
      this.cc.ssthresh = Math.max(this.cc.ssthresh, (this.cc.cwnd >> 1) + (this.cc.cwnd >> 2));
      this.inLoss = true;
      this.logCwnd();
    }
    this.tlpHigh = 0;
    this.tlpTimer.cancel();
    this.rttOff = -1; // Karn
    this.output();
  }

  /**
   * tcp_xmit_retransmit_queue over the lost segments: each run is resent in
   * pieces of at most the MSS, while cwnd has room for what is in flight and
   * not lost. False while some are still waiting for room.
   */
  private retransmitLost(): boolean {
    const q = this.lostQueue;
    const mss = this.mss;
    let lostBytes = 0;
    for (let i = this.lostHead; i < q.length; i += 2) lostBytes += Math.max(0, q[i + 1]! - Math.max(q[i]!, this.sndUna));
    const sacked = this.sackOk ? this.sb.sackedBelow(this.sndMax) : 0;
    while (this.lostHead < q.length) {
      const h = this.lostHead;
      let start = Math.max(q[h]!, this.sndUna);
      if (this.sackOk) start = this.sb.skipSacked(start);
      const end = q[h + 1]!;
      if (start >= end) {
        this.lostHead += 2;
        continue;
      }
      const len = Math.min(mss, end - start);
      const inflight = this.sndMax - this.sndUna - sacked - lostBytes;
      if (inflight + len > this.cc.cwnd * mss) {
        this.cwndLimited = true;
        return false;
      }
      // The piece that ends a run carries PSH, as Linux 6.18 sends it (test/kernel/tcp-pmtu.kernel.test.ts).
      this.retransmitAt(start, len, start + len === end);
      lostBytes -= len;
      q[h] = start + len;
    }
    this.lostQueue.length = 0;
    this.lostHead = 0;
    return true;
  }

  private fail(err: TcpError): void {
    this.destroy(false);
    this.handlers.onError?.(this, err);
  }

  /** tcp_done: CLOSED, timers off, out of the table. */
  private destroy(notify: boolean): void {
    if (this.finished) return;
    this.finished = true;
    const wasTimeWait = this.st === TcpState.TIME_WAIT;
    this.setState(TcpState.CLOSED);
    this.rtxTimer.cancel();
    this.delackTimer.cancel();
    this.probeTimer.cancel();
    this.tlpTimer.cancel();
    this.reoTimer.cancel();
    this.sendBuf.clear();
    this.appPending = 0;
    this.writerWaiting = false;
    if (this.tw !== null) this.tw.end();
    this.layer.remove(this);
    // Timers cancelled, and TSQ and the writer check `finished`: what is still queued does nothing.
    this.events.detach();
    if (notify && !wasTimeWait) this.handlers.onClosed?.(this);
  }

  private setState(s: TcpState): void {
    this.st = s;
  }

  private logCwnd(): void {
    if (this.recordCwnd) this.stats.cwndLog.push([this.now, this.cc.cwnd, this.cc.ssthresh]);
  }

  describe(): string {
    return `${formatIpv4(this.localAddr)}:${this.localPort} -> ${formatIpv4(this.remoteAddr)}:${this.remotePort} ${this.ssState}`;
  }
}
