/**
 * -m comment --comment TEXT (net/netfilter/xt_comment.c): always matches; the
 * text is kept for iptables-save and -L. kube-proxy labels nearly every rule
 * with one.
 */
import { fail } from '../errors.js';
import { optionTable, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { saveString } from '../values.js';
import type { Matcher } from '../xt.js';

/** XT_MAX_COMMENT_LEN (256) including the terminating NUL. */
const MAX_COMMENT = 255;
const OPTS = optionTable([{ names: ['comment'], args: 1, invert: false }]);

export class CommentMatch implements MatchExt, Matcher {
  readonly name = 'comment';
  readonly opts = OPTS;
  comment: string | null = null;

  parse(_spec: OptionSpec, args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    const s = args[0]!;
    if (Buffer.byteLength(s) > MAX_COMMENT) fail(ctx, s, `comment: option "--comment" value "${s}" is too long (max ${MAX_COMMENT})`);
    this.comment = s;
  }

  finish(ctx: ParseCtx): void {
    if (this.comment === null) fail(ctx, '-m comment', "COMMENT match: You must specify `--comment'");
  }

  save(): string {
    return ` --comment ${saveString(this.comment!)}`;
  }

  print(): string {
    return ` /* ${this.comment} */`;
  }

  check(): void {}

  compile(): Matcher {
    return this;
  }

  match(): boolean {
    return true;
  }
}
