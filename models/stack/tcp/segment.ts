import type { IpSendOptions, Netns } from '../netns.js';
import type { TxOwner } from '../../packet.js';
import { ETH_HLEN } from '../../wire/ethernet.js';
import { IPPROTO_TCP, IPV4_HEADER_LEN } from '../../wire/ipv4.js';
import { type TcpOptions, type TcpRepr, emitTcp, tcpBufferLen } from '../../wire/tcp.js';

const NO_OPTIONS: TcpOptions = {};
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
  /** sendIp's `finish(src)`: the checksum needs the source the route chose. Bound once. */
  private readonly finish = (src: number): void => {
    emitTcp(this.repr, this.buf, this.tcpOff, src, this.dst, this.payloadLen);
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
    for (let i = 0; i < payloadLen; i++) b[data + i] = (streamOff + i) & 0xff;
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
