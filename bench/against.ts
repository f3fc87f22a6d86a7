/**
 * `npm run bench -- NAME... --against REV`: this build's figures against
 * another commit's, measured in turns on the same machine.
 *
 * On a shared machine the same build's figures move by tens of per cent
 * between hours (README.md, "Why figures are not adjusted for the machine's
 * pace"), so a committed baseline tells a code change from the machine's
 * phase only when the change is large. Two builds run in turns, a round of
 * both close together in time, do: the change is the median over the rounds
 * of the ratio within each round (in-turns.ts), the way every change in
 * bench/README.md was checked by hand before this existed.
 *
 * REV is checked out with `git archive` into a folder of its own under the
 * system's temporary folder (kept for the next comparison; nothing is
 * written to the repository), given this checkout's node_modules, and
 * compiled with this checkout's tsc. Each side's benchmark module runs in a
 * fresh process of its own (run-one.ts), so its children run its own code,
 * and a benchmark that measures in-process (queue) does not find code the
 * other build made V8 optimise for its own types: with both in one process,
 * tinyqueue, shared by both builds, ran 35 % slower for whichever came second.
 * A benchmark REV does not have is reported, not guessed at.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './benchmark.js';

/** A compiled checkout of another commit. */
export interface OtherBuild {
  /** The full commit id. */
  commit: string;
  /** Its compiled bench folder (…/dist/bench). */
  benchDir: string;
}

/** The commit `rev` names in the repository at `root`; throws with git's reason when it names none. */
export function resolveCommit(root: string, rev: string): string {
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`bench --against: "${rev}" names no commit in ${root}`);
  }
}

export interface PrepareOptions {
  /** Where compiled commits are kept (default <system temporary folder>/podwire-bench). */
  cacheDir?: string;
  log?: (line: string) => void;
}

/**
 * REV's tree, compiled, under <cacheDir>/<commit>: reused when a compiled
 * one is there. tsc writes output even when it reports type errors (a test
 * folder of an old commit may not compile against today's types), so only a
 * missing bench/run.js is an error.
 */
export function prepareOtherBuild(root: string, rev: string, opts: PrepareOptions = {}): OtherBuild {
  const log = opts.log ?? console.log;
  const commit = resolveCommit(root, rev);
  const base = opts.cacheDir ?? path.join(tmpdir(), 'podwire-bench');
  const dir = path.join(base, commit);
  const benchDir = path.join(dir, 'dist', 'bench');
  if (existsSync(path.join(benchDir, 'run.js'))) {
    log(`  against ${commit.slice(0, 12)}: compiled build in ${dir}`);
    return { commit, benchDir };
  }
  // Built in a scratch folder and renamed into place, so a half-made build is never reused.
  mkdirSync(base, { recursive: true });
  const scratch = `${dir}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch);
  log(`  against ${commit.slice(0, 12)}: checking out and compiling into ${dir}`);
  try {
    const tar = execFileSync('git', ['-C', root, 'archive', '--format=tar', commit], { maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', scratch], { input: tar });
    symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: scratch, stdio: 'pipe' });
    } catch (err) {
      if (!existsSync(path.join(scratch, 'dist', 'bench', 'run.js'))) {
        const out = (err as { stdout?: Buffer }).stdout?.toString() ?? '';
        throw new Error(`bench --against: ${commit.slice(0, 12)} does not compile:\n${out.split('\n').slice(0, 10).join('\n')}`);
      }
      log(`  against ${commit.slice(0, 12)}: tsc reported errors; using the output it wrote`);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(scratch, dir);
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
  return { commit, benchDir };
}

/** A compiled bench folder's module for benchmark NAME (`<name>.bench.js`), or undefined when it has none. */
export function benchmarkFile(benchDir: string, name: string): string | undefined {
  const file = path.join(benchDir, `${name}.bench.js`);
  return existsSync(file) ? file : undefined;
}

/**
 * Runs benchmark NAME of the module `file` in a fresh Node process (with
 * --expose-gc, as `npm run bench` runs) and returns its figures. Its progress
 * lines go to this process's output. `runOne` is the compiled run-one.js
 * (by default the one beside this module).
 */
export function runBenchmarkFile(file: string, name: string, runOne = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-one.js')): BenchResult[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'podwire-bench-run-'));
  try {
    const out = path.join(dir, 'figures.json');
    try {
      execFileSync(process.execPath, ['--expose-gc', runOne, file, name, out], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (err) {
      throw new Error(`bench: benchmark ${name} of ${file} failed (${(err as Error).message.split('\n')[0]})`);
    }
    return JSON.parse(readFileSync(out, 'utf8')) as BenchResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One figure of both builds. */
export interface BuildComparison {
  id: string;
  unit: string;
  higherIsBetter: boolean;
  /** Median over the rounds, this build and the other. */
  value: number;
  other: number;
  /** Median over the rounds of (this / other - 1) within each round. */
  change: number;
  /** Worse than the other build by more than the tolerance, in the figure's own direction. */
  slower: boolean;
  /** Better by more than the tolerance. */
  faster: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The figures both builds reported in every round (matched by id and unit),
 * in this build's order. `rounds[i]` holds round i's figures of this build
 * and of the other.
 */
export function compareBuilds(rounds: { mine: BenchResult[]; other: BenchResult[] }[], tolerance: number): BuildComparison[] {
  if (rounds.length === 0) return [];
  const out: BuildComparison[] = [];
  for (const first of rounds[0]!.mine) {
    const pairs: [number, number][] = [];
    for (const round of rounds) {
      const a = round.mine.find((r) => r.id === first.id && r.unit === first.unit);
      const b = round.other.find((r) => r.id === first.id && r.unit === first.unit);
      if (a !== undefined && b !== undefined && b.value > 0) pairs.push([a.value, b.value]);
    }
    if (pairs.length !== rounds.length) continue;
    const change = median(pairs.map(([a, b]) => a / b - 1));
    const gain = first.higherIsBetter ? change : -change;
    out.push({
      id: first.id,
      unit: first.unit,
      higherIsBetter: first.higherIsBetter,
      value: median(pairs.map(([a]) => a)),
      other: median(pairs.map(([, b]) => b)),
      change,
      slower: gain < -tolerance,
      faster: gain > tolerance,
    });
  }
  return out;
}
