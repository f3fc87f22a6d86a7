/**
 * Helpers for comparing a UDP ClusterIP Service's connections between podwire
 * and the kernel (services-nftables and services-ipvs; the same views as
 * cluster-services.kernel.test.ts): which backend each client port reached,
 * each point's frames grouped per connection, checksum kinds, and the
 * library scenario reduced to its UDP flows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { read16, read32 } from '../../models/wire/bytes.js';
import { internetChecksum, partialChecksum } from '../../models/wire/checksum.js';
import { computeUdpChecksum } from '../../models/wire/udp.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { type NormalisedFrame, normaliseFrame, summariseFrame } from './normalise.js';

export interface Raw { data: Uint8Array; dir: 'in' | 'out' | 'unknown' }

/** A library scenario with only its UDP flows and UDP servers (the TCP ones are dropped on both sides; their rules stay). */
export function udpOnly(scenario: string): TopologySpec {
  const spec = expandScenario(loadScenarioFile(resolveScenarioPath(scenario)));
  return {
    ...spec,
    traffic: spec.traffic.filter((f) => f.kind !== 'tcp'),
    servers: (spec.servers ?? []).filter((s) => s.protocol !== 'tcp'),
  };
}

export function udpClientPorts(spec: TopologySpec): number[] {
  return spec.traffic.map((f) => (f.kind === 'udp' ? f.sourcePort : undefined)).filter((p): p is number => p !== undefined);
}

export function readPodwireRaw(files: Map<string, string>): Map<string, Raw[]> {
  const out = new Map<string, Raw[]>();
  for (const [point, file] of files) {
    out.set(point, readCapture(file).packets.map((p) => ({ data: p.data, dir: p.direction === 1 ? 'in' : p.direction === 2 ? 'out' : 'unknown' })));
  }
  return out;
}

export function normaliseAll(raw: Map<string, Raw[]>): Map<string, NormalisedFrame[]> {
  return new Map([...raw].map(([point, list]) => [point, list.map((r) => normaliseFrame(r.data, r.dir))]));
}

/** Client port -> the backend pod's capture point that received its requests (`backends`: pod address -> its capture point). */
export function backendsByClientPort(frames: Map<string, NormalisedFrame[]>, backends: Record<string, string>, port: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const [addr, point] of Object.entries(backends)) {
    for (const f of frames.get(point) ?? []) {
      if (f.dir !== 'in' || f.udp === undefined || f.ipv4?.dst !== addr || f.udp.dstPort !== port) continue;
      const prev = out.get(f.udp.srcPort);
      if (prev !== undefined && prev !== point) throw new Error(`client port ${f.udp.srcPort} reached both ${prev} and ${point}`);
      out.set(f.udp.srcPort, point);
    }
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/**
 * Checksums of one frame: "ip=ok|bad" and for UDP "udp=full|partial|none|bad"
 * (partial: the pseudo-header sum Linux leaves for CHECKSUM_PARTIAL on veths,
 * see models/wire/checksum.ts); "" for non-IPv4.
 */
export function checksumKinds(b: Uint8Array): string {
  if (b.length < 34 || read16(b, 12) !== 0x0800) return '';
  const ihl = (b[14]! & 0x0f) * 4;
  const ip = internetChecksum(b, 14, ihl) === 0 ? 'ok' : 'bad';
  if (b[23] !== 17) return `ip=${ip}`;
  const off = 14 + ihl;
  const src = read32(b, 26);
  const dst = read32(b, 30);
  const csum = read16(b, off + 6);
  const udp = csum === 0 ? 'none'
    : csum === computeUdpChecksum(b, off, src, dst) ? 'full'
    : csum === partialChecksum(src, dst, 17, read16(b, off + 4)) ? 'partial'
    : 'bad';
  return `ip=${ip} udp=${udp} ${formatIpv4(src)}>${formatIpv4(dst)}`;
}

/** Every frame's checksumKinds, "<point> <kinds>", non-IPv4 left out. */
export function allChecksumKinds(raw: Map<string, Raw[]>): string[] {
  return [...raw].flatMap(([point, l]) => l.map((f) => checksumKinds(f.data)).filter((k) => k !== '').map((k) => `${point} ${k}`));
}

/**
 * Each point's frames grouped by client connection (other frames, ARP, first;
 * then connection by connection in port order), each group in capture order:
 * the connections overlap, and which of two simultaneous sends the kernel
 * captures first is a race; within a connection the order is causal.
 */
export function groupedByConnection(frames: Map<string, NormalisedFrame[]>, ports: number[]): Map<string, NormalisedFrame[]> {
  const keyOf = (f: NormalisedFrame) => ports.findIndex((p) => f.udp !== undefined && (f.udp.srcPort === p || f.udp.dstPort === p));
  return new Map([...frames].map(([point, list]) => {
    const order = list.map((f, i) => ({ f, i, k: keyOf(f) }));
    order.sort((a, b) => a.k - b.k || a.i - b.i);
    return [point, order.map((o) => o.f)];
  }));
}

export async function inTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A connection's backend, and whether it is that backend's first: the first
 * packet to a pod on the balancing node goes out after ARP, later ones are
 * bridged (cluster-services.kernel.test.ts, connectionClasses).
 */
export function connectionClasses(backends: Map<number, string>, ports: number[]): Map<number, string> {
  const seen = new Set<string>();
  const out = new Map<number, string>();
  for (const port of ports) {
    const b = backends.get(port)!;
    out.set(port, `${b} ${seen.has(b) ? 'later' : 'first'}`);
    seen.add(b);
  }
  return out;
}

/** Frames of one client connection at every point, the client port written as 0 (comparable across connections). */
export function connectionView(frames: Map<string, NormalisedFrame[]>, port: number): string {
  const lines: string[] = [];
  for (const point of [...frames.keys()].sort()) {
    const own = frames.get(point)!.filter((f) => f.udp !== undefined && (f.udp.srcPort === port || f.udp.dstPort === port));
    for (const f of own) {
      const c = structuredClone(f);
      if (c.udp!.srcPort === port) c.udp!.srcPort = 0;
      if (c.udp!.dstPort === port) c.udp!.dstPort = 0;
      lines.push(`${point}: ${summariseFrame(c)}`);
    }
  }
  return lines.join('\n');
}

/** The kernel's clients all exited cleanly and got as many answers as podwire's clients sent requests. */
export function expectKernelFlowsAnswered(kernelFlows: readonly { name: string; exit: number | string; output: string }[], podwireFlows: readonly { name: string; sent: number }[]): void {
  for (const f of kernelFlows) {
    expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
    expect((JSON.parse(f.output) as { received: number }).received, f.name).toBe(podwireFlows.find((p) => p.name === f.name)!.sent);
  }
}

/**
 * Checksums on both sides: podwire writes full, valid sums (it models no
 * offload, and a tshark-valid capture needs them, also after NAT); the
 * kernel's veths leave CHECKSUM_PARTIAL's pseudo-header sum, rewritten by NAT.
 * Both captures hold the same number of IPv4 frames.
 */
export function expectChecksumsValid(podwireRaw: Map<string, Raw[]>, kernelCaptures: Map<string, readonly { data: Uint8Array; dir: Raw['dir'] }[]>): void {
  const podwireKinds = allChecksumKinds(podwireRaw);
  const kernelKinds = allChecksumKinds(new Map([...kernelCaptures].map(([p, l]) => [p, l.map((f) => ({ data: f.data, dir: f.dir }))])));
  expect(podwireKinds.length).toBe(kernelKinds.length);
  expect(podwireKinds.filter((k) => !/ip=ok udp=full /.test(k)), 'podwire frames without a valid full checksum').toEqual([]);
  expect(kernelKinds.filter((k) => !/ip=ok udp=(full|partial) /.test(k)), 'kernel frames with a bad checksum').toEqual([]);
}
