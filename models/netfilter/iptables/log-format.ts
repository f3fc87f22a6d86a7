/**
 * The text netfilter's syslog logger writes for an IPv4 packet
 * (net/netfilter/nf_log_syslog.c: nf_log_dump_packet_common,
 * dump_ipv4_mac_header, dump_ipv4_packet), after the prefix:
 *
 *     IN=eth0 OUT= MAC=0a:58:..:08:00 SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1
 *
 * Used by -j LOG and by TRACE. Fields end with a space, as the kernel's do.
 */
import type { NfPacket } from '../types.js';
import { formatIpv4 } from '../../wire/addr.js';
import { read16, read32 } from '../../wire/bytes.js';
import { ipv4Dst, ipv4HeaderLen, ipv4Ident, ipv4Protocol, ipv4Src, ipv4TotalLength, ipv4Ttl } from '../../wire/ipv4.js';

/** NF_LOG_* flags (include/uapi/linux/netfilter/nf_log.h). */
export const NF_LOG_TCPSEQ = 0x01;
export const NF_LOG_TCPOPT = 0x02;
export const NF_LOG_IPOPT = 0x04;
export const NF_LOG_UID = 0x08;
export const NF_LOG_MACDECODE = 0x20;

const IP_CE = 0x8000;
const IP_DF = 0x4000;
const IP_MF = 0x2000;
const IP_OFFSET = 0x1fff;

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function hex2u(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

/** nf_log_ip_packet without the prefix. */
export function formatLogPacket(p: NfPacket, logflags: number): string {
  let m = `IN=${p.inDev?.name ?? ''} OUT=${p.outDev?.name ?? ''} `;
  if (p.physIn !== null && p.physIn !== p.inDev) m += `PHYSIN=${p.physIn.name} `;
  if (p.physOut !== null && p.physOut !== p.outDev) m += `PHYSOUT=${p.physOut.name} `;
  const pkt = p.pkt;
  const buf = pkt.buf;
  if (p.inDev !== null) {
    const macLen = p.ipOff - pkt.off;
    if (logflags & NF_LOG_MACDECODE && macLen >= 14) {
      const mac = (o: number) => Array.from(buf.subarray(o, o + 6), hex2).join(':');
      m += `MACSRC=${mac(pkt.off + 6)} MACDST=${mac(pkt.off)} MACPROTO=${hex2(buf[pkt.off + 12]!)}${hex2(buf[pkt.off + 13]!)} `;
    } else {
      m += 'MAC=';
      if (macLen >= 14) m += Array.from(buf.subarray(pkt.off, pkt.off + 14), hex2).join(':');
      m += ' ';
    }
  }
  const end = pkt.off + pkt.len;
  m += dumpIpv4(buf, p.ipOff, end, logflags, true);
  if (pkt.mark !== 0) m += `MARK=0x${pkt.mark.toString(16)} `;
  return m;
}

/** dump_ipv4_packet; `outer` is false for the header an ICMP error quotes. */
function dumpIpv4(buf: Uint8Array, ip: number, end: number, logflags: number, outer: boolean): string {
  if (end - ip < 20) return 'TRUNCATED';
  let m = `SRC=${formatIpv4(ipv4Src(buf, ip))} DST=${formatIpv4(ipv4Dst(buf, ip))} `;
  const tos = buf[ip + 1]!;
  m += `LEN=${ipv4TotalLength(buf, ip)} TOS=0x${hex2u(tos & 0x1e)} PREC=0x${hex2u(tos & 0xe0)} TTL=${ipv4Ttl(buf, ip)} ID=${ipv4Ident(buf, ip)} `;
  const frag = read16(buf, ip + 6);
  if (frag & IP_CE) m += 'CE ';
  if (frag & IP_DF) m += 'DF ';
  if (frag & IP_MF) m += 'MF ';
  const fragoff = frag & IP_OFFSET;
  if (fragoff) m += `FRAG:${fragoff} `;
  const ihl = ipv4HeaderLen(buf, ip);
  if (logflags & NF_LOG_IPOPT && ihl > 20) {
    if (ip + ihl > end) return `${m}TRUNCATED`;
    m += `OPT (${Array.from(buf.subarray(ip + 20, ip + ihl), hex2u).join('')}) `;
  }
  const th = ip + ihl;
  const avail = end - th;
  switch (ipv4Protocol(buf, ip)) {
    case 6: {
      m += 'PROTO=TCP ';
      if (fragoff) break;
      if (avail < 20) return `${m}INCOMPLETE [${avail} bytes] `;
      m += `SPT=${read16(buf, th)} DPT=${read16(buf, th + 2)} `;
      if (logflags & NF_LOG_TCPSEQ) m += `SEQ=${read32(buf, th + 4)} ACK=${read32(buf, th + 8)} `;
      m += `WINDOW=${read16(buf, th + 14)} `;
      // The 4 reserved bits between data offset and flags (TCP_RESERVED_BITS >> 22).
      m += `RES=0x${hex2((buf[th + 12]! & 0x0f) << 2)} `;
      const f = buf[th + 13]!;
      const names: [number, string][] = [[0x80, 'CWR'], [0x40, 'ECE'], [0x20, 'URG'], [0x10, 'ACK'], [0x08, 'PSH'], [0x04, 'RST'], [0x02, 'SYN'], [0x01, 'FIN']];
      for (const [bit, n] of names) if (f & bit) m += `${n} `;
      m += `URGP=${read16(buf, th + 18)} `;
      const doff = (buf[th + 12]! >>> 4) * 4;
      if (logflags & NF_LOG_TCPOPT && doff > 20) {
        if (th + doff > end) return `${m}OPT (TRUNCATED)`;
        m += `OPT (${Array.from(buf.subarray(th + 20, th + doff), hex2u).join('')}) `;
      }
      break;
    }
    case 17: {
      m += 'PROTO=UDP ';
      if (fragoff) break;
      if (avail < 8) return `${m}INCOMPLETE [${avail} bytes] `;
      m += `SPT=${read16(buf, th)} DPT=${read16(buf, th + 2)} LEN=${read16(buf, th + 4)} `;
      break;
    }
    case 1: {
      m += 'PROTO=ICMP ';
      if (fragoff) break;
      if (avail < 8) {
        m += `INCOMPLETE [${avail} bytes] `;
        break;
      }
      const type = buf[th]!;
      const code = buf[th + 1]!;
      m += `TYPE=${type} CODE=${code} `;
      if (type === 0 || type === 8) m += `ID=${read16(buf, th + 4)} SEQ=${read16(buf, th + 6)} `;
      else if (type === 12) m += `PARAMETER=${buf[th + 4]} `;
      else if (type === 3 || type === 4 || type === 5 || type === 11) {
        if (avail < 8 + 20) {
          m += `INCOMPLETE [${avail} bytes] `;
          break;
        }
        if (type === 5) m += `GATEWAY=${formatIpv4(read32(buf, th + 4))} `;
        if (outer) m += `[${dumpIpv4(buf, th + 8, end, logflags, false)}] `;
        if (type === 3 && code === 4) m += `MTU=${read16(buf, th + 6)} `;
      }
      break;
    }
    default:
      m += `PROTO=${ipv4Protocol(buf, ip)} `;
  }
  return m;
}
