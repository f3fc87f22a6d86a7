/**
 * -m recent (net/netfilter/xt_recent.c revision 1 with --mask,
 * extensions/libxt_recent.c). kube-proxy's session affinity:
 *
 *     -A KUBE-SVC-X -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-Y --mask 255.255.255.255 --rsource -j KUBE-SEP-Y
 *     -A KUBE-SEP-Y -m recent --set --name KUBE-SEP-Y --mask 255.255.255.255 --rsource -j DNAT ...
 *
 * The lists live in the namespace (RecentRegistry) and outlive table
 * reloads; see recent-table.ts.
 */
import { fail } from '../errors.js';
import { optionTable, type CheckCtx, type CompileEnv, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { parseDecimal, parseDottedQuad } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';
import { IP_PKT_LIST_TOT, type RecentTable } from '../recent-table.js';
import { formatIpv4 } from '../../../wire/addr.js';
import { ipv4Ttl } from '../../../wire/ipv4.js';
import { NfHook } from '../../hooks.js';

/** XT_RECENT_* check_set bits. */
const CHECK = 1 << 0;
const SET = 1 << 1;
const UPDATE = 1 << 2;
const REMOVE = 1 << 3;
const TTL = 1 << 4;
const REAP = 1 << 5;
const COMMANDS = CHECK | SET | UPDATE | REMOVE;

/** XT_RECENT_NAME_LEN */
const NAME_LEN = 200;

const O = {
  set: { names: ['set'], args: 0, invert: true },
  rcheck: { names: ['rcheck'], args: 0, invert: true },
  update: { names: ['update'], args: 0, invert: true },
  remove: { names: ['remove'], args: 0, invert: true },
  seconds: { names: ['seconds'], args: 1, invert: false },
  reap: { names: ['reap'], args: 0, invert: false },
  hitcount: { names: ['hitcount'], args: 1, invert: false },
  rttl: { names: ['rttl'], args: 0, invert: false },
  name: { names: ['name'], args: 1, invert: false },
  rsource: { names: ['rsource'], args: 0, invert: false },
  rdest: { names: ['rdest'], args: 0, invert: false },
  mask: { names: ['mask'], args: 1, invert: false },
} satisfies Record<string, OptionSpec>;
const OPTS = optionTable(Object.values(O));

export class RecentMatch implements MatchExt {
  readonly name = 'recent';
  readonly opts = OPTS;
  checkSet = 0;
  seconds = 0;
  hitCount = 0;
  invert = false;
  table = 'DEFAULT';
  side: 'source' | 'dest' = 'source';
  mask = 0xffffffff;

  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    const a = args[0]!;
    switch (spec) {
      case O.set:
      case O.rcheck:
      case O.update:
      case O.remove: {
        if (this.checkSet & COMMANDS) fail(ctx, `--${spec.names[0]}`, "recent: only one of `--set', `--rcheck' `--update' or `--remove' may be set");
        this.checkSet |= spec === O.set ? SET : spec === O.rcheck ? CHECK : spec === O.update ? UPDATE : REMOVE;
        this.invert = invert;
        break;
      }
      case O.seconds: {
        const n = parseDecimal(a, 1, 0xffffffff);
        if (n === null) fail(ctx, a, `recent: invalid --seconds \`${a}'`);
        this.seconds = n;
        break;
      }
      case O.hitcount: {
        const n = parseDecimal(a, 1, 0xffffffff);
        if (n === null) fail(ctx, a, `recent: invalid --hitcount \`${a}'`);
        this.hitCount = n;
        break;
      }
      case O.reap:
        this.checkSet |= REAP;
        break;
      case O.rttl:
        this.checkSet |= TTL;
        break;
      case O.name:
        if (a === '' || a.length >= NAME_LEN) fail(ctx, a, `recent: invalid --name \`${a}'`);
        this.table = a;
        break;
      case O.rsource:
        this.side = 'source';
        break;
      case O.rdest:
        this.side = 'dest';
        break;
      default: {
        const m = parseDottedQuad(a);
        if (m === null) fail(ctx, a, `recent: invalid --mask \`${a}'`);
        this.mask = m;
      }
    }
  }

  /** recent_check (userspace) and recent_mt_check (kernel) rules. */
  finish(ctx: ParseCtx): void {
    if ((this.checkSet & COMMANDS) === 0) fail(ctx, '-m recent', "recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'");
    if (this.checkSet & (SET | REMOVE) && (this.seconds || this.hitCount || this.checkSet & (TTL | REAP))) {
      fail(ctx, '-m recent', 'recent: --set and --remove cannot be combined with --seconds, --hitcount, --rttl or --reap');
    }
    if (this.checkSet & REAP && !this.seconds) fail(ctx, '--reap', 'recent: --reap requires --seconds');
    if (this.hitCount > IP_PKT_LIST_TOT) {
      fail(ctx, '--hitcount', `recent: hitcount (${this.hitCount}) is larger than packets to be remembered (${IP_PKT_LIST_TOT})`);
    }
  }

  private command(): string {
    const c = this.checkSet;
    return c & SET ? 'set' : c & CHECK ? 'rcheck' : c & UPDATE ? 'update' : 'remove';
  }

  save(): string {
    let s = `${this.invert ? ' !' : ''} --${this.command()}`;
    if (this.seconds) s += ` --seconds ${this.seconds}`;
    if (this.checkSet & REAP) s += ' --reap';
    if (this.hitCount) s += ` --hitcount ${this.hitCount}`;
    if (this.checkSet & TTL) s += ' --rttl';
    s += ` --name ${this.table} --mask ${formatIpv4(this.mask)} --${this.side === 'source' ? 'rsource' : 'rdest'}`;
    return s;
  }

  print(): string {
    const c = this.checkSet;
    let s = `${this.invert ? ' !' : ''} recent:`;
    s += c & SET ? ' SET' : c & CHECK ? ' CHECK' : c & UPDATE ? ' UPDATE' : ' REMOVE';
    if (this.seconds) s += ` seconds: ${this.seconds}`;
    if (c & REAP) s += ' reap';
    if (this.hitCount) s += ` hit_count: ${this.hitCount}`;
    if (c & TTL) s += ' TTL-Match';
    s += ` name: ${this.table} side: ${this.side} mask: ${formatIpv4(this.mask)}`;
    return s;
  }

  check(_c: CheckCtx): void {}

  compile(env: CompileEnv): Matcher {
    const table = env.recent.acquire(this.table);
    env.defer(() => env.recent.release(this.table));
    return new RecentMatcher(this, table);
  }
}

class RecentMatcher implements Matcher {
  private readonly checkSet: number;
  private readonly seconds: number;
  private readonly hitCount: number;
  private readonly invert: boolean;
  private readonly dest: boolean;
  private readonly mask: number;

  constructor(
    info: RecentMatch,
    readonly table: RecentTable,
  ) {
    this.checkSet = info.checkSet;
    this.seconds = info.seconds;
    this.hitCount = info.hitCount;
    this.invert = info.invert;
    this.dest = info.side === 'dest';
    this.mask = info.mask;
  }

  /** recent_mt. */
  match(x: XtPacket): boolean {
    const t = this.table;
    const cs = this.checkSet;
    const now = x.host.now();
    let ret = this.invert;
    const addr = ((this.dest ? x.dst : x.src) & this.mask) >>> 0;
    let ttl = ipv4Ttl(x.buf, x.ipOff);
    // "use TTL as seen before forwarding" (par->out && !skb->sk). podwire knows a
    // packet is forwarded for certain only at FORWARD; at POSTROUTING it cannot
    // tell a forwarded packet from a local one, so --rttl there sees the
    // decremented TTL.
    if (x.hook === NfHook.FORWARD) ttl++;
    const e = t.lookup(addr, cs & TTL ? ttl : 0);
    if (e === null) {
      if (!(cs & SET)) return ret;
      t.init(addr, ttl, now);
      return !ret;
    }
    if (cs & SET) ret = !ret;
    else if (cs & REMOVE) {
      t.remove(e);
      return !ret;
    } else {
      // CHECK or UPDATE: enough stamps within --seconds?
      const time = now - this.seconds * 1e9;
      let hits = 0;
      for (let i = 0; i < e.nstamps; i++) {
        if (this.seconds && time > e.stamps[i]!) continue;
        if (!this.hitCount || ++hits >= this.hitCount) {
          ret = !ret;
          break;
        }
      }
      if (cs & REAP) t.reap(time, e, (cs & UPDATE) !== 0 && ret);
    }
    if (cs & SET || (cs & UPDATE && ret)) {
      t.update(e, now);
      e.ttl = ttl;
    }
    return ret;
  }
}
