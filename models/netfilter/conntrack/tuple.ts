/**
 * Operations on conntrack tuples (struct nf_conntrack_tuple, flattened into
 * the `Tuple` of ../types.ts): equality, inversion, hashing, printing.
 *
 * The "ports" follow the kernel's union nf_conntrack_man_proto:
 * - TCP/UDP: source and destination port.
 * - ICMP: srcPort is the echo identifier (src.u.icmp.id) and dstPort is
 *   type << 8 | code (dst.u.icmp.type, dst.u.icmp.code, the two bytes of
 *   dst.u.all). Inverting keeps the identifier and maps the query type to its
 *   reply (nf_conntrack_invert_icmp_tuple, nf_conntrack_proto_icmp.c).
 * - Anything else (the generic tracker): both 0.
 *
 * Functions write into caller-owned tuples so the per-packet path allocates
 * nothing.
 */
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../../wire/ipv4.js';
import { formatIpv4 } from '../../wire/addr.js';
import type { Tuple } from '../types.js';

/** A blank tuple (for scratch use). */
export function emptyTuple(): Tuple {
  return { src: 0, dst: 0, protocol: 0, srcPort: 0, dstPort: 0 };
}

export function tupleEqual(a: Tuple, b: Tuple): boolean {
  return (
    a.src === b.src &&
    a.dst === b.dst &&
    a.srcPort === b.srcPort &&
    a.dstPort === b.dstPort &&
    a.protocol === b.protocol
  );
}

export function copyTuple(to: Tuple, from: Tuple): void {
  to.src = from.src;
  to.dst = from.dst;
  to.protocol = from.protocol;
  to.srcPort = from.srcPort;
  to.dstPort = from.dstPort;
}

/**
 * ICMP query types and their answers, as invmap in nf_conntrack_proto_icmp.c
 * stores them (value + 1; 0 = no inverse): echo, timestamp, info, address mask.
 */
const ICMP_INVERSE = new Int16Array(19).fill(-1);
ICMP_INVERSE[8] = 0;
ICMP_INVERSE[0] = 8;
ICMP_INVERSE[13] = 14;
ICMP_INVERSE[14] = 13;
ICMP_INVERSE[15] = 16;
ICMP_INVERSE[16] = 15;
ICMP_INVERSE[17] = 18;
ICMP_INVERSE[18] = 17;

/**
 * nf_ct_invert_tuple: writes the tuple of the other direction into `out`
 * (which may be `t` itself). Returns false where the kernel cannot invert
 * (an ICMP type with no answer, e.g. an error), as init_conntrack then
 * refuses to track the packet.
 */
export function invertTuple(out: Tuple, t: Tuple): boolean {
  const src = t.src;
  const dst = t.dst;
  const sport = t.srcPort;
  const dport = t.dstPort;
  out.protocol = t.protocol;
  out.src = dst;
  out.dst = src;
  if (t.protocol === IPPROTO_ICMP) {
    const type = dport >>> 8;
    const inv = type < ICMP_INVERSE.length ? ICMP_INVERSE[type]! : -1;
    if (inv < 0) return false;
    out.srcPort = sport;
    out.dstPort = (inv << 8) | (dport & 0xff);
    return true;
  }
  out.srcPort = dport;
  out.dstPort = sport;
  return true;
}

/** True for the protocols whose tuple carries ports (the generic tracker's does not). */
export function hasPorts(protocol: number): boolean {
  return protocol === IPPROTO_TCP || protocol === IPPROTO_UDP;
}

/** One MurmurHash3 (x86_32) block round. */
function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * A 32-bit hash of the tuple fields (hash_conntrack_raw), as a signed int32. The kernel uses
 * siphash with a per-boot random key; here the key is drawn once from the
 * namespace's random stream, so bucket placement (which decides what
 * early_drop finds) is random like the kernel's but reproducible per seed.
 */
export function hashTupleFields(seed: number, src: number, dst: number, protocol: number, sport: number, dport: number): number {
  let h = seed | 0;
  h = mix(h, src | 0);
  h = mix(h, dst | 0);
  h = mix(h, ((sport << 16) | dport) | 0);
  h = mix(h, protocol);
  h ^= 16;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0; // int32: stays a small integer in V8 (no heap number per lookup)
}

export function hashTuple(seed: number, t: Tuple): number {
  return hashTupleFields(seed, t.src, t.dst, t.protocol, t.srcPort, t.dstPort);
}

/**
 * reciprocal_scale (include/linux/kernel.h): (val * n) >> 32 for 32-bit val
 * and n, computed exactly (the 64-bit product does not fit a double).
 */
export function reciprocalScale(val: number, n: number): number {
  val >>>= 0;
  const hi = (val >>> 16) * n; // < 2^48
  const lo = (val & 0xffff) * n; // < 2^48
  const q = Math.floor(hi / 0x10000);
  const r = hi - q * 0x10000;
  return q + Math.floor((r * 0x10000 + lo) / 0x1_0000_0000);
}

/** The protocol name `conntrack -L` prints (__proto2str in libnetfilter_conntrack). */
export function protoName(protocol: number): string {
  switch (protocol) {
    case IPPROTO_TCP:
      return 'tcp';
    case IPPROTO_UDP:
      return 'udp';
    case IPPROTO_ICMP:
      return 'icmp';
    case 132:
      return 'sctp';
    case 47:
      return 'gre';
    case 136:
      return 'udplite';
    case 33:
      return 'dccp';
    default:
      return 'unknown';
  }
}

/**
 * One tuple as `conntrack -L` prints it (__snprintf_address + __snprintf_proto):
 * `src=A dst=B sport=P dport=Q`, or `src=A dst=B type=T code=C id=I` for ICMP.
 */
export function formatTuple(t: Tuple): string {
  const addrs = `src=${formatIpv4(t.src)} dst=${formatIpv4(t.dst)}`;
  if (hasPorts(t.protocol)) return `${addrs} sport=${t.srcPort} dport=${t.dstPort}`;
  if (t.protocol === IPPROTO_ICMP) return `${addrs} type=${t.dstPort >>> 8} code=${t.dstPort & 0xff} id=${t.srcPort}`;
  return addrs;
}
