/**
 * The loaded nftables ruleset: tables of the `ip` family holding chains,
 * named sets and maps, and rules as lists of statements. The parser builds
 * it, the evaluator runs it, list.ts prints it as `nft list ruleset` would.
 */

import type { HashBuckets } from '../../hash-buckets.js';

/** Data types of set/map keys and of what selectors load. */
export type DataType = 'ipv4_addr' | 'inet_proto' | 'inet_service' | 'mark' | 'integer';

/** What a rule can load from the packet (nft payload/meta/ct/numgen expressions). */
export type Selector = 'ip saddr' | 'ip daddr' | 'meta l4proto' | 'th sport' | 'th dport' | 'tcp sport' | 'tcp dport' | 'udp sport' | 'udp dport' | 'sctp sport' | 'sctp dport' | 'meta mark';

export const SELECTOR_TYPE: Record<Selector, DataType> = {
  'ip saddr': 'ipv4_addr',
  'ip daddr': 'ipv4_addr',
  'meta l4proto': 'inet_proto',
  'th sport': 'inet_service',
  'th dport': 'inet_service',
  'tcp sport': 'inet_service',
  'tcp dport': 'inet_service',
  'udp sport': 'inet_service',
  'udp dport': 'inet_service',
  'sctp sport': 'inet_service',
  'sctp dport': 'inet_service',
  'meta mark': 'mark',
};

/** A verdict (statement or map value). */
export type Verdict =
  | { kind: 'accept' | 'drop' | 'return' | 'continue' }
  | { kind: 'jump' | 'goto'; chain: string };

/**
 * One key component: a value, or an address prefix / value range (interval
 * sets). The bounds are unsigned 32-bit values kept as int32 (`>>> 0` reads
 * them): an address above 2^31 as a plain number is a heap number, and one
 * such field makes every key part's bounds boxed doubles (keyPart, values.ts).
 */
export interface KeyPart {
  readonly lo: number;
  readonly hi: number;
}

export interface Element {
  key: KeyPart[];
  comment?: string;
  verdict?: Verdict;
  /** Absolute expiry (ns) of a dynamically added element of a timeout set. */
  expires?: number;
}

/** A named or anonymous set or verdict map. */
export interface NftSet {
  name: string;
  kind: 'set' | 'map';
  keyType: DataType[];
  /** 'verdict' for verdict maps. */
  valueType: 'verdict' | null;
  flags: string[];
  /** Default element timeout in seconds (flags timeout). */
  timeout: number;
  /** Maximum number of elements (`size`); null: unbounded, or 65535 for a dynamic set. */
  size: number | null;
  comment: string | null;
  elements: Element[];
  /** Exact-key index (no intervals), by exactKey of the element's values. */
  exact: HashBuckets<Element, readonly number[]>;
  /** Elements with an interval component: scanned in order. */
  ranges: Element[];
  line: number;
}

export type CmpOp = '==' | '!=';

export type Statement =
  /** sel[. sel...] [op] value-or-anonymous-set */
  | { kind: 'match'; sel: Selector[]; op: CmpOp; set: NftSet; literal: boolean }
  /** sel[. sel...] [!=] @set */
  | { kind: 'lookup'; sel: Selector[]; op: CmpOp; set: string }
  | { kind: 'mark'; mask: number | null; op: CmpOp; value: number }
  | { kind: 'fib'; field: 'saddr' | 'daddr'; op: CmpOp; types: string[] }
  | { kind: 'ct state'; op: CmpOp; states: string[] }
  | { kind: 'ct status'; op: CmpOp; statuses: string[] }
  | { kind: 'vmap'; sel: Selector[]; map: string | NftSet }
  | { kind: 'numgen'; mod: number; offset: number; map: NftSet }
  | { kind: 'counter'; packets: number; bytes: number }
  | { kind: 'mark set'; op: 'set' | 'or' | 'xor' | 'and'; value: number }
  | { kind: 'verdict'; verdict: Verdict }
  | { kind: 'reject'; with: 'icmp-port-unreachable' | 'icmp-host-unreachable' | 'icmp-net-unreachable' | 'icmp-admin-prohibited' | 'tcp-reset' }
  | { kind: 'dnat'; addr: number; port: number }
  | { kind: 'masquerade'; flags: string[] }
  | { kind: 'update'; set: string; sel: Selector[] };

export interface Rule {
  stmts: Statement[];
  comment: string | null;
  line: number;
  file: string;
}

export type ChainType = 'filter' | 'nat';
export type HookName = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

export interface Chain {
  name: string;
  /** Base chain: attached to a hook. */
  base: { type: ChainType; hook: HookName; priority: number; policy: 'accept' | 'drop' } | null;
  comment: string | null;
  rules: Rule[];
}

export interface Table {
  family: 'ip';
  name: string;
  comment: string | null;
  chains: Map<string, Chain>;
  sets: Map<string, NftSet>;
}
