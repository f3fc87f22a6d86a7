/**
 * -j TRACE (net/netfilter/xt_TRACE.c): sets skb->nf_trace, after which every
 * rule the packet matches in any table of this namespace is logged as
 * "TRACE: table:chain:rule|return|policy:N " plus the packet line
 * (trace_packet in ip_tables.c), through NetfilterHost.log. Only in the raw
 * table. The mark stays with the packet until it leaves the namespace
 * (skb_scrub_packet resets nf_trace on a namespace crossing), so it is kept
 * per ruleset, keyed by the Packet.
 */
import { optionTable, requireTable, type CheckCtx, type CompileEnv, type TargetExt } from '../extension.js';
import { XT_CONTINUE, type TargetFn, type XtPacket } from '../xt.js';
import type { Packet } from '../../../packet.js';

const OPTS = optionTable([]);

export class TraceTarget implements TargetExt {
  readonly name = 'TRACE';
  readonly kernelName = 'TRACE';
  readonly opts = OPTS;

  parse(): void {}
  finish(): void {}

  save(): string {
    return '';
  }

  print(): string {
    return '';
  }

  check(c: CheckCtx): void {
    requireTable(c, '-j', 'TRACE', 'raw');
  }

  compile(env: CompileEnv): TargetFn {
    return new TraceFn(env.traced);
  }
}

class TraceFn implements TargetFn {
  constructor(private readonly traced: WeakSet<Packet>) {}

  run(x: XtPacket): number {
    this.traced.add(x.pkt);
    x.traced = true;
    return XT_CONTINUE;
  }
}
