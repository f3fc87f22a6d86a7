/**
 * Reduces a captured Ethernet frame to the fields podwire must reproduce
 * exactly, and compares two sets of captures point by point.
 *
 * Left out on purpose: the IPv4 identification (the kernel randomises it per
 * socket/destination, net/ipv4/ip_output.c ip_select_ident), checksums, ICMP
 * echo payloads (iputils puts a timestamp there), UDP/TCP payloads, VXLAN
 * source ports (a keyed flow hash, see below), and any Ethernet padding.
 * Decoded here with plain offsets (RFC 826, RFC 791, RFC 792, RFC 768,
 * RFC 9293) so the harness does not depend on podwire's own parsers.
 */

export type FrameDirection = 'in' | 'out' | 'unknown';

export interface ArpFields {
  /** 1 request, 2 reply. */
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface Ipv4Fields {
  src: string;
  dst: string;
  ttl: number;
  protocol: number;
  df: boolean;
  totalLength: number;
  /** Present only on fragments. */
  mf?: boolean;
  fragOffset?: number;
}

export interface IcmpFields {
  type: number;
  code: number;
  /** Echo request/reply only. */
  id?: number;
  seq?: number;
  /** Errors (unreachable, time exceeded): the quoted datagram's addresses and protocol. */
  quoted?: { src: string; dst: string; protocol: number };
}

export interface PortFields {
  srcPort: number;
  dstPort: number;
}

export interface NormalisedFrame {
  dir: FrameDirection;
  ethSrc: string;
  ethDst: string;
  ethType: number;
  arp?: ArpFields;
  ipv4?: Ipv4Fields;
  icmp?: IcmpFields;
  udp?: PortFields & { length: number };
  /** Flags in tcpdump's notation and order ("S", "S.", "P.", "F.", "R"). */
  tcp?: PortFields & { flags: string };
  /** Set when the frame is shorter than its headers claim. */
  truncated?: true;
}

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** pcapng epb_flags direction: 1 inbound, 2 outbound, 0 unknown. */
export function directionOf(dir: FrameDirection | 0 | 1 | 2): FrameDirection {
  if (dir === 1) return 'in';
  if (dir === 2) return 'out';
  if (dir === 0) return 'unknown';
  return dir;
}

export function normaliseFrame(data: Uint8Array, dir: FrameDirection | 0 | 1 | 2): NormalisedFrame {
  const f: NormalisedFrame = { dir: directionOf(dir), ethSrc: '', ethDst: '', ethType: 0 };
  if (data.length < 14) {
    f.truncated = true;
    return f;
  }
  f.ethDst = mac(data, 0);
  f.ethSrc = mac(data, 6);
  f.ethType = u16(data, 12);
  const l3 = data.subarray(14);
  if (f.ethType === ETHERTYPE_ARP) {
    // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
    if (l3.length < 28 || u16(l3, 0) !== 1 || u16(l3, 2) !== ETHERTYPE_IPV4 || l3[4] !== 6 || l3[5] !== 4) {
      f.truncated = true;
      return f;
    }
    f.arp = { op: u16(l3, 6), senderMac: mac(l3, 8), senderIp: ipv4(l3, 14), targetMac: mac(l3, 18), targetIp: ipv4(l3, 24) };
  } else if (f.ethType === ETHERTYPE_IPV4) {
    normaliseIpv4(l3, f);
  }
  return f;
}

function normaliseIpv4(p: Uint8Array, f: NormalisedFrame): void {
  if (p.length < 20 || p[0]! >> 4 !== 4) {
    f.truncated = true;
    return;
  }
  const ihl = (p[0]! & 0x0f) * 4;
  const fragWord = u16(p, 6);
  const ip: Ipv4Fields = {
    src: ipv4(p, 12),
    dst: ipv4(p, 16),
    ttl: p[8]!,
    protocol: p[9]!,
    df: (fragWord & 0x4000) !== 0,
    totalLength: u16(p, 2),
  };
  const mf = (fragWord & 0x2000) !== 0;
  const fragOffset = (fragWord & 0x1fff) * 8;
  if (mf || fragOffset !== 0) {
    ip.mf = mf;
    ip.fragOffset = fragOffset;
  }
  f.ipv4 = ip;
  // Transport headers exist only in the first fragment.
  if (fragOffset !== 0) return;
  const l4 = p.subarray(ihl, Math.min(p.length, ip.totalLength));
  if (ip.protocol === IPPROTO_ICMP) {
    if (l4.length < 8) return markTruncated(f);
    const icmp: IcmpFields = { type: l4[0]!, code: l4[1]! };
    if (icmp.type === 0 || icmp.type === 8) {
      icmp.id = u16(l4, 4);
      icmp.seq = u16(l4, 6);
    } else if ((icmp.type === 3 || icmp.type === 11 || icmp.type === 12 || icmp.type === 5) && l4.length >= 28) {
      icmp.quoted = { src: ipv4(l4, 8 + 12), dst: ipv4(l4, 8 + 16), protocol: l4[8 + 9]! };
    }
    f.icmp = icmp;
  } else if (ip.protocol === IPPROTO_UDP) {
    if (l4.length < 8) return markTruncated(f);
    f.udp = { srcPort: u16(l4, 0), dstPort: u16(l4, 2), length: u16(l4, 4) };
    // A VXLAN packet's source port is a hash of the inner flow (RFC 7348 section 5), keyed by a
    // secret the kernel draws once per boot: every namespace of the one kernel the harness runs
    // all nodes in shares it, where podwire gives each node its own, as separate machines have.
    // So the two cannot agree on it; the rest of the outer header counts.
    if (VXLAN_PORTS.has(f.udp.dstPort)) f.udp.srcPort = 0;
  } else if (ip.protocol === IPPROTO_TCP) {
    if (l4.length < 14) return markTruncated(f);
    f.tcp = { srcPort: u16(l4, 0), dstPort: u16(l4, 2), flags: tcpFlags(l4[13]!) };
  }
}

/** flannel's VXLAN port and the IANA one. */
const VXLAN_PORTS = new Set([8472, 4789]);

function markTruncated(f: NormalisedFrame): void {
  f.truncated = true;
}

/** tcpdump's tcp_flag_values order: F S R P . U E W (print-tcp.c). */
const TCP_FLAGS: ReadonlyArray<[number, string]> = [
  [0x01, 'F'],
  [0x02, 'S'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x10, '.'],
  [0x20, 'U'],
  [0x40, 'E'],
  [0x80, 'W'],
];

function tcpFlags(bits: number): string {
  const s = TCP_FLAGS.filter(([bit]) => (bits & bit) !== 0)
    .map(([, c]) => c)
    .join('');
  return s === '' ? 'none' : s;
}

function u16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

function mac(b: Uint8Array, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

function ipv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

const ICMP_NAMES: Record<number, string> = {
  0: 'echo reply',
  3: 'unreachable',
  5: 'redirect',
  8: 'echo request',
  11: 'time exceeded',
  12: 'parameter problem',
};

/** One line in the spirit of `tcpdump -e -n -v`. */
export function summariseFrame(f: NormalisedFrame): string {
  const head = `${f.dir.padEnd(3)} ${f.ethSrc} > ${f.ethDst}`;
  if (f.arp) {
    const a = f.arp;
    const body =
      a.op === 1
        ? `Request who-has ${a.targetIp} tell ${a.senderIp} (${a.senderMac}, target-mac ${a.targetMac})`
        : a.op === 2
          ? `Reply ${a.senderIp} is-at ${a.senderMac} (to ${a.targetIp} ${a.targetMac})`
          : `op ${a.op} ${a.senderIp}/${a.senderMac} -> ${a.targetIp}/${a.targetMac}`;
    return `${head}, ARP, ${body}`;
  }
  if (f.ipv4) {
    const ip = f.ipv4;
    const flags = [ip.df ? 'DF' : '', ip.mf ? 'MF' : '', ip.fragOffset ? `offset ${ip.fragOffset}` : ''].filter(Boolean);
    const ipInfo = `ttl ${ip.ttl}${flags.length ? ', ' + flags.join(', ') : ''}, length ${ip.totalLength}`;
    let l4: string;
    if (f.icmp) {
      const c = f.icmp;
      l4 = `${ip.src} > ${ip.dst}: ICMP ${ICMP_NAMES[c.type] ?? `type ${c.type}`}`;
      if (c.code !== 0 || (c.type !== 0 && c.type !== 8)) l4 += ` code ${c.code}`;
      if (c.id !== undefined) l4 += `, id ${c.id}, seq ${c.seq}`;
      if (c.quoted) l4 += `, quoting ${c.quoted.src} > ${c.quoted.dst} proto ${c.quoted.protocol}`;
    } else if (f.udp) {
      l4 = `${ip.src}.${f.udp.srcPort} > ${ip.dst}.${f.udp.dstPort}: UDP, length ${f.udp.length - 8}`;
    } else if (f.tcp) {
      l4 = `${ip.src}.${f.tcp.srcPort} > ${ip.dst}.${f.tcp.dstPort}: Flags [${f.tcp.flags}]`;
    } else {
      l4 = `${ip.src} > ${ip.dst}: proto ${ip.protocol}`;
    }
    return `${head}, IPv4 (${ipInfo}) ${l4}${f.truncated ? ' [truncated]' : ''}`;
  }
  return `${head}, ethertype 0x${f.ethType.toString(16).padStart(4, '0')}${f.truncated ? ' [truncated]' : ''}`;
}

/** Field-by-field differences between two normalised frames ("ipv4.ttl: 64 != 63"). */
export function frameDifferences(a: NormalisedFrame, b: NormalisedFrame): string[] {
  const out: string[] = [];
  walk('', a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>, out);
  return out;
}

function walk(path: string, a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined, out: string[]): void {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  for (const k of keys) {
    const va = a?.[k];
    const vb = b?.[k];
    const p = path ? `${path}.${k}` : k;
    if (isRecord(va) || isRecord(vb)) {
      if (va === undefined || vb === undefined) out.push(`${p}: ${JSON.stringify(va)} != ${JSON.stringify(vb)}`);
      else walk(p, va as Record<string, unknown>, vb as Record<string, unknown>, out);
    } else if (va !== vb) {
      out.push(`${p}: ${JSON.stringify(va)} != ${JSON.stringify(vb)}`);
    }
  }
}

function isRecord(v: unknown): boolean {
  return typeof v === 'object' && v !== null;
}

export interface PointDifference {
  point: string;
  /** Index of the first differing frame (or of the first missing one). */
  index: number;
  kernelCount: number;
  podwireCount: number;
  kernel?: NormalisedFrame;
  podwire?: NormalisedFrame;
  /** Field differences, or why the point differs ("missing in podwire"). */
  reasons: string[];
}

export interface CaptureComparison {
  equal: boolean;
  differences: PointDifference[];
  /** Human-readable report: one block per differing point, empty when equal. */
  text: string;
}

/** net.ipv4.ip_local_port_range default, where both stacks pick ephemeral ports (ip-sysctl.rst). */
export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

/**
 * Where MASQUERADE --random-fully draws a source port of 1024 or more
 * (nf_nat_l4proto_unique_tuple with no range given: 1024-65535).
 */
export const NAT_RANDOM_FIRST = 1024;
export const NAT_RANDOM_LAST = 65535;

/**
 * Pairs the ephemeral ports the kernel chose with those podwire chose: the
 * kernel's are random (inet_hash_connect, udp_lib_get_port), so they can only
 * match up to a consistent renaming. A pair is made the first time two frames
 * that agree on everything else carry different ephemeral ports, and holds for
 * every later frame at every capture point (a bijection).
 */
class EphemeralPortPairing {
  private readonly kernelToPodwire = new Map<number, number>();
  private readonly podwireToKernel = new Map<number, number>();

  constructor(
    private readonly first = EPHEMERAL_FIRST,
    private readonly last = EPHEMERAL_LAST,
  ) {}

  private pairable(port: number): boolean {
    return port >= this.first && port <= this.last;
  }

  /**
   * podwire's frame with its ephemeral ports written as their kernel partners:
   * pairs already made always apply; new pairs are made only when they leave
   * no other difference between the two frames.
   */
  align(kf: NormalisedFrame, pf: NormalisedFrame): NormalisedFrame {
    const kl4 = kf.udp ?? kf.tcp;
    const pl4 = pf.udp ?? pf.tcp;
    if (kl4 === undefined || pl4 === undefined || (kf.udp === undefined) !== (pf.udp === undefined)) return pf;
    const known = this.rewrite(pf, (p) => this.podwireToKernel.get(p) ?? p);
    const fresh = new Map<number, number>(); // podwire -> kernel
    for (const [k, p] of [[kl4.srcPort, pl4.srcPort], [kl4.dstPort, pl4.dstPort]] as const) {
      if (k !== p && this.pairable(k) && this.pairable(p) && !this.kernelToPodwire.has(k) && !this.podwireToKernel.has(p)) fresh.set(p, k);
    }
    if (fresh.size === 0) return known;
    const candidate = this.rewrite(known, (p) => fresh.get(p) ?? p);
    if (frameDifferences(kf, candidate).length > 0) return known;
    for (const [p, k] of fresh) {
      this.kernelToPodwire.set(k, p);
      this.podwireToKernel.set(p, k);
    }
    return candidate;
  }

  private rewrite(f: NormalisedFrame, map: (port: number) => number): NormalisedFrame {
    const l4 = (f.udp ?? f.tcp)!;
    const src = map(l4.srcPort);
    const dst = map(l4.dstPort);
    if (src === l4.srcPort && dst === l4.dstPort) return f;
    const copy = structuredClone(f);
    const c = (copy.udp ?? copy.tcp)!;
    c.srcPort = src;
    c.dstPort = dst;
    return copy;
  }
}

export interface CompareOptions {
  /**
   * 'pair' (default): ephemeral ports (32768-60999) may differ if they differ
   * consistently (see EphemeralPortPairing); 'pair-nat': so may any port from
   * 1024, for traffic that kube-proxy's MASQUERADE --random-fully gives a
   * random source port on both sides; 'exact': every port must match.
   */
  ephemeralPorts?: 'pair' | 'pair-nat' | 'exact';
}

/**
 * Compares two captures point by point, frame by frame in capture order. For
 * each point that differs, reports the first differing frame with both sides
 * printed as one-line summaries and the fields that differ, plus the frames
 * that follow it for context.
 */
export function compareCapturePoints(
  kernel: ReadonlyMap<string, readonly NormalisedFrame[]>,
  podwire: ReadonlyMap<string, readonly NormalisedFrame[]>,
  options: CompareOptions = {},
): CaptureComparison {
  const mode = options.ephemeralPorts ?? 'pair';
  const pairing = mode === 'exact' ? undefined : mode === 'pair-nat' ? new EphemeralPortPairing(NAT_RANDOM_FIRST, NAT_RANDOM_LAST) : new EphemeralPortPairing();
  const points = [...new Set([...kernel.keys(), ...podwire.keys()])].sort();
  const differences: PointDifference[] = [];
  const blocks: string[] = [];
  for (const point of points) {
    const k = kernel.get(point);
    const p = podwire.get(point);
    if (k === undefined || p === undefined) {
      const reason = k === undefined ? 'capture point missing on the kernel side' : 'capture point missing on the podwire side';
      differences.push({ point, index: 0, kernelCount: k?.length ?? 0, podwireCount: p?.length ?? 0, reasons: [reason] });
      blocks.push(`${point}: ${reason} (kernel ${k?.length ?? '-'} frames, podwire ${p?.length ?? '-'} frames)`);
      continue;
    }
    const n = Math.max(k.length, p.length);
    for (let i = 0; i < n; i++) {
      const kf = k[i];
      const pf = p[i];
      const reasons =
        kf === undefined
          ? ['missing on the kernel side']
          : pf === undefined
            ? ['missing on the podwire side']
            : frameDifferences(kf, pairing ? pairing.align(kf, pf) : pf);
      if (reasons.length === 0) continue;
      differences.push({ point, index: i, kernelCount: k.length, podwireCount: p.length, kernel: kf, podwire: pf, reasons });
      const lines = [
        `${point}: first difference at frame ${i + 1} (kernel ${k.length} frames, podwire ${p.length} frames)`,
        `  kernel : ${kf ? summariseFrame(kf) : '(none)'}`,
        `  podwire: ${pf ? summariseFrame(pf) : '(none)'}`,
        `  fields : ${reasons.join('; ')}`,
        `  kernel frames ${i + 1}..:`,
        ...k.slice(i, i + 4).map((f, j) => `    ${i + j + 1}. ${summariseFrame(f)}`),
        `  podwire frames ${i + 1}..:`,
        ...p.slice(i, i + 4).map((f, j) => `    ${i + j + 1}. ${summariseFrame(f)}`),
      ];
      blocks.push(lines.join('\n'));
      break;
    }
  }
  return { equal: differences.length === 0, differences, text: blocks.join('\n\n') };
}
