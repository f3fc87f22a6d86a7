/**
 * TCP segments of captured frames, per connection, in a form two runs can be
 * compared by: sequence and acknowledgment numbers relative to each side's
 * ISN (the kernel's ISNs are random, secure_tcp_seq), TCP options by kind in
 * wire order (TS values left out: their offset is random per connection,
 * secure_tcp_ts_off), and masqueraded ports written as "<snat>" (MASQUERADE
 * --random-fully draws them, nf_nat_l4proto_unique_tuple). Everything else
 * (MACs, TTL, DF, lengths, flags, window, payload length, option values such
 * as MSS and window scale) is kept. Decoded with plain offsets (RFC 791,
 * RFC 9293, RFC 7323, RFC 2018) so the harness does not rely on podwire's parsers.
 */
import { finishChecksum, onesComplementSum, partialChecksum, pseudoHeaderSum } from '../../models/wire/checksum.js';

export interface TcpSegment {
  dir: 'in' | 'out' | 'unknown';
  ethSrc: string;
  ethDst: string;
  src: string;
  dst: string;
  ttl: number;
  df: boolean;
  ipLength: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Flags in tcpdump's notation ("S", "S.", "P.", "F.", "R."). */
  flags: string;
  window: number;
  payload: number;
  /** Options in wire order: "mss1460", "sackOK", "TS", "nop", "wscale7", "sack", "eol", "opt<kind>". */
  options: string[];
  /** TCP checksum: full (valid), partial (Linux's CHECKSUM_PARTIAL pseudo-header sum) or bad. */
  checksum: 'full' | 'partial' | 'bad';
  /** IPv4 header checksum valid. */
  ipChecksumOk: boolean;
}

export interface RawFrame {
  data: Uint8Array;
  dir: 'in' | 'out' | 'unknown';
}

const FLAGS: ReadonlyArray<[number, string]> = [[0x01, 'F'], [0x02, 'S'], [0x04, 'R'], [0x08, 'P'], [0x10, '.'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W']];

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const mac = (b: Uint8Array, o: number) => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
const ip = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** The TCP segment in an Ethernet/IPv4 frame, or undefined for anything else (ARP, UDP, fragments). */
export function decodeTcpSegment(frame: RawFrame): TcpSegment | undefined {
  const b = frame.data;
  if (b.length < 34 || u16(b, 12) !== 0x0800 || b[14]! >> 4 !== 4 || b[23] !== 6) return undefined;
  const ihl = (b[14]! & 0x0f) * 4;
  const ipLength = u16(b, 16);
  const frag = u16(b, 20);
  if ((frag & 0x1fff) !== 0 || (frag & 0x2000) !== 0) return undefined;
  const t = 14 + ihl;
  const tcpLen = ipLength - ihl;
  if (b.length < t + 20 || b.length < 14 + ipLength) throw new Error(`truncated TCP frame (${b.length} bytes, IPv4 total length ${ipLength})`);
  const doff = (b[t + 12]! >> 4) * 4;
  const options: string[] = [];
  for (let o = t + 20; o < t + doff;) {
    const kind = b[o]!;
    if (kind === 0) {
      options.push('eol');
      break;
    }
    if (kind === 1) {
      options.push('nop');
      o++;
      continue;
    }
    const len = b[o + 1]!;
    if (len < 2 || o + len > t + doff) throw new Error(`bad TCP option length ${len} (kind ${kind})`);
    options.push(kind === 2 ? `mss${u16(b, o + 2)}` : kind === 3 ? `wscale${b[o + 2]}` : kind === 4 ? 'sackOK' : kind === 5 ? 'sack' : kind === 8 ? 'TS' : `opt${kind}`);
    o += len;
  }
  const srcN = u32(b, 26);
  const dstN = u32(b, 30);
  const sum = finishChecksum(onesComplementSum(b, t, tcpLen, pseudoHeaderSum(srcN, dstN, 6, tcpLen)));
  const field = u16(b, t + 16);
  const checksum = sum === 0 ? 'full' : field === partialChecksum(srcN, dstN, 6, tcpLen) ? 'partial' : 'bad';
  const flagBits = b[t + 13]!;
  return {
    dir: frame.dir,
    ethDst: mac(b, 0),
    ethSrc: mac(b, 6),
    src: ip(b, 26),
    dst: ip(b, 30),
    ttl: b[22]!,
    df: (frag & 0x4000) !== 0,
    ipLength,
    srcPort: u16(b, t),
    dstPort: u16(b, t + 2),
    seq: u32(b, t + 4),
    ack: u32(b, t + 8),
    flags: FLAGS.filter(([bit]) => (flagBits & bit) !== 0).map(([, c]) => c).join('') || 'none',
    window: u16(b, t + 14),
    payload: tcpLen - doff,
    options,
    checksum,
    ipChecksumOk: finishChecksum(onesComplementSum(b, 14, ihl)) === 0,
  };
}

const isSyn = (s: TcpSegment) => s.flags.includes('S') && !s.flags.includes('.');
const isSynAck = (s: TcpSegment) => s.flags.includes('S') && s.flags.includes('.');
const tuple = (aIp: string, aPort: number, bIp: string, bPort: number) => `${aIp}:${aPort}>${bIp}:${bPort}`;

/** One segment of a connection at one point, with its numbers made relative. */
export interface SegmentEntry {
  segment: TcpSegment;
  /** The 4-tuple's index at this point (0: the first seen), e.g. before and after a second NAT. */
  leg: number;
  /** Sent by the connection's initiator. */
  forward: boolean;
  /** seq relative to the sender's ISN, ack relative to the receiver's ("?" before the ISN was seen, "-" without ACK). */
  seq: string;
  ack: string;
  /** The line without the window. */
  text: string;
}

export interface ConnectionSegments {
  /** The connection's original client port (its SYN's source port where it left a client address). */
  clientPort: number;
  /** Per capture point, the connection's segments there, leg by leg, each leg in capture order. */
  points: Map<string, SegmentEntry[]>;
}

/**
 * Groups every TCP segment of `captures` by connection. A connection is
 * recognised at every point by its initiator's ISN (NAT rewrites addresses
 * and ports, never sequence numbers), and named by the source port its SYN
 * had when sent from one of `clientAddresses`. At one point a connection
 * may show several 4-tuples (legs: a hairpin through another node's NAT);
 * which leg's segment is captured first is timing, so legs are kept apart.
 * A new 4-tuple without a SYN belongs to the connection whose ISN its seq
 * (or ack) lies nearest above.
 * Throws on a segment whose connection has no SYN at its point, or on an
 * ISN sent from no client address.
 */
export function tcpConnections(captures: ReadonlyMap<string, readonly RawFrame[]>, clientAddresses: readonly string[]): Map<number, ConnectionSegments> {
  const decoded = new Map([...captures].map(([point, list]) => [point, list.map(decodeTcpSegment).filter((s): s is TcpSegment => s !== undefined)]));
  const portOfIsn = new Map<number, number>();
  for (const list of decoded.values()) {
    for (const s of list) {
      if (!isSyn(s) || !clientAddresses.includes(s.src)) continue;
      const prev = portOfIsn.get(s.seq);
      if (prev !== undefined && prev !== s.srcPort) throw new Error(`ISN ${s.seq} seen from client ports ${prev} and ${s.srcPort}`);
      portOfIsn.set(s.seq, s.srcPort);
    }
  }
  const out = new Map<number, ConnectionSegments>();
  for (const [point, list] of decoded) {
    // Per point: the connections by initiator ISN, and each 4-tuple (one point may see a
    // connection before and after NAT, e.g. a bridge with br_netfilter) -> its connection.
    interface Conn { clientPort: number; isn: number; peerIsn?: number; initiatorPorts: Set<number>; legs: number }
    const byIsn = new Map<number, Conn>();
    const byTuple = new Map<string, { c: Conn; forward: boolean; leg: number }>();
    for (const s of list) {
      let m = byTuple.get(tuple(s.src, s.srcPort, s.dst, s.dstPort));
      if (m === undefined) {
        // A new tuple: the initiator's SYN (by its ISN) or a segment whose seq (forward) or
        // ack (backward) lies just above a known ISN; ISNs are random 32-bit numbers.
        const near = (n: number, base: number) => ((n - base) >>> 0) < 1 << 20;
        let c = isSyn(s) ? byIsn.get(s.seq) : undefined;
        let forward = true;
        if (isSyn(s) && c === undefined) {
          const clientPort = portOfIsn.get(s.seq);
          if (clientPort === undefined) throw new Error(`${point}: SYN ${s.src}:${s.srcPort} > ${s.dst}:${s.dstPort} (ISN ${s.seq}) left no client address ${clientAddresses.join(', ')}`);
          byIsn.set(s.seq, (c = { clientPort, isn: s.seq, initiatorPorts: new Set(), legs: 0 }));
        }
        if (c === undefined) {
          // The nearest ISN wins: a connection's segments lie a few hundred bytes above it, but
          // two ISNs can lie closer than 2^20 (secure_tcp_seq is a per-tuple hash plus a clock,
          // and the pinned tuples repeat run after run, so such a pair keeps recurring).
          const candidates = [
            ...[...byIsn.values()].filter((x) => !s.flags.includes('S') && near(s.seq, x.isn)).map((x) => ({ x, forward: true, d: (s.seq - x.isn) >>> 0 })),
            ...[...byIsn.values()].filter((x) => s.flags.includes('.') && near(s.ack, x.isn + 1)).map((x) => ({ x, forward: false, d: (s.ack - x.isn - 1) >>> 0 })),
          ].sort((a, b) => a.d - b.d);
          if (candidates.length === 0 || (candidates.length > 1 && candidates[1]!.d === candidates[0]!.d)) {
            throw new Error(`${point}: segment ${s.src}:${s.srcPort} > ${s.dst}:${s.dstPort} [${s.flags}] matches ${candidates.length} connections whose SYN this point saw${candidates.length > 1 ? ' equally well' : ''}`);
          }
          c = candidates[0]!.x;
          forward = candidates[0]!.forward;
        }
        if (forward) c.initiatorPorts.add(s.srcPort);
        const leg = c.legs++;
        m = { c, forward, leg };
        byTuple.set(tuple(s.src, s.srcPort, s.dst, s.dstPort), m);
        byTuple.set(tuple(s.dst, s.dstPort, s.src, s.srcPort), { c, forward: !forward, leg });
      }
      const c = m.c;
      if (isSynAck(s) && !m.forward) c.peerIsn = s.seq;
      const rel = (n: number, base: number | undefined) => (base === undefined ? '?' : String((n - base) >>> 0));
      const seq = rel(s.seq, m.forward ? c.isn : c.peerIsn);
      const ack = s.flags.includes('.') ? rel(s.ack, m.forward ? c.peerIsn : c.isn) : '-';
      const port = (p: number) => (c.initiatorPorts.has(p) && p !== c.clientPort ? '<snat>' : String(p));
      const text = `${s.dir.padEnd(3)} ${s.ethSrc} > ${s.ethDst} ttl ${s.ttl}${s.df ? ' DF' : ''} len ${s.ipLength} ${s.src}.${port(s.srcPort)} > ${s.dst}.${port(s.dstPort)}`
        + ` [${s.flags}] seq ${seq} ack ${ack} payload ${s.payload} [${s.options.join(',')}]`;
      let conn = out.get(c.clientPort);
      if (conn === undefined) out.set(c.clientPort, (conn = { clientPort: c.clientPort, points: new Map() }));
      if (!conn.points.has(point)) conn.points.set(point, []);
      conn.points.get(point)!.push({ segment: s, leg: m.leg, forward: m.forward, seq, ack, text });
    }
  }
  for (const conn of out.values()) {
    for (const list of conn.points.values()) {
      const order = list.map((e, i) => ({ e, i })).sort((x, y) => x.e.leg - y.e.leg || x.i - y.i);
      list.splice(0, list.length, ...order.map((o) => o.e));
    }
  }
  return out;
}

/**
 * A pure ACK that the sender's next segment on the same leg and direction
 * (data or FIN, same seq and ack) would have carried: Linux's quick ACK of
 * received data, sent before the application answers (not the handshake's
 * third segment, whose ack is 1).
 */
export function isSeparateAck(list: readonly SegmentEntry[], i: number): boolean {
  const e = list[i]!;
  if (e.segment.flags !== '.' || e.segment.payload !== 0 || e.ack === '1') return false;
  const next = list.slice(i + 1).find((x) => x.leg === e.leg && x.forward === e.forward && x.segment.dir === e.segment.dir);
  return next !== undefined && next.seq === e.seq && next.ack === e.ack && (next.segment.payload > 0 || next.segment.flags.includes('F'));
}

export interface TextOptions {
  /** Include each segment's window field (default true). */
  windows?: boolean;
  /** Leave out separate ACKs (isSeparateAck) (default false). */
  dropSeparateAcks?: boolean;
  /** Only the handshake's window (SYN, SYN-ACK), others written as "win *" (default false). */
  synWindowsOnly?: boolean;
}

/** One connection as text: every point (sorted) with its lines. */
export function connectionText(c: ConnectionSegments, o: TextOptions = {}): string {
  const lines: string[] = [];
  for (const point of [...c.points.keys()].sort()) {
    const list = c.points.get(point)!;
    list.forEach((e, i) => {
      if (o.dropSeparateAcks && isSeparateAck(list, i)) return;
      const win = o.windows === false ? '' : o.synWindowsOnly && !e.segment.flags.includes('S') ? ' win *' : ` win ${e.segment.window}`;
      lines.push(`${point}: ${e.text}${win}`);
    });
  }
  return lines.join('\n');
}

/**
 * connectionText's lines per "<point> <direction>", each direction on its own:
 * where the kernel runs a path in one softirq, what a point sends and receives
 * interleave differently from podwire.
 */
export function byPointAndDirection(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^(\S+): (in |out) (.*)$/.exec(line);
    if (m === null) throw new Error(`unexpected segment line: ${line}`);
    const key = `${m[1]} ${m[2]!.trim()}`;
    out.set(key, [...(out.get(key) ?? []), m[3]!]);
  }
  return out;
}

/**
 * Line-level difference of two texts: the first differing line with a few
 * lines of context from both, or '' when equal.
 */
export function firstDifference(kernel: string, podwire: string, context = 3): string {
  if (kernel === podwire) return '';
  const k = kernel.split('\n');
  const p = podwire.split('\n');
  let i = 0;
  while (i < k.length && i < p.length && k[i] === p[i]) i++;
  return [
    `first difference at line ${i + 1} (kernel ${k.length} lines, podwire ${p.length})`,
    '  kernel:', ...k.slice(Math.max(0, i - 1), i + context).map((l) => `    ${l}`),
    '  podwire:', ...p.slice(Math.max(0, i - 1), i + context).map((l) => `    ${l}`),
  ].join('\n');
}
