/**
 * The contract every match (-m NAME) and target (-j NAME) family implements,
 * after libxtables' struct xtables_match / xtables_target (userspace: option
 * table, parse, final check, print, save) joined with the kernel's struct
 * xt_match / xt_target (checkentry with the table and hook mask, then the
 * per-packet function, here produced once by `compile`).
 *
 * An instance is one occurrence in one rule; it holds the parsed options and
 * is immutable after `finish`. `compile` builds the runtime object (with any
 * state such as an nth counter) each time its table is loaded, as the kernel
 * builds fresh matchinfo on every table replacement.
 */
import type { Packet } from '../../packet.js';
import type { IpSet } from '../types.js';
import type { TableName } from '../hooks.js';
import { HOOK_NAMES } from '../hooks.js';
import { fail, type SourcePos } from './errors.js';
import type { Matcher, TargetFn } from './xt.js';
import type { RecentRegistry } from './recent-table.js';
import type { NfacctRegistry } from './nfacct.js';

export interface OptionSpec {
  /** Long names without the leading "--"; the first is how iptables-save writes it. */
  readonly names: readonly string[];
  /** How many arguments follow the option (most take one; --tcp-flags and --match-set take two). */
  readonly args: 0 | 1 | 2;
  /** Whether `! --option` is allowed (XTOPT_INVERT). */
  readonly invert: boolean;
  /** A real iptables option podwire does not model: using it is an error naming it. */
  readonly unsupported?: boolean;
}

export type OptionTable = ReadonlyMap<string, OptionSpec>;

export function optionTable(specs: readonly OptionSpec[]): OptionTable {
  const m = new Map<string, OptionSpec>();
  for (const s of specs) for (const n of s.names) m.set(n, s);
  return m;
}

/** What an option parser may know about the rule so far. */
export interface ParseCtx extends SourcePos {
  readonly chain: string;
  /** The -p protocol given before this option (0 = none or "all"). */
  readonly proto: number;
  readonly invProto: boolean;
}

/** What a kernel checkentry sees: the table, the hooks the rule is reachable from, the rule's -p. */
export interface CheckCtx extends SourcePos {
  readonly table: TableName;
  /** Bit (1 << NfHook) per hook whose chain reaches this rule (e->comefrom). */
  readonly hookMask: number;
  readonly proto: number;
  readonly invProto: boolean;
}

/** Per-namespace state compiled matches and targets bind to. */
export interface CompileEnv {
  readonly recent: RecentRegistry;
  readonly nfacct: NfacctRegistry;
  /** Packets carrying skb->nf_trace in this namespace. */
  readonly traced: WeakSet<Packet>;
  /** Set lookup at load time (ip_set_nfnl_get_byname); undefined = sets resolved per packet from the host. */
  readonly ipsets?: (name: string) => IpSet | undefined;
  /** Registers what to undo when the loaded table is replaced (a match's destroy). */
  defer(release: () => void): void;
}

interface Extension {
  readonly opts: OptionTable;
  /** One option occurrence; `args` has spec.args entries. */
  parse(spec: OptionSpec, args: readonly string[], invert: boolean, ctx: ParseCtx): void;
  /** x6_fcheck: cross-option checks once the rule is read. */
  finish(ctx: ParseCtx): void;
  /** The options as iptables-save writes them, each with a leading space. */
  save(): string;
  /** The text `iptables -L -n` appends for it, with a leading space. */
  print(): string;
  /** checkentry: throws IptablesError when the kernel would refuse the rule. */
  check(c: CheckCtx): void;
}

export interface MatchExt extends Extension {
  /** The name after -m. */
  readonly name: string;
  compile(env: CompileEnv): Matcher;
}

export interface TargetExt extends Extension {
  /** The name after -j as iptables-save writes it ("NOTRACK"). */
  readonly name: string;
  /** The kernel target's name, shown in the target column of -L ("CT" for NOTRACK). */
  readonly kernelName: string;
  compile(env: CompileEnv): TargetFn;
}

export function hookBit(hook: number): number {
  return 1 << hook;
}

/** "PREROUTING/OUTPUT", as textify_hooks (net/netfilter/x_tables.c) writes a mask. */
export function hookNames(mask: number): string {
  const out: string[] = [];
  for (let h = 0; h < HOOK_NAMES.length; h++) if (mask & (1 << h)) out.push(HOOK_NAMES[h]!);
  return out.join('/');
}

/**
 * How a check names the extension its error is about: "-m tcp" or "-j DNAT"
 * as the token, "tcp match" or "DNAT target" in the reason (`kernelName` where
 * the kernel's differs: NOTRACK is the CT target). Made only on failure: each
 * node's table checks 110,000 rules of a kube-proxy sync.
 */
function extNames(flag: '-m' | '-j', name: string, kernelName: string): { what: string; token: string } {
  return { what: `${kernelName} ${flag === '-m' ? 'match' : 'target'}`, token: `${flag} ${name}` };
}

/** xt_check_target/xt_check_match: `.table = "nat"`. */
export function requireTable(c: CheckCtx, flag: '-m' | '-j', name: string, table: TableName, kernelName = name): void {
  if (c.table === table) return;
  const { what, token } = extNames(flag, name, kernelName);
  fail(c, token, `ip_tables: ${what}: only valid in ${table} table, not ${c.table}`);
}

/** xt_check_target/xt_check_match: `.hooks = ...`. */
export function requireHooks(c: CheckCtx, flag: '-m' | '-j', name: string, allowed: number): void {
  if ((c.hookMask & ~allowed) === 0) return;
  const { what, token } = extNames(flag, name, name);
  fail(c, token, `ip_tables: ${what}: used from hooks ${hookNames(c.hookMask)}, but only usable from ${hookNames(allowed)}`);
}

/** xt_check_match: `.proto = IPPROTO_TCP` (the rule must say -p tcp, not inverted). */
export function requireProto(c: CheckCtx, flag: '-m' | '-j', name: string, proto: number): void {
  if (c.proto === proto && !c.invProto) return;
  const { what, token } = extNames(flag, name, name);
  fail(c, token, `ip_tables: ${what}: only valid for protocol ${proto}`);
}
