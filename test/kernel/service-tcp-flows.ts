/**
 * Comparing a kube-proxy Service's TCP_CRR connections between podwire and
 * the kernel (cluster-services-tcp in iptables mode, services-nftables-tcp in
 * nftables mode; the two library scenarios share nodes, pods, Services and
 * TCP flows): podwire runs first, its clients' source ports and backend
 * choices are read from its captures, then the kernel runs the spec with the
 * backends pinned to podwire's (`pin`) and its clients bound to podwire's
 * ports, so both sides open the same connections in the same order. What
 * each mode adds (iptables-save -c, nft list ruleset) stays in its test.
 */
import { expect } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { runOnKernelDetailed } from './kernel-harness.js';
import { compareCapturePoints, normaliseFrame } from './normalise.js';
import { readPodwireRaw } from './service-udp-flows.js';
import { connectionText, decodeTcpSegment, firstDifference, type RawFrame, tcpConnections, type TextOptions } from './tcp-segments.js';

/** Where a flow's client sends from: its SYNs leave this point with these addresses. */
export interface TcpFlowOrigin { point: string; src: string; dst: string; dstPort: number }

export const CRR = 'client crr';
export const NODEPORT = 'n1 -> NodePort on n2';
/** The TCP flows of cluster-services and services-nftables. */
export const ORIGIN: Record<string, TcpFlowOrigin> = {
  [CRR]: { point: 'n1/client/eth0', src: '10.244.1.2', dst: '10.96.0.3', dstPort: 80 },
  [NODEPORT]: { point: 'n1/eth0', src: '192.168.49.2', dst: '192.168.49.3', dstPort: 30000 },
};
/** echo-tcp's endpoints: the first (kube-proxy's first endpoint chain / rule) and the second. */
export const FIRST_BACKEND_POINT = 'n1/echo-a/eth0';
export const SECOND_BACKEND_POINT = 'n2/echo-b/eth0';
const CLIENT_ADDRESSES = [ORIGIN[CRR]!.src, ORIGIN[NODEPORT]!.src];

/** A library scenario with its TCP flows and TCP servers only (the UDP ones dropped on both sides; their rules stay). */
export function tcpOnly(scenario: string): TopologySpec {
  const spec = expandScenario(loadScenarioFile(resolveScenarioPath(scenario)));
  return {
    ...spec,
    traffic: spec.traffic.filter((f) => f.kind === 'tcp'),
    servers: (spec.servers ?? []).filter((s) => s.protocol === 'tcp'),
  };
}

/** The source ports of a flow's SYNs where they leave its client, in order. */
function clientPorts(captures: ReadonlyMap<string, readonly RawFrame[]>, flow: string): number[] {
  const o = ORIGIN[flow]!;
  return (captures.get(o.point) ?? [])
    .map(decodeTcpSegment)
    .filter((s) => s !== undefined && s.dir === 'out' && s.flags === 'S' && s.src === o.src && s.dst === o.dst && s.dstPort === o.dstPort)
    .map((s) => s!.srcPort);
}

/** Client port -> the backend pod's point its connection reached. */
function backendsOf(conns: ReturnType<typeof tcpConnections>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [port, c] of conns) {
    const at = [FIRST_BACKEND_POINT, SECOND_BACKEND_POINT].filter((p) => c.points.has(p));
    if (at.length !== 1) throw new Error(`connection from client port ${port} reached ${at.length === 0 ? 'no backend' : at.join(' and ')}`);
    out.set(port, at[0]!);
  }
  return out;
}

function runPodwire(spec: TopologySpec, outDir: string) {
  const { captureFiles, results } = runTopology(spec, { outDir });
  return { raw: readPodwireRaw(captureFiles), flows: results.flows as Array<{ name: string; sent: number; received: number }> };
}

/**
 * One retry when tcpdump lost frames: on a loaded machine (26 tcpdumps on shared cores)
 * the capture, not the traffic, occasionally reports a few frames "dropped by kernel"
 * (seen 2 times in about 20 runs); any other failure is not retried. `label` prefixes the warning.
 */
export async function kernelRunRetryingCaptureLoss<T>(label: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!/packets? dropped by the kernel/.test(String(e))) throw e;
    console.warn(`[${label}] retrying the kernel run once: ${String(e)}`);
    return run();
  }
}

export interface TcpRuns {
  podwire: ReturnType<typeof runPodwire>;
  /** Flow -> the source ports of its connections, in order (podwire's, given to the kernel's client). */
  ports: Map<string, number[]>;
  /** Client port -> the backend pod's point in podwire. */
  backends: Map<number, string>;
  podwireConns: ReturnType<typeof tcpConnections>;
  kernel: Awaited<ReturnType<typeof runOnKernelDetailed>>;
  kernelRaw: Map<string, RawFrame[]>;
  kernelConns: ReturnType<typeof tcpConnections>;
}

/**
 * podwire's run of `spec` (written to `outDir`), then the kernel's run of
 * `pin(spec, ports podwire sent to the first endpoint)` with podwire's client ports.
 */
export async function runTcpComparison(spec: TopologySpec, outDir: string, pin: (spec: TopologySpec, firstEndpointPorts: number[]) => TopologySpec, label: string): Promise<TcpRuns> {
  const podwire = runPodwire(spec, outDir);
  const ports = new Map([CRR, NODEPORT].map((flow) => [flow, clientPorts(podwire.raw, flow)]));
  const podwireConns = tcpConnections(podwire.raw, CLIENT_ADDRESSES);
  const backends = backendsOf(podwireConns);
  const first = [...backends].filter(([, b]) => b === FIRST_BACKEND_POINT).map(([p]) => p);
  const kernel = await kernelRunRetryingCaptureLoss(label, () => runOnKernelDetailed(pin(spec, first), { traffic: { tcpSourcePorts: ports } }));
  const kernelRaw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));
  return { podwire, ports, backends, podwireConns, kernel, kernelRaw, kernelConns: tcpConnections(kernelRaw, CLIENT_ADDRESSES) };
}

/**
 * Both sides made the same connections: every podwire flow answered, `counts`
 * connections per flow, each flow reaching both backends (so every path is
 * compared), the kernel's clients on podwire's ports, with its answers and backends.
 */
export function expectSameConnections(r: TcpRuns, counts: Record<string, number>): void {
  const { podwire, ports, backends, podwireConns, kernel, kernelConns } = r;
  for (const f of podwire.flows) expect([f.name, f.received]).toEqual([f.name, f.sent]);
  expect(ports.get(CRR)!.length).toBe(counts[CRR]);
  expect(ports.get(NODEPORT)!.length).toBe(counts[NODEPORT]);
  expect([...podwireConns.keys()].sort()).toEqual([...ports.values()].flat().sort());
  for (const flow of [CRR, NODEPORT]) {
    expect(new Set(ports.get(flow)!.map((p) => backends.get(p))), flow).toEqual(new Set([FIRST_BACKEND_POINT, SECOND_BACKEND_POINT]));
  }
  expect(kernel.traffic.flows.map((f) => f.name).sort()).toEqual([CRR, NODEPORT].sort());
  for (const f of kernel.traffic.flows) {
    expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
    const out = JSON.parse(f.output) as { sent: number; received: number; errors: string[]; ports: number[] };
    expect(out.errors, f.name).toEqual([]);
    expect(out.received, f.name).toBe(podwire.flows.find((p) => p.name === f.name)!.received);
    expect(out.ports, f.name).toEqual(ports.get(f.name));
  }
  expect(backendsOf(kernelConns)).toEqual(backends);
}

/** Every connection of both flows, kernel against podwire, as text with `options`: the differing ones. */
export function connectionDiffs(r: TcpRuns, options: TextOptions): string {
  const diffs: string[] = [];
  for (const flow of [CRR, NODEPORT]) {
    for (const port of r.ports.get(flow)!) {
      const k = r.kernelConns.get(port);
      const p = r.podwireConns.get(port);
      if (k === undefined || p === undefined) {
        diffs.push(`${flow}, client port ${port}: no such connection in the ${k === undefined ? 'kernel' : 'podwire'} captures`);
        continue;
      }
      const d = firstDifference(connectionText(k, options), connectionText(p, options));
      if (d !== '') diffs.push(`${flow}, client port ${port} (${r.backends.get(port)}): ${d}`);
    }
  }
  return diffs.join('\n\n');
}

/** Checksums: podwire writes full ones; the kernel full or CHECKSUM_PARTIAL. */
export function expectTcpChecksumsValid(r: TcpRuns): void {
  const sums = (conns: ReturnType<typeof tcpConnections>) => [...conns.values()].flatMap((c) => [...c.points].flatMap(([point, l]) => l.map((e) => `${point} ip=${e.segment.ipChecksumOk ? 'ok' : 'bad'} tcp=${e.segment.checksum}`)));
  const p = sums(r.podwireConns);
  expect(p.length).toBeGreaterThan(0);
  expect(p.filter((s) => !s.endsWith('ip=ok tcp=full'))).toEqual([]);
  expect(sums(r.kernelConns).filter((s) => !/ip=ok tcp=(full|partial)$/.test(s))).toEqual([]);
}

/** Frames that are not TCP (ARP), point by point in order: the first difference per point, '' when equal. */
export function nonTcpDifferences(r: TcpRuns): string {
  const nonTcp = (raw: Map<string, RawFrame[]>) => new Map([...raw].map(([p, l]) => [p, l.filter((f) => decodeTcpSegment(f) === undefined).map((f) => normaliseFrame(f.data, f.dir))]));
  return compareCapturePoints(nonTcp(r.kernelRaw), nonTcp(r.podwire.raw), { ephemeralPorts: 'exact' }).text;
}
