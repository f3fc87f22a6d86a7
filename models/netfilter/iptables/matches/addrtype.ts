/**
 * -m addrtype (net/netfilter/xt_addrtype.c revision 1): the route type of the
 * source and/or destination address (inet_dev_addr_type, asked of the
 * namespace through NetfilterHost.addressType), optionally looked up only
 * for the in or out device. kube-proxy sends NodePort traffic to
 * KUBE-NODEPORTS with `-m addrtype --dst-type LOCAL`.
 */
import { fail } from '../errors.js';
import { hookBit, optionTable, type CheckCtx, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import type { Matcher, XtPacket } from '../xt.js';
import { NfHook } from '../../hooks.js';
import type { AddrType } from '../../types.js';

/** enum rtn_type order: a type's bit is 1 << RTN_x. */
const RTN_NAMES = ['UNSPEC', 'UNICAST', 'LOCAL', 'BROADCAST', 'ANYCAST', 'MULTICAST', 'BLACKHOLE', 'UNREACHABLE', 'PROHIBIT', 'THROW', 'NAT', 'XRESOLVE'] as const;
const RTN_BIT = new Map<string, number>(RTN_NAMES.map((n, i) => [n, 1 << i]));

function typeBit(t: AddrType): number {
  return RTN_BIT.get(t)!;
}

const SRC: OptionSpec = { names: ['src-type'], args: 1, invert: true };
const DST: OptionSpec = { names: ['dst-type'], args: 1, invert: true };
const IN: OptionSpec = { names: ['limit-iface-in'], args: 0, invert: false };
const OUT: OptionSpec = { names: ['limit-iface-out'], args: 0, invert: false };
const OPTS = optionTable([SRC, DST, IN, OUT]);

export class AddrtypeMatch implements MatchExt, Matcher {
  readonly name = 'addrtype';
  readonly opts = OPTS;
  source = 0;
  dest = 0;
  invSource = false;
  invDest = false;
  limitIn = false;
  limitOut = false;

  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    if (spec === IN) this.limitIn = true;
    else if (spec === OUT) this.limitOut = true;
    else {
      let mask = 0;
      for (const part of args[0]!.split(',')) {
        const bit = RTN_BIT.get(part.toUpperCase());
        if (bit === undefined) fail(ctx, args[0]!, `addrtype: bad type "${part}"`);
        mask |= bit;
      }
      if (spec === SRC) {
        this.source = mask;
        this.invSource = invert;
      } else {
        this.dest = mask;
        this.invDest = invert;
      }
    }
  }

  finish(ctx: ParseCtx): void {
    if (this.source === 0 && this.dest === 0) fail(ctx, '-m addrtype', 'addrtype: you must specify --src-type or --dst-type');
    if (this.limitIn && this.limitOut) fail(ctx, '--limit-iface-out', 'addrtype: you can\'t specify both --limit-iface-in and --limit-iface-out');
  }

  private names(mask: number): string {
    return RTN_NAMES.filter((_, i) => mask & (1 << i)).join(',');
  }

  save(): string {
    let s = '';
    if (this.source) s += `${this.invSource ? ' !' : ''} --src-type ${this.names(this.source)}`;
    if (this.dest) s += `${this.invDest ? ' !' : ''} --dst-type ${this.names(this.dest)}`;
    if (this.limitIn) s += ' --limit-iface-in';
    if (this.limitOut) s += ' --limit-iface-out';
    return s;
  }

  print(): string {
    let s = ' ADDRTYPE match';
    if (this.source) s += ` src-type ${this.invSource ? '!' : ''}${this.names(this.source)}`;
    if (this.dest) s += ` dst-type ${this.invDest ? '!' : ''}${this.names(this.dest)}`;
    if (this.limitIn) s += ' limit-in';
    if (this.limitOut) s += ' limit-out';
    return s;
  }

  /** addrtype_mt_checkentry_v1. */
  check(c: CheckCtx): void {
    const inHooks = hookBit(NfHook.PRE_ROUTING) | hookBit(NfHook.LOCAL_IN);
    const outHooks = hookBit(NfHook.POST_ROUTING) | hookBit(NfHook.LOCAL_OUT);
    if (this.limitOut && c.hookMask & inHooks) {
      fail(c, '--limit-iface-out', 'ip_tables: addrtype: output interface limitation not valid in PREROUTING and INPUT');
    }
    if (this.limitIn && c.hookMask & outHooks) {
      fail(c, '--limit-iface-in', 'ip_tables: addrtype: input interface limitation not valid in POSTROUTING and OUTPUT');
    }
  }

  compile(): Matcher {
    return this;
  }

  /** addrtype_mt_v1. */
  match(x: XtPacket): boolean {
    const dev = this.limitIn ? x.p.inDev : this.limitOut ? x.p.outDev : null;
    const host = x.host;
    if (this.source && ((typeBit(host.addressType(x.src, dev)) & this.source) !== 0) === this.invSource) return false;
    if (this.dest && ((typeBit(host.addressType(x.dst, dev)) & this.dest) !== 0) === this.invDest) return false;
    return true;
  }
}
