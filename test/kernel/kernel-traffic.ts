/**
 * Runs a topology's traffic (PingSpec, UdpSpec, TcpSpec) for real inside the
 * kernel namespaces, each flow at its start time relative to a common t0:
 * iputils ping for ICMP echo, udp-agent.mjs (a small Node program) for UDP
 * request/response, tcp-agent.py (python3) for TCP_CRR and proxy-agent.py for
 * the user-space proxies (kube-proxy's userspace mode, docker-proxy). Servers are
 * started, and UDP/TCP clients made ready, before t0 so that process start-up
 * does not shift the first datagram or SYN.
 */
import { fileURLToPath } from 'node:url';
import type { PingSpec, TcpSpec, TopologySpec, TrafficSpec, UdpSpec } from '../../scenarios/topology.js';
import { inNetns, onAgentCpu, type ProcessSet, type Started, sleep, waitUntil } from './commands.js';
import { socketCongestionControl, type KernelTopology } from './netns-topology.js';

const UDP_AGENT = fileURLToPath(new URL('./udp-agent.mjs', import.meta.url));
const TCP_AGENT = fileURLToPath(new URL('./tcp-agent.py', import.meta.url));
const PROXY_AGENT = fileURLToPath(new URL('./proxy-agent.py', import.meta.url));

/** "<netns>:<port>:<tcp|udp>" of every port a user-space proxy holds: no server is started there (scenarios/build.ts does the same). */
function proxyHeldPorts(topo: KernelTopology): Set<string> {
  const held = new Set<string>();
  for (const ns of topo.spec.namespaces) {
    for (const p of ns.userspaceProxy?.ports ?? []) held.add(`${topo.netns(ns.name)}:${p.proxyPort}:${p.protocol.toLowerCase()}`);
  }
  return held;
}

export interface TrafficOptions {
  /**
   * TCP flow name -> the source port of each of its connections, in order
   * (e.g. the ephemeral ports podwire's client used, so that rules matching
   * on them treat both sides alike); default: ephemeral ports.
   */
  tcpSourcePorts?: ReadonlyMap<string, readonly number[]>;
}

/** What tcp-agent.py can reproduce: open-loop TCP_CRR at a constant rate. */
export function checkKernelTcpFlow(f: TcpSpec): void {
  if (f.mode !== 'crr') throw new Error(`kernel traffic: flow "${f.name}": mode ${f.mode} is not supported (tcp-agent.py runs crr only)`);
  if (f.rate <= 0) throw new Error(`kernel traffic: flow "${f.name}": closed loop (rate 0) is not supported (tcp-agent.py runs open-loop crr)`);
  if (f.arrivals !== 'constant') throw new Error(`kernel traffic: flow "${f.name}": arrivals ${f.arrivals} are not supported (tcp-agent.py spaces connections evenly)`);
}

export interface FlowOutcome {
  name: string;
  kind: TrafficSpec['kind'];
  /** Exit code of the flow's client process, or the signal that ended it. */
  exit: number | string;
  /** Client output: ping's report, the UDP agent's {"sent","received"} or the TCP agent's {"sent","received","errors","ports","congestionControl"}. */
  output: string;
}

export interface TrafficRun {
  /** Wall-clock time of t0 in nanoseconds since the epoch (for relating capture timestamps). */
  t0RealNs: bigint;
  flows: FlowOutcome[];
}

/** Wall-clock now in nanoseconds, with sub-millisecond resolution. */
export function realTimeNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

/**
 * The namespace holding address `to`: the spec's toNs, else the owner of that
 * address, else (loopback) the sender; undefined for an address no namespace
 * holds (a Service VIP, answered by the `servers` its DNAT leads to), as
 * podwire's build decides (scenarios/build.ts, ownerOf).
 */
export function serverNamespace(spec: TopologySpec, flow: TrafficSpec): string | undefined {
  if (flow.toNs !== undefined) return flow.toNs;
  if (flow.to.startsWith('127.')) return flow.from.ns;
  for (const ns of spec.namespaces) {
    for (const dev of [...ns.bridges, ...ns.interfaces]) {
      if (dev.addresses.some((a) => a.split('/')[0] === flow.to)) return ns.name;
    }
  }
  return undefined;
}

/** Expected end of the last flow relative to t0, in ns. */
export function trafficEndNs(traffic: readonly TrafficSpec[]): number {
  return traffic.reduce((m, f) => Math.max(m, flowEndNs(f)), 0);
}

/** Expected end of a flow relative to t0, in ns: last send plus its timeout. */
function flowEndNs(flow: TrafficSpec): number {
  const gaps = Math.max(0, flow.count - 1);
  if (flow.kind === 'ping') return flow.startNs + gaps * flow.intervalNs + flow.timeoutNs;
  if (gaps === 0) return flow.startNs + flow.timeoutNs;
  // A closed loop (rate 0) has no planned end: 0 / 0 here once gave tcpdump a NaN time limit.
  if (!(flow.rate > 0)) throw new Error(`kernel traffic: flow "${flow.name}": ${flow.count} requests without a rate (closed loop) have no end to plan the captures for`);
  // Poisson gaps are unbounded; allow three times the mean span.
  const span = (gaps / flow.rate) * 1e9 * (flow.arrivals === 'poisson' ? 3 : 1);
  return flow.startNs + span + flow.timeoutNs;
}

function seconds(ns: number): string {
  return (ns / 1e9).toFixed(9).replace(/0+$/, '').replace(/\.$/, '');
}

/** iputils ping, as the brief and the kernel reference ran it (ping(8): -e sets the ICMP identifier). */
export function pingArgv(flow: PingSpec): string[] {
  return ['ping', '-n', ...(flow.broadcast ? ['-b'] : []), '-c', String(flow.count), '-i', seconds(flow.intervalNs), '-s', String(flow.size), '-e', String(flow.ident),
    '-W', seconds(Math.max(flow.timeoutNs, 1_000_000)), flow.to];
}

export async function runKernelTraffic(
  topo: KernelTopology,
  procs: ProcessSet,
  log: (line: string) => void = () => undefined,
  options: TrafficOptions = {},
): Promise<TrafficRun> {
  const spec = topo.spec;
  const traffic = spec.traffic;
  const endNs = trafficEndNs(traffic);
  const hardTimeoutMs = Math.ceil(endNs / 1e6) + 15_000;
  for (const f of traffic) if (f.kind === 'tcp') checkKernelTcpFlow(f);
  for (const name of options.tcpSourcePorts?.keys() ?? []) {
    if (!traffic.some((f) => f.kind === 'tcp' && f.name === name)) throw new Error(`kernel traffic: tcpSourcePorts names "${name}", which is no TCP flow of ${spec.name}`);
  }
  const own: Started[] = [];
  try {
    const held = proxyHeldPorts(topo);
    const proxyProcs = spec.namespaces
      .filter((ns) => ns.userspaceProxy !== undefined)
      .map((ns) => {
        const cfg = { kind: ns.userspaceProxy!.kind, ports: ns.userspaceProxy!.ports, congestionControl: socketCongestionControl(spec, ns.name) };
        return procs.start(`${cfg.kind} in ${ns.name}`, 'ip', inNetns(topo.netns(ns.name), onAgentCpu(['python3', PROXY_AGENT, JSON.stringify(cfg)])), { hardTimeoutMs });
      });
    own.push(...proxyProcs);
    // UDP servers: the spec's own (Service backends), then one per (namespace, port) a flow
    // is addressed to; flows sharing one must agree on the response size.
    const servers = new Map<string, { netns: string; port: number; responseSize: number; flow: string }>();
    for (const s of spec.servers ?? []) {
      if (s.protocol === 'tcp') continue;
      const netns = topo.netns(s.ns);
      servers.set(`${netns}:${s.port}`, { netns, port: s.port, responseSize: s.responseSize, flow: `server ${s.ns}:${s.port}` });
    }
    for (const f of traffic) {
      if (f.kind !== 'udp') continue;
      const serverNs = serverNamespace(spec, f);
      if (serverNs === undefined) continue;
      const netns = topo.netns(serverNs);
      const key = `${netns}:${f.port}`;
      const s = servers.get(key);
      if (s && s.responseSize !== f.responseSize) {
        throw new Error(`flows "${s.flow}" and "${f.name}" share server ${key} but differ in responseSize`);
      }
      servers.set(key, { netns, port: f.port, responseSize: f.responseSize, flow: f.name });
    }
    for (const key of servers.keys()) if (held.has(`${key}:udp`)) servers.delete(key);
    const serverProcs = [...servers.values()].map((s) =>
      procs.start(`udp server ${s.flow}`, 'ip', inNetns(s.netns, onAgentCpu([process.execPath, UDP_AGENT, 'server', JSON.stringify(s)])), { hardTimeoutMs }),
    );
    own.push(...serverProcs);
    const tcpServerProcs = startTcpServers(topo, procs, hardTimeoutMs, held);
    serverProcs.push(...tcpServerProcs, ...proxyProcs);
    own.push(...tcpServerProcs);
    const clients = new Map<UdpSpec | TcpSpec, Started>();
    traffic.forEach((f, index) => {
      if (f.kind === 'tcp') {
        const sourcePorts = options.tcpSourcePorts?.get(f.name) ?? [];
        if (sourcePorts.length > 0 && sourcePorts.length !== f.count) {
          throw new Error(`kernel traffic: flow "${f.name}" makes ${f.count} connections but tcpSourcePorts gives ${sourcePorts.length} ports`);
        }
        const cfg = {
          to: f.to, port: f.port, count: f.count, rate: f.rate, requestSize: f.requestSize, responseSize: f.responseSize,
          sourcePorts, timeoutMs: f.timeoutNs / 1e6, noDelay: f.noDelay, congestionControl: socketCongestionControl(spec, f.from.ns),
        };
        const p = procs.start(`tcp client ${f.name}`, 'ip', inNetns(topo.netns(f.from.ns), onAgentCpu(['python3', TCP_AGENT, 'client', JSON.stringify(cfg)])), {
          stdin: true,
          hardTimeoutMs,
        });
        clients.set(f, p);
        own.push(p);
        return;
      }
      if (f.kind !== 'udp') return;
      const cfg = {
        to: f.to, port: f.port, sourcePort: f.sourcePort, count: f.count, rate: f.rate, arrivals: f.arrivals,
        requestSize: f.requestSize, responseSize: f.responseSize, timeoutMs: f.timeoutNs / 1e6, seed: (spec.seed * 1000 + index) >>> 0,
        broadcast: f.broadcast,
      };
      const p = procs.start(`udp client ${f.name}`, 'ip', inNetns(topo.netns(f.from.ns), onAgentCpu([process.execPath, UDP_AGENT, 'client', JSON.stringify(cfg)])), {
        stdin: true,
        hardTimeoutMs,
      });
      clients.set(f, p);
      own.push(p);
    });
    const agents = [...serverProcs, ...clients.values()];
    const ready = await waitUntil(() => agents.every((p) => p.stdout.includes('ready') || p.child.exitCode !== null), 10_000, 10);
    const failed = agents.filter((p) => !p.stdout.includes('ready'));
    if (!ready || failed.length > 0) {
      throw new Error(`UDP/TCP agents did not start: ${failed.map((p) => `${p.name}: ${p.stderr.trim() || 'no output'}`).join('; ')}`);
    }

    const t0RealNs = realTimeNs();
    const t0 = performance.now();
    const atStart = (startNs: number) => sleep(Math.max(0, t0 + startNs / 1e6 - performance.now()));
    const outcomes = traffic.map(async (f): Promise<FlowOutcome> => {
      await atStart(f.startNs);
      let p: Started;
      // iputils rejects -c 0 (it would mean "forever"); a flow of no requests sends nothing.
      if (f.kind === 'ping' && f.count <= 0) return { name: f.name, kind: f.kind, exit: 0, output: 'no requests' };
      if (f.kind === 'ping') {
        p = procs.start(`ping ${f.name}`, 'ip', inNetns(topo.netns(f.from.ns), onAgentCpu(pingArgv(f))), { hardTimeoutMs });
        own.push(p);
      } else {
        p = clients.get(f)!;
        p.child.stdin?.end('go\n');
      }
      log(`t0+${((performance.now() - t0) / 1e3).toFixed(3)}s started ${f.kind} "${f.name}"`);
      const exit = await p.exited;
      const stdout = f.kind !== 'ping' ? p.stdout.replace(/^ready\n/, '') : p.stdout;
      return { name: f.name, kind: f.kind, exit, output: (stdout + p.stderr).trim() };
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), Math.ceil(endNs / 1e6) + 5_000)));
    const all = Promise.all(outcomes);
    try {
      if ((await Promise.race([all, deadline])) === 'deadline') {
        log('traffic deadline passed; stopping the remaining flows');
        await procs.stop(own.filter((p) => !serverProcs.includes(p)));
      }
    } finally {
      clearTimeout(timer);
    }
    return { t0RealNs, flows: await all };
  } finally {
    await procs.stop(own);
  }
}

/**
 * TCP servers as podwire's build makes them (scenarios/build.ts, startTcp):
 * the spec's own (Service backends), then one per (namespace, port) a TCP
 * flow is addressed to; flows sharing one must agree on the sizes.
 */
function startTcpServers(topo: KernelTopology, procs: ProcessSet, hardTimeoutMs: number, held: ReadonlySet<string>): Started[] {
  const spec = topo.spec;
  const servers = new Map<string, { netns: string; port: number; requestSize: number; responseSize: number; flow: string }>();
  /** The scenario namespace of each server (its node's TCP settings are its own). */
  const specNs = new Map<string, string>();
  for (const s of spec.servers ?? []) {
    if (s.protocol !== 'tcp') continue;
    const netns = topo.netns(s.ns);
    servers.set(`${netns}:${s.port}`, { netns, port: s.port, requestSize: s.requestSize ?? 64, responseSize: s.responseSize, flow: `server ${s.ns}:${s.port}` });
    specNs.set(`${netns}:${s.port}`, s.ns);
  }
  for (const f of spec.traffic) {
    if (f.kind !== 'tcp') continue;
    const serverNs = serverNamespace(spec, f);
    if (serverNs === undefined) continue;
    const netns = topo.netns(serverNs);
    const key = `${netns}:${f.port}`;
    const s = servers.get(key);
    if (s === undefined) {
      servers.set(key, { netns, port: f.port, requestSize: f.requestSize, responseSize: f.responseSize, flow: f.name });
      specNs.set(key, serverNs);
    }
    else if (s.requestSize !== f.requestSize || s.responseSize !== f.responseSize) {
      throw new Error(`flows "${s.flow}" and "${f.name}" share TCP server ${key} but differ in requestSize/responseSize`);
    }
  }
  for (const key of servers.keys()) if (held.has(`${key}:tcp`)) servers.delete(key);
  return [...servers].map(([key, s]) =>
    procs.start(`tcp server ${s.flow}`, 'ip', inNetns(s.netns, onAgentCpu(['python3', TCP_AGENT, 'server', JSON.stringify({ ...s, congestionControl: socketCongestionControl(spec, specNs.get(key)!) })])), { hardTimeoutMs }),
  );
}
