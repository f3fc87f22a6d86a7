/**
 * -m nfacct --nfacct-name NAME (net/netfilter/xt_nfacct.c): adds the packet
 * to a named accounting object and matches (objects have no quota here, so
 * nfnl_acct_overquota answers NFACCT_NO_QUOTA and the match is true). The
 * object must exist when the rule is loaded.
 */
import { fail } from '../errors.js';
import { optionTable, type CheckCtx, type CompileEnv, type MatchExt, type OptionSpec, type ParseCtx } from '../extension.js';
import { saveString } from '../values.js';
import type { Matcher, XtPacket } from '../xt.js';
import type { NfacctObject } from '../nfacct.js';

/** NFACCT_NAME_MAX (32) including the NUL. */
const NAME_MAX = 31;
const OPTS = optionTable([{ names: ['nfacct-name'], args: 1, invert: false }]);

export class NfacctMatch implements MatchExt {
  readonly name = 'nfacct';
  readonly opts = OPTS;
  object = '';

  parse(_spec: OptionSpec, args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    const a = args[0]!;
    if (a === '' || a.length > NAME_MAX || a.includes('\n')) fail(ctx, a, `nfacct: invalid --nfacct-name \`${a}'`);
    this.object = a;
  }

  finish(ctx: ParseCtx): void {
    if (this.object === '') fail(ctx, '-m nfacct', 'nfacct: you must specify --nfacct-name');
  }

  save(): string {
    return ` --nfacct-name ${saveString(this.object)}`;
  }

  print(): string {
    return ` nfacct-name ${saveString(this.object)}`;
  }

  check(_c: CheckCtx): void {}

  compile(env: CompileEnv): Matcher {
    const o = env.nfacct.get(this.object);
    // nfacct_mt_checkentry: "accounting object `%s' does not exist" (ENOENT).
    if (o === undefined) throw new MissingObjectError(`nfacct: accounting object \`${this.object}' does not exist`, this.object);
    o.refs++;
    env.defer(() => o.refs--);
    return new NfacctMatcher(o);
  }
}

/** A load-time reference to something outside the ruleset that is missing; compile turns it into an IptablesError at the rule. */
export class MissingObjectError extends Error {
  constructor(
    message: string,
    readonly token: string,
  ) {
    super(message);
  }
}

class NfacctMatcher implements Matcher {
  constructor(readonly object: NfacctObject) {}

  match(x: XtPacket): boolean {
    this.object.packets++;
    this.object.bytes += x.skbLen;
    return true;
  }
}
