/**
 * -m mark and -m connmark (net/netfilter/xt_mark.c, xt_connmark.c):
 * `(mark & mask) == value`, on skb->mark or on the connection's mark. A packet
 * without a connection never matches -m connmark.
 */
import { fail } from '../errors.js';
import { optionTable, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { hex, parseMarkMask } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';

const MARK: OptionSpec = { names: ['mark'], args: 1, invert: true };
const OPTS = optionTable([MARK]);

abstract class MarkBase implements MatchExt, Matcher {
  abstract readonly name: string;
  readonly opts = OPTS;
  mark = 0;
  mask = 0xffffffff;
  invert = false;
  private given = false;

  parse(_spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void {
    const v = parseMarkMask(args[0]!, ctx, 'mark');
    this.mark = v.value;
    this.mask = v.mask;
    this.invert = invert;
    this.given = true;
  }

  finish(ctx: ParseCtx): void {
    if (!this.given) fail(ctx, `-m ${this.name}`, `${this.name} match: You must specify \`--mark'`);
  }

  /** print_mark: the mask only when it is not all ones. */
  protected markText(): string {
    return this.mask === 0xffffffff ? hex(this.mark) : `${hex(this.mark)}/${hex(this.mask)}`;
  }

  save(): string {
    return `${this.invert ? ' !' : ''} --mark ${this.markText()}`;
  }

  abstract print(): string;

  check(): void {}

  compile(): Matcher {
    return this;
  }

  abstract match(x: XtPacket): boolean;
}

export class MarkMatch extends MarkBase {
  readonly name = 'mark';

  print(): string {
    return ` mark match${this.invert ? ' !' : ''} ${this.markText()}`;
  }

  /** mark_mt. */
  match(x: XtPacket): boolean {
    return (((x.pkt.mark & this.mask) >>> 0 === this.mark) !== this.invert);
  }
}

export class ConnmarkMatch extends MarkBase {
  readonly name = 'connmark';

  print(): string {
    return ` connmark match ${this.invert ? '!' : ''} ${this.markText()}`;
  }

  /** connmark_mt. */
  match(x: XtPacket): boolean {
    const ct = x.p.ct;
    if (ct === null) return false;
    return (((ct.mark & this.mask) >>> 0 === this.mark) !== this.invert);
  }
}
