/**
 * The scenario's `traffic`: each item with its protocol's defaults (netperf's
 * for TCP, iputils' for ping), endpoints resolved, and a flow name, explicit
 * (unique) or made from kind and endpoints. A pattern that yields no flow is
 * reported.
 */
import { type EndpointIndex, parseSelector } from './endpoints.js';
import { type PathSegment, formatPath } from './errors.js';
import { DEFAULTS } from './defaults.js';
import { patternPairs } from './patterns.js';
import type { Problems } from './problems.js';
import type { RawPing, RawScenario, RawTcp, RawUdp } from './raw-scenario.js';
import type { NodeConfig, TrafficItem, TrafficPattern } from './scenario.js';

export function normalizeTraffic(problems: Problems, raw: RawScenario, index: EndpointIndex, nodes: NodeConfig[], durationNs: number): TrafficItem[] {
  const rawItems = raw.traffic ?? [];
  const durationText = String(raw.duration ?? DEFAULTS.duration);
  const explicitNames = new Map<string, string>();
  for (const [i, item] of rawItems.entries()) {
    const [kind, body] = Object.entries(item)[0] as [string, RawPing & RawUdp & RawTcp];
    if (body.name === undefined) continue;
    const path = ['traffic', i, kind, 'name'];
    const prev = explicitNames.get(body.name);
    if (prev !== undefined) problems.fail(path, `duplicate flow name ${JSON.stringify(body.name)} (also ${prev})`);
    else explicitNames.set(body.name, formatPath(path));
  }
  const names = new Set(explicitNames.keys());

  return rawItems.map((item, i): TrafficItem => {
    const [kind, body] = Object.entries(item)[0] as ['ping' | 'udp' | 'tcp' | 'pingAll' | 'udpAll' | 'tcpAll', RawPing & RawUdp & RawTcp];
    const at: PathSegment[] = ['traffic', i, kind];
    const startNs = problems.duration(body.start, 0, [...at, 'start']);
    if (body.start !== undefined && durationNs > 0 && startNs >= durationNs) {
      problems.fail([...at, 'start'], `${body.start} is not before the end of the run (duration ${durationText})`);
    }
    const ping = () => {
      const d = DEFAULTS.ping;
      return {
        count: body.count ?? d.count,
        intervalNs: problems.duration(body.interval, d.interval, [...at, 'interval']),
        size: body.size ?? d.size,
        startNs,
        timeoutNs: problems.duration(body.timeout, d.timeout, [...at, 'timeout']),
        ident: body.ident ?? (DEFAULTS.identBase + i) & 0xffff,
      };
    };
    // What UDP and TCP request/response flows share, with their protocol's defaults.
    const requests = (d: typeof DEFAULTS.udp | typeof DEFAULTS.tcp) => ({
      port: body.port ?? d.port,
      count: body.count ?? d.count,
      arrivals: body.arrivals ?? d.arrivals,
      requestSize: body.requestSize ?? d.requestSize,
      responseSize: body.responseSize ?? d.responseSize,
      startNs,
      timeoutNs: problems.duration(body.timeout, d.timeout, [...at, 'timeout']),
    });
    const udp = () => {
      const d = DEFAULTS.udp;
      return { ...requests(d), sourcePort: body.sourcePort ?? d.sourcePort, rate: body.rate ?? d.rate };
    };
    const tcp = () => {
      const d = DEFAULTS.tcp;
      const mode = body.mode ?? d.mode;
      if (mode !== 'bulk' && body.responseSize === 0) {
        problems.fail([...at, 'responseSize'], `must be at least 1 in mode ${mode} (every request is answered; use mode bulk for one-way data)`);
      }
      if (mode !== 'bulk' && body.requestSize === 0) problems.fail([...at, 'requestSize'], `must be at least 1 in mode ${mode}`);
      if (mode === 'bulk' && body.bytes === 0) problems.fail([...at, 'bytes'], 'must be at least 1');
      if (body.rate !== undefined && body.concurrency !== undefined) {
        problems.fail([...at, 'concurrency'], 'applies to closed-loop flows only (give rate or concurrency, not both)');
      }
      return {
        ...requests(d),
        mode,
        rate: body.rate ?? 0,
        concurrency: body.concurrency ?? d.concurrency,
        bytes: body.bytes ?? d.bytes,
        noDelay: body.noDelay ?? d.noDelay,
      };
    };
    if (kind === 'ping' || kind === 'udp' || kind === 'tcp') {
      const from = body.from!;
      const to = body.to!;
      const srcs = parseSelector(from) !== undefined ? index.select(from) : index.source(from);
      if (typeof srcs === 'string') problems.fail([...at, 'from'], srcs);
      else {
        const src = Array.isArray(srcs) ? srcs[0]! : srcs;
        const dsts = parseSelector(to) !== undefined ? index.select(to) : index.destination(to, src);
        if (typeof dsts === 'string') problems.fail([...at, 'to'], dsts);
        const many = (Array.isArray(srcs) ? srcs.length : 1) * (Array.isArray(dsts) ? dsts.length : 1) > 1;
        if (many && kind !== 'ping' && (body.sourcePort ?? 0) !== 0 && !(Array.isArray(srcs) && !Array.isArray(dsts))) {
          problems.fail([...at, 'sourcePort'], 'one client would bind it once per destination the selector picks; leave it out (ephemeral ports)');
        }
      }
      const name = body.name ?? uniqueName(`${kind} ${from} -> ${to}`, names);
      if (kind === 'tcp') return { kind, name, from, to, ...tcp() };
      const broadcast = body.broadcast ?? false;
      return kind === 'ping' ? { kind, name, from, to, ...ping(), broadcast } : { kind, name, from, to, ...udp(), broadcast };
    }
    const pattern = body.pattern!;
    const stride = nodeStride(problems, pattern, body.nodeStride, nodes, [...at, 'nodeStride']);
    patternFeasible(problems, pattern, nodes, [...at, 'pattern'], stride ?? 1);
    const stagger = body.stagger ?? DEFAULTS.stagger;
    const shape = { pattern, ...(stride !== undefined ? { nodeStride: stride } : {}), stagger };
    if (kind === 'tcpAll') return { kind, ...shape, ...tcp() };
    return kind === 'pingAll' ? { kind, ...shape, ...ping() } : { kind, ...shape, ...udp() };
  });
}

/**
 * `nodeStride` as given (undefined when not), checked: it only chooses
 * cross-node peers, and a multiple of the node count would make every pod its
 * own peer.
 */
function nodeStride(problems: Problems, pattern: TrafficPattern, stride: number | undefined, nodes: NodeConfig[], path: PathSegment[]): number | undefined {
  if (stride === undefined) return undefined;
  if (pattern !== 'cross-node') {
    problems.fail(path, `applies to pattern cross-node only (this is ${pattern})`);
    return undefined;
  }
  if (nodes.length > 0 && stride % nodes.length === 0) {
    problems.fail(path, `${stride} is a multiple of the ${nodes.length} nodes: every pod would be its own peer`);
    return undefined;
  }
  return stride;
}

/** A pattern that yields no flow at all is a mistake, not a quiet no-op. */
function patternFeasible(problems: Problems, pattern: TrafficPattern, nodes: NodeConfig[], path: PathSegment[], stride: number): void {
  if (nodes.length === 0 || patternPairs(pattern, nodes, stride).length > 0) return;
  const need = {
    ring: 'at least 2 pods',
    'same-node': 'a node with at least 2 pods',
    'cross-node': 'at least 2 nodes with pods',
  }[pattern];
  problems.fail(path, `${pattern} yields no flows here (it needs ${need})`);
}

/** `base`, or `base #2`, `base #3`... whichever is free; records it in `taken`. */
export function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let k = 2; taken.has(name); k++) name = `${base} #${k}`;
  taken.add(name);
  return name;
}
