import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../scenarios/loader.js';
import { expandScenario } from '../scenarios/expand.js';
import { buildWorld, type World } from '../scenarios/build.js';
import { SINGLE_CAPTURE_FILE, captureFileName } from '../scenarios/run.js';
import { PcapngWriter } from '../models/capture/pcapng-writer.js';
import { FileTap, captureDescription } from '../models/capture/capture-tap.js';
import { closeAll } from '../models/capture/capture-writer.js';
import { VethDevice } from '../models/devices/veth.js';
import { NicDevice } from '../models/devices/nic.js';
import type { BenchResult, Benchmark } from './benchmark.js';
import { medianOverRounds, runInTurns } from './in-turns.js';

/**
 * Throughput of UDP request/response traffic, single thread, with and without
 * full capture:
 * - bridge-100, bridge-1000: one node with 100 / 1,000 pods on one cni0 bridge,
 *   every pod sending requests to the next pod of the node (same-node ring);
 * - cluster-100x30: 100 nodes of 30 pods (host-gw), pod j of node i sending to
 *   pod j of node i+1.
 * Every pod sends 64-byte requests at a fixed rate for 1 s of simulated time
 * and gets 64-byte answers; rates are chosen so that each run has 0.8-2.4 M
 * frame-hops.
 *
 * "capture all" puts a FileTap with a PcapngWriter on every interface of every
 * namespace (spec.captures of `capture: all`), as runTopology does, writing
 * into a temporary folder that is deleted afterwards; "single" taps the same
 * interfaces into one pcapng (`podwire run --single-capture`).
 *
 * Timed: the whole run (build excluded) and, with capture, closing the writers,
 * which flushes their buffers: the figure is what a user waits for. The run
 * includes ARP: every pod's first request resolves its peer, and on a 1,000-port
 * bridge each ARP broadcast is flooded to 999 ports (~1 M frame-hops for the
 * ring). So the figures give frames per request twice: after the first
 * STEADY_AFTER_MS (4 on one bridge: pod -> bridge -> pod each way; 8 across
 * nodes) and over the whole run. The gap between them is the ARP share.
 */

interface Workload {
  id: string;
  yaml: string;
}

/** Simulated seconds of requests; the scenario runs 50 ms longer so the last answers arrive. */
const SECONDS = 1;
const STEADY_AFTER_MS = 100;

function udpAll(pattern: string, rate: number): string {
  // stagger (the default) spreads the pods' first requests over 1/rate.
  return `traffic:
  - udpAll: { pattern: ${pattern}, count: ${rate * SECONDS}, rate: ${rate}, requestSize: 64, responseSize: 64 }
duration: ${SECONDS * 1000 + 50}ms
`;
}

function bridge(pods: number, rate: number): string {
  return `name: bench-bridge-${pods}
nodes:
  - name: n1
    podCIDR: 10.244.0.0/${pods > 250 ? 22 : 24}
    pods: [${Array.from({ length: pods }, (_, i) => `{name: p${i + 1}}`).join(', ')}]
${udpAll('same-node', rate)}`;
}

const WORKLOADS: Workload[] = [
  { id: 'bridge-100', yaml: bridge(100, 2000) },
  { id: 'bridge-1000', yaml: bridge(1000, 500) },
  {
    id: 'cluster-100x30',
    yaml: `name: bench-cluster-100x30
scale: { nodes: 100, podsPerNode: 30 }
${udpAll('cross-node', 100)}`,
  },
];

/** none; all: a file per capture point; single: every point in one pcapng (podwire run --single-capture). */
type CaptureMode = 'none' | 'all' | 'single';

interface Measured {
  hopsPerS: number;
  eventsPerS: number;
  framesPerRequest: number;
  framesPerRequestAll: number;
  capturedBytes: number;
  capturePoints: number;
}

function frameHops(world: World): number {
  let n = 0;
  for (const ns of world.namespaces.values()) {
    for (const dev of ns.devices.values()) if (dev instanceof VethDevice || dev instanceof NicDevice) n += dev.counters.rxPackets;
  }
  return n;
}

function requestsSent(world: World): number {
  return world.flows.reduce((n, f) => n + f.sent, 0);
}

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

function runWorkload(w: Workload, mode: CaptureMode): Measured {
  const spec = expandScenario(parseScenario(w.yaml.replace(/^name: .*$/m, (l) => `${l}\ncapture: ${mode === 'none' ? 'none' : 'all'}`), `${w.id}.yaml`));
  const world = buildWorld(spec);
  const dir = mode !== 'none' ? mkdtempSync(join(tmpdir(), 'podwire-capture-bench-')) : undefined;
  try {
    const writers: PcapngWriter[] = [];
    // Written in place, as runTopology writes into its staging folder.
    const single = mode === 'single' ? new PcapngWriter(join(dir!, SINGLE_CAPTURE_FILE), { epochSeconds: world.epochSeconds, inPlace: true }) : null;
    if (single !== null) writers.push(single);
    for (const point of spec.captures) {
      const slash = point.lastIndexOf('/');
      const dev = world.namespaces.get(point.slice(0, slash))!.device(point.slice(slash + 1));
      if (single !== null) {
        dev.tap = new FileTap(dev, single, () => world.sim.now, single.addInterface(point, captureDescription(point)));
        continue;
      }
      const writer = new PcapngWriter(join(dir!, captureFileName(point)), { epochSeconds: world.epochSeconds, inPlace: true });
      dev.tap = new FileTap(dev, writer, () => world.sim.now);
      writers.push(writer);
    }
    const t0 = performance.now();
    world.sim.run(STEADY_AFTER_MS * 1e6);
    const hops0 = frameHops(world);
    const sent0 = requestsSent(world);
    world.sim.run(spec.durationNs);
    closeAll(writers);
    const s = (performance.now() - t0) / 1000;
    const hops = frameHops(world);
    const sent = requestsSent(world);
    const lost = world.flows.reduce((n, f) => n + f.lost, 0);
    if (lost > 0) throw new Error(`${w.id}: ${lost} requests unanswered; the workload is not what it claims`);
    return {
      hopsPerS: hops / s,
      eventsPerS: world.sim.executed / s,
      framesPerRequest: (hops - hops0) / (sent - sent0),
      framesPerRequestAll: hops / sent,
      capturedBytes: dir === undefined ? 0 : dirBytes(dir),
      capturePoints: spec.captures.length,
    };
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs one (workload, mode) in a fresh Node process: no heap or JIT state carried between them. */
function runInChild(w: Workload, mode: CaptureMode): Measured {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), w.id, mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as Measured;
}


export const benchmark: Benchmark = {
  name: 'capture',
  async run() {
    const out: BenchResult[] = [];
    for (const w of WORKLOADS) {
      // Three rounds, the modes taking turns: rates are each mode's best, overheads the median of the rounds' ratios.
      const turns = runInTurns(['none', 'all', 'single'] as const, 3, (mode) => runInChild(w, mode), (a, b) => a.hopsPerS > b.hopsPerS);
      const [none, all, single] = turns.best as [Measured, Measured, Measured];
      const overhead = (k: number) => medianOverRounds(turns, (round) => (1 - round[k]!.hopsPerS / round[0]!.hopsPerS) * 100);
      const id = `capture.${w.id}`;
      out.push(
        { id: `${id}.none.frame_hops_per_s`, value: none.hopsPerS / 1e6, unit: 'M hops/s', higherIsBetter: true },
        { id: `${id}.all.frame_hops_per_s`, value: all.hopsPerS / 1e6, unit: 'M hops/s', higherIsBetter: true },
        { id: `${id}.overhead`, value: overhead(1), unit: '%', higherIsBetter: false },
        { id: `${id}.single.frame_hops_per_s`, value: single.hopsPerS / 1e6, unit: 'M hops/s', higherIsBetter: true },
        { id: `${id}.single.overhead`, value: overhead(2), unit: '%', higherIsBetter: false },
        { id: `${id}.none.events_per_s`, value: none.eventsPerS / 1e6, unit: 'M events/s', higherIsBetter: true },
        { id: `${id}.frames_per_request_steady`, value: none.framesPerRequest, unit: 'hops/req', higherIsBetter: false },
        { id: `${id}.frames_per_request`, value: none.framesPerRequestAll, unit: 'hops/req', higherIsBetter: false },
        { id: `${id}.all.capture_points`, value: all.capturePoints, unit: 'files', higherIsBetter: false },
        { id: `${id}.all.captured_mib`, value: all.capturedBytes / 2 ** 20, unit: 'MiB', higherIsBetter: false },
      );
    }
    return out;
  },
};

// Child mode: `node capture.bench.js <workload id> <none|all>` prints that run's figures as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const w = WORKLOADS.find((x) => x.id === process.argv[2]);
  const mode = process.argv[3];
  if (w === undefined) throw new Error(`unknown workload ${process.argv[2]} (${WORKLOADS.map((x) => x.id).join(', ')})`);
  if (mode !== 'none' && mode !== 'all' && mode !== 'single') throw new Error(`capture mode must be none, all or single, got ${mode}`);
  process.stdout.write(JSON.stringify(runWorkload(w, mode)));
}
