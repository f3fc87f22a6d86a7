import { formatIpv4, formatMac } from '../wire/addr.js';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ethDst, ethSrc, ethType } from '../wire/ethernet.js';
import { arpOp, arpSenderIp, arpTargetIp } from '../wire/arp.js';
import { ipv4DontFragment, ipv4Dst, ipv4HeaderLen, ipv4Protocol, ipv4Src, ipv4TotalLength, ipv4Ttl } from '../wire/ipv4.js';
import { read16 } from '../wire/bytes.js';

/** A one-line, tcpdump-like description of an Ethernet frame (for traces). */
export function describeFrame(b: Uint8Array, off: number, len: number): string {
  const eth = `${formatMac(ethSrc(b, off))} > ${formatMac(ethDst(b, off))}`;
  const type = ethType(b, off);
  const ip = off + ETH_HLEN;
  if (type === ETHERTYPE_ARP && len >= ETH_HLEN + 28) {
    const op = arpOp(b, ip);
    const what = op === 1 ? `who-has ${formatIpv4(arpTargetIp(b, ip))} tell ${formatIpv4(arpSenderIp(b, ip))}` : `${formatIpv4(arpSenderIp(b, ip))} is-at ${formatMac(readMacAt(b, ip + 8))}`;
    return `${eth} ARP ${what}`;
  }
  if (type !== ETHERTYPE_IPV4 || len < ETH_HLEN + 20) return `${eth} ethertype 0x${type.toString(16).padStart(4, '0')} length ${len}`;
  return `${eth} ${describeIpv4(b, ip)}`;
}

/** "10.0.0.1 > 10.0.0.2 ICMP echo request id 1 seq 1, ttl 64, DF, length 84" */
export function describeIpv4(b: Uint8Array, ip: number): string {
  const src = formatIpv4(ipv4Src(b, ip));
  const dst = formatIpv4(ipv4Dst(b, ip));
  const proto = ipv4Protocol(b, ip);
  const t = ip + ipv4HeaderLen(b, ip);
  let l4: string;
  if (proto === 1) {
    const type = b[t]!;
    const code = b[t + 1]!;
    l4 =
      type === 8 || type === 0
        ? `ICMP echo ${type === 8 ? 'request' : 'reply'} id ${read16(b, t + 4)} seq ${read16(b, t + 6)}`
        : `ICMP type ${type} code ${code}`;
  } else if (proto === 17) {
    l4 = `UDP ${src}:${read16(b, t)} > ${dst}:${read16(b, t + 2)}`;
    return `${l4}, ttl ${ipv4Ttl(b, ip)}${ipv4DontFragment(b, ip) ? ', DF' : ''}, length ${ipv4TotalLength(b, ip)}`;
  } else if (proto === 6) {
    const flags = b[t + 13]!;
    const names = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'].filter((_, i) => flags & (1 << i)).join(',');
    l4 = `TCP ${src}:${read16(b, t)} > ${dst}:${read16(b, t + 2)} [${names}]`;
    return `${l4}, ttl ${ipv4Ttl(b, ip)}${ipv4DontFragment(b, ip) ? ', DF' : ''}, length ${ipv4TotalLength(b, ip)}`;
  } else {
    l4 = `proto ${proto}`;
  }
  return `${src} > ${dst} ${l4}, ttl ${ipv4Ttl(b, ip)}${ipv4DontFragment(b, ip) ? ', DF' : ''}, length ${ipv4TotalLength(b, ip)}`;
}

function readMacAt(b: Uint8Array, off: number): number {
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 256 + b[off + i]!;
  return v;
}
