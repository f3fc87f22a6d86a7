/**
 * The run's progress bar: what it draws on a terminal, that `podwire run`
 * draws it only on a terminal unless told (`--progress`, `--no-progress`),
 * and that a run showing it writes the same files as one that does not.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { runProgress, type ProgressStream } from '../../cli/progress.js';
import { screen } from '../helpers/screen.js';
import { packageRoot } from '../../scenarios/package-root.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-progress-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(progress: ProgressStream, ...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t), progress });
  return { code, out, err };
}

describe('runProgress', () => {
  test('shows the simulated time reached against the duration, the events and the percentage', () => {
    const s = screen(true);
    const bar = runProgress(2_000_000, s);
    bar.update(500_000, 1_234_567);
    bar.update(2_000_000, 4_000_000);
    bar.stop();
    expect(s.text()).toMatch(/simulating \[=+\] 100% \| 2\.000ms of 2\.000ms \| 4\.0 M events \| \d+s wall/);
  });

  test('never shows more than the duration', () => {
    const s = screen(true);
    const bar = runProgress(1_000_000_000, s);
    bar.update(Infinity, 12_000_000);
    bar.stop();
    expect(s.text()).toMatch(/100% \| 1\.000s of 1\.000s \| 12\.0 M events \| \d+s wall/);
  });
});

describe('podwire run and its progress bar', () => {
  test('draws on a terminal by default, and the run writes what it writes without', async () => {
    const tty = screen(true);
    const shown = await cli(tty, 'run', 'default', '--out', join(work, 'shown'), '--workers', '1');
    expect(shown.code).toBe(0);
    expect(tty.text()).toMatch(/simulating \[=+\] 100% \| 2\.000s of 2\.000s \| 0\.0 M events/);
    const pipe = screen(false);
    const quiet = await cli(pipe, 'run', 'default', '--out', join(work, 'quiet'), '--workers', '1');
    expect(quiet.code).toBe(0);
    expect(pipe.text()).toBe('');
    expect(readFileSync(join(work, 'shown', 'results.json'))).toEqual(readFileSync(join(work, 'quiet', 'results.json')));
    for (const f of readdirSync(join(work, 'quiet', 'captures'))) {
      expect(readFileSync(join(work, 'shown', 'captures', f)).equals(readFileSync(join(work, 'quiet', 'captures', f))), f).toBe(true);
    }
  });

  test('--no-progress keeps a terminal clean; --progress draws on a pipe too', async () => {
    const tty = screen(true);
    expect((await cli(tty, 'run', 'default', '--out', join(work, 'np'), '--workers', '1', '--no-progress')).code).toBe(0);
    expect(tty.text()).toBe('');
    const pipe = screen(false);
    expect((await cli(pipe, 'run', 'default', '--out', join(work, 'p'), '--workers', '1', '--progress')).code).toBe(0);
    expect(pipe.text()).toMatch(/100% \| 2\.000s of 2\.000s/);
  });

  const workerBuilt = existsSync(join(packageRoot(), 'dist', 'scenarios', 'partition-worker.js'));
  if (!workerBuilt) console.warn('progress test: dist/ is not built (npm run build), so the bar of a run on 2 worker threads is not tried');
  test.skipIf(!workerBuilt)('on worker threads it reads the clock off the barrier and ends at 100 %', async () => {
    const tty = screen(true);
    const r = await cli(tty, 'run', 'default', '--out', join(work, 'w2'), '--workers', '2');
    expect(r.code).toBe(0);
    expect(tty.text()).toMatch(/100% \| 2\.000s of 2\.000s/);
  });
});
