/**
 * -m set --match-set NAME FLAGS (net/netfilter/xt_set.c,
 * extensions/libxt_set.c): membership of the packet's address and/or port in
 * an ip set. FLAGS pick, per set dimension, the source or destination
 * ("src", "dst,dst"); a rule with fewer flags than the set has dimensions
 * never matches (ip_set_test: opt->dim < set->type->dimension).
 *
 * Ports follow ip_set_get_ip4_port: TCP, UDP and SCTP ports; for ICMP the
 * "port" is type << 8 | code; other protocols test port 0. A non-first
 * fragment has no port and never matches a port set.
 */
import { fail } from '../errors.js';
import { optionTable, type CheckCtx, type CompileEnv, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import type { Matcher, XtPacket } from '../xt.js';
import type { IpSet } from '../../types.js';
import { MissingObjectError } from './nfacct.js';
import { read16 } from '../../../wire/bytes.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../../../wire/ipv4.js';
import { IPPROTO_SCTP } from './tcpudp.js';

/** IPSET_DIM_MAX */
const DIM_MAX = 6;
/** IPSET_MAXNAMELEN (32) including the NUL. */
const NAME_MAX = 31;

const MATCH_SET: OptionSpec = { names: ['match-set'], args: 2, invert: true };
const OPTS = optionTable([
  MATCH_SET,
  { names: ['return-nomatch'], args: 0, invert: false, unsupported: true },
  { names: ['update-counters'], args: 0, invert: true, unsupported: true },
  { names: ['update-subcounters'], args: 0, invert: true, unsupported: true },
  { names: ['packets-eq'], args: 1, invert: true, unsupported: true },
  { names: ['packets-lt'], args: 1, invert: false, unsupported: true },
  { names: ['packets-gt'], args: 1, invert: false, unsupported: true },
  { names: ['bytes-eq'], args: 1, invert: true, unsupported: true },
  { names: ['bytes-lt'], args: 1, invert: false, unsupported: true },
  { names: ['bytes-gt'], args: 1, invert: false, unsupported: true },
]);

/** Dimensions of the set types podwire models. */
const DIMENSION: Record<IpSet['type'], number> = { 'hash:ip': 1, 'hash:net': 1, 'hash:ip,port': 2, 'hash:ip,port,ip': 3, 'bitmap:port': 1 };

export class SetMatch implements MatchExt {
  readonly name = 'set';
  readonly opts = OPTS;
  setName = '';
  /** true = src, per dimension. */
  dirs: boolean[] = [];
  invert = false;

  parse(_spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    const [name, flags] = args as [string, string];
    if (name === '' || name.length > NAME_MAX) fail(ctx, name, `setname \`${name}' too long, max ${NAME_MAX} characters.`);
    const dirs = flags.split(',').map((f) => {
      if (f !== 'src' && f !== 'dst') fail(ctx, flags, `You must specify (the comma separated list of) 'src' or 'dst'; got \`${flags}'`);
      return f === 'src';
    });
    if (dirs.length > DIM_MAX) fail(ctx, flags, `Can't be more src/dst options than ${DIM_MAX}.`);
    this.setName = name;
    this.dirs = dirs;
    this.invert = invert;
  }

  finish(ctx: ParseCtx): void {
    if (this.setName === '') fail(ctx, '-m set', "You must specify `--match-set' with proper arguments");
  }

  private text(p: string): string {
    return `${this.invert ? ' !' : ''} ${p}match-set ${this.setName} ${this.dirs.map((d) => (d ? 'src' : 'dst')).join(',')}`;
  }

  save(): string {
    return this.text('--');
  }

  print(): string {
    return this.text('');
  }

  check(_c: CheckCtx): void {}

  compile(env: CompileEnv): Matcher {
    let resolved: IpSet | null = null;
    if (env.ipsets !== undefined) {
      const found = env.ipsets(this.setName);
      if (found === undefined) throw new MissingObjectError(`Set ${this.setName} doesn't exist.`, this.setName);
      resolved = found;
    }
    return new SetMatcher(this.setName, this.dirs, this.invert, resolved);
  }
}

class SetMatcher implements Matcher {
  constructor(
    private readonly setName: string,
    private readonly dirs: readonly boolean[],
    private readonly invert: boolean,
    /** Bound at load time when the ruleset has a set resolver; else looked up per packet. */
    private readonly resolved: IpSet | null,
  ) {}

  /** set_match_v4 -> ip_set_test. */
  match(x: XtPacket): boolean {
    const set = this.resolved ?? x.host.ipset(this.setName);
    if (set === undefined) return this.invert;
    const dim = DIMENSION[set.type];
    if (this.dirs.length < dim) return this.invert;
    let addr = 0;
    let port = 0;
    if (set.type === 'bitmap:port') {
      port = this.port(x, this.dirs[0]!);
      if (port < 0) return this.invert;
    } else {
      addr = this.dirs[0] ? x.src : x.dst;
      if (set.type === 'hash:ip,port' || set.type === 'hash:ip,port,ip') {
        port = this.port(x, this.dirs[1]!);
        if (port < 0) return this.invert;
      }
    }
    if (set.type === 'hash:ip,port,ip') return set.test(addr, x.proto, port, this.dirs[2] ? x.src : x.dst) !== this.invert;
    return set.test(addr, x.proto, port) !== this.invert;
  }

  /** ip_set_get_ip4_port; -1 when the packet has no usable port. */
  private port(x: XtPacket, src: boolean): number {
    if (x.fragoff !== 0) return -1;
    const p = x.proto;
    if (p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_SCTP) {
      if (x.l4Avail() < 4) return -1;
      return read16(x.buf, src ? x.thoff : x.thoff + 2);
    }
    if (p === IPPROTO_ICMP) {
      if (x.l4Avail() < 2) return -1;
      return (x.buf[x.thoff]! << 8) | x.buf[x.thoff + 1]!;
    }
    return 0;
  }
}
