/**
 * IPv4 fragmentation (RFC 791 section 3.2, "Fragmentation and Reassembly"),
 * after the slow path of ip_do_fragment (net/ipv4/ip_output.c).
 *
 * Each fragment gets a copy of the header, a payload of at most mtu - ihl
 * bytes rounded down to a multiple of 8 (except the last), the offset of its
 * payload in 8-byte units, MF on all but the last (and on the last too when
 * the datagram was itself a non-last fragment), and a fresh header checksum.
 * The ident, TOS, TTL and protocol are the original's. Options: the first
 * fragment keeps them all; later ones get ip_options_fragment's treatment,
 * every option whose copied flag (RFC 791: bit 0x80 of the type) is clear is
 * overwritten with NOOPs, so the header length stays the same. podwire's
 * stack emits no options, so this only matters for crafted packets.
 *
 * Fragments are new Packets that keep the original's `id` and `bornAt` (like
 * Packet.clone): a trace follows the datagram into its fragments, and latency
 * is measured from when the datagram was made. ip_copy_metadata's share of
 * skb state (pkt_type, mark, conntrack, input device) is copied; the caller
 * sets the route.
 */
import { Packet } from '../packet.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { write16 } from '../wire/bytes.js';
import {
  IPV4_HEADER_LEN,
  fillIpv4Checksum,
  ipv4FragmentOffset,
  ipv4HeaderLen,
  ipv4MoreFragments,
  ipv4TotalLength,
  setIpv4TotalLength,
} from '../wire/ipv4.js';

/** Offset of the flags / fragment offset word in the IPv4 header. */
const FLG_OFF = 6;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
/** Option types (RFC 791): end of list, no operation; the copied flag. */
const IPOPT_END = 0;
const IPOPT_NOOP = 1;
const IPOPT_COPY = 0x80;

/** IPSTATS_MIB_FRAGOKS / FRAGFAILS / FRAGCREATES (`nstat`: IpFragOKs, IpFragFails, IpFragCreates). */
export interface FragStats {
  fragOKs: number;
  fragFails: number;
  fragCreates: number;
}

export function newFragStats(): FragStats {
  return { fragOKs: 0, fragFails: 0, fragCreates: 0 };
}

/**
 * Splits the IPv4 datagram in `pkt` (Ethernet header first) into fragments
 * whose IP total length is at most `mtu`. Returns null when the header leaves
 * fewer than 8 payload bytes per fragment (ip_do_fragment's -EINVAL). DF is
 * the caller's business (ip_fragment sends frag-needed instead); fragments
 * carry DF only when `pmtu` is set (IPSKB_FRAG_PMTU: the datagram was
 * reassembled from DF fragments), otherwise the flags word is rebuilt from
 * the offset and MF alone, as ip_do_fragment does.
 */
export function ipFragment(pkt: Packet, mtu: number, pmtu = false): Packet[] | null {
  const b = pkt.buf;
  const ip = pkt.off + ETH_HLEN;
  const hlen = ipv4HeaderLen(b, ip);
  const room = mtu - hlen;
  if (room < 8) return null;
  const total = ipv4TotalLength(b, ip);
  const baseOffset = ipv4FragmentOffset(b, ip);
  const notLastFrag = ipv4MoreFragments(b, ip);
  const frags: Packet[] = [];
  let left = total - hlen;
  let pos = 0; // payload bytes already emitted
  while (left > 0) {
    let len = left > room ? room : left;
    // "IF: it doesn't fit, use 'mtu' - the data space left. Align the next start on an eight byte boundary."
    if (len < left) len &= ~7;
    const f = Packet.alloc(ETH_HLEN + hlen + len, pkt.id, pkt.bornAt);
    const fb = f.buf;
    const fip = f.off + ETH_HLEN;
    fb.set(b.subarray(pkt.off, ip + hlen), f.off);
    if (pos > 0 && hlen > IPV4_HEADER_LEN) optionsFragment(fb, fip, hlen);
    fb.set(b.subarray(ip + hlen + pos, ip + hlen + pos + len), fip + hlen);
    left -= len;
    const more = left > 0 || notLastFrag;
    write16(fb, fip + FLG_OFF, (pmtu ? FLAG_DF : 0) | (more ? FLAG_MF : 0) | ((baseOffset + pos) >>> 3));
    setIpv4TotalLength(fb, fip, hlen + len);
    fillIpv4Checksum(fb, fip);
    f.copyMetadata(pkt);
    frags.push(f);
    pos += len;
  }
  pkt.orphan(); // the datagram is consumed; its fragments are not charged to its socket
  return frags;
}

/** ip_options_fragment: options without the copied flag become NOOPs in non-first fragments. */
function optionsFragment(buf: Uint8Array, ip: number, hlen: number): void {
  let i = ip + IPV4_HEADER_LEN;
  const end = ip + hlen;
  while (i < end) {
    const type = buf[i]!;
    if (type === IPOPT_END) return;
    if (type === IPOPT_NOOP) {
      i++;
      continue;
    }
    const optlen = i + 1 < end ? buf[i + 1]! : 0;
    if (optlen < 2 || i + optlen > end) return; // malformed: leave the rest as it is
    if ((type & IPOPT_COPY) === 0) buf.fill(IPOPT_NOOP, i, i + optlen);
    i += optlen;
  }
}

