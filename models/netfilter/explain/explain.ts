/**
 * `podwire iptables trace`: what a node with a given ruleset does with one
 * packet, over every branch `-m statistic --mode random` rules can take.
 *
 * The first walk takes every random rule's "low" draw (the one that matches
 * with the rule's probability p); then, depth first, each draw that walk
 * made is flipped in turn (probability 1 - p), latest first, keeping the
 * draws before it, and the walk rerun; the new walk's own later draws
 * branch the same way.
 * Every leaf is one way the packet can go, with the product of its draws'
 * probabilities; leaves that end the same way are merged. kube-proxy's
 * endpoint chains (p = 1/n, 1/(n-1), ..., then an unconditional jump) give
 * n leaves of 1/n each. `--mode nth` is not a draw: every walk is a
 * connection's first packet, with the counters a fresh load has.
 */
import { formatIpv4 } from '../../wire/addr.js';
import { runBranch, type BranchResult, type EntryHook } from './branch.js';
import { LayeredRules, type RulesLayer } from './layered-rules.js';
import { ExplainNode, type NodeConfig } from './node.js';
import type { FinalVerdict, PathStep } from './path.js';
import type { ProbeSpec } from './probe-packet.js';

export interface TraceRequest {
  /** Loaded in order: the first as iptables-restore, the rest with --noflush. */
  rules: readonly RulesLayer[];
  probe: ProbeSpec;
  /** Default: OUTPUT when the probe's source is one of the node's addresses, else PREROUTING. */
  hook?: EntryHook;
  node: NodeConfig;
}

export interface Destination {
  ip: string;
  /** null for ICMP. */
  port: number | null;
  probability: number;
}

/** One way the packet can end, with its probability (branches ending alike merged). */
export interface Outcome {
  verdict: FinalVerdict;
  destination: { ip: string; port: number | null } | null;
  masquerade: boolean;
  probability: number;
}

export interface Explanation {
  /** ACCEPT when some branch delivers or sends the packet; else REJECT if some branch rejects it; else DROP. */
  verdict: FinalVerdict;
  /** Where accepted branches end, merged by address and port, in the order found. */
  destinations: Destination[];
  /** Some branch with the reported verdict was bound by MASQUERADE or SNAT in POSTROUTING. */
  masquerade: boolean;
  /** The path of the first branch with the reported verdict. */
  path: PathStep[];
  /** That branch's probability. */
  pathProbability: number;
  outcomes: Outcome[];
  /** Walks run (leaves of the draw tree). */
  branches: number;
  entry: EntryHook;
}

/** A guard against rule sets whose random rules multiply into an unreadable answer. */
export const MAX_BRANCHES = 10_000;

export function explainPacket(req: TraceRequest): Explanation {
  const node = new ExplainNode(req.node);
  const rules = new LayeredRules(req.rules);
  const entry: EntryHook = req.hook ?? (node.isLocal(req.probe.src) ? 'OUTPUT' : 'PREROUTING');

  const outcomes: Outcome[] = [];
  const firstByVerdict = new Map<FinalVerdict, { path: PathStep[]; probability: number }>();
  let branches = 0;
  // Depth first; the latest draw is flipped first, so branches come out in the rules' reading order.
  const stack: boolean[][] = [[]];
  while (stack.length > 0) {
    const forced = stack.pop()!;
    if (++branches > MAX_BRANCHES) throw new Error(`iptables trace: more than ${MAX_BRANCHES} branches of -m statistic rules`);
    const b = runBranch(node, rules.fresh(), req.probe, entry, forced);
    const d = b.draws;
    const probability = d.probability();
    if (probability > 0) {
      record(outcomes, b, probability);
      if (!firstByVerdict.has(b.verdict)) firstByVerdict.set(b.verdict, { path: b.path, probability });
    }
    for (let i = forced.length; i < d.draws.length; i++) {
      if (d.probability(i) * (1 - d.draws[i]!.p) === 0) continue;
      stack.push([...d.draws.slice(0, i).map((x) => x.low), false]);
    }
  }

  const verdicts = new Set(outcomes.map((o) => o.verdict));
  const verdict: FinalVerdict = verdicts.has('ACCEPT') ? 'ACCEPT' : verdicts.has('REJECT') ? 'REJECT' : 'DROP';
  const destinations: Destination[] = [];
  for (const o of outcomes) {
    if (o.verdict !== 'ACCEPT' || o.destination === null) continue;
    const same = destinations.find((x) => x.ip === o.destination!.ip && x.port === o.destination!.port);
    if (same !== undefined) same.probability += o.probability;
    else destinations.push({ ...o.destination, probability: o.probability });
  }
  const first = firstByVerdict.get(verdict)!;
  return {
    verdict,
    destinations,
    masquerade: outcomes.some((o) => o.verdict === verdict && o.masquerade),
    path: first.path,
    pathProbability: first.probability,
    outcomes,
    branches,
    entry,
  };
}

function record(outcomes: Outcome[], b: BranchResult, probability: number): void {
  const dest = b.destination === null ? null : { ip: formatIpv4(b.destination.ip), port: b.destination.port };
  const same = outcomes.find(
    (o) => o.verdict === b.verdict && o.masquerade === b.masquerade && o.destination?.ip === dest?.ip && o.destination?.port === dest?.port,
  );
  if (same !== undefined) same.probability += probability;
  else outcomes.push({ verdict: b.verdict, destination: dest, masquerade: b.masquerade, probability });
}
