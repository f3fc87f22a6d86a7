/**
 * -m conntrack (net/netfilter/xt_conntrack.c, revision 3) and -m state, which
 * iptables 1.8 implements as an alias of conntrack restricted to --state
 * (extensions/libxt_conntrack.c). The packet's ctinfo comes from p.ctState
 * and p.ct, which connection tracking fills before these tables run.
 */
import { fail } from '../errors.js';
import { optionTable, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { listAddr, parseAddrMask, parsePortRange, parseProtocol, parseDecimal, type AddrMask } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';
import { CtDir, CtState, CtStatus, type Conn } from '../../types.js';

/** XT_CONNTRACK_STATE_* bits (include/uapi/linux/netfilter/xt_conntrack.h). */
const ST_INVALID = 1 << 0;
const ST_ESTABLISHED = 1 << 1;
const ST_RELATED = 1 << 2;
const ST_NEW = 1 << 3;
const ST_SNAT = 1 << 8;
const ST_DNAT = 1 << 9;
const ST_UNTRACKED = 1 << 10;

/** Names in the order print_state writes them. */
const STATE_NAMES: readonly [string, number][] = [
  ['INVALID', ST_INVALID],
  ['NEW', ST_NEW],
  ['RELATED', ST_RELATED],
  ['ESTABLISHED', ST_ESTABLISHED],
  ['UNTRACKED', ST_UNTRACKED],
  ['SNAT', ST_SNAT],
  ['DNAT', ST_DNAT],
];

/** ctstatus names (IPS_* bits) in print_status order. */
const STATUS_NAMES: readonly [string, number][] = [
  ['EXPECTED', CtStatus.EXPECTED],
  ['SEEN_REPLY', CtStatus.SEEN_REPLY],
  ['ASSURED', CtStatus.ASSURED],
  ['CONFIRMED', CtStatus.CONFIRMED],
];

/** The statebit of a packet: XT_CONNTRACK_STATE_BIT(ctinfo), UNTRACKED, or INVALID. */
export function ctStateBit(x: XtPacket): number {
  const p = x.p;
  if (p.ct === null) return p.ctState === CtState.UNTRACKED ? ST_UNTRACKED : ST_INVALID;
  switch (p.ctState) {
    case CtState.NEW:
      return ST_NEW;
    case CtState.ESTABLISHED:
      return ST_ESTABLISHED;
    case CtState.RELATED:
      return ST_RELATED;
    case CtState.UNTRACKED:
      return ST_UNTRACKED;
    default:
      return ST_INVALID;
  }
}

function parseNames(s: string, names: readonly [string, number][], what: string, ctx: ParseCtx, allowNone: boolean): number {
  let v = 0;
  for (const part of s.split(',')) {
    if (allowNone && part.toUpperCase() === 'NONE') continue;
    const hit = names.find(([n]) => n === part.toUpperCase());
    if (hit === undefined) fail(ctx, s, `Bad ${what} "${part}"`);
    v |= hit[1];
  }
  return v;
}

function nameList(v: number, names: readonly [string, number][], none: string): string {
  const out = names.filter(([, b]) => v & b).map(([n]) => n);
  return out.length === 0 ? none : out.join(',');
}

/** XT_CONNTRACK_* match flags, which also index the invert flags. */
const enum F {
  STATE = 1 << 0,
  PROTO = 1 << 1,
  ORIGSRC = 1 << 2,
  ORIGDST = 1 << 3,
  REPLSRC = 1 << 4,
  REPLDST = 1 << 5,
  STATUS = 1 << 6,
  EXPIRES = 1 << 7,
  ORIGSRC_PORT = 1 << 8,
  ORIGDST_PORT = 1 << 9,
  REPLSRC_PORT = 1 << 10,
  REPLDST_PORT = 1 << 11,
  DIRECTION = 1 << 12,
}

const OPT = {
  ctstate: { names: ['ctstate'], args: 1, invert: true },
  ctproto: { names: ['ctproto'], args: 1, invert: true },
  ctorigsrc: { names: ['ctorigsrc'], args: 1, invert: true },
  ctorigdst: { names: ['ctorigdst'], args: 1, invert: true },
  ctreplsrc: { names: ['ctreplsrc'], args: 1, invert: true },
  ctrepldst: { names: ['ctrepldst'], args: 1, invert: true },
  ctorigsrcport: { names: ['ctorigsrcport'], args: 1, invert: true },
  ctorigdstport: { names: ['ctorigdstport'], args: 1, invert: true },
  ctreplsrcport: { names: ['ctreplsrcport'], args: 1, invert: true },
  ctrepldstport: { names: ['ctrepldstport'], args: 1, invert: true },
  ctstatus: { names: ['ctstatus'], args: 1, invert: true },
  ctexpire: { names: ['ctexpire'], args: 1, invert: true },
  ctdir: { names: ['ctdir'], args: 1, invert: false },
} satisfies Record<string, OptionSpec>;
const CT_OPTS = optionTable(Object.values(OPT));
const STATE_OPT: OptionSpec = { names: ['state'], args: 1, invert: true };
const STATE_OPTS = optionTable([STATE_OPT]);

const ANY: AddrMask = { addr: 0, mask: 0 };

export class ConntrackMatch implements MatchExt, Matcher {
  readonly opts: ReturnType<typeof optionTable>;
  flags = 0;
  inv = 0;
  stateMask = 0;
  l4proto = 0;
  origsrc = ANY;
  origdst = ANY;
  replsrc = ANY;
  repldst = ANY;
  origsrcPort: [number, number] = [0, 0];
  origdstPort: [number, number] = [0, 0];
  replsrcPort: [number, number] = [0, 0];
  repldstPort: [number, number] = [0, 0];
  statusMask = 0;
  expires: [number, number] = [0, 0];

  /** `name` is "conntrack" or "state" (the XT_CONNTRACK_STATE_ALIAS spelling). */
  constructor(readonly name: 'conntrack' | 'state') {
    this.opts = name === 'state' ? STATE_OPTS : CT_OPTS;
  }

  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    const a = args[0]!;
    let f: F;
    switch (spec) {
      case STATE_OPT:
      case OPT.ctstate:
        f = F.STATE;
        this.stateMask = parseNames(a, spec === STATE_OPT ? STATE_NAMES.slice(0, 5) : STATE_NAMES, 'ctstate', ctx, false);
        break;
      case OPT.ctproto:
        f = F.PROTO;
        this.l4proto = parseProtocol(a, ctx);
        if (this.l4proto === 0) fail(ctx, a, invert ? `condition would always match protocol (--ctproto ${a})` : `rule would never match protocol (--ctproto ${a})`);
        break;
      case OPT.ctorigsrc:
        f = F.ORIGSRC;
        this.origsrc = parseAddrMask(a, ctx);
        break;
      case OPT.ctorigdst:
        f = F.ORIGDST;
        this.origdst = parseAddrMask(a, ctx);
        break;
      case OPT.ctreplsrc:
        f = F.REPLSRC;
        this.replsrc = parseAddrMask(a, ctx);
        break;
      case OPT.ctrepldst:
        f = F.REPLDST;
        this.repldst = parseAddrMask(a, ctx);
        break;
      case OPT.ctorigsrcport:
        f = F.ORIGSRC_PORT;
        this.origsrcPort = parsePortRange(a, ctx);
        break;
      case OPT.ctorigdstport:
        f = F.ORIGDST_PORT;
        this.origdstPort = parsePortRange(a, ctx);
        break;
      case OPT.ctreplsrcport:
        f = F.REPLSRC_PORT;
        this.replsrcPort = parsePortRange(a, ctx);
        break;
      case OPT.ctrepldstport:
        f = F.REPLDST_PORT;
        this.repldstPort = parsePortRange(a, ctx);
        break;
      case OPT.ctstatus:
        f = F.STATUS;
        this.statusMask = parseNames(a, STATUS_NAMES, 'ctstatus', ctx, true);
        break;
      case OPT.ctexpire: {
        f = F.EXPIRES;
        const [lo, hi] = a.split(':', 2) as [string, string | undefined];
        const min = parseDecimal(lo, 0, 0xffffffff);
        const max = hi === undefined ? min : parseDecimal(hi, 0, 0xffffffff);
        if (min === null || max === null || min > max) fail(ctx, a, `conntrack: invalid --ctexpire range \`${a}'`);
        this.expires = [min, max];
        break;
      }
      default: {
        f = F.DIRECTION;
        const d = a.toUpperCase();
        if (d !== 'ORIGINAL' && d !== 'REPLY') fail(ctx, a, `Unknown --ctdir "${a}"`);
        if (d === 'REPLY') invert = true;
      }
    }
    this.flags |= f;
    if (invert) this.inv |= f;
  }

  finish(ctx: ParseCtx): void {
    if (this.flags === 0) fail(ctx, `-m ${this.name}`, `${this.name} match: You must specify one or more options`);
  }

  /** conntrack_dump in libxt_conntrack.c; `p` is "--" for save, "" for -L. */
  private dump(p: string): string {
    let s = '';
    const has = (f: F) => (this.flags & f) !== 0;
    const neg = (f: F) => ((this.inv & f) !== 0 ? ' !' : '');
    if (has(F.STATE)) s += `${neg(F.STATE)} ${p}${this.name === 'state' ? 'state' : 'ctstate'} ${nameList(this.stateMask, STATE_NAMES, '')}`;
    if (has(F.PROTO)) s += `${neg(F.PROTO)} ${p}ctproto ${this.l4proto}`;
    if (has(F.ORIGSRC)) s += `${neg(F.ORIGSRC)} ${p}ctorigsrc ${listAddr(this.origsrc)}`;
    if (has(F.ORIGDST)) s += `${neg(F.ORIGDST)} ${p}ctorigdst ${listAddr(this.origdst)}`;
    if (has(F.REPLSRC)) s += `${neg(F.REPLSRC)} ${p}ctreplsrc ${listAddr(this.replsrc)}`;
    if (has(F.REPLDST)) s += `${neg(F.REPLDST)} ${p}ctrepldst ${listAddr(this.repldst)}`;
    const ports = (r: [number, number]) => (r[0] === r[1] ? `${r[0]}` : `${r[0]}:${r[1]}`);
    if (has(F.ORIGSRC_PORT)) s += `${neg(F.ORIGSRC_PORT)} ${p}ctorigsrcport ${ports(this.origsrcPort)}`;
    if (has(F.ORIGDST_PORT)) s += `${neg(F.ORIGDST_PORT)} ${p}ctorigdstport ${ports(this.origdstPort)}`;
    if (has(F.REPLSRC_PORT)) s += `${neg(F.REPLSRC_PORT)} ${p}ctreplsrcport ${ports(this.replsrcPort)}`;
    if (has(F.REPLDST_PORT)) s += `${neg(F.REPLDST_PORT)} ${p}ctrepldstport ${ports(this.repldstPort)}`;
    if (has(F.STATUS)) s += `${neg(F.STATUS)} ${p}ctstatus ${nameList(this.statusMask, STATUS_NAMES, 'NONE')}`;
    if (has(F.EXPIRES)) s += `${neg(F.EXPIRES)} ${p}ctexpire ${ports(this.expires)}`;
    if (has(F.DIRECTION)) s += ` ${p}ctdir ${this.inv & F.DIRECTION ? 'REPLY' : 'ORIGINAL'}`;
    return s;
  }

  save(): string {
    return this.dump('--');
  }

  print(): string {
    return this.dump('');
  }

  check(): void {}

  compile(): Matcher {
    return this;
  }

  /** conntrack_mt. */
  match(x: XtPacket): boolean {
    const flags = this.flags;
    const inv = this.inv;
    const ct = x.p.ct;
    if (flags & F.STATE) {
      let statebit = ctStateBit(x);
      if (ct !== null) {
        if (ct.status & CtStatus.SRC_NAT) statebit |= ST_SNAT;
        if (ct.status & CtStatus.DST_NAT) statebit |= ST_DNAT;
      }
      if (((this.stateMask & statebit) !== 0) === ((inv & F.STATE) !== 0)) return false;
    }
    if (ct === null) return (flags & F.STATE) !== 0;
    // --ctdir REPLY is stored as an inverted ORIGINAL.
    if (flags & F.DIRECTION && (x.p.ctDir === CtDir.ORIGINAL) !== ((inv & F.DIRECTION) === 0)) return false;
    if (flags & F.ORIGSRC && !this.addr(ct.tuple[0].src, this.origsrc, F.ORIGSRC)) return false;
    if (flags & F.ORIGDST && !this.addr(ct.tuple[0].dst, this.origdst, F.ORIGDST)) return false;
    if (flags & F.REPLSRC && !this.addr(ct.tuple[1].src, this.replsrc, F.REPLSRC)) return false;
    if (flags & F.REPLDST && !this.addr(ct.tuple[1].dst, this.repldst, F.REPLDST)) return false;
    if (!this.protoPorts(ct)) return false;
    if (flags & F.STATUS && ((this.statusMask & ct.status) !== 0) === ((inv & F.STATUS) !== 0)) return false;
    if (flags & F.EXPIRES) {
      // nf_ct_expires(ct) / HZ: whole seconds left.
      const left = Math.max(0, Math.floor((ct.expiresAt - x.host.now()) / 1e9));
      if ((left >= this.expires[0] && left <= this.expires[1]) === ((inv & F.EXPIRES) !== 0)) return false;
    }
    return true;
  }

  private addr(a: number, m: AddrMask, f: F): boolean {
    return (((a & m.mask) >>> 0 === m.addr) !== ((this.inv & f) !== 0));
  }

  /** ct_proto_port_check_v3. */
  private protoPorts(ct: Conn): boolean {
    const flags = this.flags;
    const inv = this.inv;
    if (flags & F.PROTO && (ct.tuple[0].protocol === this.l4proto) === ((inv & F.PROTO) !== 0)) return false;
    if (flags & F.ORIGSRC_PORT && !this.port(ct.tuple[0].srcPort, this.origsrcPort, F.ORIGSRC_PORT)) return false;
    if (flags & F.ORIGDST_PORT && !this.port(ct.tuple[0].dstPort, this.origdstPort, F.ORIGDST_PORT)) return false;
    if (flags & F.REPLSRC_PORT && !this.port(ct.tuple[1].srcPort, this.replsrcPort, F.REPLSRC_PORT)) return false;
    if (flags & F.REPLDST_PORT && !this.port(ct.tuple[1].dstPort, this.repldstPort, F.REPLDST_PORT)) return false;
    return true;
  }

  /** port_match. */
  private port(v: number, r: [number, number], f: F): boolean {
    return (v >= r[0] && v <= r[1]) !== ((this.inv & f) !== 0);
  }
}
