/**
 * Test fixtures for the iptables engine: real packet bytes built with the
 * models/wire emitters, stand-in devices (only name and addresses matter to
 * the rule engine), and a NetfilterHost that records what targets ask of it.
 */
import { Packet } from '../../../models/packet.js';
import type { NetDevice } from '../../../models/devices/net-device.js';
import { NfHook, NfVerdict } from '../../../models/netfilter/hooks.js';
import {
  CtDir,
  CtState,
  type AddrType,
  type Conn,
  type IpSet,
  type NatRange,
  type NetfilterHost,
  type NfPacket,
  type RejectKind,
} from '../../../models/netfilter/types.js';
import { parseCidr, parseIpv4 } from '../../../models/wire/addr.js';
import { emitEthernet, ETH_HLEN, ETHERTYPE_IPV4 } from '../../../models/wire/ethernet.js';
import { emitIpv4, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HEADER_LEN } from '../../../models/wire/ipv4.js';
import { emitTcp, tcpBufferLen, type TcpOptions } from '../../../models/wire/tcp.js';
import { emitUdp, UDP_HEADER_LEN } from '../../../models/wire/udp.js';
import { emitIcmp, ICMP_HEADER_LEN } from '../../../models/wire/icmp.js';
import { IptablesRuleset, type RunResult } from '../../../models/netfilter/iptables/index.js';
import type { IptTraceFn } from '../../../models/netfilter/iptables/index.js';
import type { ChainIndexOptions } from '../../../models/netfilter/iptables/chain-index.js';
import { compileTable, type CompiledTable } from '../../../models/netfilter/iptables/compile.js';
import { NfacctRegistry } from '../../../models/netfilter/iptables/nfacct.js';
import { parseRestoreBlocks } from '../../../models/netfilter/iptables/parse.js';
import { RecentRegistry } from '../../../models/netfilter/iptables/recent-table.js';
import { TableModel, type ChainOrder } from '../../../models/netfilter/iptables/table-model.js';

export { NfHook, NfVerdict, CtState, CtDir };
export const ip = parseIpv4;

let devIndex = 0;
/** A stand-in device: the rule engine reads only name and addrs ("10.0.0.1/24"). */
export function dev(name: string, ...addrs: string[]): NetDevice {
  return {
    name,
    ifindex: ++devIndex,
    addrs: addrs.map((a) => {
      const c = parseCidr(a);
      return { addr: c.addr, prefixLen: c.prefixLen };
    }),
  } as unknown as NetDevice;
}

export interface PacketSpec {
  src: string;
  dst: string;
  proto?: 'tcp' | 'udp' | 'icmp' | number;
  sport?: number;
  dport?: number;
  /** TCP flags byte; default SYN. */
  flags?: number;
  tcpOptions?: TcpOptions;
  icmpType?: number;
  icmpCode?: number;
  ttl?: number;
  tos?: number;
  ident?: number;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset?: number;
  moreFragments?: boolean;
  dontFragment?: boolean;
  payload?: number;
  mark?: number;
  /** Cut the frame to this many bytes of IP datagram (to test truncated headers). */
  truncateTo?: number;
}

let pktId = 0;

/** An Ethernet frame carrying the IPv4 packet described. */
export function packet(s: PacketSpec): Packet {
  const proto = s.proto === 'tcp' ? IPPROTO_TCP : s.proto === 'udp' ? IPPROTO_UDP : s.proto === 'icmp' || s.proto === undefined ? IPPROTO_ICMP : s.proto;
  const payload = s.payload ?? 0;
  const src = ip(s.src);
  const dst = ip(s.dst);
  let l4 = payload;
  const tcpRepr = {
    srcPort: s.sport ?? 40000,
    dstPort: s.dport ?? 80,
    seq: 1000,
    ack: 0,
    flags: s.flags ?? 0x02,
    window: 64240,
    urgent: 0,
    options: s.tcpOptions ?? {},
  };
  if (proto === IPPROTO_TCP) l4 += tcpBufferLen(tcpRepr);
  else if (proto === IPPROTO_UDP) l4 += UDP_HEADER_LEN;
  else if (proto === IPPROTO_ICMP) l4 += ICMP_HEADER_LEN;
  const total = IPV4_HEADER_LEN + l4;
  const pkt = Packet.alloc(ETH_HLEN + total, ++pktId, 0);
  const b = pkt.buf;
  const o = pkt.off;
  emitEthernet({ dst: 0x0a5800000002, src: 0x0a5800000001, ethertype: ETHERTYPE_IPV4 }, b, o);
  const ipo = o + ETH_HLEN;
  const th = ipo + IPV4_HEADER_LEN;
  if (s.fragOffset === undefined || s.fragOffset === 0) {
    if (proto === IPPROTO_TCP) emitTcp(tcpRepr, b, th, src, dst, payload);
    else if (proto === IPPROTO_UDP) emitUdp({ srcPort: s.sport ?? 40000, dstPort: s.dport ?? 53, length: UDP_HEADER_LEN + payload }, b, th, src, dst);
    else if (proto === IPPROTO_ICMP) {
      const type = s.icmpType ?? 8;
      if (type === 8 || type === 0) emitIcmp({ type, code: s.icmpCode ?? 0, ident: 7, seq: 1, payload: new Uint8Array(payload) }, b, th);
      else {
        b[th] = type;
        b[th + 1] = s.icmpCode ?? 0;
      }
    }
  }
  emitIpv4(
    {
      dscpEcn: s.tos ?? 0,
      totalLength: total,
      ident: s.ident ?? 1,
      dontFragment: s.dontFragment ?? false,
      moreFragments: s.moreFragments ?? false,
      fragmentOffset: s.fragOffset ?? 0,
      ttl: s.ttl ?? 64,
      protocol: proto,
      src,
      dst,
      headerLength: IPV4_HEADER_LEN,
    },
    b,
    ipo,
  );
  if (s.truncateTo !== undefined) pkt.len = ETH_HLEN + s.truncateTo;
  pkt.mark = s.mark ?? 0;
  return pkt;
}

export interface HookSpec {
  hook?: NfHook;
  in?: NetDevice | null;
  out?: NetDevice | null;
  physIn?: NetDevice | null;
  physOut?: NetDevice | null;
  bridged?: boolean;
  ct?: Conn | null;
  ctState?: CtState;
  ctDir?: CtDir;
}

export function nf(pkt: Packet, h: HookSpec = {}): NfPacket {
  return {
    pkt,
    ipOff: pkt.off + ETH_HLEN,
    hook: h.hook ?? NfHook.LOCAL_IN,
    inDev: h.in ?? null,
    outDev: h.out ?? null,
    physIn: h.physIn ?? null,
    physOut: h.physOut ?? null,
    bridged: h.bridged ?? (h.physIn != null || h.physOut != null),
    ct: h.ct ?? null,
    ctState: h.ctState ?? (h.ct ? CtState.NEW : CtState.INVALID),
    ctDir: h.ctDir ?? CtDir.ORIGINAL,
  };
}

/** A connection as conntrack would hold it for a packet src:sport -> dst:dport. */
export function conn(src: string, sport: number, dst: string, dport: number, proto = IPPROTO_TCP, extra: Partial<Conn> = {}): Conn {
  return {
    tuple: [
      { src: ip(src), dst: ip(dst), protocol: proto, srcPort: sport, dstPort: dport },
      { src: ip(dst), dst: ip(src), protocol: proto, srcPort: dport, dstPort: sport },
    ],
    status: 0,
    mark: 0,
    expiresAt: 0,
    tcpState: '',
    ...extra,
  };
}

/** A NetfilterHost that records what the targets ask for. */
export class FakeHost implements NetfilterHost {
  time = 0;
  draws: number[] = [];
  /** addressType answers: exact address -> type; default UNICAST. */
  types = new Map<number, AddrType>();
  /** Answers per device name, for --limit-iface-in/out. */
  devTypes = new Map<string, Map<number, AddrType>>();
  sets = new Map<string, IpSet>();
  nats: { manip: 'src' | 'dst'; range: NatRange }[] = [];
  rejects: RejectKind[] = [];
  logs: string[] = [];
  private seq = 0;

  constructor(private readonly rand: () => number = () => 0.5) {}

  now(): number {
    return this.time;
  }
  addressType(addr: number, d?: NetDevice | null): AddrType {
    if (d != null) return this.devTypes.get(d.name)?.get(addr) ?? 'UNICAST';
    return this.types.get(addr) ?? 'UNICAST';
  }
  random(): number {
    const r = this.rand();
    this.draws.push(r);
    this.seq++;
    return r;
  }
  ipset(name: string): IpSet | undefined {
    return this.sets.get(name);
  }
  setupNat(_p: NfPacket, manip: 'src' | 'dst', range: NatRange): void {
    this.nats.push({ manip, range: { ...range } });
  }
  reject(_p: NfPacket, kind: RejectKind): void {
    this.rejects.push(kind);
  }
  log(_p: NfPacket, prefix: string, text: string): void {
    this.logs.push(prefix + text);
  }
}

/** Restores `rules` (a complete iptables-restore text) into a fresh ruleset. */
export function ruleset(rules: string, opts: ConstructorParameters<typeof IptablesRuleset>[0] = {}): IptablesRuleset {
  const r = new IptablesRuleset(opts);
  r.restore(rules, 'test.rules');
  return r;
}

/** Runs one table and copies the (reused) result. */
export function run(r: IptablesRuleset, table: 'raw' | 'mangle' | 'nat' | 'filter', p: NfPacket, host: NetfilterHost = new FakeHost(), trace?: IptTraceFn): RunResult {
  const res = r.runHook(table, p, host, trace);
  return { verdict: res.verdict, rulesEvaluated: res.rulesEvaluated };
}

/** A filter table with INPUT holding `lines` (each "-A INPUT ..." etc.), for one-rule tests. */
export function filter(...lines: string[]): string {
  return ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...lines, 'COMMIT', ''].join('\n');
}

/** True when the INPUT rule `spec` (options only, e.g. "-p tcp --dport 80") matches the packet. */
export function matches(spec: string, p: NfPacket, host: NetfilterHost = new FakeHost(), opts: ConstructorParameters<typeof IptablesRuleset>[0] = {}): boolean {
  const r = ruleset(filter(`-A INPUT ${spec} -j DROP`), opts);
  return run(r, 'filter', p, host).verdict === NfVerdict.DROP;
}

const HOOK_OF: Record<string, NfHook> = {
  PREROUTING: NfHook.PRE_ROUTING,
  INPUT: NfHook.LOCAL_IN,
  FORWARD: NfHook.FORWARD,
  OUTPUT: NfHook.LOCAL_OUT,
  POSTROUTING: NfHook.POST_ROUTING,
};

/** Like `matches`, for a rule in a built-in chain of the mangle table (which has all five); p.hook is set to the chain's hook. */
export function matchesAt(chain: keyof typeof HOOK_OF & string, spec: string, p: NfPacket, host: NetfilterHost = new FakeHost()): boolean {
  const r = ruleset(`*mangle\n-A ${chain} ${spec} -j MARK --set-mark 0x99\nCOMMIT\n`);
  p.hook = HOOK_OF[chain]!;
  p.pkt.mark = 0;
  run(r, 'mangle', p, host);
  return p.pkt.mark === 0x99;
}

/** Compiles the first table of `text` as iptables-restore would (`index`, `order`: as compileTable takes them). */
export function compileFirstTable(text: string, index?: ChainIndexOptions | false, order?: ChainOrder): CompiledTable {
  const block = parseRestoreBlocks(text, 'compiled.rules').next().value!;
  const model = TableModel.fresh(block.table);
  const apply = { counters: false, noflush: false };
  for (const s of block.statements) {
    if (s.kind === 'chain') model.declare(s, apply);
    else model.apply(s, apply);
  }
  return compileTable(model, { recent: new RecentRegistry(), nfacct: new NfacctRegistry(), traced: new WeakSet<Packet>() }, index, order);
}
