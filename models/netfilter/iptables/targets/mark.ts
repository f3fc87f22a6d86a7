/**
 * -j MARK and -j CONNMARK (net/netfilter/xt_mark.c mark_tg,
 * xt_connmark.c connmark_tg; extensions/libxt_MARK.c, libxt_CONNMARK.c).
 * Every form reduces to "clear these bits, then xor this value", which is
 * how iptables-save prints it (`--or-mark 0x4000` is saved as
 * `--set-xmark 0x4000/0x4000`). Both continue with the next rule.
 */
import { fail } from '../errors.js';
import { optionTable, type OptionSpec, type ParseCtx, type TargetExt } from '../extension.js';
import { XT_CONTINUE, type TargetFn, type XtPacket } from '../xt.js';
import { hex, parseMarkMask, parseUint } from '../values.js';

const SET_XMARK: OptionSpec = { names: ['set-xmark'], args: 1, invert: false };
const SET_MARK: OptionSpec = { names: ['set-mark'], args: 1, invert: false };
const AND_MARK: OptionSpec = { names: ['and-mark'], args: 1, invert: false };
const OR_MARK: OptionSpec = { names: ['or-mark'], args: 1, invert: false };
const XOR_MARK: OptionSpec = { names: ['xor-mark'], args: 1, invert: false };
const SETTERS = [SET_XMARK, SET_MARK, AND_MARK, OR_MARK, XOR_MARK];

/** Reads one of the five setter options into (value, mask) for `(old & ~mask) ^ value`. */
function parseSetter(spec: OptionSpec, arg: string, ctx: ParseCtx, what: string): { value: number; mask: number } {
  if (spec === SET_XMARK) return parseMarkMask(arg, ctx, what);
  if (spec === SET_MARK) {
    const v = parseMarkMask(arg, ctx, what);
    return { value: v.value, mask: (v.value | v.mask) >>> 0 };
  }
  const v = parseUint(arg);
  if (v === null) fail(ctx, arg, `Bad ${what} value "${arg}"`);
  if (spec === AND_MARK) return { value: 0, mask: ~v >>> 0 };
  if (spec === OR_MARK) return { value: v, mask: v };
  return { value: v, mask: 0 };
}

/** The MARK/CONNMARK print forms: and, or, xor, set, xset. */
function describe(value: number, mask: number): string {
  if (value === 0) return `and ${hex(~mask)}`;
  if (value === mask) return `or ${hex(value)}`;
  if (mask === 0) return `xor ${hex(value)}`;
  if (mask === 0xffffffff) return `set ${hex(value)}`;
  return `xset ${hex(value)}/${hex(mask)}`;
}

const MARK_OPTS = optionTable(SETTERS);

export class MarkTarget implements TargetExt, TargetFn {
  readonly name = 'MARK';
  readonly kernelName = 'MARK';
  readonly opts = MARK_OPTS;
  value = 0;
  mask = 0;
  private given: string | null = null;

  parse(spec: OptionSpec, args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    const opt = `--${spec.names[0]}`;
    if (this.given !== null) fail(ctx, opt, `MARK target: ${opt} cannot be combined with ${this.given}`);
    this.given = opt;
    ({ value: this.value, mask: this.mask } = parseSetter(spec, args[0]!, ctx, 'MARK'));
  }

  finish(ctx: ParseCtx): void {
    if (this.given === null) fail(ctx, '-j MARK', 'MARK target: Parameter --set/and/or/xor-mark is required');
  }

  save(): string {
    return ` --set-xmark ${hex(this.value)}/${hex(this.mask)}`;
  }

  print(): string {
    return ` MARK ${describe(this.value, this.mask)}`;
  }

  check(): void {}

  compile(): TargetFn {
    return this;
  }

  /** mark_tg: skb->mark = (skb->mark & ~info->mask) ^ info->mark. */
  run(x: XtPacket): number {
    x.pkt.mark = ((x.pkt.mark & ~this.mask) ^ this.value) >>> 0;
    return XT_CONTINUE;
  }
}

const SAVE_MARK: OptionSpec = { names: ['save-mark'], args: 0, invert: false };
const RESTORE_MARK: OptionSpec = { names: ['restore-mark'], args: 0, invert: false };
const NFMASK: OptionSpec = { names: ['nfmask'], args: 1, invert: false };
const CTMASK: OptionSpec = { names: ['ctmask'], args: 1, invert: false };
const MASK: OptionSpec = { names: ['mask'], args: 1, invert: false };
const CONNMARK_OPTS = optionTable([...SETTERS, SAVE_MARK, RESTORE_MARK, NFMASK, CTMASK, MASK]);

const enum Mode {
  SET = 0,
  SAVE = 1,
  RESTORE = 2,
}

export class ConnmarkTarget implements TargetExt, TargetFn {
  readonly name = 'CONNMARK';
  readonly kernelName = 'CONNMARK';
  readonly opts = CONNMARK_OPTS;
  mode = Mode.SET;
  ctmark = 0;
  ctmask = 0xffffffff;
  nfmask = 0xffffffff;
  private given: string | null = null;
  private masksGiven = false;

  parse(spec: OptionSpec, args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    const opt = `--${spec.names[0]}`;
    if (spec === NFMASK || spec === CTMASK || spec === MASK) {
      const v = parseUint(args[0]!);
      if (v === null) fail(ctx, args[0]!, `Bad CONNMARK mask "${args[0]}"`);
      if (spec !== CTMASK) this.nfmask = v;
      if (spec !== NFMASK) this.ctmask = v;
      this.masksGiven = true;
      return;
    }
    if (this.given !== null) fail(ctx, opt, `CONNMARK target: ${opt} cannot be combined with ${this.given}`);
    this.given = opt;
    if (spec === SAVE_MARK) this.mode = Mode.SAVE;
    else if (spec === RESTORE_MARK) this.mode = Mode.RESTORE;
    else ({ value: this.ctmark, mask: this.ctmask } = parseSetter(spec, args[0]!, ctx, 'CONNMARK'));
  }

  finish(ctx: ParseCtx): void {
    if (this.given === null) fail(ctx, '-j CONNMARK', 'CONNMARK target: No operation specified');
    if (this.masksGiven && this.mode === Mode.SET) fail(ctx, '--mask', 'CONNMARK target: --mask, --nfmask and --ctmask go with --save-mark or --restore-mark');
  }

  save(): string {
    if (this.mode === Mode.SET) return ` --set-xmark ${hex(this.ctmark)}/${hex(this.ctmask)}`;
    return ` --${this.mode === Mode.SAVE ? 'save' : 'restore'}-mark --nfmask ${hex(this.nfmask)} --ctmask ${hex(this.ctmask)}`;
  }

  /** connmark_tg_print_v1. */
  print(): string {
    const all = 0xffffffff;
    if (this.mode === Mode.SET) return ` CONNMARK ${describe(this.ctmark, this.ctmask)}`;
    if (this.mode === Mode.SAVE) {
      if (this.nfmask === all && this.ctmask === all) return ' CONNMARK save';
      if (this.nfmask === this.ctmask) return ` CONNMARK save mask ${hex(this.nfmask)}`;
      return ` CONNMARK save nfmask ${hex(this.nfmask)} ctmask ~${hex(this.ctmask)}`;
    }
    if (this.ctmask === all && this.nfmask === all) return ' CONNMARK restore';
    if (this.ctmask === this.nfmask) return ` CONNMARK restore mask ${hex(this.ctmask)}`;
    return ` CONNMARK restore ctmask ${hex(this.ctmask)} nfmask ~${hex(this.nfmask)}`;
  }

  check(): void {}

  compile(): TargetFn {
    return this;
  }

  /** connmark_tg: no connection, nothing to do. */
  run(x: XtPacket): number {
    const ct = x.p.ct;
    if (ct === null) return XT_CONTINUE;
    const pkt = x.pkt;
    switch (this.mode) {
      case Mode.SET:
        ct.mark = ((ct.mark & ~this.ctmask) ^ this.ctmark) >>> 0;
        break;
      case Mode.SAVE:
        ct.mark = ((ct.mark & ~this.ctmask) ^ (pkt.mark & this.nfmask)) >>> 0;
        break;
      default:
        pkt.mark = ((pkt.mark & ~this.nfmask) ^ (ct.mark & this.ctmask)) >>> 0;
    }
    return XT_CONTINUE;
  }
}
