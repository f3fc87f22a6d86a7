/**
 * The typed form of iptables-restore input: tables, chain declarations with
 * policies and counters, and commands (-A, -I, -D, -R, -N, -X, -F, -Z, -P,
 * -E), each rule with its line. Produced by parse.ts, applied by
 * table-model.ts, compiled by compile.ts.
 */
import type { TableName } from '../hooks.js';
import type { MatchExt, TargetExt } from './extension.js';
import type { AddrMask, IfaceSpec } from './values.js';

export interface Counters {
  packets: number;
  bytes: number;
}

/** struct ipt_ip: what ip_packet_match tests before any -m module. */
export interface IpSpec {
  src: AddrMask;
  srcInv: boolean;
  dst: AddrMask;
  dstInv: boolean;
  /** null = any interface (no -i, or -i +). */
  inIface: IfaceSpec | null;
  inInv: boolean;
  outIface: IfaceSpec | null;
  outInv: boolean;
  /** 0 = any (no -p, or -p all). */
  proto: number;
  protoInv: boolean;
  /** -f: only non-first fragments. */
  frag: boolean;
  fragInv: boolean;
}

export type Policy = 'ACCEPT' | 'DROP';

export type RuleTarget =
  /** No -j: the rule only counts (XT_CONTINUE to the next rule). */
  | { kind: 'none' }
  | { kind: 'verdict'; verdict: Policy | 'RETURN' }
  /** -j CHAIN (jump: pushes the return point) or -g CHAIN (goto: does not). */
  | { kind: 'jump'; chain: string; goto: boolean }
  | { kind: 'ext'; ext: TargetExt };

/**
 * One rule as parsed: no position of its own, so that restores of the same
 * line (a cluster's nodes) share it; the table holds where each copy came
 * from (table-model.ts, RuleState).
 */
export interface RuleSpec {
  ip: IpSpec;
  /** In the order iptables-save prints them (the order they were loaded). */
  matches: MatchExt[];
  target: RuleTarget;
  /** -c PKTS BYTES on the rule itself (always honoured, as iptables does). */
  counters: Counters | null;
}

export type Command =
  | { op: 'append'; chain: string; rules: RuleSpec[] }
  | { op: 'insert'; chain: string; num: number; rules: RuleSpec[] }
  | { op: 'delete'; chain: string; num: number | null; rules: RuleSpec[] }
  | { op: 'replace'; chain: string; num: number; rules: RuleSpec[] }
  | { op: 'new-chain'; chain: string }
  | { op: 'delete-chain'; chain: string | null }
  | { op: 'flush'; chain: string | null }
  | { op: 'zero'; chain: string | null }
  | { op: 'policy'; chain: string; policy: Policy }
  | { op: 'rename-chain'; chain: string; newName: string };

export interface CommandStmt {
  kind: 'command';
  file: string;
  line: number;
  command: Command;
  /** The "[packets:bytes]" prefix iptables-save -c writes; used only when restoring with counters. */
  prefixCounters: Counters | null;
}

export interface ChainDecl {
  kind: 'chain';
  file: string;
  line: number;
  name: string;
  /** null for "-" (a user-defined chain). */
  policy: Policy | null;
  counters: Counters | null;
}

export interface TableBlock {
  table: TableName;
  /** Line of "*table". */
  line: number;
  statements: (ChainDecl | CommandStmt)[];
  /** Line of "COMMIT". */
  commitLine: number;
}

export interface RestoreFile {
  file: string;
  tables: TableBlock[];
}
