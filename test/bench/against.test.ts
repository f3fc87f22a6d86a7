/**
 * `npm run bench -- --against REV`: another commit checked out and compiled
 * beside the repository (never inside it), its benchmark modules imported,
 * and figures compared as the median of each round's ratio.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchmarkFile, compareBuilds, prepareOtherBuild, resolveCommit, runBenchmarkFile } from '../../bench/against.js';
import type { BenchResult } from '../../bench/benchmark.js';

const fig = (id: string, value: number, higherIsBetter = true, unit = 'M hops/s'): BenchResult => ({ id, value, unit, higherIsBetter });

describe('compareBuilds', () => {
  it('the change is the median of the rounds’ own ratios, not the ratio of the medians', () => {
    // The machine's pace differs from round to round; within the rounds this build is 20 %, 0 % and 10 % faster.
    const rounds = [
      { mine: [fig('r', 1.2)], other: [fig('r', 1.0)] },
      { mine: [fig('r', 0.5)], other: [fig('r', 0.5)] },
      { mine: [fig('r', 2.2)], other: [fig('r', 2.0)] },
    ];
    const [c] = compareBuilds(rounds, 0.05);
    // The medians, 1.2 and 1.0, would say 20 %.
    expect(c!.change).toBeCloseTo(0.1);
    expect(c!.value).toBe(1.2);
    expect(c!.other).toBe(1.0);
    expect(c!.faster).toBe(true);
    expect(c!.slower).toBe(false);
  });

  it('a time that grew is slower; within the tolerance neither', () => {
    const t = (mine: number, other: number) => ({ mine: [fig('t', mine, false, 's')], other: [fig('t', other, false, 's')] });
    const [slow] = compareBuilds([t(1.3, 1.0), t(1.2, 1.0), t(1.25, 1.0)], 0.15);
    expect(slow!.change).toBeCloseTo(0.25);
    expect(slow!.slower).toBe(true);
    const [level] = compareBuilds([t(1.1, 1.0), t(0.95, 1.0), t(1.05, 1.0)], 0.15);
    expect([level!.slower, level!.faster]).toEqual([false, false]);
  });

  it('a figure missing from a round on either side, or with another unit, is left out', () => {
    const rounds = [
      { mine: [fig('a', 1), fig('b', 1), fig('c', 1)], other: [fig('a', 1), fig('b', 1), fig('c', 1, true, 'kpps')] },
      { mine: [fig('a', 1), fig('b', 1), fig('c', 1)], other: [fig('a', 1), fig('c', 1)] },
    ];
    expect(compareBuilds(rounds, 0.15).map((c) => c.id)).toEqual(['a']);
    expect(compareBuilds([], 0.15)).toEqual([]);
  });
});

const packageRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const repoNodeModules = path.join(packageRoot, 'node_modules');
const runOne = path.join(packageRoot, 'dist', 'bench', 'run-one.js');
const work = mkdtempSync(path.join(tmpdir(), 'podwire-against-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A repository with a bench folder shaped like podwire's, committed; returns the commit. */
function makeRepo(dir: string, benchSource: string): string {
  mkdirSync(path.join(dir, 'bench'), { recursive: true });
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
  if (!existsSync(path.join(dir, '.git'))) {
    git('init', '-q');
    git('config', 'user.email', 't@example.invalid');
    git('config', 'user.name', 't');
    symlinkSync(repoNodeModules, path.join(dir, 'node_modules'), 'dir');
    writeFileSync(path.join(dir, '.gitignore'), 'node_modules\ndist\n');
    writeFileSync(
      path.join(dir, 'tsconfig.build.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'dist', rootDir: '.' }, include: ['bench'] }),
    );
    writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
    writeFileSync(path.join(dir, 'bench', 'run.ts'), 'export {};\n');
  }
  writeFileSync(path.join(dir, 'bench', 'toy.bench.ts'), benchSource);
  git('add', '-A');
  git('commit', '-q', '-m', 'toy');
  return git('rev-parse', 'HEAD');
}

describe('prepareOtherBuild', () => {
  const repo = path.join(work, 'repo');
  const cacheDir = path.join(work, 'cache');
  const toy = (value: number) =>
    `export const benchmark = { name: 'toy', async run() { return [{ id: 'toy.rate', value: ${value}, unit: 'M hops/s', higherIsBetter: true }]; } };\n`;
  const first = makeRepo(repo, toy(1));
  makeRepo(repo, toy(2));
  const lines: string[] = [];

  it('compiles REV outside the repository, and its benchmarks are REV’s', async () => {
    const build = prepareOtherBuild(repo, 'HEAD~1', { cacheDir, log: (l) => lines.push(l) });
    expect(build.commit).toBe(first);
    expect(build.benchDir).toBe(path.join(cacheDir, first, 'dist', 'bench'));
    const file = benchmarkFile(build.benchDir, 'toy')!;
    const mod = (await import(pathToFileURL(file).href)) as { benchmark: { run(): Promise<unknown> } };
    expect(await mod.benchmark.run()).toEqual([{ id: 'toy.rate', value: 1, unit: 'M hops/s', higherIsBetter: true }]);
    expect(benchmarkFile(build.benchDir, 'scale')).toBeUndefined();
    // Nothing written into the repository: its working tree is clean and it has no worktrees.
    expect(execFileSync('git', ['-C', repo, 'status', '--porcelain'], { encoding: 'utf8' })).toBe('');
    expect(execFileSync('git', ['-C', repo, 'worktree', 'list'], { encoding: 'utf8' }).trim().split('\n')).toHaveLength(1);
  });

  it('a compiled commit is reused', () => {
    lines.length = 0;
    prepareOtherBuild(repo, first, { cacheDir, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/compiled build in/);
  });

  it('a name that is no commit, and a commit with no bench/run.js, are errors that leave nothing behind', () => {
    expect(() => resolveCommit(repo, 'no-such-branch')).toThrow(/"no-such-branch" names no commit/);
    expect(() => prepareOtherBuild(repo, 'no-such-branch', { cacheDir })).toThrow(/names no commit/);
    const broken = path.join(work, 'broken');
    mkdirSync(broken);
    const commit = makeRepo(broken, 'export const x: number = "not a number";\n');
    execFileSync('git', ['-C', broken, 'rm', '-q', 'bench/run.ts']);
    execFileSync('git', ['-C', broken, 'commit', '-q', '-m', 'no runner']);
    const before = readdirSync(cacheDir).sort();
    expect(() => prepareOtherBuild(broken, 'HEAD', { cacheDir, log: () => {} })).toThrow(/does not compile/);
    expect(readdirSync(cacheDir).sort()).toEqual(before);
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
  });
});

const runOneBuilt = existsSync(runOne);
if (!runOneBuilt) console.warn('against.test: dist/ is not built (npm run build), so running a benchmark in a fresh process is not tried');
describe.skipIf(!runOneBuilt)('runBenchmarkFile', () => {
  it('runs a module’s benchmark in a fresh process and returns its figures', () => {
    const dir = path.join(work, 'fresh');
    mkdirSync(dir);
    const file = path.join(dir, 'toy.bench.js');
    // The process is fresh: the figure says whether --expose-gc was given, and that nothing ran before it in this process.
    writeFileSync(
      file,
      `globalThis.ran = (globalThis.ran ?? 0) + 1;
export const benchmark = { name: 'toy', async run() { return [{ id: 'toy.gc', value: typeof gc === 'function' ? globalThis.ran : 0, unit: 'x', higherIsBetter: true }]; } };\n`,
    );
    expect(runBenchmarkFile(file, 'toy', runOne)).toEqual([{ id: 'toy.gc', value: 1, unit: 'x', higherIsBetter: true }]);
    expect(runBenchmarkFile(file, 'toy', runOne)).toEqual([{ id: 'toy.gc', value: 1, unit: 'x', higherIsBetter: true }]);
    expect(() => runBenchmarkFile(file, 'other', runOne)).toThrow();
  });
});
