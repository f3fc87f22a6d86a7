/**
 * One kernel run of a resolved topology: build the namespaces, start the
 * captures, run the traffic, stop, read, normalise, tear down. What podwire's
 * captures are compared against, capture point by capture point.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TopologySpec } from '../../scenarios/topology.js';
import { ProcessSet, runSync, sleep } from './commands.js';
import { type CapturedFrame, startCaptures } from './kernel-capture.js';
import { runKernelTraffic, trafficEndNs, type TrafficOptions, type TrafficRun } from './kernel-traffic.js';
import { dumpCounters, type IptablesBackend, iptablesTools, loadIptables, namespacesWithRules } from './kernel-iptables.js';
import { dumpIpvs, loadIpsets, loadIpvs, namespacesWithIpvs, usesIpsets } from './kernel-ipvs.js';
import { dumpNftables, loadNftables, namespacesWithNftables } from './kernel-nftables.js';
import { buildKernelTopology, type KernelTopology, RUN_PREFIX } from './netns-topology.js';
import { type NormalisedFrame, normaliseFrame } from './normalise.js';

export interface KernelRunOptions {
  /** Progress lines (namespaces built, flows started); default: silent. */
  log?: (line: string) => void;
  /** Keep the raw pcap files (their directory is returned in `workDir`). */
  keepFiles?: boolean;
  /** Quiet time after the last flow ends before captures stop, ms (default 150). */
  settleMs?: number;
  /** How TCP flows run (their source ports). */
  traffic?: TrafficOptions;
}

export interface KernelRun {
  frames: Map<string, NormalisedFrame[]>;
  /** The frames as captured, with kernel timestamps, per capture point. */
  captures: Map<string, CapturedFrame[]>;
  traffic: TrafficRun;
  /** Capture points whose interface had to be renamed in the kernel, and the name used. */
  renamed: Map<string, string>;
  /** Where the raw captures are, when keepFiles was set. */
  workDir?: string;
  /** `iptables-save -c` after the traffic, per spec namespace that has rules. */
  counters: Map<string, string>;
  /** The iptables backend the rules were loaded with (when any namespace has rules). */
  iptablesBackend?: IptablesBackend;
  /** `nft list ruleset` after the traffic, per spec namespace that has an nftables text. */
  nftRulesets: Map<string, string>;
  /** `ipvsadm -Ln` and `-Lnc` after the traffic, per spec namespace with IPVS. */
  ipvs: Map<string, { list: string; connections: string }>;
}

/** Runs `spec` on the kernel and returns the normalised frames per capture point. */
export async function runOnKernel(spec: TopologySpec, options: KernelRunOptions = {}): Promise<Map<string, NormalisedFrame[]>> {
  return (await runOnKernelDetailed(spec, options)).frames;
}

export async function runOnKernelDetailed(spec: TopologySpec, options: KernelRunOptions = {}): Promise<KernelRun> {
  const log = options.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'pwk-capture-'));
  const procs = new ProcessSet();
  let topo: KernelTopology | undefined;
  try {
    const tools = namespacesWithRules(spec).length > 0 ? iptablesTools() : null;
    if (namespacesWithRules(spec).length > 0 && tools === null) throw new Error(`${spec.name} has iptables rules but iptables-restore/iptables-save do not run`);
    topo = await buildKernelTopology(spec);
    log(`built ${spec.name}: ${[...topo.namespaces.values()].join(', ')}`);
    // ip sets first: iptables' -m set rules name them.
    if (usesIpsets(spec)) await loadIpsets(topo);
    if (tools !== null) {
      await loadIptables(topo, tools);
      log(`loaded iptables rules with ${tools.restore} (${tools.version})`);
    }
    if (namespacesWithNftables(spec).length > 0) await loadNftables(topo);
    if (namespacesWithIpvs(spec).length > 0) await loadIpvs(topo);
    const session = await startCaptures(topo, spec.captures, dir, procs, Math.ceil(trafficEndNs(spec.traffic) / 1e6) + 60_000);
    let traffic: TrafficRun;
    try {
      traffic = await runKernelTraffic(topo, procs, log, options.traffic);
      await sleep(options.settleMs ?? 150);
    } catch (err) {
      await session.stop().catch(() => undefined);
      throw err;
    }
    const captures = await session.stop();
    const counters = tools !== null ? await dumpCounters(topo, tools) : new Map<string, string>();
    const nftRulesets = await dumpNftables(topo);
    const ipvs = await dumpIpvs(topo);
    const frames = new Map<string, NormalisedFrame[]>();
    for (const [point, list] of captures) frames.set(point, list.map((f) => normaliseFrame(f.data, f.dir)));
    return {
      frames, captures, traffic, renamed: new Map(topo.renamed), workDir: options.keepFiles ? dir : undefined, counters, nftRulesets, ipvs,
      ...(tools !== null ? { iptablesBackend: tools.backend } : {}),
    };
  } finally {
    await procs.stopAll(1_000);
    await topo?.teardown();
    if (!options.keepFiles) await rm(dir, { recursive: true, force: true });
  }
}

export interface Prerequisites {
  ok: boolean;
  reason: string;
}

let cached: Prerequisites | undefined;

/**
 * Whether this machine can run the kernel harness: root, iproute2, tcpdump,
 * sysctl, iputils ping with -e, and a namespace that can really be created
 * (and a ping with a chosen identifier sent inside it). Computed once.
 */
export function kernelPrerequisites(): Prerequisites {
  cached ??= checkPrerequisites();
  return cached;
}

const tunnelSupport = new Map<string, Prerequisites>();

/** Root and the tools, then whether this kernel can make a tunnel device of `kind`. */
export function tunnelPrerequisites(kind: 'vxlan' | 'ipip'): Prerequisites {
  let known = tunnelSupport.get(kind);
  if (known === undefined) tunnelSupport.set(kind, (known = probeTunnel(kind)));
  return known;
}

/** Makes a `kind` device in a namespace of its own. */
function probeTunnel(kind: 'vxlan' | 'ipip'): Prerequisites {
  const pre = kernelPrerequisites();
  if (!pre.ok) return pre;
  const probe = `${RUN_PREFIX}probe-${kind}`;
  if (!runSync('ip', ['netns', 'add', probe]).ok) return { ok: false, reason: 'cannot create a network namespace' };
  try {
    const args = kind === 'vxlan' ? ['vxlan', 'id', '1', 'dstport', '8472'] : ['ipip'];
    const r = runSync('ip', ['-n', probe, 'link', 'add', 'probe0', 'type', ...args]);
    if (!r.ok) return { ok: false, reason: `no ${kind} support in this kernel (ip link add type ${kind}: ${r.stderr.trim()})` };
    return { ok: true, reason: '' };
  } finally {
    runSync('ip', ['netns', 'del', probe]);
  }
}

function checkPrerequisites(): Prerequisites {
  if (process.platform !== 'linux') return { ok: false, reason: `needs Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (network namespaces, tcpdump)' };
  const tools: Array<[string, string[], string]> = [
    ['ip', ['-V'], 'iproute2'],
    ['tcpdump', ['--version'], 'tcpdump'],
    ['sysctl', ['-V'], 'procps'],
    ['ping', ['-V'], 'iputils-ping'],
    ['taskset', ['-c', '0', 'true'], 'util-linux'],
    ['ethtool', ['--version'], 'ethtool'],
  ];
  for (const [tool, args, pkg] of tools) {
    if (!runSync(tool, args).ok) return { ok: false, reason: `"${tool}" is missing or does not run (install ${pkg})` };
  }
  if (!/iputils/.test(runSync('ping', ['-V']).stdout)) return { ok: false, reason: 'ping is not iputils ping (needed for -e IDENT)' };
  const probe = `${RUN_PREFIX}probe`;
  const add = runSync('ip', ['netns', 'add', probe]);
  if (!add.ok) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
  try {
    const lo = runSync('ip', ['-n', probe, 'link', 'set', 'lo', 'up']);
    if (!lo.ok) return { ok: false, reason: `cannot configure a namespace: ${lo.stderr.trim()}` };
    const ping = runSync('ip', ['netns', 'exec', probe, 'ping', '-n', '-c', '1', '-W', '1', '-e', '4660', '127.0.0.1']);
    if (!ping.ok) return { ok: false, reason: `ping -e does not work in a namespace: ${(ping.stderr || ping.stdout).trim()}` };
  } finally {
    runSync('ip', ['netns', 'del', probe]);
  }
  if (runSync('ip', ['netns', 'list']).stdout.includes(probe)) return { ok: false, reason: `could not delete probe namespace ${probe}` };
  return { ok: true, reason: 'root, ip, tcpdump, sysctl, iputils ping, taskset, ethtool and network namespaces are available' };
}

let cachedTcp: Prerequisites | undefined;

/** kernelPrerequisites plus python3 (tcp-agent.py, the TCP flows' clients and servers). Computed once. */
export function tcpTrafficPrerequisites(): Prerequisites {
  cachedTcp ??= (() => {
    const base = kernelPrerequisites();
    if (!base.ok) return base;
    const py = runSync('python3', ['-c', 'import selectors, socket, threading; print("ok")']);
    if (!py.ok || py.stdout.trim() !== 'ok') return { ok: false, reason: `python3 is missing or does not run (needed by tcp-agent.py): ${py.stderr.trim()}` };
    return { ok: true, reason: `${base.reason}; python3` };
  })();
  return cachedTcp;
}

/** The extensions the netfilter scenarios use, loaded once into a probe namespace. */
const PROBE_RULES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:PROBE - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j PROBE
-A PROBE -m comment --comment probe -m statistic --mode nth --every 2 --packet 0 -j MARK --or-mark 0x4000
-A PROBE -p udp -m udp --dport 80 -j DNAT --to-destination 10.0.0.1:8080
-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`;

let cachedNetfilter: Prerequisites | undefined;

/**
 * kernelPrerequisites plus what the netfilter comparisons need: iptables-restore
 * and iptables-save of one backend, the extensions the scenarios use (addrtype,
 * comment, statistic, mark, udp, conntrack, DNAT, MASQUERADE, MARK), and
 * br_netfilter's per-namespace sysctl (bridged DNAT). Computed once.
 */
/** Both: rules loaded into namespaces and TCP traffic through them. */
export function netfilterTcpPrerequisites(): Prerequisites {
  const nf = netfilterPrerequisites();
  if (!nf.ok) return nf;
  const tcp = tcpTrafficPrerequisites();
  return tcp.ok ? nf : tcp;
}

export function netfilterPrerequisites(): Prerequisites {
  cachedNetfilter ??= checkNetfilterPrerequisites();
  return cachedNetfilter;
}

function checkNetfilterPrerequisites(): Prerequisites {
  const base = kernelPrerequisites();
  if (!base.ok) return base;
  const tools = iptablesTools();
  if (tools === null) return { ok: false, reason: 'iptables-restore/iptables-save do not run (install iptables)' };
  const probe = `${RUN_PREFIX}nfprobe`;
  const add = runSync('ip', ['netns', 'add', probe]);
  if (!add.ok) return { ok: false, reason: `cannot create a network namespace: ${add.stderr.trim()}` };
  try {
    const sysctl = runSync('ip', ['netns', 'exec', probe, 'sysctl', '-n', 'net.bridge.bridge-nf-call-iptables']);
    if (!sysctl.ok) return { ok: false, reason: `no net.bridge.bridge-nf-call-iptables in a namespace (br_netfilter is not loaded): ${sysctl.stderr.trim()}` };
    const restore = spawnSync('ip', ['netns', 'exec', probe, tools.restore], { input: PROBE_RULES, encoding: 'utf8', timeout: 10_000 });
    if (restore.status !== 0) return { ok: false, reason: `${tools.restore} cannot load the extensions the scenarios use: ${(restore.stderr ?? String(restore.error)).trim()}` };
    const save = runSync('ip', ['netns', 'exec', probe, tools.save, '-c']);
    if (!save.ok || !save.stdout.includes('--to-destination 10.0.0.1:8080')) return { ok: false, reason: `${tools.save} -c does not show the probe rules: ${save.stderr.trim()}` };
  } finally {
    runSync('ip', ['netns', 'del', probe]);
  }
  return { ok: true, reason: `${base.reason}; ${tools.version}, br_netfilter` };
}
