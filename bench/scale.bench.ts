import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../scenarios/loader.js';
import { expandScenario } from '../scenarios/expand.js';
import { buildWorld } from '../scenarios/build.js';
import { runPartitioned } from '../scenarios/partitioned-run.js';
import type { BenchResult, Benchmark } from './benchmark.js';

/**
 * Build cost of large clusters: N nodes of 30 pods (`scale:`, host-gw routing,
 * the default; clusterCIDR 10.128.0.0/9 and a /16 underlay so that 5,000 nodes fit), N = 500, 2,000 and 5,000. Timed: load (parse + schema +
 * normalize), expand (scenario -> TopologySpec) and buildWorld (live models).
 * No traffic is run: this measures what a cluster costs before it does anything.
 *
 * Each N runs in a child process of its own, so ru_maxrss (peak resident set)
 * belongs to that build alone. Heap is measured after a forced GC with the
 * World and spec still referenced. Per-pod and per-node figures divide the
 * whole process (RSS) or the heap growth by pods (N × 30) or nodes; the node
 * figure therefore includes the node's pods.
 *
 * The issue's target: 5,000 × 30 built in ≤ 60 s and ≤ 8 GiB.
 *
 * And one run: the first 2 ms of 2,000 × 30 with every pod pinging the pod of
 * the same number on the next node (`storm`). On a flat underlay that is an ARP
 * storm: each node's broadcast for its peer reaches all 2,000 NICs, 4 M frame
 * deliveries of the run's 6.6 M events. It is what any cross-node traffic on a
 * large flat cluster starts with (bench/README.md, "scale", session 6). Run
 * in one thread and on 2 worker threads, where half the flood crosses to the
 * other partition.
 *
 * And the same 2 ms on 5,000 × 30 in racks of 40 (`scale.nodesPerRack`, 125
 * segments behind a router; `racks`): a broadcast reaches only its rack, so
 * this is the cross-node start of a cluster of that size as it is built.
 *
 * And kube-proxy at scale (`services`): 20 nodes of 10 pods with 10,000
 * ClusterIP Services (`serviceLoad:`) in iptables mode, so every node loads
 * ~110,000 rules, and in nftables mode, as a study of "what do 10,000
 * Services cost per connection?" does. Timed and measured as the builds
 * above, per node.
 */

const PODS_PER_NODE = 30;
const SIZES = [500, 2000, 5000];
const STORM_NODES = 2000;
const RACKED_NODES = 5000;
const NODES_PER_RACK = 40;
const SERVICE_NODES = 20;
const SERVICES = 10000;
/** Enough old space that V8 never fails the 5,000-node build; the figure to watch is peak RSS. */
const MAX_OLD_SPACE_MIB = 16384;

interface Measured {
  nodes: number;
  loadMs: number;
  expandMs: number;
  buildMs: number;
  heapBytes: number;
  /** ArrayBuffer backing stores the build added, outside the JS heap: typed arrays (a compiled iptables table's entries, packet slabs). */
  bufferBytes: number;
  rssBytes: number;
  peakRssBytes: number;
}

function heapUsed(): number {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/** After heapUsed()'s collection: the bytes of live ArrayBuffers, which heapUsed does not count. */
function bufferBytes(): number {
  return process.memoryUsage().arrayBuffers;
}

function measure(nodes: number): Measured {
  const yaml = `name: bench-scale-${nodes}
scale: { nodes: ${nodes}, podsPerNode: ${PODS_PER_NODE} }
clusterCIDR: 10.128.0.0/9
underlay: { cidr: 172.16.0.0/16 }
capture: none
`;
  return measureBuild(yaml, `scale-${nodes}.yaml`, nodes, 1 + nodes * (1 + PODS_PER_NODE));
}

/** Load, expand and build of `yaml` (`nodes` nodes, `namespaces` in all, checked), timed, with the heap it added. */
function measureBuild(yaml: string, file: string, nodes: number, namespaces: number): Measured {
  const heap0 = heapUsed();
  const buffers0 = bufferBytes();
  const t0 = performance.now();
  const scenario = parseScenario(yaml, file);
  const t1 = performance.now();
  const spec = expandScenario(scenario);
  const t2 = performance.now();
  const world = buildWorld(spec);
  const t3 = performance.now();
  const heapBytes = heapUsed() - heap0;
  const buffers = bufferBytes() - buffers0;
  const rssBytes = process.memoryUsage().rss;
  // `spec` is read after the heap is measured so that it counts, as in a run,
  // which reads it after the simulation (unread, it could be collected first).
  if (world.namespaces.size !== namespaces || spec.namespaces.length !== namespaces) {
    throw new Error(`${file}: ${world.namespaces.size} namespaces built from ${spec.namespaces.length}, not ${namespaces}`);
  }
  return {
    nodes,
    loadMs: t1 - t0,
    expandMs: t2 - t1,
    buildMs: t3 - t2,
    heapBytes,
    bufferBytes: buffers,
    rssBytes,
    // ru_maxrss is in KiB on Linux.
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

type ServiceMode = 'iptables' | 'nftables';

function servicesYaml(nodes: number, services: number, mode: ServiceMode): string {
  const list = Array.from({ length: nodes }, (_, i) => `  - name: n${i + 1}\n    pods: [{ name: p1, labels: { app: echo } }${Array.from({ length: 9 }, (_, j) => `, { name: p${j + 2} }`).join('')}]`);
  return `name: bench-scale-services-${services}
underlay: { cidr: 192.168.0.0/16 }
nodes:
${list.join('\n')}
services:
  - name: echo
    selector: { app: echo }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080 }]
kubeProxy: { mode: ${mode} }
serviceLoad: { services: ${services}, endpointsPerService: 2 }
capture: none
`;
}

/** Load, expand and build of `nodes` nodes (each with 10 pods) whose kube-proxy writes `services` Services. */
function measureServices(nodes: number, services: number, mode: ServiceMode): Measured {
  return measureBuild(servicesYaml(nodes, services, mode), `services-${services}-${mode}.yaml`, nodes, 1 + nodes * 11);
}

interface StormMeasured {
  nodes: number;
  workers: number;
  runMs: number;
  events: number;
  peakRssBytes: number;
}

/** `perRack` 0: one flat segment. */
function stormYaml(nodes: number, perRack: number): string {
  return `name: bench-scale-storm-${nodes}
duration: 2ms
scale: { nodes: ${nodes}, podsPerNode: ${PODS_PER_NODE}${perRack > 0 ? `, nodesPerRack: ${perRack}` : ''} }
clusterCIDR: 10.128.0.0/9
underlay: { cidr: 172.16.0.0/16 }
traffic:
  - pingAll: { pattern: cross-node, count: 1, interval: 1ms }
capture: none
`;
}

/** The storm in this thread, or on `workers` worker threads (run time: the slowest partition's, from the first barrier). */
async function measureStorm(nodes: number, workers: number, perRack: number): Promise<StormMeasured> {
  const spec = expandScenario(parseScenario(stormYaml(nodes, perRack), `scale-storm-${nodes}.yaml`));
  if (workers > 1) {
    const outDir = mkdtempSync(join(tmpdir(), 'podwire-bench-storm-'));
    try {
      const r = await runPartitioned(spec, { outDir, workers });
      const runMs = Math.max(...r.partitions.map((p) => p.runMs));
      return { nodes, workers, runMs, events: r.results.events, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }
  const world = buildWorld(spec);
  const t0 = performance.now();
  world.sim.run(spec.durationNs);
  const runMs = performance.now() - t0;
  return { nodes, workers: 1, runMs, events: world.sim.executed, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

function runInChild<T>(...args: string[]): T {
  const out = execFileSync(process.execPath, [`--max-old-space-size=${MAX_OLD_SPACE_MIB}`, '--expose-gc', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as T;
}

function scaleFigures(m: Measured): BenchResult[] {
  const id = `scale.${m.nodes}x${PODS_PER_NODE}`;
  const pods = m.nodes * PODS_PER_NODE;
  return [
    { id: `${id}.build_s`, value: (m.loadMs + m.expandMs + m.buildMs) / 1000, unit: 's', higherIsBetter: false },
    { id: `${id}.load_s`, value: m.loadMs / 1000, unit: 's', higherIsBetter: false },
    { id: `${id}.expand_s`, value: m.expandMs / 1000, unit: 's', higherIsBetter: false },
    { id: `${id}.build_world_s`, value: m.buildMs / 1000, unit: 's', higherIsBetter: false },
    { id: `${id}.peak_rss`, value: m.peakRssBytes / 2 ** 30, unit: 'GiB', higherIsBetter: false },
    { id: `${id}.heap`, value: m.heapBytes / 2 ** 30, unit: 'GiB', higherIsBetter: false },
    { id: `${id}.peak_rss_per_pod`, value: m.peakRssBytes / pods / 1024, unit: 'KiB/pod', higherIsBetter: false },
    { id: `${id}.heap_per_pod`, value: m.heapBytes / pods / 1024, unit: 'KiB/pod', higherIsBetter: false },
    { id: `${id}.peak_rss_per_node`, value: m.peakRssBytes / m.nodes / 1024, unit: 'KiB/node', higherIsBetter: false },
    { id: `${id}.heap_per_node`, value: m.heapBytes / m.nodes / 1024, unit: 'KiB/node', higherIsBetter: false },
    { id: `${id}.memory_per_pod`, value: (m.heapBytes + m.bufferBytes) / pods / 1024, unit: 'KiB/pod', higherIsBetter: false },
  ];
}

export const benchmark: Benchmark = {
  name: 'scale',
  async run() {
    const out: BenchResult[] = [];
    // One run per size: 5,000 nodes is the bulk of the time, and memory figures barely vary.
    for (const n of SIZES) {
      const m = runInChild<Measured>(String(n));
      console.log(`  scale ${n}x${PODS_PER_NODE}: built in ${((m.loadMs + m.expandMs + m.buildMs) / 1000).toFixed(1)} s, peak RSS ${(m.peakRssBytes / 2 ** 30).toFixed(2)} GiB`);
      out.push(...scaleFigures(m));
    }
    for (const [nodes, perRack, workers] of [
      [STORM_NODES, 0, 1],
      [STORM_NODES, 0, 2],
      [RACKED_NODES, NODES_PER_RACK, 1],
      [RACKED_NODES, NODES_PER_RACK, 2],
    ] as const) {
      const st = runInChild<StormMeasured>('storm', String(nodes), String(workers), String(perRack));
      const what = perRack > 0 ? `in racks of ${perRack}, cross-node pings` : 'ARP storm';
      console.log(`  scale ${nodes}x${PODS_PER_NODE} ${what} on ${workers} worker(s): ${st.events} events in ${(st.runMs / 1000).toFixed(1)} s`);
      const id = `scale.${nodes}x${PODS_PER_NODE}.${perRack > 0 ? `racks${perRack}` : 'storm'}${workers > 1 ? `.w${workers}` : ''}`;
      out.push(
        { id: `${id}.run_s`, value: st.runMs / 1000, unit: 's', higherIsBetter: false },
        { id: `${id}.events_per_s`, value: st.events / (st.runMs / 1000) / 1e6, unit: 'M events/s', higherIsBetter: true },
        { id: `${id}.peak_rss`, value: st.peakRssBytes / 2 ** 30, unit: 'GiB', higherIsBetter: false },
      );
    }
    for (const mode of ['iptables', 'nftables'] as const) {
      const sv = runInChild<Measured>('services', String(SERVICE_NODES), String(SERVICES), mode);
      const svBuildS = (sv.loadMs + sv.expandMs + sv.buildMs) / 1000;
      const perNode = (bytes: number): number => bytes / sv.nodes / 2 ** 20;
      console.log(
        `  scale ${SERVICE_NODES} nodes, ${SERVICES} Services (${mode}): built in ${svBuildS.toFixed(1)} s, ` +
          `${perNode(sv.heapBytes + sv.bufferBytes).toFixed(1)} MiB per node (heap ${perNode(sv.heapBytes).toFixed(1)}, typed arrays ${perNode(sv.bufferBytes).toFixed(1)})`,
      );
      const svId = `scale.services${SERVICES / 1000}k.${SERVICE_NODES}nodes${mode === 'iptables' ? '' : `.${mode}`}`;
      out.push(
        { id: `${svId}.build_s`, value: svBuildS, unit: 's', higherIsBetter: false },
        { id: `${svId}.expand_s`, value: sv.expandMs / 1000, unit: 's', higherIsBetter: false },
        { id: `${svId}.build_world_s`, value: sv.buildMs / 1000, unit: 's', higherIsBetter: false },
        { id: `${svId}.heap_per_node`, value: perNode(sv.heapBytes), unit: 'MiB/node', higherIsBetter: false },
        // heap_per_node leaves out the compiled tables' typed arrays (a third of iptables mode's): this counts them.
        { id: `${svId}.memory_per_node`, value: perNode(sv.heapBytes + sv.bufferBytes), unit: 'MiB/node', higherIsBetter: false },
        { id: `${svId}.peak_rss`, value: sv.peakRssBytes / 2 ** 30, unit: 'GiB', higherIsBetter: false },
      );
    }
    return out;
  },
};

// Child mode: `node --expose-gc scale.bench.js <nodes>` (a build), `... storm <nodes> <workers> <nodesPerRack, 0 flat>` (the run)
// or `... services <nodes> <services> <iptables|nftables>` prints its figures as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'services') {
  const nodes = Number(process.argv[3]);
  const services = Number(process.argv[4]);
  const mode = process.argv[5];
  if (!Number.isInteger(nodes) || nodes < 1 || !Number.isInteger(services) || services < 1 || (mode !== 'iptables' && mode !== 'nftables')) {
    throw new Error(`usage: scale.bench.js services <nodes> <services> <iptables|nftables>, got ${process.argv.slice(3).join(' ')}`);
  }
  process.stdout.write(JSON.stringify(measureServices(nodes, services, mode)));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const storm = process.argv[2] === 'storm';
  const nodes = Number(process.argv[storm ? 3 : 2]);
  const workers = storm ? Number(process.argv[4]) : 1;
  const perRack = storm ? Number(process.argv[5]) : 0;
  if (!Number.isInteger(nodes) || nodes < 1 || !Number.isInteger(workers) || workers < 1 || !Number.isInteger(perRack) || perRack < 0) {
    throw new Error(`usage: scale.bench.js <nodes> | storm <nodes> <workers> <nodesPerRack>, got ${process.argv.slice(2).join(' ')}`);
  }
  if (storm) process.stdout.write(JSON.stringify(await measureStorm(nodes, workers, perRack)));
  else process.stdout.write(JSON.stringify(measure(nodes)));
}
