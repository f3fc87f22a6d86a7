/**
 * The tracked connection (struct nf_conn) and its two hash nodes (struct
 * nf_conntrack_tuple_hash), as the table links them.
 *
 * A connection owns exactly three objects: itself and its two tuples. The
 * tuples double as hash-chain nodes (`hnext`) and carry the per-direction TCP
 * bookkeeping (ct->proto.tcp.seen[dir]), so tracking a connection allocates
 * nothing more.
 */
import { CtDir, CtStatus, type Conn, type Tuple } from '../types.js';
import { TCP_STATE_NAMES } from './tcp.js';

/** One direction's tuple, linked into a hash chain of the table (nf_conntrack_tuple_hash). */
export class TupleHash implements Tuple {
  src = 0;
  dst = 0;
  protocol = 0;
  srcPort = 0;
  dstPort = 0;
  /** Next node in the same bucket. */
  hnext: TupleHash | null = null;
  /** True while linked into the table. */
  hashed = false;

  /*
   * ct->proto.tcp.seen[dir] (struct ip_ct_tcp_state) for the sender of this
   * direction, without the window fields podwire does not check (tcp.ts).
   */
  /** td_end: highest seq + len sent by this side. */
  tdEnd = 0;
  /** td_maxwin: 0 = this side not initialised yet (the kernel's test). */
  tdMaxwin = 0;
  /** td_maxack: highest ACK sent by this side (valid with IP_CT_TCP_FLAG_MAXACK_SET). */
  tdMaxack = 0;
  /** IP_CT_TCP_FLAG_* */
  tdFlags = 0;

  constructor(
    readonly ct: TrackedConn,
    readonly dir: CtDir,
  ) {}
}

/** struct nf_conn, the parts podwire models. */
export class TrackedConn implements Conn {
  readonly tuple: [TupleHash, TupleHash];
  status = 0;
  mark = 0;
  /**
   * Absolute expiry (ns). While unconfirmed the kernel keeps a relative
   * timeout and adds the confirmation time (__nf_conntrack_confirm); podwire
   * keeps that in `timeoutRel` and this field as now + timeoutRel.
   */
  expiresAt = 0;
  timeoutRel = 0;

  /** ct->proto.tcp: enum tcp_conntrack (tcp.ts) and the last-packet fields; seen[] lives in the tuples. */
  tcpStateNum = 0;
  lastIndex = 0;
  lastDir = 0;
  lastSeq = 0;
  lastAck = 0;
  lastEnd = 0;
  lastWin = 0;
  lastFlags = 0;
  retrans = 0;

  /** ct->proto.udp.stream_ts: the time after which a replied flow counts as a stream. */
  udpStreamTs = 0;

  /** Link in the NAT by-source chain (nf_nat_bysource), once SRC_NAT_DONE and confirmed. */
  natNext: TrackedConn | null = null;
  natHashed = false;

  constructor(orig: Tuple) {
    const o = new TupleHash(this, CtDir.ORIGINAL);
    const r = new TupleHash(this, CtDir.REPLY);
    o.src = orig.src;
    o.dst = orig.dst;
    o.protocol = orig.protocol;
    o.srcPort = orig.srcPort;
    o.dstPort = orig.dstPort;
    this.tuple = [o, r];
  }

  get protocol(): number {
    return this.tuple[0].protocol;
  }

  get confirmed(): boolean {
    return (this.status & CtStatus.CONFIRMED) !== 0;
  }

  get dying(): boolean {
    return (this.status & CtStatus.DYING) !== 0;
  }

  /** TCP state as `conntrack -L` prints it; '' for other protocols. */
  get tcpState(): string {
    return this.tuple[0].protocol === 6 ? TCP_STATE_NAMES[this.tcpStateNum]! : '';
  }
}

/** Narrows a Conn from an NfPacket to one this module created. */
export function asTracked(c: Conn | null): TrackedConn | null {
  return c instanceof TrackedConn ? c : null;
}
