/**
 * Rewriting packets for a NAT binding (net/netfilter/nf_nat_proto.c):
 * nf_nat_ipv4_manip_pkt with the per-protocol manip functions, and
 * nf_nat_icmp_reply_translation for ICMP errors about a NATed connection.
 *
 * Bytes are rewritten in place and checksums patched incrementally (RFC
 * 1624, the kernel's csum_replace4/inet_proto_csum_replace2): the IP header
 * checksum, and the TCP/UDP checksum for the pseudo-header address and the
 * port. A UDP checksum of 0 ("none") stays 0, and a patched one that comes
 * out 0 is sent as 0xffff (CSUM_MANGLED_0). Packets are assumed to carry
 * complete checksums (the kernel's non-CHECKSUM_PARTIAL case).
 */
import { read16, write16 } from '../../wire/bytes.js';
import { checksumReplace16, checksumReplace32, internetChecksum } from '../../wire/checksum.js';
import { ICMP_HEADER_LEN } from '../../wire/icmp.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ipv4Dst, ipv4HeaderLen, ipv4Src, setIpv4Dst, setIpv4Src } from '../../wire/ipv4.js';
import { CtStatus, type Tuple } from '../types.js';
import type { TrackedConn } from './conn.js';
import { ICMP_REDIRECT, icmpIsQuery } from './icmp.js';
import type { NatManip } from './nat.js';
import { invertTuple } from './tuple.js';

const NAT_MASK = CtStatus.SRC_NAT | CtStatus.DST_NAT;
const NAT_DONE_MASK = CtStatus.SRC_NAT_DONE | CtStatus.DST_NAT_DONE;

/** Does a packet in direction `dir` need the `manip` rewrite? (the statusbit test of nf_nat_packet) */
export function natNeeded(ct: TrackedConn, dir: number, manip: NatManip): boolean {
  let bit: number = manip === 'src' ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
  if (dir === 1) bit ^= NAT_MASK; // a reply undoes the other manipulation
  return (ct.status & bit) !== 0;
}

/**
 * nf_nat_ipv4_manip_pkt: make the IP header at `ipOff` (and its transport
 * header) carry `target`'s source (manip 'src') or destination ('dst').
 * `end` bounds the packet (skb->len): a transport header cut short, as in
 * an ICMP error's quote, gets its port rewritten but not its checksum, as
 * tcp_manip_pkt does with only 8 bytes. Returns false if even that is missing.
 */
export function manipIpv4(buf: Uint8Array, ipOff: number, end: number, target: Tuple, manip: NatManip): boolean {
  if (ipOff + 20 > end) return false;
  const hdrOff = ipOff + ipv4HeaderLen(buf, ipOff);
  const oldAddr = manip === 'src' ? ipv4Src(buf, ipOff) : ipv4Dst(buf, ipOff);
  const newAddr = manip === 'src' ? target.src : target.dst;
  const portOff = hdrOff + (manip === 'src' ? 0 : 2);

  switch (target.protocol) {
    case IPPROTO_TCP: {
      // TCP connection tracking guarantees 8 bytes; the checksum is at 16.
      if (hdrOff + 8 > end) return false;
      const newPort = manip === 'src' ? target.srcPort : target.dstPort;
      const oldPort = read16(buf, portOff);
      write16(buf, portOff, newPort);
      if (hdrOff + 20 <= end) {
        let check = read16(buf, hdrOff + 16);
        check = checksumReplace32(check, oldAddr, newAddr);
        check = checksumReplace16(check, oldPort, newPort);
        write16(buf, hdrOff + 16, check);
      }
      break;
    }
    case IPPROTO_UDP: {
      if (hdrOff + 8 > end) return false;
      const newPort = manip === 'src' ? target.srcPort : target.dstPort;
      const oldPort = read16(buf, portOff);
      let check = read16(buf, hdrOff + 6);
      if (check !== 0) {
        check = checksumReplace32(check, oldAddr, newAddr);
        check = checksumReplace16(check, oldPort, newPort);
        write16(buf, hdrOff + 6, check === 0 ? 0xffff : check);
      }
      write16(buf, portOff, newPort);
      break;
    }
    case IPPROTO_ICMP: {
      if (hdrOff + ICMP_HEADER_LEN > end) return false;
      // Only queries carry an identifier; an error's bytes 4-7 are not touched.
      if (icmpIsQuery(buf[hdrOff]!)) {
        const oldId = read16(buf, hdrOff + 4);
        write16(buf, hdrOff + 2, checksumReplace16(read16(buf, hdrOff + 2), oldId, target.srcPort));
        write16(buf, hdrOff + 4, target.srcPort);
      }
      break;
    }
    default:
      break; // unknown protocol: addresses only
  }

  if (manip === 'src') setIpv4Src(buf, ipOff, newAddr);
  else setIpv4Dst(buf, ipOff, newAddr);
  return true;
}

/**
 * nf_nat_manip_pkt: rewrite a packet of direction `dir` to look like the
 * inverse of the other direction's tuple.
 */
export function manipPacket(
  buf: Uint8Array,
  ipOff: number,
  end: number,
  ct: TrackedConn,
  dir: number,
  manip: NatManip,
  scratch: Tuple,
): boolean {
  invertTuple(scratch, ct.tuple[1 - dir]!);
  return manipIpv4(buf, ipOff, end, scratch, manip);
}

/**
 * nf_nat_icmp_reply_translation: an ICMP error RELATED to `ct` travelling in
 * direction `dir`. The quoted datagram is rewritten with the opposite
 * manipulation (it travelled the other way), the ICMP checksum recomputed,
 * then the outer header rewritten like any packet of that direction.
 * Returns false where the kernel drops the packet.
 */
export function icmpReplyTranslation(
  buf: Uint8Array,
  ipOff: number,
  end: number,
  ct: TrackedConn,
  dir: number,
  manip: NatManip,
  scratch: Tuple,
): boolean {
  const hdrlen = ipv4HeaderLen(buf, ipOff);
  const icmpOff = ipOff + hdrlen;
  // An ICMP header and an inner IP header must be there.
  if (icmpOff + ICMP_HEADER_LEN + 20 > end) return false;
  // nf_ip_checksum: a corrupt ICMP message is dropped.
  if (internetChecksum(buf, icmpOff, end - icmpOff) !== 0) return false;

  if (buf[icmpOff] === ICMP_REDIRECT) {
    // Redirects only make sense for connections without NAT.
    if ((ct.status & NAT_DONE_MASK) !== NAT_DONE_MASK) return false;
    if (ct.status & NAT_MASK) return false;
  }
  if (!natNeeded(ct, dir, manip)) return true;

  // The quoted datagram: rewritten as the other direction's tuple, opposite manip.
  const inner = ct.tuple[1 - dir]!;
  if (!manipIpv4(buf, icmpOff + ICMP_HEADER_LEN, end, inner, manip === 'src' ? 'dst' : 'src')) return false;

  write16(buf, icmpOff + 2, 0);
  write16(buf, icmpOff + 2, internetChecksum(buf, icmpOff, end - icmpOff));

  // The outer header: like the reply to an incoming packet.
  invertTuple(scratch, inner);
  scratch.protocol = IPPROTO_ICMP;
  return manipIpv4(buf, ipOff, end, scratch, manip);
}
