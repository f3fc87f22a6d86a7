import { readCapture } from '../../models/capture/capture-reader.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { DEFAULT_EPOCH_SECONDS } from '../../scenarios/build.js';

/** One IPv4 datagram of a capture, decoded from the Ethernet frame's bytes. */
export interface Ipv4Frame {
  /** Simulated time, seconds (the capture's timestamp less podwire's epoch). */
  t: number;
  src: string;
  dst: string;
  proto: number;
  ttl: number;
  /** TCP and UDP; 0 otherwise. */
  sport: number;
  dport: number;
  /** TCP flags; 0 otherwise. */
  tcpFlags: number;
  /** ICMP type and code; -1 otherwise. */
  icmpType: number;
  icmpCode: number;
}

const addr = (b: Uint8Array, at: number): string => formatIpv4(((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0);

/** Every IPv4 datagram of a capture file, in capture order (other frames skipped). */
export function ipv4Frames(file: string): Ipv4Frame[] {
  const out: Ipv4Frame[] = [];
  const epochNs = BigInt(DEFAULT_EPOCH_SECONDS) * 1_000_000_000n;
  for (const p of readCapture(file).packets) {
    const b = p.data;
    if (b.length < 34 || b[12] !== 0x08 || b[13] !== 0x00) continue;
    const ip = 14;
    const l4 = ip + (b[ip]! & 0x0f) * 4;
    const proto = b[ip + 9]!;
    const ports = proto === 6 || proto === 17;
    out.push({
      t: Number(p.timeNs - epochNs) / 1e9,
      src: addr(b, ip + 12),
      dst: addr(b, ip + 16),
      proto,
      ttl: b[ip + 8]!,
      sport: ports ? (b[l4]! << 8) | b[l4 + 1]! : 0,
      dport: ports ? (b[l4 + 2]! << 8) | b[l4 + 3]! : 0,
      tcpFlags: proto === 6 ? b[l4 + 13]! : 0,
      icmpType: proto === 1 ? b[l4]! : -1,
      icmpCode: proto === 1 ? b[l4 + 1]! : -1,
    });
  }
  return out;
}

/** TCP SYN without ACK: the first segment of a connection. */
export function isSyn(f: Ipv4Frame): boolean {
  return f.proto === 6 && (f.tcpFlags & 0x12) === 0x02;
}
