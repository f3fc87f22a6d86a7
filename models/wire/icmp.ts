/**
 * ICMP for IPv4 (RFC 792): echo request/reply and the error messages a
 * forwarding path sends (destination unreachable, time exceeded). Type and
 * code names follow include/uapi/linux/icmp.h.
 */
import { read16, write16 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { checkLen, hex16, WireError } from './errors.js';
import { IPV4_HEADER_LEN, ipv4TotalLength } from './ipv4.js';

export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;

/** Codes for ICMP_DEST_UNREACH. */
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
/** Communication administratively prohibited (RFC 1812 5.2.7.1; REJECT --reject-with icmp-admin-prohibited). */
export const ICMP_PKT_FILTERED = 13;

/** Codes for ICMP_TIME_EXCEEDED. */
export const ICMP_EXC_TTL = 0;
export const ICMP_EXC_FRAGTIME = 1;

/** RFC 792: an error quotes the original IP header plus at least 64 bits of its data. */
export const ICMP_MIN_QUOTE_LEN = IPV4_HEADER_LEN + 8;

const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
const IDENT = 4; // echo
const SEQ = 6; // echo
const UNUSED = 4; // errors: 32 bits, of which ...
const MTU = 6; // ... the low 16 are the next-hop MTU for frag-needed (RFC 1191)

export function icmpType(buf: Uint8Array, off: number): number {
  return buf[off + TYPE]!;
}
export function icmpCode(buf: Uint8Array, off: number): number {
  return buf[off + CODE]!;
}
export function icmpChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + CHECKSUM);
}
export function icmpEchoIdent(buf: Uint8Array, off: number): number {
  return read16(buf, off + IDENT);
}
export function icmpEchoSeq(buf: Uint8Array, off: number): number {
  return read16(buf, off + SEQ);
}
export function icmpNextHopMtu(buf: Uint8Array, off: number): number {
  return read16(buf, off + MTU);
}

export interface IcmpEchoRepr {
  type: typeof ICMP_ECHO | typeof ICMP_ECHOREPLY;
  code: number;
  ident: number;
  seq: number;
  /** parse returns a view into the packet. */
  payload: Uint8Array;
}

export interface IcmpErrorRepr {
  type: typeof ICMP_DEST_UNREACH | typeof ICMP_TIME_EXCEEDED;
  code: number;
  /** Next-hop MTU; present only for ICMP_DEST_UNREACH / ICMP_FRAG_NEEDED. */
  mtu?: number;
  /** The original IP header and the start of its data; parse returns a view. */
  quoted: Uint8Array;
}

export type IcmpRepr = IcmpEchoRepr | IcmpErrorRepr;

export function isIcmpEcho(repr: IcmpRepr): repr is IcmpEchoRepr {
  return repr.type === ICMP_ECHO || repr.type === ICMP_ECHOREPLY;
}

export interface IcmpParseOptions {
  /** Default true. */
  verifyChecksum?: boolean;
}

/** `len` is the ICMP message length (the IP payload length). */
export function parseIcmp(buf: Uint8Array, off: number, len: number, opts: IcmpParseOptions = {}): IcmpRepr {
  checkLen('icmp', 'header', len, ICMP_HEADER_LEN);
  if ((opts.verifyChecksum ?? true) && internetChecksum(buf, off, len) !== 0) {
    throw new WireError('icmp', 'checksum', `${hex16(icmpChecksum(buf, off))} is wrong`);
  }
  const type = icmpType(buf, off);
  const code = icmpCode(buf, off);
  const body = buf.subarray(off + ICMP_HEADER_LEN, off + len);
  switch (type) {
    case ICMP_ECHO:
    case ICMP_ECHOREPLY:
      return { type, code, ident: icmpEchoIdent(buf, off), seq: icmpEchoSeq(buf, off), payload: body };
    case ICMP_DEST_UNREACH:
    case ICMP_TIME_EXCEEDED: {
      if (body.length < ICMP_MIN_QUOTE_LEN) {
        const detail = `${body.length} bytes, need at least ${ICMP_MIN_QUOTE_LEN} (IP header + 8)`;
        throw new WireError('icmp', 'quoted datagram', detail);
      }
      const repr: IcmpErrorRepr = { type, code, quoted: body };
      if (type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED) repr.mtu = icmpNextHopMtu(buf, off);
      return repr;
    }
    default:
      throw new WireError('icmp', 'type', `${type} is not supported (echo, echo reply, unreachable, time exceeded)`);
  }
}

/** Bytes emitIcmp writes: header plus payload or quote. */
export function icmpBufferLen(repr: IcmpRepr): number {
  return ICMP_HEADER_LEN + (isIcmpEcho(repr) ? repr.payload.length : repr.quoted.length);
}

/**
 * Writes the message and its checksum (over the whole message). The payload
 * or quote is copied to `off + 8`; it may already be there (a view of the same
 * bytes), which TypedArray.prototype.set handles.
 */
export function emitIcmp(repr: IcmpRepr, buf: Uint8Array, off: number): void {
  buf[off + TYPE] = repr.type;
  buf[off + CODE] = repr.code;
  let body: Uint8Array;
  if (isIcmpEcho(repr)) {
    write16(buf, off + IDENT, repr.ident);
    write16(buf, off + SEQ, repr.seq);
    body = repr.payload;
  } else {
    write16(buf, off + UNUSED, 0);
    write16(buf, off + MTU, repr.mtu ?? 0);
    body = repr.quoted;
  }
  buf.set(body, off + ICMP_HEADER_LEN);
  write16(buf, off + CHECKSUM, 0);
  write16(buf, off + CHECKSUM, internetChecksum(buf, off, ICMP_HEADER_LEN + body.length));
}

/**
 * How many bytes of the offending datagram (IP header first) an ICMP error
 * quotes, as __icmp_send in net/ipv4/icmp.c computes it:
 *
 *     room = min(dst_mtu(route back), 576) - sizeof(iphdr) - optlen - sizeof(icmphdr)
 *     data_len = min(skb_in->len - network offset, room)
 *
 * i.e. RFC 1812 4.3.2.3: as much as fits in a 576-byte reply. podwire sends
 * errors without IP options (optlen 0), so at most 548 bytes are quoted. The
 * datagram length is read from the total-length field, which is what
 * skb_in->len is after ip_rcv trimmed the skb. Returns 0 where the kernel
 * sends nothing (`room <= sizeof(struct iphdr)`, a route MTU below 49).
 */
export function icmpErrorQuoteLen(origIpBuf: Uint8Array, off: number, routeMtu = 1500): number {
  const room = Math.min(routeMtu, 576) - IPV4_HEADER_LEN - ICMP_HEADER_LEN;
  if (room <= IPV4_HEADER_LEN) return 0;
  return Math.min(ipv4TotalLength(origIpBuf, off), room);
}
