/**
 * One walk of the probe packet through the node, with every -m statistic
 * draw forced (forced-draws.ts): the hooks in kernel order, with connection
 * tracking and NAT doing their real work on the packet's bytes.
 *
 * Arriving (ip_rcv -> ip_rcv_finish -> ip_local_deliver / ip_forward):
 *   PREROUTING (in) -> route -> INPUT (in)
 *                            -> [ttl - 1] FORWARD (in, out) -> POSTROUTING (out)
 * Sent by the node (ip_local_out -> ip_output; a local destination loops
 * back through lo and is received again, keeping its connection):
 *   route -> OUTPUT (out) -> [re-route after DNAT, ip_route_me_harder]
 *         -> POSTROUTING (out) -> [lo: PREROUTING (lo) -> INPUT (lo)]
 *
 * The walk is the node's NetfilterHost: it answers -m addrtype from the
 * node's addresses, forces the draws, records REJECT and LOG instead of
 * sending anything, and binds NAT through connection tracking.
 */
import { randomStream } from '../../../engine/rng.js';
import type { NetDevice } from '../../devices/net-device.js';
import type { Packet } from '../../packet.js';
import { decrementTtl } from '../../wire/ipv4.js';
import { formatIpv4 } from '../../wire/addr.js';
import { Conntrack } from '../conntrack/conntrack.js';
import { HOOK_NAMES, NfHook, NfVerdict } from '../hooks.js';
import type { IptTraceFn } from '../iptables/evaluate.js';
import type { IptablesRuleset } from '../iptables/ruleset.js';
import { CtState, type AddrType, type IpSet, type NatRange, type NetfilterHost, type NfPacket, type RejectKind } from '../types.js';
import { nfPacketFor } from '../nf-packet.js';
import { ForcedDraws } from './forced-draws.js';
import { hookEntries } from './hook-order.js';
import type { ExplainNode } from './node.js';
import type { NodeDevice } from './node-device.js';
import type { FinalVerdict, PathStep } from './path.js';
import { buildProbe, endpointText, flowOf, flowText, type Flow, type ProbeSpec } from './probe-packet.js';

export type EntryHook = 'PREROUTING' | 'OUTPUT';

export interface BranchResult {
  verdict: FinalVerdict;
  /** Where the packet ends up (its destination after NAT); null when it is dropped. */
  destination: { ip: number; port: number | null } | null;
  /** A MASQUERADE or SNAT target bound the connection's source in POSTROUTING. */
  masquerade: boolean;
  path: PathStep[];
  /** The statistic draws this walk made, with their probabilities. */
  draws: ForcedDraws;
}

const CT_STATE_NAMES: Record<number, string> = {
  [CtState.INVALID]: 'INVALID',
  [CtState.NEW]: 'NEW',
  [CtState.ESTABLISHED]: 'ESTABLISHED',
  [CtState.RELATED]: 'RELATED',
  [CtState.UNTRACKED]: 'UNTRACKED',
};

/** Runs the probe once; draw i is low when forced[i] (and every draw past the end is low). */
export function runBranch(node: ExplainNode, ruleset: IptablesRuleset, probe: ProbeSpec, entry: EntryHook, forced: readonly boolean[]): BranchResult {
  return new BranchWalk(node, ruleset, probe, forced).run(entry);
}

class BranchWalk implements NetfilterHost {
  readonly path: PathStep[] = [];
  readonly draws: ForcedDraws;
  private readonly ct: Conntrack;
  private readonly pkt: Packet;
  private readonly p: NfPacket;
  private readonly trace: IptTraceFn;
  private masquerade = false;
  private rejected = false;
  /**
   * REJECT and LOG act before the traversal reports their rule (the target
   * runs, then the step is traced): their steps wait for it, so the path
   * reads rule, then effect.
   */
  private readonly effects: PathStep[] = [];

  constructor(
    private readonly node: ExplainNode,
    private readonly ruleset: IptablesRuleset,
    probe: ProbeSpec,
    forced: readonly boolean[],
  ) {
    this.draws = new ForcedDraws(forced);
    // A fixed stream: the same request always picks the same NAT ports.
    this.ct = new Conntrack({ now: () => 0, random: randomStream(0, 'iptables-trace/conntrack') });
    this.pkt = buildProbe(probe);
    this.p = nfPacketFor(this.pkt, NfHook.PRE_ROUTING);
    this.trace = (s) => {
      this.draws.noteRule(s.rule);
      this.path.push({
        step: 'rule',
        hook: HOOK_NAMES[this.p.hook],
        table: s.table,
        chain: s.chain,
        ruleNum: s.ruleNum,
        kind: s.kind,
        rule: s.rule,
        matched: s.matched,
        verdict: s.verdict,
        target: s.target,
      });
      this.flushEffects();
    };
  }

  run(entry: EntryHook): BranchResult {
    const result = entry === 'PREROUTING' ? this.arrive() : this.send();
    this.draws.settled();
    return result;
  }

  /** ip_rcv: a packet arriving on the node's in device. */
  private arrive(): BranchResult {
    const inDev = this.node.inDev;
    if (!this.hook(NfHook.PRE_ROUTING, inDev, null)) return this.end(NfHook.PRE_ROUTING, null);
    const dst = flowOf(this.pkt).dst;
    const r = this.node.route(dst);
    if (r.local) {
      this.path.push({ step: 'route', dst: formatIpv4(dst), decision: 'local', out: null });
      if (!this.hook(NfHook.LOCAL_IN, inDev, null)) return this.end(NfHook.LOCAL_IN, null);
      return this.end(NfHook.LOCAL_IN, 'local');
    }
    this.path.push({ step: 'route', dst: formatIpv4(dst), decision: 'forward', out: r.dev.name });
    // ip_forward decrements the TTL before the FORWARD hook (a probe starts at 64, so it never expires).
    decrementTtl(this.pkt.buf, this.p.ipOff);
    if (!this.hook(NfHook.FORWARD, inDev, r.dev)) return this.end(NfHook.FORWARD, null);
    if (!this.hook(NfHook.POST_ROUTING, null, r.dev)) return this.end(NfHook.POST_ROUTING, null);
    return this.end(NfHook.POST_ROUTING, 'sent');
  }

  /** ip_local_out: a packet the node sends. */
  private send(): BranchResult {
    const dst0 = flowOf(this.pkt).dst;
    let r = this.node.route(dst0);
    this.path.push({ step: 'route', dst: formatIpv4(dst0), decision: r.local ? 'local' : 'output', out: r.dev.name });
    if (!this.hook(NfHook.LOCAL_OUT, null, r.dev)) return this.end(NfHook.LOCAL_OUT, null);
    const dst = flowOf(this.pkt).dst;
    if (dst !== dst0) {
      // ip_route_me_harder: OUTPUT's DNAT changed the destination.
      r = this.node.route(dst);
      this.path.push({ step: 'route', dst: formatIpv4(dst), decision: r.local ? 'local' : 'output', out: r.dev.name });
    }
    if (!this.hook(NfHook.POST_ROUTING, null, r.dev)) return this.end(NfHook.POST_ROUTING, null);
    if (!r.local) return this.end(NfHook.POST_ROUTING, 'sent');
    // loopback_xmit -> netif_rx: received again on lo, connection attached.
    const lo = this.node.lo;
    if (!this.hook(NfHook.PRE_ROUTING, lo, null)) return this.end(NfHook.PRE_ROUTING, null);
    if (!this.hook(NfHook.LOCAL_IN, lo, null)) return this.end(NfHook.LOCAL_IN, null);
    return this.end(NfHook.LOCAL_IN, 'local');
  }

  /** nf_hook_slow over the hook's entries; true if every one accepted. */
  private hook(hook: NfHook, inDev: NodeDevice | null, outDev: NodeDevice | null): boolean {
    const p = this.p;
    p.hook = hook;
    p.inDev = inDev === null ? null : inDev.asNetDevice();
    p.outDev = outDev === null ? null : outDev.asNetDevice();
    const name = HOOK_NAMES[hook];
    this.path.push({ step: 'hook', hook: name, in: inDev?.name ?? null, out: outDev?.name ?? null, packet: flowText(flowOf(this.pkt)) });
    for (const e of hookEntries(hook, (t) => this.ruleset.hasTable(t))) {
      let v: NfVerdict;
      if (e.kind === 'table') {
        v = this.ruleset.runHook(e.table, p, this, this.trace).verdict;
        this.flushEffects();
      } else if (e.kind === 'conntrack') {
        const seen = p.ct !== null;
        v = this.ct.in(p);
        if (!seen) this.path.push({ step: 'conntrack', hook: name, state: CT_STATE_NAMES[p.ctState] ?? String(p.ctState) });
        if (v !== NfVerdict.ACCEPT) this.path.push({ step: 'drop', hook: name, by: 'conntrack' });
      } else if (e.kind === 'nat') {
        const before = flowOf(this.pkt);
        const steps = this.path.length;
        v = this.ct.natHook(p, e.manip, (q) => this.ruleset.runHook('nat', q, this, this.trace).verdict);
        this.flushEffects();
        const after = flowOf(this.pkt);
        const side = e.manip === 'dst' ? sideOf(before, after, 'dst') : sideOf(before, after, 'src');
        if (side !== null) this.path.push({ step: 'nat', hook: name, manip: e.manip, from: side[0], to: side[1] });
        if (v !== NfVerdict.ACCEPT && !this.ruleDropped(steps)) this.path.push({ step: 'drop', hook: name, by: 'nat' });
      } else {
        v = this.ct.confirm(p);
        if (v !== NfVerdict.ACCEPT) this.path.push({ step: 'drop', hook: name, by: 'conntrack' });
      }
      if (v !== NfVerdict.ACCEPT) return false;
    }
    return true;
  }

  private flushEffects(): void {
    if (this.effects.length === 0) return;
    this.path.push(...this.effects);
    this.effects.length = 0;
  }

  /** The last rule step since `from` dropped the packet (the drop is explained already). */
  private ruleDropped(from: number): boolean {
    for (let i = this.path.length - 1; i >= from; i--) {
      const s = this.path[i]!;
      if (s.step === 'reject' || s.step === 'log') continue;
      return s.step === 'rule' && s.matched && s.verdict === 'DROP';
    }
    return false;
  }

  private end(hook: NfHook, delivered: 'local' | 'sent' | null): BranchResult {
    const f = flowOf(this.pkt);
    const verdict: FinalVerdict = delivered !== null ? 'ACCEPT' : this.rejected ? 'REJECT' : 'DROP';
    this.path.push({ step: 'end', verdict, at: HOOK_NAMES[hook], delivered, packet: flowText(f) });
    return {
      verdict,
      destination: delivered === null ? null : { ip: f.dst, port: f.dport },
      masquerade: this.masquerade,
      path: this.path,
      draws: this.draws,
    };
  }

  // ---------------------------------------------------------------- NetfilterHost

  now(): number {
    return 0;
  }

  addressType(addr: number, dev?: NetDevice | null): AddrType {
    return this.node.addressType(addr, dev ?? null);
  }

  random(): number {
    return this.draws.next();
  }

  ipset(): IpSet | undefined {
    return undefined;
  }

  setupNat(p: NfPacket, manip: 'src' | 'dst', range: NatRange): void {
    this.ct.setupNat(p, manip, range);
    if (manip === 'src' && p.hook === NfHook.POST_ROUTING) this.masquerade = true;
  }

  reject(p: NfPacket, kind: RejectKind): void {
    this.rejected = true;
    this.effects.push({ step: 'reject', hook: HOOK_NAMES[p.hook], with: kind });
  }

  log(p: NfPacket, prefix: string, text: string): void {
    this.effects.push({ step: 'log', hook: HOOK_NAMES[p.hook], text: `${prefix}${text}` });
  }
}

/** The address:port pair NAT changed on one side of the packet, or null. */
function sideOf(before: Flow, after: Flow, side: 'src' | 'dst'): [string, string] | null {
  const [a, ap, b, bp] = side === 'dst' ? [before.dst, before.dport, after.dst, after.dport] : [before.src, before.sport, after.src, after.sport];
  return a === b && ap === bp ? null : [endpointText(a, ap), endpointText(b, bp)];
}
