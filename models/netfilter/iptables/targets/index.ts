/**
 * The target extensions podwire models, by the name given to -j. ACCEPT,
 * DROP and RETURN are standard verdicts and user chains are jumps; both are
 * handled by the rule parser and compiler, not here.
 */
import type { TargetExt } from '../extension.js';
import { CtTarget } from './ct.js';
import { LogTarget } from './log.js';
import { ConnmarkTarget, MarkTarget } from './mark.js';
import { DnatTarget, MasqueradeTarget, RedirectTarget, SnatTarget } from './nat.js';
import { RejectTarget } from './reject.js';
import { TraceTarget } from './trace.js';

const FACTORIES: Record<string, () => TargetExt> = {
  CONNMARK: () => new ConnmarkTarget(),
  CT: () => new CtTarget('CT'),
  DNAT: () => new DnatTarget(),
  LOG: () => new LogTarget(),
  MARK: () => new MarkTarget(),
  MASQUERADE: () => new MasqueradeTarget(),
  NOTRACK: () => new CtTarget('NOTRACK'),
  REDIRECT: () => new RedirectTarget(),
  REJECT: () => new RejectTarget(),
  SNAT: () => new SnatTarget(),
  TRACE: () => new TraceTarget(),
};

export function createTarget(name: string): TargetExt | undefined {
  return Object.hasOwn(FACTORIES, name) ? FACTORIES[name]!() : undefined;
}

/** Standard verdicts a rule may name with -j. */
export const STANDARD_TARGETS = ['ACCEPT', 'DROP', 'RETURN'] as const;
export type StandardTarget = (typeof STANDARD_TARGETS)[number];

/** Names no user chain may take (a chain name may not clash with a target). */
export function isTargetName(name: string): boolean {
  return Object.hasOwn(FACTORIES, name) || (STANDARD_TARGETS as readonly string[]).includes(name) || name === 'QUEUE' || name === 'NFQUEUE';
}
