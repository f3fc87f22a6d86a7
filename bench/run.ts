/**
 * `npm run bench [-- NAME... [--tolerance PCT] [--update-baseline | --add-to-baseline]]`
 *
 * Runs the registered benchmarks (all, or those named), prints each figure
 * beside bench/baseline.json, writes bench/results/latest.json, and flags
 * figures worse than the baseline by more than the tolerance. A regression is
 * reported, never turned into a non-zero exit: figures from a shared 2-core
 * machine are evidence for a person to read, not a timed test.
 *
 * With `--against REV` it compares this build with another commit's instead,
 * the two taking turns (against.ts); the baseline is not read or written.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchResult, Benchmark } from './benchmark.js';
import { addToBaseline, compareWithBaseline, mergeBaseline, type Comparison, type ResultsFile } from './compare.js';
import { benchmarkFile, compareBuilds, prepareOtherBuild, runBenchmarkFile, type BuildComparison } from './against.js';
import { machineFacts, type MachineFacts } from './machine.js';
import * as capture from './capture.bench.js';
import * as netfilter from './netfilter.bench.js';
import * as parallel from './parallel.bench.js';
import * as queue from './queue.bench.js';
import * as scale from './scale.bench.js';
import * as simulation from './simulation.bench.js';

/** Every benchmark `npm run bench` knows; add new modules here. */
const BENCHMARKS: Benchmark[] = [queue.benchmark, simulation.benchmark, parallel.benchmark, netfilter.benchmark, scale.benchmark, capture.benchmark];

const DEFAULT_TOLERANCE_PERCENT = 15;

const DEFAULT_ROUNDS = 3;

const USAGE = `usage: npm run bench -- [NAME...] [--tolerance PCT] [--update-baseline | --add-to-baseline | --against REV [--rounds N]]
  NAME               run only these benchmarks (${BENCHMARKS.map((b) => b.name).join(', ')})
  --tolerance PCT    flag figures more than PCT % worse than the baseline (default ${DEFAULT_TOLERANCE_PERCENT})
  --update-baseline  write this run's figures into bench/baseline.json
  --add-to-baseline  add to bench/baseline.json only the figures it has none for
  --against REV      compare with commit REV instead of the baseline: both builds' benchmarks
                     run in turns, N rounds (default ${DEFAULT_ROUNDS}); REV is compiled under the
                     system's temporary folder and kept there for the next comparison`;

/** The repository root: the nearest folder above this file holding package.json (works from bench/ and dist/bench/). */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: no package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

function readResults(file: string): ResultsFile | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
}

function writeResults(file: string, contents: ResultsFile): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // Four significant digits: run-to-run noise is far larger, and the committed baseline diffs stay readable.
  const round = (k: string, v: unknown): unknown => (k === 'value' && typeof v === 'number' ? Number(v.toPrecision(4)) : v);
  writeFileSync(file, JSON.stringify(contents, round, 2) + '\n');
}

function formatValue(v: number): string {
  return v >= 100 ? v.toFixed(1) : v >= 10 ? v.toFixed(2) : v.toFixed(3);
}

function printTable(rows: Comparison[]): void {
  const header = ['id', 'value', 'unit', 'baseline', 'change %', ''];
  const body = rows.map((c) => [
    c.result.id,
    formatValue(c.result.value),
    c.result.unit,
    c.baseline === undefined ? '-' : formatValue(c.baseline),
    c.change === undefined ? '-' : formatChange(c.change),
    c.regression ? 'REGRESSION' : c.improvement ? 'improved' : '',
  ]);
  printColumns(header, body, [false, true, false, true, true, false]);
}

/** A table of left-aligned text and right-aligned numbers, with a rule under the header. */
function printColumns(header: string[], body: string[][], numeric: boolean[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of body) console.log(line(r));
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      tolerance: { type: 'string' },
      'update-baseline': { type: 'boolean', default: false },
      'add-to-baseline': { type: 'boolean', default: false },
      against: { type: 'string' },
      rounds: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const tolerancePercent = values.tolerance === undefined ? DEFAULT_TOLERANCE_PERCENT : Number(values.tolerance);
  if (!(tolerancePercent >= 0)) {
    console.error(`bench: --tolerance must be a percentage >= 0, got "${values.tolerance}"\n${USAGE}`);
    return 2;
  }
  const rounds = values.rounds === undefined ? DEFAULT_ROUNDS : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`bench: --rounds must be a whole number >= 1, got "${values.rounds}"\n${USAGE}`);
    return 2;
  }
  if (values.against === undefined && values.rounds !== undefined) {
    console.error(`bench: --rounds goes with --against\n${USAGE}`);
    return 2;
  }
  if (values.against !== undefined && (values['update-baseline'] || values['add-to-baseline'])) {
    console.error(`bench: --against compares two builds and leaves the baseline alone; it does not go with --update-baseline or --add-to-baseline\n${USAGE}`);
    return 2;
  }
  const unknown = positionals.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const selected = positionals.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => positionals.includes(b.name));

  const root = repoRoot();
  const baselineFile = path.join(root, 'bench', 'baseline.json');
  const latestFile = path.join(root, 'bench', 'results', 'latest.json');
  const machine = machineFacts();
  if (values.against !== undefined) return runAgainst(root, selected, machine, values.against, rounds, tolerancePercent);
  const baseline = readResults(baselineFile);

  printHeader(`podwire bench: ${selected.map((b) => b.name).join(', ')}`, machine);
  if (baseline === undefined) {
    console.log('  baseline: none (bench/baseline.json missing; run with --update-baseline)');
  } else {
    console.log(`  baseline: ${baseline.date}, node ${baseline.machine.node}, ${baseline.machine.cpuModel}, ${baseline.machine.cores} cores`);
    if (baseline.machine.cpuModel !== machine.cpuModel || baseline.machine.cores !== machine.cores) {
      console.log('  note: the baseline was measured on another machine; changes mean little');
    }
  }
  console.log(`  tolerance: ${tolerancePercent}%\n`);

  const results: BenchResult[] = [];
  for (const b of selected) results.push(...(await b.run()));

  const rows = compareWithBaseline(results, baseline?.results ?? [], tolerancePercent / 100);
  console.log('');
  printTable(rows);

  const date = new Date().toISOString();
  writeResults(latestFile, { date, machine, results });
  console.log(`\nwrote ${path.relative(root, latestFile)}`);

  const regressions = rows.filter((r) => r.regression);
  if (regressions.length > 0) {
    console.log(`${regressions.length} figure(s) worse than the baseline by more than ${tolerancePercent}%:`);
    for (const r of regressions) console.log(`  ${r.result.id}: ${formatChange(r.change!)}%`);
  } else if (baseline !== undefined) {
    console.log(`no figure worse than the baseline by more than ${tolerancePercent}%`);
  }

  if (values['update-baseline']) {
    writeResults(baselineFile, { date, machine, results: mergeBaseline(baseline?.results ?? [], results) });
    console.log(`wrote ${path.relative(root, baselineFile)}`);
  } else if (values['add-to-baseline'] && baseline !== undefined) {
    const merged = addToBaseline(baseline.results, results);
    writeResults(baselineFile, { ...baseline, results: merged });
    console.log(`wrote ${path.relative(root, baselineFile)} (${merged.length - baseline.results.length} new figure(s); the others and the baseline's date kept)`);
  }
  // Regressions are printed, not failed on (see the comment at the top).
  return 0;
}

/** The run's first lines: what runs, and on which machine. */
function printHeader(title: string, machine: MachineFacts): void {
  console.log(title);
  console.log(`  node ${machine.node} (V8 ${machine.v8}), ${machine.platform} ${machine.arch}`);
  console.log(`  cpu ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB`);
}

/** `--against REV`: each selected benchmark of both builds, in turns, `rounds` times. */
async function runAgainst(root: string, selected: Benchmark[], machine: MachineFacts, rev: string, rounds: number, tolerancePercent: number): Promise<number> {
  printHeader(`podwire bench: ${selected.map((b) => b.name).join(', ')}, against ${rev}, ${rounds} round(s) in turns`, machine);
  let other;
  try {
    other = prepareOtherBuild(root, rev);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const short = other.commit.slice(0, 12);
  console.log(`  tolerance: ${tolerancePercent}%\n`);
  const rows: BuildComparison[] = [];
  const skipped: string[] = [];
  const mineDir = path.dirname(fileURLToPath(import.meta.url));
  for (const b of selected) {
    const mine = benchmarkFile(mineDir, b.name);
    const theirs = benchmarkFile(other.benchDir, b.name);
    if (mine === undefined) throw new Error(`bench: this build has no ${b.name}.bench.js in ${mineDir}`);
    if (theirs === undefined) {
      skipped.push(b.name);
      console.log(`${short} has no benchmark "${b.name}": skipped`);
      continue;
    }
    const done: { mine: BenchResult[]; other: BenchResult[] }[] = [];
    for (let i = 0; i < rounds; i++) {
      // The order flips each round, so neither build always runs first.
      const sides = i % 2 === 0 ? (['other', 'mine'] as const) : (['mine', 'other'] as const);
      const round: { mine: BenchResult[]; other: BenchResult[] } = { mine: [], other: [] };
      for (const side of sides) {
        console.log(`round ${i + 1}/${rounds}: ${b.name}, ${side === 'mine' ? 'this build' : short}`);
        round[side] = runBenchmarkFile(side === 'mine' ? mine : theirs, b.name);
      }
      done.push(round);
    }
    rows.push(...compareBuilds(done, tolerancePercent / 100));
  }
  console.log('');
  printBuildTable(rows, short);
  const file = path.join(root, 'bench', 'results', `against-${short}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), machine, against: other.commit, rounds, skipped, comparisons: rows }, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(root, file)}`);
  const slower = rows.filter((r) => r.slower);
  if (slower.length > 0) {
    console.log(`${slower.length} figure(s) worse than ${short}'s by more than ${tolerancePercent}% (median of the rounds' ratios):`);
    for (const r of slower) console.log(`  ${r.id}: ${formatChange(r.change)}%`);
  } else {
    console.log(`no figure worse than ${short}'s by more than ${tolerancePercent}%`);
  }
  return 0;
}

function formatChange(change: number): string {
  return `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}`;
}

function printBuildTable(rows: BuildComparison[], short: string): void {
  const header = ['id', 'this build', short, 'unit', 'change %', ''];
  const body = rows.map((c) => [c.id, formatValue(c.value), formatValue(c.other), c.unit, formatChange(c.change), c.slower ? 'SLOWER' : c.faster ? 'faster' : '']);
  printColumns(header, body, [false, true, true, false, true, false]);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
