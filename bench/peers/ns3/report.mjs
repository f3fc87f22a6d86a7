// Reads the JSON lines run.sh collected (one per simulator run), keeps the
// fastest run of each (simulator, topology, size, link), prints the side-by-side
// table and writes it as JSON. CHECKS holds the small-workload runs: their
// frame-hop counts are printed side by side, and their RSS is each process's
// baseline for the memory-per-pod figures.
// Usage: node report.mjs RUNS CHECKS OUT.json
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import os from 'node:os';

const [runsFile, checksFile, outFile] = process.argv.slice(2);
if (runsFile === undefined || checksFile === undefined || outFile === undefined) {
  console.error('usage: node report.mjs RUNS CHECKS OUT.json');
  process.exit(2);
}

function jsonLines(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
}
const runs = jsonLines(runsFile);
const checks = jsonLines(checksFile);

// Peak RSS of each simulator's process with almost nothing built.
const baselineKiB = (sim) => Math.min(...checks.filter((c) => c.sim === sim).map((c) => c.maxRssKiB));

// Best of the repetitions: other processes on a shared machine only ever slow a run down.
const best = new Map();
for (const r of runs) {
  const key = `${r.sim}|${r.topology}|${r.size}|${r.link ?? ''}|${r.warmupRuns ?? 0}`;
  const b = best.get(key);
  if (b === undefined || r.wallSeconds < b.wallSeconds) best.set(key, { ...r, repetitions: (b?.repetitions ?? 0) + 1 });
  else b.repetitions++;
}

// podwire cold (a fresh process, as a user runs it) and warm (after in-process warm-up runs: JIT done).
const podwire = [...best.values()].filter((r) => r.sim === 'podwire' && !(r.warmupRuns > 0));
const podwireWarm = [...best.values()].filter((r) => r.sim === 'podwire' && r.warmupRuns > 0);
const ns3 = [...best.values()].filter((r) => r.sim === 'ns-3');
const rows = [];
for (const p of podwire) {
  for (const n of ns3.filter((x) => x.topology === p.topology && x.size === p.size)) {
    const nsRate = n.frameHops / n.wallSeconds;
    const pwRate = p.frameHops / p.wallSeconds;
    const w = podwireWarm.find((x) => x.topology === p.topology && x.size === p.size);
    const warmRate = w === undefined ? null : w.frameHops / w.wallSeconds;
    rows.push({
      topology: p.topology,
      size: p.size,
      ns3Link: n.link,
      ns3FrameHops: n.frameHops,
      podwireFrameHops: p.frameHops,
      ns3Events: n.events,
      podwireEvents: p.events,
      ns3EchoReplies: `${n.echoReplies}/${n.echoRequests}`,
      podwireEchoReplies: `${p.echoReplies}/${p.echoRequests}`,
      ns3WallSeconds: n.wallSeconds,
      podwireWallSeconds: p.wallSeconds,
      ns3BuildSeconds: n.buildSeconds,
      podwireBuildSeconds: p.buildSeconds,
      ns3FrameHopsPerSecond: nsRate,
      podwireFrameHopsPerSecond: pwRate,
      speedup: pwRate / nsRate,
      podwireWarmFrameHopsPerSecond: warmRate,
      warmSpeedup: warmRate === null ? null : warmRate / nsRate,
      ns3MaxRssKiB: n.maxRssKiB,
      podwireMaxRssKiB: p.maxRssKiB,
      memoryRatio: p.maxRssKiB / n.maxRssKiB,
      ns3KiBPerPod: (n.maxRssKiB - baselineKiB('ns-3')) / n.pods,
      podwireKiBPerPod: (p.maxRssKiB - baselineKiB('podwire')) / p.pods,
      repetitions: Math.min(n.repetitions, p.repetitions),
    });
  }
}

const machine = {
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  nproc: os.availableParallelism(),
  memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  loadAverage1m: os.loadavg()[0],
  ns3Package: process.env.NS3_PACKAGE_VERSION ?? 'unknown',
  podwireCommit: process.env.PODWIRE_COMMIT ?? 'unknown',
};

console.log('frame-hop check (small workloads, count 1):');
for (const c of checks) {
  console.log(`  ${c.sim.padEnd(7)} ${(c.link ?? '').padEnd(6)} ${c.topology.padEnd(14)} ${c.size.padEnd(5)} frameHops ${c.frameHops}, echo replies ${c.echoReplies}/${c.echoRequests}`);
}

const m = (x) => (x / 1e6).toFixed(3);
const mib = (k) => (k / 1024).toFixed(1);
const header = [
  'topology', 'size', 'ns-3 link', 'hops ns-3', 'hops podwire', 'ns-3 Mhop/s', 'podwire Mhop/s', 'speedup',
  'warm Mhop/s', 'warm speedup',
  'RSS ns-3 MiB', 'RSS podwire MiB', 'RSS ratio', 'KiB/pod ns-3', 'KiB/pod podwire',
];
const table = rows.map((r) => [
  r.topology, r.size, r.ns3Link, String(r.ns3FrameHops), String(r.podwireFrameHops), m(r.ns3FrameHopsPerSecond),
  m(r.podwireFrameHopsPerSecond), `${r.speedup.toFixed(2)}x`,
  r.podwireWarmFrameHopsPerSecond === null ? '-' : m(r.podwireWarmFrameHopsPerSecond),
  r.warmSpeedup === null ? '-' : `${r.warmSpeedup.toFixed(2)}x`, mib(r.ns3MaxRssKiB), mib(r.podwireMaxRssKiB),
  `${r.memoryRatio.toFixed(2)}x`, r.ns3KiBPerPod.toFixed(1), r.podwireKiBPerPod.toFixed(1),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`machine: ${machine.cpuModel}, nproc ${machine.nproc}, ${machine.memoryGiB} GiB, load ${machine.loadAverage1m.toFixed(2)}`);
console.log(`ns-3 ${machine.ns3Package} (Debian libns3-dev), podwire ${machine.podwireCommit} on node ${machine.node}`);
console.log(line(header));
for (const t of table) console.log(line(t));
console.log('speedup = podwire frame-hops/s / ns-3 frame-hops/s (single thread, run only, best of the repetitions);');
console.log('warm = podwire after two in-process runs of the same workload (JIT-compiled; ns-3 is compiled ahead of time).');
console.log('RSS ratio = podwire peak RSS / ns-3 peak RSS (whole process); KiB/pod = (peak RSS - the process baseline) / pods.');
for (const r of rows) {
  if (r.ns3EchoReplies.split('/')[0] !== r.ns3EchoReplies.split('/')[1] || r.podwireEchoReplies.split('/')[0] !== r.podwireEchoReplies.split('/')[1]) {
    console.log(`WARNING ${r.topology} ${r.size} (${r.ns3Link}): echo replies ns-3 ${r.ns3EchoReplies}, podwire ${r.podwireEchoReplies}`);
  }
}

mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify({ date: new Date().toISOString(), machine, rows, checks, runs }, null, 2)}\n`);
console.log(`wrote ${outFile}`);
