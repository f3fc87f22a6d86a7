import { mkdirSync, mkdtempSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildWorld, DEFAULT_EPOCH_SECONDS, type BuildPartition, type World } from './build.js';
import type { TopologySpec } from './topology.js';
import { PcapngWriter } from '../models/capture/pcapng-writer.js';
import { PcapWriter } from '../models/capture/pcap-writer.js';
import { closeAll, type CaptureWriter } from '../models/capture/capture-writer.js';
import { FileTap, captureDescription } from '../models/capture/capture-tap.js';
import { PartTap, partFiles } from '../models/capture/capture-parts.js';
import { TempFileSink } from '../models/capture/temp-file-sink.js';
import type { NetDevice } from '../models/devices/net-device.js';
import { ipvsadmConnections, ipvsadmList } from '../models/netfilter/ipvs/dump.js';
import { runSliced } from '../engine/sliced-run.js';
import { collectShare, formatResults, mergeShares, type Results, type ResultsShare } from './results.js';

export type { Results } from './results.js';

export interface RunOptions {
  /** Output folder; captures go to `<outDir>/captures/`. */
  outDir: string;
  format?: 'pcapng' | 'pcap';
  /** Simulated end time; defaults to the scenario's duration. */
  durationNs?: number;
  epochSeconds?: number;
  /** One pcapng (captures/all.pcapng) holding every capture point as an interface, instead of a file per point. */
  singleCapture?: boolean;
  /**
   * Told where the run is while it runs (a progress display): the simulated
   * time reached (at most the end) and the events run so far (on worker
   * threads, as of their last window edge). The run is the same with or
   * without it (engine/sliced-run.ts, WindowBarrier.clock).
   */
  onProgress?: (simNs: number, events: number) => void;
}

/** Name of the single capture file (RunOptions.singleCapture). */
export const SINGLE_CAPTURE_FILE = 'all.pcapng';

export interface RunResult {
  /** The models after the run. */
  world: World;
  /** Capture point -> file written. */
  captureFiles: Map<string, string>;
  /** The statistics written to `<outDir>/results.json`. */
  results: Results;
  resultsFile: string;
}

/** File name of a capture point: "n1/p1/eth0" -> "n1.p1.eth0.pcapng" (names never contain dots). */
export function captureFileName(point: string, format: 'pcapng' | 'pcap' = 'pcapng'): string {
  return `${point.replaceAll('/', '.')}.${format}`;
}

/**
 * One partition's models, with capture taps on the capture points it owns,
 * writing into a staging folder. A sequential run is the partition that owns
 * every component (`partition` null). The folder is moved into place whole
 * (commitRun), so its files are written in place, not each renamed.
 */
export class OpenPartition {
  readonly world: World;
  private readonly writers: CaptureWriter[] = [];
  private readonly keySinks: TempFileSink[] = [];
  private readonly taps: { frames: number }[] = [];

  /**
   * `single`: one capture file for every point — the whole file when this is
   * the only partition (`part` null), else this partition's part to be merged
   * (models/capture/capture-parts.ts).
   */
  constructor(
    spec: TopologySpec,
    private readonly staging: string,
    format: 'pcapng' | 'pcap',
    epochSeconds: number,
    partition: BuildPartition | null,
    single: { part: number | null } | null = null,
  ) {
    this.world = buildWorld(spec, epochSeconds, partition);
    const capDir = join(staging, 'captures');
    mkdirSync(capDir, { recursive: true });
    try {
      if (single !== null) this.openSingle(spec, capDir, format, epochSeconds, single.part);
      else this.openPerPoint(spec, capDir, format, epochSeconds);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  private openPerPoint(spec: TopologySpec, capDir: string, format: 'pcapng' | 'pcap', epochSeconds: number): void {
    for (const point of spec.captures) {
      const dev = findDevice(this.world, point);
      if (dev === null || !dev.ns.component.local) continue;
      const path = join(capDir, captureFileName(point, format));
      const writer = format === 'pcap' ? new PcapWriter(path, { epochSeconds, inPlace: true }) : new PcapngWriter(path, { epochSeconds, inPlace: true });
      this.writers.push(writer);
      const tap = new FileTap(dev, writer, () => this.world.sim.now);
      dev.tap = tap;
      this.taps.push(tap);
    }
  }

  private openSingle(spec: TopologySpec, capDir: string, format: 'pcapng' | 'pcap', epochSeconds: number, part: number | null): void {
    if (format !== 'pcapng') throw new Error('a single capture file needs pcapng (classic pcap has one interface per file)');
    const files = part === null ? null : partFiles(capDir, part);
    const writer = new PcapngWriter(files === null ? join(capDir, SINGLE_CAPTURE_FILE) : files.capture, { epochSeconds, inPlace: true });
    this.writers.push(writer);
    const keys = files === null ? null : new TempFileSink(files.keys, { inPlace: true });
    if (keys !== null) this.keySinks.push(keys);
    const sim = this.world.sim;
    for (const point of spec.captures) {
      const ifIndex = writer.addInterface(point, captureDescription(point));
      const dev = findDevice(this.world, point);
      if (dev === null || !dev.ns.component.local) continue;
      const tap = keys === null ? new FileTap(dev, writer, () => sim.now, ifIndex) : new PartTap(writer, ifIndex, keys, sim);
      dev.tap = tap;
      this.taps.push(tap);
    }
  }

  /** Closes the captures, writes the netfilter state of local namespaces, and returns this partition's statistics. */
  finish(): ResultsShare {
    const share = collectShare(
      this.world,
      this.taps.reduce((n, t) => n + t.frames, 0),
    );
    closeAll(this.writers);
    for (const k of this.keySinks) k.commit();
    writeNetfilterState(this.world, join(this.staging, 'netfilter'));
    return share;
  }

  abort(): void {
    for (const w of this.writers) w.abort();
    for (const k of this.keySinks) k.discard();
  }
}

/** A staging folder inside `outDir`, swapped into place by `commitRun` only when the run succeeded. */
export function stageRun(outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  return mkdtempSync(join(outDir, '.staging-'));
}

/**
 * Writes results.json and moves the staged captures and netfilter state into
 * `outDir`, replacing the previous run's.
 */
export function commitRun(spec: TopologySpec, staging: string, outDir: string, results: Results, format: 'pcapng' | 'pcap', single = false): Omit<RunResult, 'world'> {
  writeFileSync(join(staging, 'results.json'), formatResults(results));
  writeCniResults(spec, join(staging, 'cni'));
  const finalCaptures = join(outDir, 'captures');
  const resultsFile = join(outDir, 'results.json');
  rmSync(finalCaptures, { recursive: true, force: true });
  renameSync(join(staging, 'captures'), finalCaptures);
  const finalNf = join(outDir, 'netfilter');
  rmSync(finalNf, { recursive: true, force: true });
  try {
    renameSync(join(staging, 'netfilter'), finalNf);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const finalCni = join(outDir, 'cni');
  rmSync(finalCni, { recursive: true, force: true });
  if (spec.cniResults !== undefined) renameSync(join(staging, 'cni'), finalCni);
  renameSync(join(staging, 'results.json'), resultsFile);
  const captureFiles = new Map(spec.captures.map((p) => [p, join(finalCaptures, single ? SINGLE_CAPTURE_FILE : captureFileName(p, format))]));
  return { captureFiles, results, resultsFile };
}

/**
 * Builds and runs a topology in this thread, writing one capture per capture
 * point and the statistics as JSON. Everything is written into a staging
 * folder inside `outDir` and moved into place only when the run succeeded, so
 * a failed run leaves the previous results untouched and nothing half-written.
 * scenarios/partitioned-run.ts runs the same over worker threads.
 */
export function runTopology(spec: TopologySpec, opts: RunOptions): RunResult {
  const format = opts.format ?? 'pcapng';
  const staging = stageRun(opts.outDir);
  let part: OpenPartition | null = null;
  try {
    part = new OpenPartition(spec, staging, format, opts.epochSeconds ?? DEFAULT_EPOCH_SECONDS, null, opts.singleCapture ? { part: null } : null);
    const duration = opts.durationNs ?? spec.durationNs;
    const progress = opts.onProgress;
    if (progress === undefined) part.world.sim.run(duration);
    else runSliced(part.world.sim, duration, progress);
    const results = mergeShares(spec, duration, [part.finish()]);
    return { world: part.world, ...commitRun(spec, staging, opts.outDir, results, format, opts.singleCapture) };
  } catch (e) {
    part?.abort();
    throw e;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * What `iptables-save -c` and `conntrack -L` would print in each local
 * namespace that has rules, after the run: <namespace>.iptables-save and
 * .conntrack (plus .log and .nfacct when used) in `dir`.
 */
function writeNetfilterState(world: World, dir: string): void {
  for (const ns of world.namespaces.values()) {
    const nf = ns.netfilter;
    if (nf === null || !ns.component.local) continue;
    mkdirSync(dir, { recursive: true });
    const base = join(dir, ns.name.replaceAll('/', '.'));
    writeFileSync(`${base}.iptables-save`, nf.iptables.save({ counters: true }));
    if (!nf.nft.empty) writeFileSync(`${base}.nft`, nf.nft.list());
    if (nf.conntrack !== null) writeFileSync(`${base}.conntrack`, nf.conntrack.dump());
    if (nf.ipvs !== null) writeFileSync(`${base}.ipvsadm`, `# ipvsadm -Ln\n${ipvsadmList(nf.ipvs)}# ipvsadm -Lnc\n${ipvsadmConnections(nf.ipvs, world.sim.now)}`);
    if (ns.netfilterLog.length > 0) writeFileSync(`${base}.log`, ns.netfilterLog.join('\n') + '\n');
    const acct = nf.iptables.nfacct.list();
    if (acct !== '') writeFileSync(`${base}.nfacct`, acct);
  }
}

/** Each CNI-wired pod's ADD result, as cni/<node>.<pod>.json. */
function writeCniResults(spec: TopologySpec, dir: string): void {
  if (spec.cniResults === undefined) return;
  mkdirSync(dir, { recursive: true });
  for (const r of spec.cniResults) writeFileSync(join(dir, `${r.node}.${r.pod}.json`), JSON.stringify(r.result, null, 2) + '\n');
}

/** The device of a capture point; null when it is in a namespace this partition did not build. */
function findDevice(world: World, point: string): NetDevice | null {
  const slash = point.lastIndexOf('/');
  const ns = world.namespaces.get(point.slice(0, slash));
  // The points come from the spec, so a partition's missing namespace is one it was not to build.
  if (ns === undefined && world.partial) return null;
  const dev = ns?.devices.get(point.slice(slash + 1));
  if (dev === undefined) throw new Error(`capture: no interface ${point}`);
  return dev;
}
