/**
 * A library scenario with TCP flows, run in podwire and then in the kernel
 * with the kernel's clients bound to podwire's source ports, so both sides
 * open the same connections in the same order (as service-tcp-flows.ts does
 * for the pinned-backend scenarios). Used by the comparisons whose Services
 * need no pinning (single-backend-services, userspace-proxies).
 */
import { expect } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { runOnKernelDetailed } from './kernel-harness.js';
import { compareCapturePoints, type CompareOptions, normaliseFrame } from './normalise.js';
import { kernelRunRetryingCaptureLoss } from './service-tcp-flows.js';
import { readPodwireRaw } from './service-udp-flows.js';
import { decodeTcpSegment, type RawFrame } from './tcp-segments.js';

/** Where a TCP flow's client sends from: its SYNs leave `point` from `src` to `dst`:`dstPort`. */
export interface TcpOrigin {
  point: string;
  src: string;
  dst: string;
  dstPort: number;
}

export interface LibraryTcpRuns {
  spec: TopologySpec;
  /** Flow -> its connections' client ports, in order (podwire's, which the kernel's clients bind). */
  ports: Map<string, number[]>;
  podwireRaw: Map<string, RawFrame[]>;
  kernel: Awaited<ReturnType<typeof runOnKernelDetailed>>;
  kernelRaw: Map<string, RawFrame[]>;
}

/**
 * Runs library scenario `name` in podwire (into `outDir`) and in the kernel.
 * Checks that every flow got all its answers on both sides and that each TCP
 * flow in `origins` opened as many connections as its spec says.
 */
export async function runLibraryTcp(name: string, origins: Record<string, TcpOrigin>, outDir: string): Promise<LibraryTcpRuns> {
  const spec = expandScenario(loadScenarioFile(resolveScenarioPath(name)));
  const podwire = runTopology(spec, { outDir });
  const flows = podwire.results.flows as Array<{ name: string; sent: number; received: number }>;
  for (const f of flows) expect([f.name, f.received]).toEqual([f.name, f.sent]);
  const podwireRaw = readPodwireRaw(podwire.captureFiles) as Map<string, RawFrame[]>;
  const ports = new Map<string, number[]>();
  for (const [flow, o] of Object.entries(origins)) {
    const spec_ = spec.traffic.find((t) => t.name === flow);
    if (spec_?.kind !== 'tcp') throw new Error(`${name}: no TCP flow "${flow}"`);
    const syns = (podwireRaw.get(o.point) ?? []).map(decodeTcpSegment).filter((s) => s !== undefined && s.dir === 'out' && s.flags === 'S' && s.src === o.src && s.dst === o.dst && s.dstPort === o.dstPort);
    ports.set(flow, syns.map((s) => s!.srcPort));
    expect(ports.get(flow)!.length, flow).toBe(spec_.count);
  }
  const kernel = await kernelRunRetryingCaptureLoss(`kernel ${name}`, () => runOnKernelDetailed(spec, { traffic: { tcpSourcePorts: ports } }));
  for (const f of kernel.traffic.flows) {
    expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
    expect(JSON.parse(f.output), f.name).toMatchObject({ received: flows.find((p) => p.name === f.name)!.sent });
  }
  const kernelRaw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));
  return { spec, ports, podwireRaw, kernel, kernelRaw };
}

/** Every frame that is not a TCP segment, normalised, per point. */
export function nonTcpFrames(raw: ReadonlyMap<string, readonly RawFrame[]>) {
  return new Map([...raw].map(([p, l]) => [p, l.filter((f) => decodeTcpSegment(f) === undefined).map((f) => normaliseFrame(f.data, f.dir))]));
}

/** The non-TCP frames of both runs, point by point in order: '' when equal. */
export function nonTcpDifferences(r: LibraryTcpRuns, options: CompareOptions): string {
  return compareCapturePoints(nonTcpFrames(r.kernelRaw), nonTcpFrames(r.podwireRaw), options).text;
}
