import { mkdirSync, mkdtempSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildWorld, DEFAULT_EPOCH_SECONDS, type World } from './build.js';
import type { TopologySpec } from './topology.js';
import { PcapngWriter } from '../models/capture/pcapng-writer.js';
import { PcapWriter } from '../models/capture/pcap-writer.js';
import type { CaptureWriter } from '../models/capture/capture-writer.js';
import { FileTap } from '../models/capture/capture-tap.js';
import type { NetDevice } from '../models/devices/net-device.js';
import { VethDevice } from '../models/devices/veth.js';
import { NicDevice } from '../models/devices/nic.js';

export interface RunOptions {
  /** Output folder; captures go to `<outDir>/captures/`. */
  outDir: string;
  format?: 'pcapng' | 'pcap';
  /** Simulated end time; defaults to the scenario's duration. */
  durationNs?: number;
  epochSeconds?: number;
}

export interface RunResult {
  world: World;
  /** Capture point -> file written. */
  captureFiles: Map<string, string>;
  /** The statistics written to `<outDir>/results.json`. */
  results: Results;
  resultsFile: string;
}

export interface Results {
  scenario: string;
  seed: number;
  durationNs: number;
  events: number;
  /** Frames that arrived at a device over its link (veth peer or wire): the unit of work compared across simulators. */
  frameHops: number;
  framesCaptured: number;
  flows: unknown[];
  drops: Record<string, Record<string, number>>;
  /** Per namespace with connection tracking: entries at the end and `conntrack -S` counters. */
  conntrack: Record<string, unknown>;
  devices: Record<string, unknown>;
}

/** File name of a capture point: "n1/p1/eth0" -> "n1.p1.eth0.pcapng" (names never contain dots). */
export function captureFileName(point: string, format: 'pcapng' | 'pcap' = 'pcapng'): string {
  return `${point.replaceAll('/', '.')}.${format}`;
}

/**
 * Builds and runs a topology, writing one capture per capture point and the
 * statistics as JSON. Everything is written into a staging folder inside
 * `outDir` and moved into place only when the run succeeded, so a failed run
 * leaves the previous results untouched and nothing half-written.
 */
export function runTopology(spec: TopologySpec, opts: RunOptions): RunResult {
  const world = buildWorld(spec, opts.epochSeconds ?? DEFAULT_EPOCH_SECONDS);
  const format = opts.format ?? 'pcapng';
  mkdirSync(opts.outDir, { recursive: true });
  const staging = mkdtempSync(join(opts.outDir, '.staging-'));
  const capDir = join(staging, 'captures');
  mkdirSync(capDir);
  const taps: { point: string; path: string; writer: CaptureWriter; tap: FileTap }[] = [];
  try {
    for (const point of spec.captures) {
      const dev = findDevice(world, point);
      const path = join(capDir, captureFileName(point, format));
      const writer = format === 'pcap' ? new PcapWriter(path, { epochSeconds: world.epochSeconds }) : new PcapngWriter(path, { epochSeconds: world.epochSeconds });
      const tap = new FileTap(dev, writer, () => world.sim.now);
      dev.tap = tap;
      taps.push({ point, path, writer, tap });
    }
    const duration = opts.durationNs ?? spec.durationNs;
    world.sim.run(duration);
    const results = collectResults(world, duration, taps.reduce((n, t) => n + t.tap.frames, 0));
    for (const t of taps) t.writer.close();
    writeFileSync(join(staging, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    const nfDir = join(staging, 'netfilter');
    const nfFiles = writeNetfilterState(world, nfDir);
    // Swap the new results in.
    const finalCaptures = join(opts.outDir, 'captures');
    const resultsFile = join(opts.outDir, 'results.json');
    rmSync(finalCaptures, { recursive: true, force: true });
    renameSync(capDir, finalCaptures);
    const finalNf = join(opts.outDir, 'netfilter');
    rmSync(finalNf, { recursive: true, force: true });
    if (nfFiles > 0) renameSync(nfDir, finalNf);
    renameSync(join(staging, 'results.json'), resultsFile);
    const captureFiles = new Map(taps.map((t) => [t.point, join(finalCaptures, captureFileName(t.point, format))]));
    return { world, captureFiles, results, resultsFile };
  } catch (e) {
    for (const t of taps) t.writer.abort();
    throw e;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function conntrackStats(world: World): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const ns of world.namespaces.values()) {
    const ct = ns.netfilter?.conntrack;
    if (ct === undefined || ct === null) continue;
    out[ns.name] = { entries: ct.count, ...ct.stats };
  }
  return out;
}

/**
 * What `iptables-save -c` and `conntrack -L` would print in each namespace that
 * has rules, after the run: netfilter/<namespace>.iptables-save and .conntrack.
 */
function writeNetfilterState(world: World, dir: string): number {
  let n = 0;
  for (const ns of world.namespaces.values()) {
    const nf = ns.netfilter;
    if (nf === null) continue;
    if (n === 0) mkdirSync(dir);
    const base = join(dir, ns.name.replaceAll('/', '.'));
    writeFileSync(`${base}.iptables-save`, nf.iptables.save({ counters: true }));
    if (nf.conntrack !== null) writeFileSync(`${base}.conntrack`, nf.conntrack.dump());
    if (ns.netfilterLog.length > 0) writeFileSync(`${base}.log`, ns.netfilterLog.join('\n') + '\n');
    const acct = nf.iptables.nfacct.list();
    if (acct !== '') writeFileSync(`${base}.nfacct`, acct);
    n++;
  }
  return n;
}

function findDevice(world: World, point: string): NetDevice {
  const slash = point.lastIndexOf('/');
  const ns = world.namespaces.get(point.slice(0, slash));
  const dev = ns?.devices.get(point.slice(slash + 1));
  if (dev === undefined) throw new Error(`capture: no interface ${point}`);
  return dev;
}

function collectResults(world: World, durationNs: number, framesCaptured: number): Results {
  const devices: Record<string, unknown> = {};
  let frameHops = 0;
  for (const ns of world.namespaces.values()) {
    for (const dev of ns.devices.values()) {
      const c = dev.counters;
      if (dev instanceof VethDevice || dev instanceof NicDevice) frameHops += c.rxPackets;
      if (c.rxPackets + c.txPackets + c.rxDropped + c.txDropped === 0) continue;
      devices[dev.path] = c.toJSON();
    }
  }
  return {
    scenario: world.spec.name,
    seed: world.spec.seed,
    durationNs,
    events: world.sim.executed,
    frameHops,
    framesCaptured,
    flows: world.flows.map((f) => f.toJSON()),
    drops: world.drops.toJSON(),
    conntrack: conntrackStats(world),
    devices,
  };
}

