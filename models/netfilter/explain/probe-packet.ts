/**
 * The packet a trace follows: a connection's first packet as a client sends
 * it (a TCP SYN, a UDP datagram, an ICMP echo request), built as real bytes
 * with the models/wire emitters, so the rule engine, connection tracking and
 * NAT read and rewrite it exactly as they do in the simulator.
 */
import { Packet } from '../../packet.js';
import { formatIpv4 } from '../../wire/addr.js';
import { read16 } from '../../wire/bytes.js';
import { emitEthernet, ETH_HLEN, ETHERTYPE_IPV4 } from '../../wire/ethernet.js';
import { emitIcmp, ICMP_ECHO, ICMP_HEADER_LEN } from '../../wire/icmp.js';
import { emitIpv4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HEADER_LEN, ipv4Dst, ipv4HeaderLen, ipv4Protocol, ipv4Src } from '../../wire/ipv4.js';
import { emitTcp, TCP_SYN, tcpBufferLen, type TcpRepr } from '../../wire/tcp.js';
import { emitUdp, UDP_HEADER_LEN } from '../../wire/udp.js';

export type ProbeProto = 'tcp' | 'udp' | 'icmp';

export interface ProbeSpec {
  proto: ProbeProto;
  src: number;
  dst: number;
  /** TCP/UDP ports; ignored for ICMP. */
  sport: number;
  dport: number;
}

/** The addresses and ports of a packet as it is now (ports null for other than TCP/UDP). */
export interface Flow {
  proto: number;
  src: number;
  dst: number;
  sport: number | null;
  dport: number | null;
}

/** Linux's first TCP SYN: MSS for a 1500-byte MTU, SACK, timestamps, window scaling (tcp_syn_options). */
function synRepr(spec: ProbeSpec): TcpRepr {
  return {
    srcPort: spec.sport,
    dstPort: spec.dport,
    seq: 1,
    ack: 0,
    flags: TCP_SYN,
    window: 64240,
    urgent: 0,
    options: { mss: 1460, sackPermitted: true, timestamp: { tsval: 1, tsecr: 0 }, wscale: 7 },
  };
}

/** An Ethernet frame carrying the probe; ids and TTL as a fresh Linux socket's (ttl 64, DF). */
export function buildProbe(spec: ProbeSpec): Packet {
  const tcp = spec.proto === 'tcp' ? synRepr(spec) : null;
  const protocol = spec.proto === 'tcp' ? IPPROTO_TCP : spec.proto === 'udp' ? IPPROTO_UDP : IPPROTO_ICMP;
  const l4Len = tcp !== null ? tcpBufferLen(tcp) : spec.proto === 'udp' ? UDP_HEADER_LEN : ICMP_HEADER_LEN;
  const total = IPV4_HEADER_LEN + l4Len;
  const pkt = Packet.alloc(ETH_HLEN + total, 1, 0);
  const b = pkt.buf;
  const eth = pkt.off;
  const ip = eth + ETH_HLEN;
  const l4 = ip + IPV4_HEADER_LEN;
  emitEthernet({ dst: 0x0a5800000001, src: 0x0a5800000002, ethertype: ETHERTYPE_IPV4 }, b, eth);
  if (tcp !== null) emitTcp(tcp, b, l4, spec.src, spec.dst, 0);
  else if (spec.proto === 'udp') emitUdp({ srcPort: spec.sport, dstPort: spec.dport, length: UDP_HEADER_LEN }, b, l4, spec.src, spec.dst);
  else emitIcmp({ type: ICMP_ECHO, code: 0, ident: 1, seq: 1, payload: new Uint8Array(0) }, b, l4);
  emitIpv4(
    {
      dscpEcn: 0,
      totalLength: total,
      ident: 1,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol,
      src: spec.src,
      dst: spec.dst,
      headerLength: IPV4_HEADER_LEN,
    },
    b,
    ip,
  );
  return pkt;
}

/** Reads the packet's addresses and ports from its bytes (after whatever NAT did to them). */
export function flowOf(pkt: Packet): Flow {
  const b = pkt.buf;
  const ip = pkt.off + ETH_HLEN;
  const proto = ipv4Protocol(b, ip);
  const l4 = ip + ipv4HeaderLen(b, ip);
  const ports = proto === IPPROTO_TCP || proto === IPPROTO_UDP;
  return {
    proto,
    src: ipv4Src(b, ip),
    dst: ipv4Dst(b, ip),
    sport: ports ? read16(b, l4) : null,
    dport: ports ? read16(b, l4 + 2) : null,
  };
}

/** "10.0.0.1:80", or the bare address when there is no port. */
export function endpointText(addr: number, port: number | null): string {
  return port === null ? formatIpv4(addr) : `${formatIpv4(addr)}:${port}`;
}

/** "TCP 10.128.0.5:40000 > 10.96.0.10:80". */
export function flowText(f: Flow): string {
  const name = f.proto === IPPROTO_TCP ? 'TCP' : f.proto === IPPROTO_UDP ? 'UDP' : f.proto === IPPROTO_ICMP ? 'ICMP' : `proto ${f.proto}`;
  return `${name} ${endpointText(f.src, f.sport)} > ${endpointText(f.dst, f.dport)}`;
}
