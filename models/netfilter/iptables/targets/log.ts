/**
 * -j LOG (net/netfilter/xt_LOG.c, extensions/libxt_LOG.c): hands the prefix
 * and the kernel-format packet line to NetfilterHost.log (the tracer), then
 * continues with the next rule.
 */
import { fail } from '../errors.js';
import { optionTable, type OptionSpec, type ParseCtx, type TargetExt } from '../extension.js';
import { XT_CONTINUE, type TargetFn, type XtPacket } from '../xt.js';
import { saveString } from '../values.js';
import { formatLogPacket, NF_LOG_IPOPT, NF_LOG_MACDECODE, NF_LOG_TCPOPT, NF_LOG_TCPSEQ, NF_LOG_UID } from '../log-format.js';

/** Syslog level names LOG accepts (libxt_LOG.c log_names). */
const LEVELS: Record<string, number> = { alert: 1, crit: 2, debug: 7, emerg: 0, err: 3, error: 3, info: 6, notice: 5, panic: 0, warning: 4, warn: 4 };
/** The prefix is at most 29 characters (sizeof(loginfo->prefix) - 1). */
const PREFIX_MAX = 29;

const PREFIX: OptionSpec = { names: ['log-prefix'], args: 1, invert: false };
const LEVEL: OptionSpec = { names: ['log-level'], args: 1, invert: false };
const FLAG_OPTS: [OptionSpec, number][] = [
  [{ names: ['log-tcp-sequence'], args: 0, invert: false }, NF_LOG_TCPSEQ],
  [{ names: ['log-tcp-options'], args: 0, invert: false }, NF_LOG_TCPOPT],
  [{ names: ['log-ip-options'], args: 0, invert: false }, NF_LOG_IPOPT],
  [{ names: ['log-uid'], args: 0, invert: false }, NF_LOG_UID],
  [{ names: ['log-macdecode'], args: 0, invert: false }, NF_LOG_MACDECODE],
];
const OPTS = optionTable([PREFIX, LEVEL, ...FLAG_OPTS.map(([o]) => o)]);

export class LogTarget implements TargetExt, TargetFn {
  readonly name = 'LOG';
  readonly kernelName = 'LOG';
  readonly opts = OPTS;
  prefix = '';
  level = 4;
  logflags = 0;

  parse(spec: OptionSpec, args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    const a = args[0] ?? '';
    if (spec === PREFIX) {
      if (a.length > PREFIX_MAX) fail(ctx, a, `Maximum prefix length ${PREFIX_MAX} for --log-prefix`);
      if (a.includes('\n')) fail(ctx, a, 'Newlines not allowed in --log-prefix');
      this.prefix = a;
    } else if (spec === LEVEL) {
      const byName = LEVELS[a.toLowerCase()];
      const n = byName ?? (/^[0-7]$/.test(a) ? Number(a) : null);
      if (n === null) fail(ctx, a, `log-level \`${a}' unknown`);
      this.level = n;
    } else this.logflags |= FLAG_OPTS.find(([o]) => o === spec)![1];
  }

  finish(): void {}

  save(): string {
    let s = '';
    if (this.prefix !== '') s += ` --log-prefix ${saveString(this.prefix)}`;
    if (this.level !== 4) s += ` --log-level ${this.level}`;
    for (const [o, bit] of FLAG_OPTS) if (this.logflags & bit) s += ` --${o.names[0]}`;
    return s;
  }

  print(): string {
    return ` LOG flags ${this.logflags} level ${this.level}${this.prefix !== '' ? ` prefix "${this.prefix}"` : ''}`;
  }

  check(): void {}

  compile(): TargetFn {
    return this;
  }

  run(x: XtPacket): number {
    x.host.log(x.p, this.prefix, formatLogPacket(x.p, this.logflags));
    return XT_CONTINUE;
  }
}
