/**
 * -m tcp, -m udp, -m sctp (net/netfilter/xt_tcpudp.c, xt_sctp.c;
 * extensions/libxt_tcp.c, libxt_udp.c, libxt_sctp.c). All three read the
 * ports from the first four bytes of the transport header; a non-first
 * fragment never matches, and a header too short to read ends the traversal
 * with NF_DROP (hotdrop), as the kernel does.
 */
import { fail } from '../errors.js';
import { requireProto, optionTable, type CheckCtx, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { parsePortRange, parseDecimal } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';
import { read16 } from '../../../wire/bytes.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../wire/ipv4.js';
import { TCP_HEADER_LEN } from '../../../wire/tcp.js';
import { UDP_HEADER_LEN } from '../../../wire/udp.js';

export const IPPROTO_SCTP = 132;
const SCTP_HEADER_LEN = 12;

/** port_match in xt_tcpudp.c. */
function portMatch(min: number, max: number, port: number, invert: boolean): boolean {
  return (port >= min && port <= max) !== invert;
}

const SPORT: OptionSpec = { names: ['sport', 'source-port'], args: 1, invert: true };
const DPORT: OptionSpec = { names: ['dport', 'destination-port'], args: 1, invert: true };

/** The ports part shared by the three matches. */
abstract class PortsMatch implements MatchExt, Matcher {
  abstract readonly name: string;
  abstract readonly opts: ReturnType<typeof optionTable>;
  protected abstract readonly proto: number;
  protected abstract readonly minHeader: number;
  spts: [number, number] = [0, 65535];
  dpts: [number, number] = [0, 65535];
  sptInv = false;
  dptInv = false;

  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    if (spec === SPORT) {
      this.spts = parsePortRange(args[0]!, ctx);
      this.sptInv = invert;
    } else if (spec === DPORT) {
      this.dpts = parsePortRange(args[0]!, ctx);
      this.dptInv = invert;
    } else this.parseMore(spec, args, invert, ctx);
  }

  protected parseMore(spec: OptionSpec, _args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    fail(ctx, `--${spec.names[0]}`, `unknown option "--${spec.names[0]}"`);
  }

  finish(): void {}

  save(): string {
    return savePorts('--sport', this.spts, this.sptInv) + savePorts('--dport', this.dpts, this.dptInv);
  }

  print(): string {
    return ` ${this.name}${printPorts('spt', this.spts, this.sptInv)}${printPorts('dpt', this.dpts, this.dptInv)}`;
  }

  check(c: CheckCtx): void {
    requireProto(c, '-m', this.name, this.proto);
  }

  compile(): Matcher {
    return this;
  }

  match(x: XtPacket): boolean {
    if (x.fragoff !== 0) return this.fragment(x);
    if (x.l4Avail() < this.minHeader) {
      x.hotdrop = true;
      return false;
    }
    const buf = x.buf;
    const th = x.thoff;
    return (
      portMatch(this.spts[0], this.spts[1], read16(buf, th), this.sptInv) &&
      portMatch(this.dpts[0], this.dpts[1], read16(buf, th + 2), this.dptInv) &&
      this.matchMore(x)
    );
  }

  protected fragment(_x: XtPacket): boolean {
    return false;
  }

  protected matchMore(_x: XtPacket): boolean {
    return true;
  }
}

function savePorts(opt: string, p: [number, number], inv: boolean): string {
  if (p[0] === 0 && p[1] === 65535) return '';
  return `${inv ? ' !' : ''} ${opt} ${p[0] === p[1] ? p[0] : `${p[0]}:${p[1]}`}`;
}

/** print_ports in libxt_tcp.c: " dpt:80", " dpts:!1:1024". */
function printPorts(name: string, p: [number, number], inv: boolean): string {
  if (p[0] === 0 && p[1] === 65535 && !inv) return '';
  const i = inv ? '!' : '';
  return p[0] === p[1] ? ` ${name}:${i}${p[0]}` : ` ${name}s:${i}${p[0]}:${p[1]}`;
}

/** TCP flag names in libxt_tcp.c's order; ALL is FIN..URG (ECE and CWR have no name). */
const TCP_FLAG_NAMES: readonly [string, number][] = [
  ['FIN', 0x01],
  ['SYN', 0x02],
  ['RST', 0x04],
  ['PSH', 0x08],
  ['ACK', 0x10],
  ['URG', 0x20],
  ['ALL', 0x3f],
  ['NONE', 0],
];

function parseTcpFlags(s: string, ctx: ParseCtx): number {
  let v = 0;
  for (const part of s.split(',')) {
    const f = TCP_FLAG_NAMES.find(([n]) => n === part.toUpperCase());
    if (f === undefined) fail(ctx, s, `Unknown TCP flag \`${part}'`);
    v |= f[1];
  }
  return v;
}

/** print_tcpf: lowest bit first, by name. */
function saveTcpFlags(v: number): string {
  const out: string[] = [];
  for (const [n, bit] of TCP_FLAG_NAMES.slice(0, 6)) if (v & bit) out.push(n);
  return out.length === 0 ? 'NONE' : out.join(',');
}

const TCP_FLAGS: OptionSpec = { names: ['tcp-flags'], args: 2, invert: true };
const SYN: OptionSpec = { names: ['syn'], args: 0, invert: true };
const TCP_OPTION: OptionSpec = { names: ['tcp-option'], args: 1, invert: true };
const TCP_OPTS = optionTable([SPORT, DPORT, TCP_FLAGS, SYN, TCP_OPTION]);

export class TcpMatch extends PortsMatch {
  readonly name = 'tcp';
  readonly opts = TCP_OPTS;
  protected readonly proto = IPPROTO_TCP;
  protected readonly minHeader = TCP_HEADER_LEN;
  flgMask = 0;
  flgCmp = 0;
  flgInv = false;
  private flagsGiven = false;
  option = 0;
  optionInv = false;

  protected override parseMore(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    if (spec === TCP_FLAGS || spec === SYN) {
      if (this.flagsGiven) fail(ctx, `--${spec.names[0]}`, "Only one of `--syn' or `--tcp-flags' allowed");
      this.flagsGiven = true;
      if (spec === SYN) {
        this.flgMask = 0x17; // FIN,SYN,RST,ACK
        this.flgCmp = 0x02;
      } else {
        this.flgMask = parseTcpFlags(args[0]!, ctx);
        this.flgCmp = parseTcpFlags(args[1]!, ctx);
      }
      this.flgInv = invert;
    } else if (spec === TCP_OPTION) {
      const v = parseDecimal(args[0]!, 1, 255);
      if (v === null) fail(ctx, args[0]!, `tcp: invalid TCP option \`${args[0]}'`);
      this.option = v;
      this.optionInv = invert;
    } else super.parseMore(spec, args, invert, ctx);
  }

  override save(): string {
    let s = super.save();
    if (this.option !== 0 || this.optionInv) s += `${this.optionInv ? ' !' : ''} --tcp-option ${this.option}`;
    if (this.flgMask !== 0 || this.flgInv) {
      s += `${this.flgInv ? ' !' : ''} --tcp-flags ${saveTcpFlags(this.flgMask)} ${saveTcpFlags(this.flgCmp)}`;
    }
    return s;
  }

  override print(): string {
    let s = super.print();
    if (this.option !== 0 || this.optionInv) s += ` option=${this.optionInv ? '!' : ''}${this.option}`;
    if (this.flgMask !== 0 || this.flgInv) {
      const h = (v: number) => `0x${v.toString(16).toUpperCase().padStart(2, '0')}`;
      s += ` flags:${this.flgInv ? '!' : ''}${h(this.flgMask)}/${h(this.flgCmp)}`;
    }
    return s;
  }

  /** "Dropping evil TCP offset=1 frag." */
  protected override fragment(x: XtPacket): boolean {
    if (x.fragoff === 1) x.hotdrop = true;
    return false;
  }

  protected override matchMore(x: XtPacket): boolean {
    const buf = x.buf;
    const th = x.thoff;
    if (((buf[th + 13]! & this.flgMask) === this.flgCmp) === this.flgInv) return false;
    if (this.option !== 0) {
      const doff = (buf[th + 12]! >>> 4) * 4;
      if (doff < TCP_HEADER_LEN) {
        x.hotdrop = true;
        return false;
      }
      return this.findOption(x, th + TCP_HEADER_LEN, doff - TCP_HEADER_LEN);
    }
    return true;
  }

  /** tcp_find_option. */
  private findOption(x: XtPacket, start: number, optlen: number): boolean {
    if (optlen === 0) return this.optionInv;
    if (start + optlen > x.end) {
      x.hotdrop = true;
      return false;
    }
    const buf = x.buf;
    for (let i = 0; i < optlen; ) {
      const kind = buf[start + i]!;
      if (kind === this.option) return !this.optionInv;
      if (kind < 2) i++;
      else i += buf[start + i + 1]! || 1;
    }
    return this.optionInv;
  }
}

const UDP_OPTS = optionTable([SPORT, DPORT]);

export class UdpMatch extends PortsMatch {
  readonly name = 'udp';
  readonly opts = UDP_OPTS;
  protected readonly proto = IPPROTO_UDP;
  protected readonly minHeader = UDP_HEADER_LEN;
}

const SCTP_OPTS = optionTable([SPORT, DPORT, { names: ['chunk-types'], args: 2, invert: true, unsupported: true }]);

export class SctpMatch extends PortsMatch {
  readonly name = 'sctp';
  readonly opts = SCTP_OPTS;
  protected readonly proto = IPPROTO_SCTP;
  protected readonly minHeader = SCTP_HEADER_LEN;
}
