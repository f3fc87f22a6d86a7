import type { IpSendOptions, Netns } from '../netns.js';
import type { TxOwner } from '../../packet.js';
import { ETH_HLEN } from '../../wire/ethernet.js';
import { IPPROTO_TCP, IPV4_HEADER_LEN } from '../../wire/ipv4.js';
import { type TcpEmitOptions, type TcpOptions, type TcpRepr, emitTcp, tcpBufferLen } from '../../wire/tcp.js';

const NO_OPTIONS: TcpOptions = {};
/**
 * Byte k is k & 0xff, for any payload (at most 64 KiB) from any point of
 * its 256-byte period: a segment's payload is copied out of it, not written
 * a byte at a time.
 */
const STREAM_PATTERN = Uint8Array.from({ length: 65536 + 256 }, (_, k) => k & 0xff);

/**
 * Prefix sums of the pattern's 16-bit words: WORDS_FROM_EVEN[m] adds the
 * words at offsets 0, 2, ..., 2m - 2, WORDS_FROM_ODD[m] those at 1, 3, ...,
 * 2m - 1. A payload's checksum sum is then two reads (patternSum), not a
 * pass over its bytes.
 */
const WORDS_FROM_EVEN = prefixWordSums(0);
const WORDS_FROM_ODD = prefixWordSums(1);

function prefixWordSums(first: number): Float64Array {
  const n = (STREAM_PATTERN.length - 1 - first) >>> 1;
  const sums = new Float64Array(n + 1);
  for (let m = 0; m < n; m++) {
    const i = first + 2 * m;
    sums[m + 1] = sums[m]! + ((STREAM_PATTERN[i]! << 8) | STREAM_PATTERN[i + 1]!);
  }
  return sums;
}

/** onesComplementSum (unfolded) of STREAM_PATTERN[start, start + len): what a payload copied from there sums to. */
export function patternSum(start: number, len: number): number {
  const words = len >>> 1;
  const table = (start & 1) === 0 ? WORDS_FROM_EVEN : WORDS_FROM_ODD;
  const m = start >>> 1;
  let sum = table[m + words]! - table[m]!;
  if ((len & 1) !== 0) sum += STREAM_PATTERN[start + len - 1]! << 8;
  return sum;
}

/** TCP always sets DF (it does path MTU discovery itself). One object for every segment. */
const TCP_IP_OPTS: IpSendOptions = { dontFragment: true };

/**
 * Builds TCP segments and hands them to ip_queue_xmit (Netns.sendIp), as
 * __tcp_transmit_skb does. One writer per TcpLayer: the repr, the timestamp
 * option and the checksum continuation are reused, so sending a segment
 * allocates only the packet.
 *
 * Payload bytes are a deterministic pattern, byte i of the stream being
 * `i & 0xff`: applications deal in byte counts, and a capture still shows
 * the data a retransmission must repeat.
 */
export class SegmentWriter {
  private readonly repr: TcpRepr = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0, urgent: 0, options: NO_OPTIONS };
  private readonly tsOption = { tsval: 0, tsecr: 0 };
  private readonly tsOptions: TcpOptions = { timestamp: this.tsOption };
  private buf: Uint8Array = new Uint8Array(0);
  private tcpOff = 0;
  private dst = 0;
  private payloadLen = 0;
  /** The payload's checksum sum, known from the pattern (patternSum). */
  private readonly emitOpts: TcpEmitOptions = { payloadSum: 0 };
  /** sendIp's `finish(src)`: the checksum needs the source the route chose. Bound once. */
  private readonly finish = (src: number): void => {
    emitTcp(this.repr, this.buf, this.tcpOff, src, this.dst, this.payloadLen, this.emitOpts);
  };
  /** Segments sent (all connections and resets of this layer). */
  segmentsOut = 0;

  constructor(private readonly ns: Netns) {}

  /**
   * Sends one segment. `ts` >= 0 adds the timestamp option (tsval `ts`, tsecr
   * `tsecr`); `options` (the SYN's) replaces it when given. `streamOff` is
   * the stream position of the first payload byte.
   */
  send(
    src: number,
    dst: number,
    srcPort: number,
    dstPort: number,
    seq: number,
    ack: number,
    flags: number,
    window: number,
    ts: number,
    tsecr: number,
    payloadLen: number,
    streamOff: number,
    options?: TcpOptions,
    owner: TxOwner | null = null,
    truesize = 0,
  ): boolean {
    const r = this.repr;
    r.srcPort = srcPort;
    r.dstPort = dstPort;
    r.seq = seq >>> 0;
    r.ack = ack >>> 0;
    r.flags = flags;
    r.window = window;
    if (options !== undefined) r.options = options;
    else if (ts >= 0) {
      this.tsOption.tsval = ts >>> 0;
      this.tsOption.tsecr = tsecr >>> 0;
      r.options = this.tsOptions;
    } else r.options = NO_OPTIONS;
    const hlen = tcpBufferLen(r);
    const pkt = this.ns.newPacket(IPV4_HEADER_LEN + hlen + payloadLen);
    if (owner !== null) {
      pkt.owner = owner;
      pkt.truesize = truesize;
    }
    const b = pkt.buf;
    const tcp = pkt.off + ETH_HLEN + IPV4_HEADER_LEN;
    const data = tcp + hlen;
    const start = streamOff & 0xff;
    if (payloadLen > 0) b.set(STREAM_PATTERN.subarray(start, start + payloadLen), data);
    this.emitOpts.payloadSum = patternSum(start, payloadLen);
    this.buf = b;
    this.tcpOff = tcp;
    this.dst = dst;
    this.payloadLen = payloadLen;
    this.segmentsOut++;
    const ok = this.ns.sendIp(pkt, IPPROTO_TCP, src, dst, TCP_IP_OPTS, this.finish) === null;
    r.options = NO_OPTIONS;
    return ok;
  }
}
