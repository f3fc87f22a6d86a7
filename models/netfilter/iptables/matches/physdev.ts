/**
 * -m physdev (net/netfilter/xt_physdev.c): the bridge ports of a packet that
 * br_netfilter passes through iptables (p.bridged, p.physIn, p.physOut).
 * For a packet that is not being bridged, a rule matches only if every
 * option it uses is negated.
 */
import { fail } from '../errors.js';
import { hookBit, optionTable, type CheckCtx, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { ifaceMatches, parseIface, type IfaceSpec } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';
import { NfHook } from '../../hooks.js';

/** XT_PHYSDEV_OP_* */
const OP_IN = 1;
const OP_OUT = 2;
const OP_BRIDGED = 4;
const OP_ISIN = 8;
const OP_ISOUT = 16;

const PHYSDEV_IN: OptionSpec = { names: ['physdev-in'], args: 1, invert: true };
const PHYSDEV_OUT: OptionSpec = { names: ['physdev-out'], args: 1, invert: true };
const IS_IN: OptionSpec = { names: ['physdev-is-in'], args: 0, invert: true };
const IS_OUT: OptionSpec = { names: ['physdev-is-out'], args: 0, invert: true };
const IS_BRIDGED: OptionSpec = { names: ['physdev-is-bridged'], args: 0, invert: true };
const OPTS = optionTable([PHYSDEV_IN, PHYSDEV_OUT, IS_IN, IS_OUT, IS_BRIDGED]);

export class PhysdevMatch implements MatchExt, Matcher {
  readonly name = 'physdev';
  readonly opts = OPTS;
  bitmask = 0;
  invert = 0;
  physIn: IfaceSpec | null = null;
  physOut: IfaceSpec | null = null;

  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    let op: number;
    if (spec === PHYSDEV_IN) {
      op = OP_IN;
      this.physIn = parseIface(args[0]!, ctx);
    } else if (spec === PHYSDEV_OUT) {
      op = OP_OUT;
      this.physOut = parseIface(args[0]!, ctx);
    } else op = spec === IS_IN ? OP_ISIN : spec === IS_OUT ? OP_ISOUT : OP_BRIDGED;
    this.bitmask |= op;
    if (invert) this.invert |= op;
  }

  finish(ctx: ParseCtx): void {
    if (this.bitmask === 0) fail(ctx, '-m physdev', 'PHYSDEV: no physdev option specified');
  }

  /** physdev_save / physdev_print share this order. */
  private text(): string {
    const neg = (op: number) => (this.invert & op ? ' !' : '');
    let s = '';
    if (this.bitmask & OP_ISIN) s += `${neg(OP_ISIN)} --physdev-is-in`;
    if (this.bitmask & OP_IN) s += `${neg(OP_IN)} --physdev-in ${this.physIn!.text}`;
    if (this.bitmask & OP_ISOUT) s += `${neg(OP_ISOUT)} --physdev-is-out`;
    if (this.bitmask & OP_OUT) s += `${neg(OP_OUT)} --physdev-out ${this.physOut!.text}`;
    if (this.bitmask & OP_BRIDGED) s += `${neg(OP_BRIDGED)} --physdev-is-bridged`;
    return s;
  }

  save(): string {
    return this.text();
  }

  print(): string {
    return ` PHYSDEV match${this.text()}`;
  }

  /** physdev_mt_check: --physdev-out for non-bridged traffic is refused in OUTPUT. */
  check(c: CheckCtx): void {
    if (
      this.bitmask & (OP_OUT | OP_ISOUT) &&
      (!(this.bitmask & OP_BRIDGED) || this.invert & OP_BRIDGED) &&
      c.hookMask & hookBit(NfHook.LOCAL_OUT)
    ) {
      fail(c, '--physdev-out', 'ip_tables: physdev match: --physdev-out and --physdev-is-out only supported in the FORWARD and POSTROUTING chains with bridged traffic');
    }
  }

  compile(): Matcher {
    return this;
  }

  /** physdev_mt. */
  match(x: XtPacket): boolean {
    const bm = this.bitmask;
    const inv = this.invert;
    const p = x.p;
    if (!p.bridged) {
      // Not a bridged packet: match only if every option used is inverted.
      return (bm & ~inv) === 0;
    }
    const outdev = p.physOut;
    if (bm & OP_BRIDGED && (outdev !== null) !== ((inv & OP_BRIDGED) === 0)) return false;
    const indev = p.physIn;
    if ((bm & OP_ISIN && (indev === null) !== ((inv & OP_ISIN) !== 0)) || (bm & OP_ISOUT && (outdev === null) !== ((inv & OP_ISOUT) !== 0))) {
      return false;
    }
    if (bm & OP_IN && indev !== null && ifaceMatches(this.physIn!, indev.name) === ((inv & OP_IN) !== 0)) return false;
    if (!(bm & OP_OUT)) return true;
    if (outdev === null) return false;
    return ifaceMatches(this.physOut!, outdev.name) !== ((inv & OP_OUT) !== 0);
  }
}
