// Reads the JSON lines run.sh collected (one per probe run: a label, the
// conntrack entries the run created, and the probe's quantiles), fits the
// per-rule cost, takes the differences that give the per-packet conntrack cost
// and the per-new-connection NAT cost, and prints one JSON document on stdout
// (a readable summary goes to stderr). Figures are in nanoseconds and are
// built from per-run medians; their spread is over repetitions.
// Usage: node report.mjs RAW.jsonl
import { readFileSync } from 'node:fs';
import os from 'node:os';

const rawFile = process.argv[2];
if (rawFile === undefined) {
  console.error('usage: node report.mjs RAW.jsonl');
  process.exit(2);
}
const lines = readFileSync(rawFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim().startsWith('{'))
  .map((l) => JSON.parse(l));
const setup = lines.find((l) => l.label.exp === 'machine')?.result ?? {};
const runs = lines.filter((l) => l.label.exp !== 'machine');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const round = (x, digits = 0) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

/** Ordinary least squares y = a + b x, with the residuals' RMS and b's standard error. */
function fitLine(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  const b = sxy / sxx;
  const a = my - b * mx;
  const res = xs.map((x, i) => ys[i] - (a + b * x));
  const sse = res.reduce((s, r) => s + r * r, 0);
  const syy = ys.reduce((s, y) => s + (y - my) ** 2, 0);
  return {
    interceptNs: round(a, 1),
    slopeNs: round(b, 3),
    slopeStdErrNs: n > 2 ? round(Math.sqrt(sse / (n - 2) / sxx), 3) : null,
    residualRmsNs: round(Math.sqrt(sse / n), 1),
    r2: round(syy > 0 ? 1 - sse / syy : 1, 5),
    points: n,
  };
}

/**
 * y against x fitted twice: through the median over repetitions at each x
 * (the figure used: one slow repetition cannot pull it), and through every
 * run (its residual shows the run-to-run noise).
 */
function fitMedians(points) {
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const perX = xs.map((x) => ({ x, y: median(points.filter((p) => p.x === x).map((p) => p.y)) }));
  return {
    fit: fitLine(perX.map((p) => p.x), perX.map((p) => p.y)),
    allRunsFit: fitLine(points.map((p) => p.x), points.map((p) => p.y)),
    perX,
    // Slope between neighbouring x: constant if the cost is linear (no cache cliff).
    segments: perX.slice(1).map((p, i) => ({ from: perX[i].x, to: p.x, slopeNs: round((p.y - perX[i].y) / (p.x - perX[i].x), 3) })),
  };
}

/** Median and range over repetitions of a per-repetition figure. */
function spread(values) {
  const v = values.filter(Number.isFinite);
  return { medianNs: round(median(v), 1), minNs: round(Math.min(...v), 1), maxNs: round(Math.max(...v), 1), reps: v.length };
}

const pick = (pred) => runs.filter((r) => pred(r.label));
/** Median time of one kind of exchange (est | new) in one direction of the single run matching pred. */
const one = (pred, flow = 'est', dir = 'request') => pick(pred)[0]?.result[flow]?.[dir].median ?? NaN;
const backends = [...new Set(runs.map((r) => r.label.backend).filter((b) => b !== undefined))];
const reps = [...new Set(runs.map((r) => r.label.rep))].sort((a, b) => a - b);

// --- ruleNs: the request crosses the server's filter INPUT once; N rules there, none matching.
const rules = {};
for (const b of backends) {
  rules[b] = {};
  for (const shape of ['kube', 'bare']) {
    const pts = pick((l) => l.exp === 'rules' && l.backend === b && l.shape === shape);
    if (pts.length === 0) continue;
    rules[b][shape] = {
      request: fitMedians(pts.map((p) => ({ x: p.label.n, y: p.result.est.request.median }))),
      // The reply never crosses a filter INPUT chain: its slope should be ~0.
      replyFit: fitLine(pts.map((p) => p.label.n), pts.map((p) => p.result.est.reply.median)),
    };
  }
}

// --- conntrackNs: the same established flow, conntrack off and on, per packet.
const conntrack = {};
for (const b of backends) {
  // Each repetition has two runs of each state (A B B A): mean of on minus mean of off.
  const mean = (state, rep, dir) => {
    const v = pick((l) => l.exp === 'conntrack' && l.backend === b && l.state === state && l.rep === rep).map((r) => r.result.est[dir].median);
    return v.length === 0 ? NaN : v.reduce((s, x) => s + x, 0) / v.length;
  };
  const delta = (dir) => reps.map((rep) => mean('on', rep, dir) - mean('off', rep, dir));
  const req = delta('request');
  const rep = delta('reply');
  conntrack[b] = {
    // Request: defrag and conntrack_in at PREROUTING, confirm at INPUT, in the server namespace.
    request: spread(req),
    // Reply: defrag and conntrack_in at OUTPUT, confirm at POSTROUTING, in the server namespace.
    reply: spread(rep),
    perPacketNs: spread(req.map((x, i) => (x + rep[i]) / 2)),
  };
}

// --- natSetupNs: within one alt run, a first packet's request against the established flow's.
const newMinusEst = (r) => r.result.new.request.median - r.result.est.request.median;
const firstExtra = (pred) => pick(pred).map(newMinusEst);
const coldByRep = new Map(pick((l) => l.exp === 'raw').map((r) => [r.label.rep, newMinusEst(r)]));
const flows = {};
for (const b of backends) {
  // Minus the same difference with no netfilter at all (a cold client socket and its port's lookup).
  const extra = (exp) =>
    reps.map((rep) => (firstExtra((l) => l.exp === exp && l.backend === b && l.rep === rep)[0] ?? NaN) - (coldByRep.get(rep) ?? NaN));
  const ctNew = extra('flowct');
  const natNew = extra('flownat');
  const manip = reps.map(
    (rep) => one((l) => l.exp === 'flownat' && l.backend === b && l.rep === rep) - one((l) => l.exp === 'flowct' && l.backend === b && l.rep === rep),
  );
  flows[b] = {
    // init_conntrack and the insert at __nf_conntrack_confirm, for a first packet with no NAT.
    conntrackNewNs: spread(ctNew),
    // The same plus the nat table walks (one DNAT rule in PREROUTING, an empty INPUT),
    // nf_nat_setup_info for the DNAT and nf_nat_alloc_null_binding for the source.
    natFirstPacketNs: spread(natNew),
    natOnlyNs: spread(natNew.map((x, i) => x - ctNew[i])),
    // Per packet of an established NATed flow over a conntrack-only one: the nat hooks
    // and nf_nat_manip_pkt's rewrite. Across runs, so noisier. podwire charges nothing for it.
    natEstablishedPerPacketNs: spread(manip),
  };
}
const coldSocket = spread(reps.map((rep) => coldByRep.get(rep) ?? NaN));

// --- Cross-check: first packets with N kube-proxy services ahead of the match in nat PREROUTING.
const services = {};
for (const b of backends) {
  const pts = pick((l) => l.exp === 'svc' && l.backend === b);
  if (pts.length === 0) continue;
  const first = fitMedians(pts.map((p) => ({ x: p.label.n, y: p.result.new.request.median })));
  services[b] = {
    firstPacket: first,
    // Later packets never walk the nat table: this slope should be ~0.
    establishedFit: fitLine(pts.map((p) => p.label.n), pts.map((p) => p.result.est.request.median)),
    firstPacketGrowthAt10kNs: round(first.fit.slopeNs * 10000),
  };
}

// --- Checks that each run measured what its label says.
const ctPairs = new Set(['flowct', 'flownat', 'svc']);
const problems = [];
for (const r of runs) {
  const l = r.label;
  const exchanges = (r.result.count + r.result.warmup) * (r.result.mode === 'alt' ? 2 : 1);
  const fresh = r.result.mode === 'alt' ? r.result.count + r.result.warmup : 0;
  const what = JSON.stringify(l);
  if (r.result.lost > 0) problems.push(`${what}: ${r.result.lost} datagram(s) lost`);
  // A deferred datagram was processed off this CPU or later: its sample is dropped; many mean a busy machine.
  if (r.result.deferred > exchanges * 0.01) problems.push(`${what}: ${r.result.deferred} of ${exchanges} exchanges deferred`);
  // Each fresh flow creates one entry, the run's established flow one more.
  if (ctPairs.has(l.exp) && (r.ctCreated < fresh || r.ctCreated > fresh + 1)) {
    problems.push(`${what}: ${r.ctCreated} conntrack entries created for ${fresh} first packets and one flow`);
  }
  if (l.exp === 'conntrack' && l.state === 'on' && r.ctCreated > 1) problems.push(`${what}: one flow created ${r.ctCreated} conntrack entries`);
  if ((l.exp === 'raw' || l.exp === 'rules' || (l.exp === 'conntrack' && l.state === 'off')) && r.ctCreated > 0) {
    problems.push(`${what}: conntrack should be off, yet ${r.ctCreated} entries appeared`);
  }
}

// --- Defaults for podwire: kube-proxy's rule shape on the backend this machine's iptables uses.
const preferred = /nf_tables/.test(setup.iptables ?? '') && backends.includes('nft') ? 'nft' : backends[0];
function costsFor(b) {
  const ruleNs = rules[b]?.kube?.request.fit.slopeNs ?? NaN;
  return {
    ruleNs: round(ruleNs, 1),
    conntrackNs: round(conntrack[b]?.perPacketNs.medianNs ?? NaN),
    // podwire charges the nat PREROUTING walk's one rule as ruleNs and has no cost of its own
    // for creating a conntrack entry, so natSetupNs carries the NAT setup and the creation.
    natSetupNs: round((flows[b]?.natFirstPacketNs.medianNs ?? NaN) - ruleNs),
  };
}
const costs = Object.fromEntries(backends.map((b) => [b, costsFor(b)]));

let clocksource = 'unknown';
try {
  clocksource = readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim();
} catch {
  // not Linux sysfs: leave unknown
}
const report = {
  machine: {
    date: new Date().toISOString(),
    kernel: os.release(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    nproc: os.cpus().length,
    clocksource,
    iptables: setup.iptables,
    iptablesLegacy: setup.legacy,
    probeCpu: setup.cpu,
  },
  settings: { reps: reps.length, requestedReps: setup.reps, count: setup.count, altCount: setup.altCount, warmup: setup.warmup },
  defaults: { backend: preferred, shape: 'kube', ...costs[preferred] },
  costs,
  fits: { rules, services },
  differences: { conntrack, flows, coldSocket },
  checks: { runs: runs.length, problems },
  raw: runs.map((r) => ({ ...r.label, ctCreated: r.ctCreated, ...r.result })),
};
process.stdout.write(JSON.stringify(report, null, 2) + '\n');

// --- Summary for a person.
const say = (s) => process.stderr.write(s + '\n');
const range = (s) => `${s.medianNs} ns (${s.minNs}..${s.maxNs})`;
say(`\n${report.machine.cpuModel}, ${report.machine.nproc} CPUs, kernel ${report.machine.kernel}, ${setup.iptables}; ${reps.length} repetition(s)`);
for (const b of backends) {
  for (const [shape, r] of Object.entries(rules[b])) {
    const f = r.request.fit;
    say(`  ${b.padEnd(6)} ${shape.padEnd(4)} rule: ${f.slopeNs} ns/rule ± ${f.slopeStdErrNs} (residual rms ${f.residualRmsNs} ns; every run: ${r.request.allRunsFit.slopeNs}, rms ${r.request.allRunsFit.residualRmsNs} ns)`);
  }
  say(`  ${b.padEnd(6)} conntrack per packet: ${range(conntrack[b].perPacketNs)}`);
  const f = flows[b];
  say(`  ${b.padEnd(6)} first packet: conntrack only +${range(f.conntrackNewNs)}, with DNAT +${range(f.natFirstPacketNs)}`);
  const s = services[b];
  if (s !== undefined) {
    say(`  ${b.padEnd(6)} nat PREROUTING: first packet ${s.firstPacket.fit.slopeNs} ns/service (+${s.firstPacketGrowthAt10kNs} ns at 10k), established ${s.establishedFit.slopeNs} ns/service`);
  }
}
say(`  cold client socket, no netfilter: +${range(coldSocket)} (subtracted from the first-packet figures)`);
say(`  defaults (${preferred}): ${JSON.stringify(costs[preferred])}`);
say(problems.length === 0 ? `  checks: all ${runs.length} runs clean` : `  CHECKS FAILED:\n    ${problems.join('\n    ')}`);
