import type { NetDevice } from '../devices/net-device.js';
import { Packet, PacketType } from '../packet.js';
import type { RandomStream } from '../../engine/rng.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { NF_IP_PRI, NfHook, NfVerdict, TABLE_HOOKS, HOOK_NAMES, type TableName } from './hooks.js';
import { type CtState, type AddrType, type IpSet, type NatRange, type NetfilterHost, type NfPacket, type RejectKind } from './types.js';
import { nfPacketFor } from './nf-packet.js';
import { IptablesRuleset } from './iptables/ruleset.js';
import type { RuleLineCache } from './iptables/parse.js';
import type { NftRuleCache } from './nft/parse.js';
import type { IptTraceFn } from './iptables/evaluate.js';
import { Conntrack } from './conntrack/conntrack.js';
import { NftRuleset, type NftBaseChain } from './nft/ruleset.js';
import type { NftTraceStep } from './nft/evaluate.js';
import type { Ipvs } from './ipvs/ipvs.js';

/** What an idle NfPacket frame points at (Netfilter.hook reuses its frames). */
const NO_PACKET = new Packet(new Uint8Array(0), 0, 0, -1, 0);

/** One function on a hook, at a priority (struct nf_hook_ops). */
interface HookEntry {
  priority: number;
  name: string;
  run(p: NfPacket): NfVerdict;
}

/**
 * Simulated CPU time of netfilter work, charged to the packet at the hook
 * (see scenarios and docs for how the defaults were calibrated).
 */
export interface NetfilterCosts {
  /** Per rule evaluated (matches tested) by ipt_do_table. */
  ruleNs: number;
  /** Per conntrack lookup (nf_conntrack_in). */
  conntrackNs: number;
  /** Per NAT binding set up (nf_nat_setup_info), i.e. per new NATed connection. */
  natSetupNs: number;
}

export const ZERO_COSTS: NetfilterCosts = { ruleNs: 0, conntrackNs: 0, natSetupNs: 0 };

/** What the namespace provides to netfilter besides the matches' needs. */
export interface NetfilterEnv {
  now(): number;
  /** Draws of -m statistic. */
  rng: RandomStream;
  /** Draws of connection tracking (hash key, NAT port choice): a stream of its own. */
  conntrackRng: RandomStream;
  addressType(addr: number, dev?: NetDevice | null): AddrType;
  reject(p: NfPacket, kind: RejectKind): void;
  log(p: NfPacket, prefix: string, text: string): void;
  ipsets: Map<string, IpSet>;
  /** A rule-by-rule trace callback when the tracer follows this packet (undefined otherwise). */
  ruleTrace(pkt: Packet): IptTraceFn | undefined;
}

/**
 * Netfilter in one network namespace: the iptables tables and connection
 * tracking registered on the five IPv4 hooks at the kernel's priorities, and a
 * flat walk over each hook's entries (nf_hook_slow). A namespace without rules
 * has no Netfilter at all and pays nothing.
 */
export class Netfilter {
  readonly iptables: IptablesRuleset;
  /** The namespace's nftables ruleset (`nft -f`), beside iptables. */
  readonly nft = new NftRuleset();
  conntrack: Conntrack | null = null;
  /** net.bridge.bridge-nf-call-iptables (1 on Kubernetes nodes). */
  bridgeNfCallIptables = true;
  costs: NetfilterCosts = ZERO_COSTS;
  /** net.netfilter.nf_conntrack_max for the tracker this namespace loads. */
  conntrackMax: number | undefined = undefined;
  /** Simulated time the last hook() call cost. */
  lastCostNs = 0;
  private entries: HookEntry[][] = [[], [], [], [], []];
  /** Some rule loaded so far reads or sets connection state. */
  private stateRules = false;
  /** IPVS (net.ipv4.vs.conntrack=1), when the namespace has virtual servers. See attachIpvs. */
  ipvs: Ipvs | null = null;
  private readonly host: NetfilterHost;
  /** The nat table as natHook's callback: made once, not per packet. */
  private readonly runNatTable = (p: NfPacket): NfVerdict => this.runTable('nat', p);
  /**
   * The NfPacket of each hook() in progress, by nesting depth (a REJECT sends
   * its answer through this namespace's hooks while the hook that rejected
   * runs): reused, since nothing keeps a hook's NfPacket after the hook
   * returns.
   */
  private readonly frames: NfPacket[] = [];
  private depth = 0;

  constructor(private readonly env: NetfilterEnv) {
    // -m set resolves its set when the rule is loaded, as xt_set's checkentry does.
    this.iptables = new IptablesRuleset({ ipsets: (name) => env.ipsets.get(name) });
    const self = this;
    this.host = {
      now: () => env.now(),
      addressType: (a, d) => env.addressType(a, d),
      random: () => env.rng.next(),
      ipset: (name) => env.ipsets.get(name),
      setupNat(p: NfPacket, manip: 'src' | 'dst', range: NatRange) {
        if (self.conntrack === null) throw new Error('NAT without connection tracking');
        self.conntrack.setupNat(p, manip, range);
        self.lastCostNs += self.costs.natSetupNs;
      },
      reject: (p, kind) => env.reject(p, kind),
      log: (p, prefix, text) => env.log(p, prefix, text),
    };
  }

  /** iptables-restore [--noflush] of `text`, then re-registers the hooks. `lines`: see RuleLineCache. */
  restore(text: string, fileName: string, noflush = false, lines?: RuleLineCache): void {
    this.iptables.restore(text, fileName, lines === undefined ? { noflush } : { noflush, lines });
    if (!this.stateRules && usesConnectionState(text)) this.stateRules = true;
    this.register();
  }

  /** Registers IPVS's hooks (modprobe ip_vs); connection tracking comes with it. */
  attachIpvs(ipvs: Ipvs): void {
    if (this.ipvs !== null) throw new Error('IPVS is already attached to this namespace');
    this.ipvs = ipvs;
    this.register();
  }

  /** `nft -f text`, then re-registers the hooks (base chains at their hook and priority). `rules`: see NftRuleCache. */
  loadNft(text: string, fileName: string, rules: NftRuleCache | null = null): void {
    this.nft.load(text, fileName, rules);
    this.register();
  }

  /** Builds each hook's entry list from the tables present, sorted by priority. */
  private register(): void {
    const tables = (['raw', 'mangle', 'nat', 'filter'] as const).filter((t) => this.iptables.hasTable(t));
    if (this.conntrack === null && (tables.includes('nat') || this.stateRules || this.nft.usesConntrack() || this.ipvs !== null)) {
      this.conntrack = new Conntrack({
        now: () => this.env.now(),
        random: this.env.conntrackRng,
        ...(this.conntrackMax !== undefined ? { max: this.conntrackMax } : {}),
      });
    }
    const entries: HookEntry[][] = [[], [], [], [], []];
    const add = (hook: NfHook, priority: number, name: string, run: (p: NfPacket) => NfVerdict) =>
      entries[hook]!.push({ priority, name, run });
    for (const table of tables) {
      for (const hookName of TABLE_HOOKS[table]) {
        const hook = HOOK_NAMES.indexOf(hookName) as NfHook;
        if (table === 'nat') {
          const manip = hook === NfHook.PRE_ROUTING || hook === NfHook.LOCAL_OUT ? 'dst' : 'src';
          add(hook, manip === 'dst' ? NF_IP_PRI.NAT_DST : NF_IP_PRI.NAT_SRC, `nat ${hookName}`, (p) => this.natHook(p, manip));
        } else {
          add(hook, tablePriority(table), `${table} ${hookName}`, (p) => this.runTable(table, p));
        }
      }
    }
    const ct = this.conntrack;
    if (ct !== null) {
      for (const hook of [NfHook.PRE_ROUTING, NfHook.LOCAL_OUT]) {
        add(hook, NF_IP_PRI.CONNTRACK, 'conntrack in', (p) => {
          this.lastCostNs += this.costs.conntrackNs;
          return ct.in(p);
        });
      }
      for (const hook of [NfHook.LOCAL_IN, NfHook.POST_ROUTING]) {
        add(hook, NF_IP_PRI.CONNTRACK_CONFIRM, 'conntrack confirm', (p) => ct.confirm(p));
      }
    }
    for (const b of this.nft.baseChains()) {
      const run = (q: NfPacket): NfVerdict => this.runNftChain(b, q);
      add(b.hook, b.priority, `nft ${b.table} ${b.chain.name}`, (p) => this.nftHook(b, p, run));
    }
    if (this.ipvs !== null) for (const h of this.ipvs.hooks()) add(h.hook, h.priority, h.name, h.run);
    for (const list of entries) list.sort((a, b) => a.priority - b.priority);
    this.entries = entries;
  }

  private runTable(table: TableName, p: NfPacket): NfVerdict {
    const r = this.iptables.runHook(table, p, this.host, this.env.ruleTrace(p.pkt));
    this.lastCostNs += r.rulesEvaluated * this.costs.ruleNs;
    return r.verdict;
  }

  /**
   * nf_nat_inet_fn: the nat table is consulted only for a connection's first
   * packet (until a binding exists for this manipulation); every packet is then
   * rewritten by the connection's bindings (Conntrack.natHook).
   */
  private natHook(p: NfPacket, manip: 'src' | 'dst'): NfVerdict {
    const ct = this.conntrack;
    if (ct === null) return NfVerdict.ACCEPT;
    return ct.natHook(p, manip, this.runNatTable);
  }

  /**
   * An nft base chain; a nat chain runs inside the NAT hook like the iptables
   * nat table. `run` is the chain's runNftChain, made once with the hook entry.
   */
  private nftHook(b: NftBaseChain, p: NfPacket, run: (q: NfPacket) => NfVerdict): NfVerdict {
    if (b.type === 'filter') return run(p);
    const ct = this.conntrack;
    if (ct === null) return NfVerdict.ACCEPT;
    const manip = b.hook === NfHook.PRE_ROUTING || b.hook === NfHook.LOCAL_OUT ? 'dst' : 'src';
    return ct.natHook(p, manip, run);
  }

  private runNftChain(b: NftBaseChain, q: NfPacket): NfVerdict {
    const ipt = this.env.ruleTrace(q.pkt);
    const r = this.nft.run(b, q, this.host, ipt === undefined ? undefined : nftTraceSteps(b, ipt));
    this.lastCostNs += r.rulesEvaluated * this.costs.ruleNs;
    return r.verdict;
  }

  /** The hook has something registered. */
  active(hook: NfHook): boolean {
    return this.entries[hook]!.length > 0;
  }

  /**
   * nf_hook_slow: runs every entry of `hook` in priority order until one
   * returns something other than ACCEPT. The connection state found is kept on
   * the packet (skb->_nfct) for later hooks. `lastCostNs` says what it cost.
   */
  hook(
    hook: NfHook,
    pkt: Packet,
    inDev: NetDevice | null,
    outDev: NetDevice | null,
    physIn: NetDevice | null = null,
    physOut: NetDevice | null = null,
  ): NfVerdict {
    this.lastCostNs = 0;
    const list = this.entries[hook]!;
    if (list.length === 0) return NfVerdict.ACCEPT;
    const p = this.frames[this.depth] ?? this.newFrame();
    p.pkt = pkt;
    p.ipOff = pkt.off + ETH_HLEN;
    p.hook = hook;
    p.inDev = inDev;
    p.outDev = outDev;
    p.physIn = physIn;
    p.physOut = physOut;
    p.bridged = physIn !== null || physOut !== null;
    p.ct = pkt.ct;
    p.ctState = pkt.ctState as CtState;
    p.ctDir = pkt.ctDir;
    // br_nf_pre_routing / br_nf_forward_ip: a bridged frame for another host's MAC
    // is PACKET_HOST while iptables sees it (so REJECT may answer it).
    const otherhost = p.bridged && pkt.pktType === PacketType.OTHERHOST;
    if (otherhost) pkt.pktType = PacketType.HOST;
    let verdict: NfVerdict = NfVerdict.ACCEPT;
    this.depth++;
    try {
      for (let i = 0; i < list.length; i++) {
        verdict = list[i]!.run(p);
        if (verdict !== NfVerdict.ACCEPT) break;
      }
    } finally {
      this.depth--;
    }
    if (otherhost) pkt.pktType = PacketType.OTHERHOST;
    pkt.ct = p.ct;
    pkt.ctState = p.ctState;
    pkt.ctDir = p.ctDir;
    // Let go of what the frame points at: a reused frame must not keep a packet or a connection alive.
    p.pkt = NO_PACKET;
    p.ct = null;
    p.inDev = p.outDev = p.physIn = p.physOut = null;
    return verdict;
  }

  private newFrame(): NfPacket {
    const p = nfPacketFor(NO_PACKET, NfHook.PRE_ROUTING);
    this.frames[this.depth] = p;
    return p;
  }
}

/**
 * The tracer's rule steps of an nft chain, in the iptables trace's shape
 * (chain type as the table). A function of its own: a closure made inside
 * runNftChain would give every call a context, traced or not.
 */
function nftTraceSteps(b: NftBaseChain, ipt: IptTraceFn): (t: NftTraceStep) => void {
  return (t) => {
    const [v, target] = (t.verdict ?? 'continue').split(' ');
    const verdict = !t.matched ? null : (v!.toUpperCase() as 'ACCEPT' | 'DROP' | 'RETURN' | 'CONTINUE' | 'JUMP' | 'GOTO');
    ipt({ table: b.type, chain: `${b.table} ${t.chain}`, ruleNum: t.rule, kind: 'rule', rule: t.text, matched: t.matched, verdict, target: target ?? null });
  };
}

function tablePriority(table: TableName): number {
  return table === 'raw' ? NF_IP_PRI.RAW : table === 'mangle' ? NF_IP_PRI.MANGLE : NF_IP_PRI.FILTER;
}

/**
 * Connection tracking is loaded (as the kernel autoloads nf_conntrack) when
 * the nat table exists or a rule reads or sets connection state; this is the
 * second test, on the iptables-restore text (one scan, not a re-serialisation).
 */
function usesConnectionState(text: string): boolean {
  return /-m\s+(conntrack|state|connmark)\b|-j\s+(CONNMARK|CT|NOTRACK)\b/.test(text);
}
