/**
 * -j REJECT (net/ipv4/netfilter/ipt_REJECT.c, extensions/libipt_REJECT.c):
 * has the host send the ICMP error or TCP reset (nf_send_unreach /
 * nf_send_reset), then drops. Only in the filter table, from INPUT, FORWARD
 * and OUTPUT (and chains reached only from them). kube-proxy rejects traffic
 * to a service without endpoints with it.
 */
import { fail } from '../errors.js';
import { hookBit, optionTable, requireHooks, requireTable, type CheckCtx, type OptionSpec, type ParseCtx, type TargetExt } from '../extension.js';
import type { TargetFn, XtPacket } from '../xt.js';
import { NfHook, NfVerdict } from '../../hooks.js';
import type { RejectKind } from '../../types.js';
import { IPPROTO_TCP } from '../../../wire/ipv4.js';

/** reject_table: canonical name and the short alias iptables also takes. */
const REJECT_TYPES: readonly [RejectKind, string][] = [
  ['icmp-net-unreachable', 'net-unreach'],
  ['icmp-host-unreachable', 'host-unreach'],
  ['icmp-proto-unreachable', 'proto-unreach'],
  ['icmp-port-unreachable', 'port-unreach'],
  ['icmp-net-prohibited', 'net-prohib'],
  ['icmp-host-prohibited', 'host-prohib'],
  ['tcp-reset', 'tcp-rst'],
  ['icmp-admin-prohibited', 'admin-prohib'],
];

const OPTS = optionTable([{ names: ['reject-with'], args: 1, invert: false }]);
const HOOKS = hookBit(NfHook.LOCAL_IN) | hookBit(NfHook.FORWARD) | hookBit(NfHook.LOCAL_OUT);

export class RejectTarget implements TargetExt, TargetFn {
  readonly name = 'REJECT';
  readonly kernelName = 'REJECT';
  readonly opts = OPTS;
  with: RejectKind = 'icmp-port-unreachable';

  parse(_spec: OptionSpec, args: readonly string[], _invert: boolean, ctx: ParseCtx): void {
    const a = args[0]!.toLowerCase();
    const hit = REJECT_TYPES.find(([n, alias]) => n === a || alias === a);
    if (hit === undefined) fail(ctx, args[0]!, `unknown reject type "${args[0]}"`);
    this.with = hit[0];
  }

  finish(): void {}

  save(): string {
    return ` --reject-with ${this.with}`;
  }

  print(): string {
    return ` reject-with ${this.with}`;
  }

  /** reject_tg_check and the target's .table/.hooks. */
  check(c: CheckCtx): void {
    requireTable(c, '-j', 'REJECT', 'filter');
    requireHooks(c, '-j', 'REJECT', HOOKS);
    if (this.with === 'tcp-reset' && (c.proto !== IPPROTO_TCP || c.invProto)) {
      fail(c, 'tcp-reset', 'ip_tables: REJECT target: TCP_RESET invalid for non-tcp');
    }
  }

  compile(): TargetFn {
    return this;
  }

  run(x: XtPacket): number {
    x.host.reject(x.p, this.with);
    return NfVerdict.DROP;
  }
}
