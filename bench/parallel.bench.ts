import { execFileSync } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../scenarios/loader.js';
import { expandScenario } from '../scenarios/expand.js';
import { buildWorld } from '../scenarios/build.js';
import { runPartitioned } from '../scenarios/partitioned-run.js';
import type { BenchResult, Benchmark } from './benchmark.js';
import { medianOverRounds, runInTurns } from './in-turns.js';

/**
 * Parallel speedup of the partitioned engine on the 100-node x 30-pod cluster,
 * 1 worker (the sequential engine, in-thread) against 2 (and more where the
 * machine has the cores). Run time only: from the first barrier (every
 * partition built) to the last window, against Simulation.run for 1 worker.
 * Two workloads, because the lookahead (the 20 us underlay delay) decides how
 * much work a window holds:
 * - ping: the simulation benchmark's sparse load (3,000 pods, one ping each
 *   100 ms, staggered): a handful of events per window, so barriers dominate;
 * - udp: every pod in UDP request/response with the same pod of the next
 *   node at 2,000 requests/s: hundreds of events per window;
 * - udp-long: the same for 240 ms instead of 60. A run that short is mostly
 *   start-up (ARP, JIT warm-up in each worker, with no free core for the
 *   background compiler and GC threads); a study runs for longer, and this
 *   one's speedup is the steady state's.
 * Three rounds of fresh processes, 1 and 2 workers taking turns
 * (bench/in-turns.ts): rates are each side's best run, the speedup the
 * median of the rounds' ratios. The event count of every run must match the
 * sequential one (the output is the same run).
 */

interface Workload {
  id: string;
  yaml: string;
}

const WORKLOADS: Workload[] = [
  {
    id: 'ping',
    yaml: `
name: bench-parallel-ping
duration: 1100ms
scale: { nodes: 100, podsPerNode: 30 }
traffic:
  - pingAll: { pattern: cross-node, count: 10, interval: 100ms }
capture: none
`,
  },
  {
    id: 'udp',
    yaml: `
name: bench-parallel-udp
duration: 60ms
scale: { nodes: 100, podsPerNode: 30 }
traffic:
  - udpAll: { pattern: cross-node, count: 100, rate: 2000, requestSize: 100, responseSize: 100 }
capture: none
`,
  },
  {
    id: 'udp-long',
    yaml: `
name: bench-parallel-udp-long
duration: 240ms
scale: { nodes: 100, podsPerNode: 30 }
traffic:
  - udpAll: { pattern: cross-node, count: 460, rate: 2000, requestSize: 100, responseSize: 100 }
capture: none
`,
  },
];

interface ChildFigures {
  runS: number;
  events: number;
  windows: number;
  /** Per partition, seconds spent running windows rather than waiting at barriers (empty for 1 worker). */
  busyS: number[];
}

function runChild(w: Workload, workers: number): Promise<ChildFigures> | ChildFigures {
  const spec = expandScenario(parseScenario(w.yaml, `${w.id}.yaml`));
  if (workers === 1) {
    const world = buildWorld(spec);
    const t0 = performance.now();
    world.sim.run(spec.durationNs);
    return { runS: (performance.now() - t0) / 1000, events: world.sim.executed, windows: 1, busyS: [] };
  }
  const out = mkdtempSync(join(tmpdir(), 'pw-bench-par-'));
  return runPartitioned(spec, { outDir: out, workers })
    .then((r) => ({
      runS: Math.max(...r.partitions.map((p) => p.runMs)) / 1000,
      events: r.results.events,
      windows: r.partitions[0]!.windows,
      busyS: r.partitions.map((p) => p.busyMs / 1000),
    }))
    .finally(() => rmSync(out, { recursive: true, force: true }));
}

function runInChild(w: Workload, workers: number): ChildFigures {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), w.id, String(workers)], { encoding: 'utf8' });
  return JSON.parse(out) as ChildFigures;
}

export const benchmark: Benchmark = {
  name: 'parallel',
  async run() {
    const out: BenchResult[] = [];
    const counts = [1, 2, ...(availableParallelism() >= 4 ? [4] : [])];
    for (const w of WORKLOADS) {
      const turns = runInTurns(counts, 3, (n) => runInChild(w, n), (a, b) => a.runS < b.runS);
      const figures = turns.best;
      const one = figures[0]!;
      out.push({ id: `parallel.${w.id}.w1.events_per_s`, value: one.events / one.runS / 1e6, unit: 'M events/s', higherIsBetter: true });
      for (const [i, n] of counts.entries()) {
        if (n === 1) continue;
        const r = figures[i]!;
        if (r.events !== one.events) throw new Error(`parallel ${w.id}: ${n} workers ran ${r.events} events, 1 worker ${one.events}`);
        out.push({ id: `parallel.${w.id}.w${n}.events_per_s`, value: r.events / r.runS / 1e6, unit: 'M events/s', higherIsBetter: true });
        // The median of each round's ratio: a round's runs are minutes closer together than the bests may be.
        const speedup = medianOverRounds(turns, (round) => round[0]!.runS / round[i]!.runS);
        out.push({ id: `parallel.${w.id}.w${n}.speedup`, value: speedup, unit: 'x', higherIsBetter: true });
        out.push({ id: `parallel.${w.id}.w${n}.events_per_window`, value: r.events / r.windows, unit: 'events', higherIsBetter: true });
        // Where the time goes: each partition's share of the run spent working (the rest is waiting at barriers).
        for (let p = 0; p < r.busyS.length; p++) {
          out.push({ id: `parallel.${w.id}.w${n}.p${p}.busy`, value: (100 * r.busyS[p]!) / r.runS, unit: '% of run', higherIsBetter: true });
        }
      }
    }
    return out;
  },
};

// Child mode: `node parallel.bench.js <workload> <workers>` prints that run's figures as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const w = WORKLOADS.find((x) => x.id === process.argv[2]);
  if (w === undefined) throw new Error(`unknown workload ${process.argv[2]} (${WORKLOADS.map((x) => x.id).join(', ')})`);
  const r = await runChild(w, Number(process.argv[3]));
  process.stdout.write(JSON.stringify(r));
}
