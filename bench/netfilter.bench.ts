import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { randomStream, type RandomStream } from '../engine/rng.js';
import { parseDuration } from '../engine/time.js';
import type { NetDevice } from '../models/devices/net-device.js';
import { kubeProxyBaseRules, kubeProxyIptables, syntheticNodeIP, syntheticServices } from '../models/k8s/kube-proxy/index.js';
import { NfHook, NfVerdict } from '../models/netfilter/hooks.js';
import { Netfilter, type NetfilterCosts } from '../models/netfilter/netfilter.js';
import { CtState } from '../models/netfilter/types.js';
import { Packet } from '../models/packet.js';
import { formatIpv4, parseIpv4 } from '../models/wire/addr.js';
import { ETH_HLEN, ETHERTYPE_IPV4, emitEthernet } from '../models/wire/ethernet.js';
import { IPPROTO_TCP, IPV4_HEADER_LEN, emitIpv4, ipv4Dst, ipv4Src } from '../models/wire/ipv4.js';
import { TCP_ACK, TCP_PSH, TCP_SYN, emitTcp } from '../models/wire/tcp.js';
import { DEFAULTS } from '../scenarios/defaults.js';
import type { BenchResult, Benchmark } from './benchmark.js';

/**
 * Packets per second through the nat PREROUTING hook of a node carrying
 * kube-proxy's iptables ruleset (models/k8s/kube-proxy: v1.30 rules for N
 * ClusterIP Services of 3 endpoints each, N = 1k, 10k, 50k), through
 * `Netfilter.hook` as the stack calls it: conntrack, then the nat table
 * for a connection's first packet, then the NAT rewrite.
 *
 * Packets, all TCP to port 80 from pods on the node:
 * - first: the SYN of a new connection to a random ClusterIP. Walks
 *   PREROUTING -> KUBE-SERVICES -> KUBE-SVC-* -> KUBE-SEP-* and DNATs.
 * - established: a data segment of one of 1,024 connections set up
 *   beforehand (SYN, SYN-ACK, ACK); conntrack finds it, no rule is tested.
 * - miss: the SYN of a connection to an address of the Service CIDR that
 *   no Service has; it walks all of KUBE-SERVICES.
 * Each is measured with the chain index (the default) and without it
 * (`linear`, the walk before the index), so the README's before/after
 * figures come from one run. Every packet's bytes are restored from a
 * template before it goes in, since the hook rewrites them; that copy is
 * part of the time.
 *
 * Figures per N: kpps of each kind (best of 3 timed runs), the restore
 * (iptables-restore of kube-proxy's text into a fresh Netfilter), heap
 * held by the loaded ruleset, and the simulated cost of a first packet:
 * the entries ipt_do_table tests times scenarios' default ruleCost. That
 * one grows with N while the wall-clock cost stays flat. Every (N, mode)
 * runs in a child process of its own, so heap figures belong to it alone.
 */

interface Size {
  id: string;
  services: number;
}

const SIZES: Size[] = [
  { id: 'k8s-1k', services: 1000 },
  { id: 'k8s-10k', services: 10000 },
  { id: 'k8s-50k', services: 50000 },
];

type Mode = 'index' | 'linear';
const MODES: Mode[] = ['index', 'linear'];

const ENDPOINTS = 3;
const NODES = 20;
const FLOWS = 1024;
/** Each timed run lasts about this long. */
const RUN_SECONDS = 0.3;

const RULE_NS = parseDuration(DEFAULTS.netfilter.ruleCost);
const ONLY_RULES: NetfilterCosts = { ruleNs: 1, conntrackNs: 0, natSetupNs: 0 };

/** The node's devices as netfilter sees them: only name and addresses matter. */
function device(name: string, addr: string, prefixLen: number, ifindex: number): NetDevice {
  return { name, ifindex, addrs: [{ addr: parseIpv4(addr), prefixLen }] } as unknown as NetDevice;
}

/** A pod network beside the synthetic endpoints' 10.128.0.0/16 blocks, inside the cluster CIDR (so no masquerade). */
const CLIENT_NET = parseIpv4('10.200.0.0');

let packetIds = 0;

function tcpFrame(src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: number): Packet {
  const total = IPV4_HEADER_LEN + 20 + payload;
  const pkt = Packet.alloc(ETH_HLEN + total, ++packetIds, 0);
  const b = pkt.buf;
  const ip = pkt.off + ETH_HLEN;
  emitEthernet({ dst: 0x0a5800000002, src: 0x0a5800000001, ethertype: ETHERTYPE_IPV4 }, b, pkt.off);
  emitTcp({ srcPort: sport, dstPort: dport, seq, ack, flags, window: 64240, urgent: 0, options: {} }, b, ip + IPV4_HEADER_LEN, src, dst, payload);
  emitIpv4(
    { dscpEcn: 0, totalLength: total, ident: 1, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IPPROTO_TCP, src, dst, headerLength: IPV4_HEADER_LEN },
    b,
    ip,
  );
  return pkt;
}

/** A packet and the bytes to put back before each use. */
interface Replay {
  pkt: Packet;
  bytes: Uint8Array;
}

function replay(pkt: Packet): Replay {
  return { pkt, bytes: pkt.buf.slice(pkt.off, pkt.off + pkt.len) };
}

class Node {
  readonly nf: Netfilter;
  readonly cni0 = device('cni0', '10.200.0.1', 16, 2);
  readonly eth0: NetDevice;
  readonly restoreMs: number;
  readonly heapMiB: number;
  private clock = 0;

  constructor(
    readonly services: { clusterIP: number }[],
    text: string,
    mode: Mode,
    seed: number,
  ) {
    const nodeIP = parseIpv4(syntheticNodeIP(0));
    this.eth0 = device('eth0', syntheticNodeIP(0), 16, 1);
    const heap0 = heapUsed();
    const t0 = performance.now();
    this.nf = new Netfilter({
      now: () => this.clock,
      rng: randomStream(seed, 'bench/netfilter/statistic'),
      conntrackRng: randomStream(seed, 'bench/netfilter/conntrack'),
      addressType: (a) => (a === nodeIP || a >>> 24 === 127 ? 'LOCAL' : 'UNICAST'),
      reject: () => {
        throw new Error('bench: unexpected REJECT');
      },
      log: () => {},
      ipsets: new Map(),
      ruleTrace: () => undefined,
    });
    if (mode === 'linear') this.nf.iptables.chainIndex = false;
    this.nf.restore(kubeProxyBaseRules(), 'kube-proxy-base.rules');
    this.nf.restore(text, 'kube-proxy.rules', true);
    this.restoreMs = performance.now() - t0;
    this.heapMiB = (heapUsed() - heap0) / 2 ** 20;
  }

  /** One packet through PREROUTING, as ip_rcv calls it; the verdict must be ACCEPT. */
  prerouting(r: Replay): void {
    const p = r.pkt;
    p.buf.set(r.bytes, p.off);
    p.ct = null;
    p.ctState = 0;
    p.ctDir = 0;
    p.mark = 0;
    if (this.nf.hook(NfHook.PRE_ROUTING, p, this.cni0, null) !== NfVerdict.ACCEPT) throw new Error('bench: a packet was dropped');
    // Let go of the connection, as a delivered packet would: a template kept
    // holding an unconfirmed one until its next turn only tests the GC.
    p.ct = null;
  }

  /** A packet all the way through a forwarding node's hooks (PREROUTING, then POSTROUTING and conntrack's confirm). */
  forward(p: Packet, inDev: NetDevice, outDev: NetDevice): void {
    this.clock += 1000;
    if (this.nf.hook(NfHook.PRE_ROUTING, p, inDev, null) !== NfVerdict.ACCEPT) throw new Error('bench: handshake dropped at PREROUTING');
    if (this.nf.hook(NfHook.POST_ROUTING, p, null, outDev) !== NfVerdict.ACCEPT) throw new Error('bench: handshake dropped at POSTROUTING');
  }
}

function heapUsed(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

function clientAddr(rng: RandomStream): number {
  return (CLIENT_NET + rng.int(2, 0xfffe)) >>> 0;
}

/** SYNs to random ClusterIPs, each a new connection (never confirmed, so the conntrack table stays empty). */
function firstPackets(node: Node, rng: RandomStream, n: number): Replay[] {
  return Array.from({ length: n }, () => {
    const svc = node.services[rng.int(0, node.services.length - 1)]!;
    return replay(tcpFrame(clientAddr(rng), svc.clusterIP, rng.int(1024, 65535), 80, rng.int(0, 0x7fffffff), 0, TCP_SYN, 0));
  });
}

/** SYNs to Service-CIDR addresses no Service has. */
function missPackets(node: Node, rng: RandomStream, n: number): Replay[] {
  const used = new Set(node.services.map((s) => s.clusterIP));
  const base = parseIpv4('10.96.0.0');
  const out: Replay[] = [];
  while (out.length < n) {
    const dst = (base + rng.int(2, 0xffffe)) >>> 0;
    if (!used.has(dst)) out.push(replay(tcpFrame(clientAddr(rng), dst, rng.int(1024, 65535), 80, 1, 0, TCP_SYN, 0)));
  }
  return out;
}

/** Sets up `n` connections to random ClusterIPs (SYN, SYN-ACK, ACK) and returns a data segment of each. */
function establishedPackets(node: Node, rng: RandomStream, n: number): Replay[] {
  return Array.from({ length: n }, (_, i) => {
    const svc = node.services[rng.int(0, node.services.length - 1)]!;
    const client = clientAddr(rng);
    const sport = 10000 + i;
    const iss = rng.int(0, 0x7fffffff);
    const syn = tcpFrame(client, svc.clusterIP, sport, 80, iss, 0, TCP_SYN, 0);
    node.forward(syn, node.cni0, node.eth0);
    const ip = syn.off + ETH_HLEN;
    const backend = ipv4Dst(syn.buf, ip);
    if (backend === svc.clusterIP) throw new Error(`bench: SYN to ${formatIpv4(svc.clusterIP)} was not DNATed`);
    const backendPort = (syn.buf[ip + IPV4_HEADER_LEN + 2]! << 8) | syn.buf[ip + IPV4_HEADER_LEN + 3]!;
    const sis = rng.int(0, 0x7fffffff);
    node.forward(tcpFrame(backend, client, backendPort, sport, sis, iss + 1, TCP_SYN | TCP_ACK, 0), node.eth0, node.cni0);
    node.forward(tcpFrame(client, svc.clusterIP, sport, 80, iss + 1, sis + 1, TCP_ACK, 0), node.cni0, node.eth0);
    const data = replay(tcpFrame(client, svc.clusterIP, sport, 80, iss + 1, sis + 1, TCP_ACK | TCP_PSH, 100));
    node.prerouting(data);
    if (data.pkt.ctState !== (CtState.ESTABLISHED as number) || ipv4Dst(data.pkt.buf, data.pkt.off + ETH_HLEN) !== backend) {
      throw new Error('bench: data segment not ESTABLISHED and DNATed');
    }
    return data;
  });
}

/** Best-of-3 packets per second over `pkts`, cycling; each run sized to last about RUN_SECONDS. */
function pps(node: Node, pkts: Replay[]): number {
  const m = pkts.length;
  // Calibrate: how many packets fit in RUN_SECONDS?
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 50) node.prerouting(pkts[n++ % m]!);
  const count = Math.max(m, Math.ceil((n / (performance.now() - t0)) * 1000 * RUN_SECONDS));
  let best = 0;
  for (let rep = 0; rep < 3; rep++) {
    const t = performance.now();
    for (let i = 0; i < count; i++) node.prerouting(pkts[i % m]!);
    best = Math.max(best, count / ((performance.now() - t) / 1000));
  }
  return best;
}

/** Mean simulated cost (ns) per packet of `pkts` under `costs`. */
function meanCost(node: Node, pkts: Replay[], costs: NetfilterCosts): number {
  const saved = node.nf.costs;
  node.nf.costs = costs;
  let sum = 0;
  for (const r of pkts) {
    node.prerouting(r);
    sum += node.nf.lastCostNs;
  }
  node.nf.costs = saved;
  return sum / pkts.length;
}

interface ChildFigures {
  restoreMs: number;
  heapMiB: number;
  first: number;
  established: number;
  miss: number;
  firstRules: number;
  missRules: number;
}

function runChild(size: Size, mode: Mode): ChildFigures {
  const seed = 1;
  const input = syntheticServices({ services: size.services, endpointsPerService: ENDPOINTS, nodes: NODES, seed });
  const text = kubeProxyIptables(input);
  const node = new Node(
    input.services.map((s) => ({ clusterIP: parseIpv4(s.clusterIP) })),
    text,
    mode,
    seed,
  );
  const rng = randomStream(seed, 'bench/netfilter/packets');
  const first = firstPackets(node, rng, 4096);
  const miss = missPackets(node, rng, 1024);
  // Check the path once: a first packet is DNATed to an endpoint (10.128.0.0/9), a miss is not.
  node.prerouting(first[0]!);
  if (ipv4Dst(first[0]!.pkt.buf, first[0]!.pkt.off + ETH_HLEN) >>> 23 !== parseIpv4('10.128.0.0') >>> 23) throw new Error('bench: first packet not DNATed to an endpoint');
  node.prerouting(miss[0]!);
  if (ipv4Src(miss[0]!.bytes, ETH_HLEN) !== ipv4Src(miss[0]!.pkt.buf, miss[0]!.pkt.off + ETH_HLEN)) throw new Error('bench: miss packet rewritten');
  const firstRules = meanCost(node, first, ONLY_RULES);
  const missRules = meanCost(node, miss, ONLY_RULES);
  // New connections are timed while the conntrack table is empty: with
  // confirmed entries present they run about half as fast whatever the
  // ruleset (the scavenger then promotes much of their garbage), which
  // would hide what the rules cost.
  const firstPps = pps(node, first);
  const missPps = pps(node, miss);
  const established = establishedPackets(node, rng, FLOWS);
  return {
    restoreMs: node.restoreMs,
    heapMiB: node.heapMiB,
    firstRules,
    missRules,
    first: firstPps,
    established: pps(node, established),
    miss: missPps,
  };
}

function runInChild(size: Size, mode: Mode): ChildFigures {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), size.id, mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as ChildFigures;
}

export const benchmark: Benchmark = {
  name: 'netfilter',
  async run() {
    const out: BenchResult[] = [];
    for (const size of SIZES) {
      const fig = new Map(MODES.map((m) => [m, runInChild(size, m)]));
      const ix = fig.get('index')!;
      const lin = fig.get('linear')!;
      // The index may change wall time only: the same packets must cost the same entries.
      if (ix.firstRules !== lin.firstRules || ix.missRules !== lin.missRules) {
        throw new Error(`${size.id}: rulesEvaluated differs with the index (${ix.firstRules}/${ix.missRules}) and without (${lin.firstRules}/${lin.missRules})`);
      }
      const id = `netfilter.${size.id}`;
      for (const mode of MODES) {
        const f = fig.get(mode)!;
        out.push(
          { id: `${id}.${mode}.first_packet_kpps`, value: f.first / 1e3, unit: 'kpps', higherIsBetter: true },
          { id: `${id}.${mode}.established_kpps`, value: f.established / 1e3, unit: 'kpps', higherIsBetter: true },
          { id: `${id}.${mode}.miss_kpps`, value: f.miss / 1e3, unit: 'kpps', higherIsBetter: true },
          { id: `${id}.${mode}.restore_ms`, value: f.restoreMs, unit: 'ms', higherIsBetter: false },
          { id: `${id}.${mode}.heap_mib`, value: f.heapMiB, unit: 'MiB', higherIsBetter: false },
        );
      }
      // Simulated figures: what the model charges, not how fast podwire is; equal in both modes.
      out.push(
        { id: `${id}.first_packet_rules`, value: ix.firstRules, unit: 'rules', higherIsBetter: false },
        { id: `${id}.first_packet_sim_us`, value: (ix.firstRules * RULE_NS) / 1e3, unit: 'sim us', higherIsBetter: false },
        { id: `${id}.miss_sim_us`, value: (ix.missRules * RULE_NS) / 1e3, unit: 'sim us', higherIsBetter: false },
      );
    }
    return out;
  },
};

// Child mode: `node netfilter.bench.js <size id> <index|linear>` prints that run's figures as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const size = SIZES.find((s) => s.id === process.argv[2]);
  const mode = MODES.find((m) => m === process.argv[3]);
  if (size === undefined || mode === undefined) throw new Error(`usage: netfilter.bench.js <${SIZES.map((s) => s.id).join('|')}> <${MODES.join('|')}>`);
  process.stdout.write(JSON.stringify(runChild(size, mode)));
}
