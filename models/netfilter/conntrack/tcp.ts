/**
 * TCP connection tracking: nf_conntrack_proto_tcp.c (Linux 6.x), state
 * machine and timeouts.
 *
 * What is modelled, in the kernel's order:
 * - tcp_error: header length, and the table of valid flag combinations.
 * - tcp_new: which first packets may create an entry (a SYN, or any packet
 *   the table accepts from NONE when nf_conntrack_tcp_loose=1, i.e. an ACK
 *   picks up a connection mid-stream).
 * - nf_conntrack_tcp_packet: the tcp_conntracks[dir][flags][state] table for
 *   SYN, SYN-ACK, FIN, ACK, RST in both directions, including the special
 *   cases around it: reopening from TIME_WAIT/CLOSE (-NF_REPEAT), ignored
 *   packets and the SYN-ACK that re-synchronises after an ignored SYN, the
 *   RFC 5961 challenge ACK in LAST_ACK, simultaneous open, the RST sequence
 *   check against td_maxack, killing an unreplied entry on RST, not renewing
 *   the timeout on a retransmitted SYN, ASSURED on the ACK that completes the
 *   handshake, and the timeout choice (RETRANS after 3 retransmissions,
 *   CLOSE after RST, UNACK while data is unacknowledged or the window is 0,
 *   UNACK for an entry picked up mid-stream).
 *
 * What is not: tcp_in_window's window checks. podwire keeps the sequence
 * bookkeeping the state machine and the timeouts read (td_end, td_maxack,
 * the DATA_UNACKNOWLEDGED and MAXACK_SET flags, the retransmission counter)
 * but never finds a segment out of window, i.e. it behaves as if every
 * segment were in window (close to nf_conntrack_tcp_be_liberal=1, except
 * that the RST checks above still apply). TCP options (window scale,
 * SACK-permitted) are not parsed: they only matter to the window checks.
 */
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, tcpAck, tcpFlags, tcpHeaderLen, tcpSeq, tcpWindow } from '../../wire/tcp.js';
import { CtDir, CtStatus } from '../types.js';
import type { TrackedConn, TupleHash } from './conn.js';
import { L4Verdict, type L4Context, type L4Packet } from './l4proto.js';
import type { CtTimeouts } from './timeouts.js';

/** enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h). */
export const enum TcpCt {
  NONE = 0,
  SYN_SENT = 1,
  SYN_RECV = 2,
  ESTABLISHED = 3,
  FIN_WAIT = 4,
  CLOSE_WAIT = 5,
  LAST_ACK = 6,
  TIME_WAIT = 7,
  CLOSE = 8,
  SYN_SENT2 = 9,
  /** sIV in the table: invalid. */
  MAX = 10,
  /** sIG in the table: ignored. */
  IGNORE = 11,
}

/** tcp_conntrack_names[] */
export const TCP_STATE_NAMES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
] as const;

/** enum tcp_bit_set: which row of the table a segment uses (get_conntrack_index). */
const SYN_SET = 0;
const SYNACK_SET = 1;
const FIN_SET = 2;
const ACK_SET = 3;
const RST_SET = 4;
const NONE_SET = 5;

/** IP_CT_TCP_FLAG_* (per direction) and the IP_CT_* last_flags bits. */
const FLAG_CLOSE_INIT = 0x04;
const FLAG_BE_LIBERAL = 0x08;
const FLAG_SACK_PERM = 0x02;
const FLAG_DATA_UNACKNOWLEDGED = 0x10;
const FLAG_MAXACK_SET = 0x20;
const EXP_CHALLENGE_ACK = 0x40;
const SIMULTANEOUS_OPEN = 0x80;

const sSS = TcpCt.SYN_SENT;
const sSR = TcpCt.SYN_RECV;
const sES = TcpCt.ESTABLISHED;
const sFW = TcpCt.FIN_WAIT;
const sCW = TcpCt.CLOSE_WAIT;
const sLA = TcpCt.LAST_ACK;
const sTW = TcpCt.TIME_WAIT;
const sCL = TcpCt.CLOSE;
const sS2 = TcpCt.SYN_SENT2;
const sIV = TcpCt.MAX;
const sIG = TcpCt.IGNORE;

/**
 * tcp_conntracks[2][6][TCP_CONNTRACK_MAX], rows syn, synack, fin, ack, rst,
 * none; columns sNO sSS sSR sES sFW sCW sLA sTW sCL sS2. Copied from 6.x.
 */
// prettier-ignore
const TABLE = Uint8Array.from([
  /* ORIGINAL */
  /*syn*/    sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2,
  /*synack*/ sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR,
  /*fin*/    sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /*ack*/    sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV,
  /*rst*/    sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /*none*/   sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
  /* REPLY */
  /*syn*/    sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2,
  /*synack*/ sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR,
  /*fin*/    sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /*ack*/    sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG,
  /*rst*/    sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /*none*/   sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
]);

function transition(dir: number, index: number, state: number): number {
  return TABLE[(dir * 6 + index) * 10 + state]!;
}

/** tcp_valid_flags[]: PSH, ECE and CWR are masked off first; anything else is INVALID. */
const VALID_FLAGS = new Uint8Array(64);
for (const f of [
  TCP_SYN,
  TCP_SYN | 0x20,
  TCP_SYN | TCP_ACK,
  TCP_RST,
  TCP_RST | TCP_ACK,
  TCP_FIN | TCP_ACK,
  TCP_FIN | TCP_ACK | 0x20,
  TCP_ACK,
  TCP_ACK | 0x20,
]) {
  VALID_FLAGS[f] = 1;
}

function conntrackIndex(flags: number): number {
  if (flags & TCP_RST) return RST_SET;
  if (flags & TCP_SYN) return flags & TCP_ACK ? SYNACK_SET : SYN_SET;
  if (flags & TCP_FIN) return FIN_SET;
  if (flags & TCP_ACK) return ACK_SET;
  return NONE_SET;
}

/** Serial-number comparison on 32-bit sequence numbers (before()/after() in include/net/tcp.h). */
function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

export function tcpStateTimeout(t: CtTimeouts, state: number): number {
  switch (state) {
    case TcpCt.SYN_SENT:
    case TcpCt.NONE: // timeouts[0] is set to SYN_SENT's (nf_conntrack_tcp_init_net)
      return t.tcpSynSent;
    case TcpCt.SYN_RECV:
      return t.tcpSynRecv;
    case TcpCt.ESTABLISHED:
      return t.tcpEstablished;
    case TcpCt.FIN_WAIT:
      return t.tcpFinWait;
    case TcpCt.CLOSE_WAIT:
      return t.tcpCloseWait;
    case TcpCt.LAST_ACK:
      return t.tcpLastAck;
    case TcpCt.TIME_WAIT:
      return t.tcpTimeWait;
    case TcpCt.CLOSE:
      return t.tcpClose;
    default:
      return t.tcpSynSent2;
  }
}

/** nf_conntrack_tcp_established */
function established(ct: TrackedConn): boolean {
  return ct.tcpStateNum === TcpCt.ESTABLISHED && (ct.status & CtStatus.ASSURED) !== 0;
}

/** tcp_can_early_drop: closing states the gc worker may evict under pressure (and SNAT may reuse). */
export function tcpClosing(ct: TrackedConn): boolean {
  const s = ct.tcpStateNum;
  return s === TcpCt.FIN_WAIT || s === TcpCt.LAST_ACK || s === TcpCt.TIME_WAIT || s === TcpCt.CLOSE || s === TcpCt.CLOSE_WAIT;
}

/** tcp_init_sender, without the option parsing (window scale matters only to window checks). */
function initSender(sender: TupleHash, end: number, win: number): void {
  sender.tdEnd = end;
  sender.tdMaxwin = win === 0 ? 1 : win;
  sender.tdFlags &= FLAG_BE_LIBERAL;
}

/**
 * tcp_new: may this first packet create an entry? Resets ct->proto.tcp and
 * records the sender's end of sequence space.
 */
function tcpNew(ct: TrackedConn, index: number, end: number, win: number, loose: boolean): boolean {
  const state = transition(CtDir.ORIGINAL, index, TcpCt.NONE);
  if (state >= TcpCt.MAX) return false;
  const o = ct.tuple[0];
  const r = ct.tuple[1];
  ct.tcpStateNum = TcpCt.NONE;
  o.tdEnd = o.tdMaxwin = o.tdMaxack = o.tdFlags = 0;
  r.tdEnd = r.tdMaxwin = r.tdMaxack = r.tdFlags = 0;
  ct.lastDir = ct.lastSeq = ct.lastAck = ct.lastEnd = ct.lastWin = ct.lastFlags = ct.retrans = 0;
  if (state !== TcpCt.SYN_SENT) {
    if (!loose) return false;
    // Picked up mid-stream: "we assume SACK and liberal window checking".
    o.tdFlags = r.tdFlags = FLAG_SACK_PERM | FLAG_BE_LIBERAL;
  }
  o.tdEnd = end;
  o.tdMaxwin = win === 0 ? 1 : win;
  ct.lastIndex = NONE_SET;
  return true;
}

/**
 * The bookkeeping half of tcp_in_window: initialise a side on its first
 * segment, advance td_end and td_maxack, track unacknowledged data and
 * retransmissions. The acceptance tests (I-IV in the kernel's comment) are
 * not modelled: every segment is taken as in window.
 */
function trackSequence(
  ct: TrackedConn,
  dir: number,
  index: number,
  flags: number,
  seq: number,
  ack: number,
  end: number,
  win: number,
): void {
  const sender = ct.tuple[dir]!;
  const receiver = ct.tuple[1 - dir]!;
  const hasAck = (flags & TCP_ACK) !== 0;
  if (sender.tdMaxwin === 0) {
    if (flags & TCP_SYN) {
      initSender(sender, end, win);
      if (!hasAck) return; // simultaneous open
    } else {
      // In the middle of a connection whose history we lost.
      sender.tdEnd = end;
      sender.tdMaxwin = win === 0 ? 1 : win;
      if (receiver.tdMaxwin === 0) receiver.tdEnd = ack;
      else if (ack === ((receiver.tdEnd + 1) >>> 0)) receiver.tdEnd = ack; // a reply to a keepalive
    }
  } else if (
    flags & TCP_SYN &&
    after(end, sender.tdEnd) &&
    (ct.tcpStateNum === TcpCt.SYN_SENT || ct.tcpStateNum === TcpCt.SYN_RECV)
  ) {
    // RFC 793: a reinitialised TCP uses larger sequence numbers; re-init this side.
    initSender(sender, end, win);
    if (dir === CtDir.REPLY && !hasAck) return;
  }
  if (!hasAck || (flags & TCP_RST && ack === 0)) ack = receiver.tdEnd; // no ACK: pretend it was set and OK
  if (flags & TCP_RST && seq === 0 && ct.tcpStateNum === TcpCt.SYN_SENT) seq = end = sender.tdEnd; // RST answering a SYN

  if (after(end, sender.tdEnd)) {
    sender.tdEnd = end;
    sender.tdFlags |= FLAG_DATA_UNACKNOWLEDGED;
  }
  if (hasAck) {
    if (!(sender.tdFlags & FLAG_MAXACK_SET)) {
      sender.tdMaxack = ack;
      sender.tdFlags |= FLAG_MAXACK_SET;
    } else if (after(ack, sender.tdMaxack)) {
      sender.tdMaxack = ack;
    }
  }
  if (ack === receiver.tdEnd) receiver.tdFlags &= ~FLAG_DATA_UNACKNOWLEDGED;

  if (index === ACK_SET) {
    if (ct.lastDir === dir && ct.lastSeq === seq && ct.lastAck === ack && ct.lastEnd === end && ct.lastWin === win) {
      ct.retrans++;
    } else {
      ct.lastDir = dir;
      ct.lastSeq = seq;
      ct.lastAck = ack;
      ct.lastEnd = end;
      ct.lastWin = win;
      ct.retrans = 0;
    }
  }
}

/**
 * nf_conntrack_tcp_packet (with tcp_error and tcp_new) for a packet in
 * direction `dir` of `ct`. Updates the state, refreshes or kills the entry.
 */
export function tcpPacket(ct: TrackedConn, pkt: L4Packet, dir: CtDir, ctx: L4Context): L4Verdict {
  const buf = pkt.buf;
  const off = pkt.l4Off;
  // tcp_error: not a whole header, or a malformed one.
  if (pkt.l4Len < 20) return L4Verdict.INVALID;
  const doff = tcpHeaderLen(buf, off);
  if (doff < 20 || pkt.l4Len < doff) return L4Verdict.INVALID;
  const flags = tcpFlags(buf, off);
  if (!VALID_FLAGS[flags & ~(TCP_ECE | TCP_CWR | TCP_PSH) & 0x3f]) return L4Verdict.INVALID;

  const seq = tcpSeq(buf, off);
  const ack = tcpAck(buf, off);
  const win = tcpWindow(buf, off);
  // segment_seq_plus_len
  const end = (seq + (pkt.l4Len - doff) + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0)) >>> 0;
  const index = conntrackIndex(flags);

  if (!ct.confirmed && !tcpNew(ct, index, end, win, ctx.tcpConfig.loose)) return L4Verdict.INVALID;

  let oldState: number = ct.tcpStateNum;
  let newState = transition(dir, index, oldState);
  const other = 1 - dir;
  let checkWindow = true;

  if (newState === TcpCt.SYN_SENT && oldState >= TcpCt.TIME_WAIT) {
    // RFC 1122: a SYN may reopen a connection in TIME_WAIT. If this side or
    // the other started the close, or the last packet from here was a RST,
    // delete the entry and look the packet up again.
    const closeInit = (ct.tuple[dir]!.tdFlags | ct.tuple[other]!.tdFlags) & FLAG_CLOSE_INIT;
    if (closeInit || (ct.lastDir === dir && ct.lastIndex === RST_SET)) {
      return ctx.kill(ct) ? L4Verdict.REPEAT : L4Verdict.DROP;
    }
    newState = TcpCt.IGNORE;
  }

  switch (newState) {
    case TcpCt.IGNORE: {
      // Our entry may be out of sync with the endpoints: let the packet
      // through without changing state, and remember it.
      if (index === SYNACK_SET && ct.lastIndex === SYN_SET && ct.lastDir !== dir && ack === ct.lastEnd) {
        // This SYN-ACK answers a SYN we ignored: both ends are in sync, we were not.
        oldState = TcpCt.SYN_SENT;
        newState = TcpCt.SYN_RECV;
        const s = ct.tuple[ct.lastDir]!;
        s.tdEnd = ct.lastEnd;
        s.tdMaxwin = ct.lastWin === 0 ? 1 : ct.lastWin;
        ct.lastFlags &= ~EXP_CHALLENGE_ACK;
        s.tdFlags = ct.lastFlags;
        ct.tuple[dir]!.tdEnd = ct.tuple[dir]!.tdMaxwin = ct.tuple[dir]!.tdMaxack = 0;
        ct.tuple[dir]!.tdFlags &= FLAG_BE_LIBERAL;
        break;
      }
      ct.lastIndex = index;
      ct.lastDir = dir;
      ct.lastSeq = seq;
      ct.lastEnd = end;
      ct.lastWin = win;
      if (index === SYN_SET && dir === CtDir.ORIGINAL) {
        // The kernel also notes the SYN's window-scale and SACK options here.
        ct.lastFlags = 0;
        // An ACK answering this SYN in LAST_ACK may be an RFC 5961 challenge ACK.
        if (oldState === TcpCt.LAST_ACK) ct.lastFlags |= EXP_CHALLENGE_ACK;
      }
      if (oldState === TcpCt.SYN_SENT && index === ACK_SET && dir === CtDir.REPLY) ct.lastAck = ack; // possible challenge ACK
      return L4Verdict.ACCEPT;
    }
    case TcpCt.MAX:
      return L4Verdict.INVALID;
    case TcpCt.TIME_WAIT:
      if (
        oldState === TcpCt.LAST_ACK &&
        index === ACK_SET &&
        ct.lastDir !== dir &&
        ct.lastIndex === SYN_SET &&
        ct.lastFlags & EXP_CHALLENGE_ACK
      ) {
        // An RFC 5961 challenge ACK, not the ACK of the last FIN.
        ct.lastFlags &= ~EXP_CHALLENGE_ACK;
        return L4Verdict.ACCEPT;
      }
      break;
    case TcpCt.SYN_SENT2:
      ct.lastFlags |= SIMULTANEOUS_OPEN;
      break;
    case TcpCt.SYN_RECV:
      if (dir === CtDir.REPLY && index === ACK_SET && ct.lastFlags & SIMULTANEOUS_OPEN) newState = TcpCt.ESTABLISHED;
      break;
    case TcpCt.CLOSE: {
      if (index !== RST_SET) break;
      // Closing already: the tuple may have been reused, skip the checks.
      if (tcpClosing(ct)) {
        checkWindow = false;
        break;
      }
      const peer = ct.tuple[other]!;
      if (peer.tdFlags & FLAG_MAXACK_SET && ct.lastIndex !== SYN_SET) {
        // Most likely the answer to a SYN we let through.
        if (seq === 0 && !established(ct)) break;
        // A RST below what the peer already acknowledged is invalid.
        if (before(seq, peer.tdMaxack)) return L4Verdict.INVALID;
        if (!established(ct) || seq === peer.tdMaxack) break;
        // Part of a train: data then RST at its end.
        if (ct.lastIndex === ACK_SET && ct.lastDir === dir && seq === ct.lastEnd) break;
        // Sequence not exact: keep the state to allow a challenge ACK.
        newState = oldState;
      }
      if (
        (((ct.status & CtStatus.SEEN_REPLY) !== 0 && ct.lastIndex === SYN_SET) ||
          ((ct.status & CtStatus.ASSURED) === 0 && ct.lastIndex === ACK_SET)) &&
        ack === ct.lastEnd
      ) {
        // RST for a SYN or ACK we let through while out of sync.
        checkWindow = false;
      } else if (oldState === TcpCt.SYN_SENT && ct.lastIndex === ACK_SET && ct.lastDir === CtDir.REPLY && seq === ct.lastAck) {
        // RST answering a challenge ACK we let through.
        checkWindow = false;
      }
      break;
    }
    default:
      break;
  }

  if (checkWindow) trackSequence(ct, dir, index, flags, seq, ack, end, win);

  // in_window: from here on the packet is in window.
  ct.lastIndex = index;
  ct.lastDir = dir;
  ct.tcpStateNum = newState;
  if (oldState !== newState && newState === TcpCt.FIN_WAIT) ct.tuple[dir]!.tdFlags |= FLAG_CLOSE_INIT;

  const t = ctx.timeouts;
  const stateTimeout = tcpStateTimeout(t, newState);
  const unacked = (ct.tuple[0].tdFlags | ct.tuple[1].tdFlags) & FLAG_DATA_UNACKNOWLEDGED;
  let timeout = stateTimeout;
  if (ct.retrans >= ctx.tcpConfig.maxRetrans && stateTimeout > t.tcpRetrans) timeout = t.tcpRetrans;
  else if (index === RST_SET) timeout = t.tcpClose;
  else if (unacked && stateTimeout > t.tcpUnack) timeout = t.tcpUnack;
  else if (ct.lastWin === 0 && stateTimeout > t.tcpRetrans) timeout = t.tcpRetrans; // zero window

  if ((ct.status & CtStatus.SEEN_REPLY) === 0) {
    // If the only reply is a RST, there is no connection: delete the entry now.
    if (flags & TCP_RST) {
      ctx.kill(ct);
      return L4Verdict.ACCEPT;
    }
    // A retransmitted SYN does not renew the timeout (port reuse must not keep an entry alive).
    if (index === SYN_SET && oldState === TcpCt.SYN_SENT) return L4Verdict.ACCEPT;
    // ESTABLISHED without a reply: a mid-stream pickup; no 5-day timeout.
    if (newState === TcpCt.ESTABLISHED && timeout > t.tcpUnack) timeout = t.tcpUnack;
  } else if (
    (ct.status & CtStatus.ASSURED) === 0 &&
    (oldState === TcpCt.SYN_RECV || oldState === TcpCt.ESTABLISHED) &&
    newState === TcpCt.ESTABLISHED
  ) {
    // A valid ACK in ESTABLISHED after SYN_RECV, or an answer for a picked-up connection.
    ct.status |= CtStatus.ASSURED;
  }
  ctx.refresh(ct, timeout);
  return L4Verdict.ACCEPT;
}
