/**
 * -m multiport (net/netfilter/xt_multiport.c revision 1,
 * extensions/libxt_multiport.c): up to 15 ports, a range counting as two,
 * tested against the source port, the destination port, or either.
 */
import { fail } from '../errors.js';
import { optionTable, type CheckCtx, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { parsePort } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';
import { read16 } from '../../../wire/bytes.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../../wire/ipv4.js';
import { IPPROTO_SCTP } from './tcpudp.js';

const XT_MULTI_PORTS = 15;
const IPPROTO_DCCP = 33;
const IPPROTO_UDPLITE = 136;
const PORT_PROTOS = [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_DCCP];

const SPORTS: OptionSpec = { names: ['sports', 'source-ports'], args: 1, invert: true };
const DPORTS: OptionSpec = { names: ['dports', 'destination-ports'], args: 1, invert: true };
const PORTS: OptionSpec = { names: ['ports'], args: 1, invert: true };
const OPTS = optionTable([SPORTS, DPORTS, PORTS]);

const enum Dir {
  NONE = 0,
  SOURCE = 1,
  DESTINATION = 2,
  EITHER = 3,
}

export class MultiportMatch implements MatchExt, Matcher {
  readonly name = 'multiport';
  readonly opts = OPTS;
  dir = Dir.NONE;
  /** ports[i], with pflags[i] = 1 when ports[i]..ports[i+1] is a range. */
  ports: number[] = [];
  pflags: number[] = [];
  invert = false;

  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    // check_proto in libxt_multiport.c, against the -p given so far.
    if (ctx.invProto) fail(ctx, `--${spec.names[0]}`, 'multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP');
    if (ctx.proto === 0) fail(ctx, `--${spec.names[0]}`, "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
    if (!PORT_PROTOS.includes(ctx.proto)) fail(ctx, `--${spec.names[0]}`, 'multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP');
    if (this.dir !== Dir.NONE) fail(ctx, `--${spec.names[0]}`, 'multiport can only have one option');
    this.dir = spec === SPORTS ? Dir.SOURCE : spec === DPORTS ? Dir.DESTINATION : Dir.EITHER;
    this.invert = invert;
    const text = args[0]!;
    for (const item of text.split(',')) {
      const colon = item.indexOf(':');
      if (colon < 0) {
        this.ports.push(parsePort(item, ctx));
        this.pflags.push(0);
      } else {
        const lo = parsePort(item.slice(0, colon), ctx);
        const hi = parsePort(item.slice(colon + 1), ctx);
        if (lo >= hi) fail(ctx, item, `invalid portrange specified \`${item}'`);
        this.ports.push(lo, hi);
        this.pflags.push(1, 0);
      }
      if (this.ports.length > XT_MULTI_PORTS) fail(ctx, text, `too many ports specified in \`${text}'`);
    }
  }

  finish(ctx: ParseCtx): void {
    if (this.dir === Dir.NONE) fail(ctx, '-m multiport', 'multiport expects an option');
  }

  private portList(): string {
    let s = '';
    for (let i = 0; i < this.ports.length; i++) {
      s += `${i ? ',' : ''}${this.ports[i]}`;
      if (this.pflags[i]) s += `:${this.ports[++i]}`;
    }
    return s;
  }

  private dirName(): string {
    return this.dir === Dir.SOURCE ? 'sports' : this.dir === Dir.DESTINATION ? 'dports' : 'ports';
  }

  save(): string {
    return `${this.invert ? ' !' : ''} --${this.dirName()} ${this.portList()}`;
  }

  print(): string {
    return ` multiport ${this.dirName()} ${this.invert ? ' !' : ''}${this.portList()}`;
  }

  check(c: CheckCtx): void {
    if (!PORT_PROTOS.includes(c.proto) || c.invProto) fail(c, '-m multiport', 'ip_tables: multiport match: needs -p tcp, udp, udplite, sctp or dccp');
  }

  compile(): Matcher {
    return this;
  }

  /** multiport_mt + ports_match_v1. */
  match(x: XtPacket): boolean {
    if (x.fragoff !== 0) return false;
    if (x.l4Avail() < 4) {
      x.hotdrop = true;
      return false;
    }
    const src = read16(x.buf, x.thoff);
    const dst = read16(x.buf, x.thoff + 2);
    const ports = this.ports;
    const dir = this.dir;
    for (let i = 0; i < ports.length; i++) {
      const s = ports[i]!;
      if (this.pflags[i]) {
        const e = ports[++i]!;
        if ((dir & Dir.SOURCE && src >= s && src <= e) || (dir & Dir.DESTINATION && dst >= s && dst <= e)) return !this.invert;
      } else if ((dir & Dir.SOURCE && src === s) || (dir & Dir.DESTINATION && dst === s)) return !this.invert;
    }
    return this.invert;
  }
}
