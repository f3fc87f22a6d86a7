/**
 * -j CT and -j NOTRACK (net/netfilter/xt_CT.c, extensions/libxt_CT.c): only
 * in the raw table, which runs before connection tracking. `--notrack` (and
 * NOTRACK, its old spelling, which iptables-save keeps) marks the packet
 * untracked: p.ct stays null and p.ctState becomes CtState.UNTRACKED, so
 * connection tracking leaves it alone and -m conntrack/state see UNTRACKED.
 * A packet that already has a connection is left as it is. The target
 * continues with the next rule (XT_CONTINUE).
 *
 * CT's other options (zones, helpers, event masks, timeout policies) are
 * not modelled; a bare `-j CT` attaches an empty template, a no-op here.
 */
import { optionTable, requireTable, type CheckCtx, type OptionSpec, type ParseCtx, type TargetExt } from '../extension.js';
import { XT_CONTINUE, type TargetFn, type XtPacket } from '../xt.js';
import { CtState } from '../../types.js';

const NOTRACK: OptionSpec = { names: ['notrack'], args: 0, invert: false };
const unsupported = (name: string, args: 0 | 1): OptionSpec => ({ names: [name], args, invert: false, unsupported: true });
const CT_OPTS = optionTable([
  NOTRACK,
  unsupported('helper', 1),
  unsupported('ctevents', 1),
  unsupported('expevents', 1),
  unsupported('zone', 1),
  unsupported('zone-orig', 1),
  unsupported('zone-reply', 1),
  unsupported('timeout', 1),
]);
const NO_OPTS = optionTable([]);

export class CtTarget implements TargetExt, TargetFn {
  readonly kernelName = 'CT';
  readonly opts: ReturnType<typeof optionTable>;
  notrack: boolean;

  /** `name` is "CT" or the alias "NOTRACK". */
  constructor(readonly name: 'CT' | 'NOTRACK') {
    this.notrack = name === 'NOTRACK';
    this.opts = name === 'CT' ? CT_OPTS : NO_OPTS;
  }

  parse(_spec: OptionSpec, _args: readonly string[], _invert: boolean, _ctx: ParseCtx): void {
    this.notrack = true;
  }

  finish(): void {}

  save(): string {
    return this.name === 'CT' && this.notrack ? ' --notrack' : '';
  }

  print(): string {
    if (this.name === 'NOTRACK') return ' NOTRACK';
    return this.notrack ? ' CT notrack' : ' CT';
  }

  check(c: CheckCtx): void {
    requireTable(c, '-j', this.name, 'raw', 'CT');
  }

  compile(): TargetFn {
    return this;
  }

  /** xt_ct_target: nf_ct_set(skb, NULL, IP_CT_UNTRACKED) unless the skb already has a conntrack. */
  run(x: XtPacket): number {
    const p = x.p;
    if (this.notrack && p.ct === null) p.ctState = CtState.UNTRACKED;
    return XT_CONTINUE;
  }
}
