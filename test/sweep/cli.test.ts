import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { TINY, workDir } from './fixture.js';
import { screen } from '../helpers/screen.js';

const w = workDir();
afterAll(() => w.done());
const tiny = w.file('tiny.yaml', TINY);

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('podwire sweep / merge', () => {
  it('sweeps every shard and merges them into the unsharded table', async () => {
    const whole = await cli('sweep', tiny, '--out', join(w.dir, 'whole'), '--workers', '0', '--duration', '40ms');
    expect(whole.err).toBe('');
    expect(whole.code).toBe(0);
    expect(whole.out).toMatch(/^sweep tiny: 8 of 8 points in/);
    for (const i of [0, 1]) {
      const r = await cli('sweep', tiny, '-o', join(w.dir, `s${i}`), '-w', '0', '--shard', `${i}/2`, '-d', '40ms');
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`4 of 8 points (shard ${i}/2)`);
    }
    const m = await cli('merge', join(w.dir, 's0'), join(w.dir, 's1'), '--out', join(w.dir, 'm'));
    expect(m.code, m.err).toBe(0);
    expect(m.out).toContain('merged 2 outputs: 8 points of tiny');
    for (const f of ['sweep.json', 'sweep.csv']) expect(readFileSync(join(w.dir, 'm', f), 'utf8')).toBe(readFileSync(join(w.dir, 'whole', f), 'utf8'));
    expect(JSON.parse(readFileSync(join(w.dir, 'm', 'sweep.json'), 'utf8')).durationNs).toBe(40_000_000);
  });

  it('shows the points done on a terminal, and writes the same table', async () => {
    const tty = screen(true);
    let out = '';
    const code = await main(['sweep', tiny, '--out', join(w.dir, 'shown'), '--workers', '0', '--duration', '40ms'], { out: (t) => void (out += t), err: () => {}, progress: tty });
    expect(code).toBe(0);
    expect(tty.text()).toMatch(/sweep \[=+\] 8 of 8 points \| \d+s wall/);
    const quiet = screen(true);
    expect(await main(['sweep', tiny, '-o', join(w.dir, 'quiet'), '-w', '0', '-d', '40ms', '--no-progress'], { out: () => {}, err: () => {}, progress: quiet })).toBe(0);
    expect(quiet.text()).toBe('');
    for (const f of ['sweep.json', 'sweep.csv']) expect(readFileSync(join(w.dir, 'shown', f), 'utf8')).toBe(readFileSync(join(w.dir, 'quiet', f), 'utf8'));
  });

  it('fails clearly on a missing shard, a bad --shard and a bad grid', async () => {
    const r = await cli('merge', join(w.dir, 's0'), '-o', join(w.dir, 'x'));
    expect(r.code).toBe(1);
    expect(r.err).toBe('podwire: merge: 4 of 8 points missing (points 1, 3, 5, 7); shards of 2 given: 0/2\n');
    const s = await cli('sweep', tiny, '--shard', '2/2', '-w', '0', '-o', join(w.dir, 'y'));
    expect(s.code).toBe(1);
    expect(s.err).toContain('--shard: index 2 is not below the count 2');
    const bad = w.file('bad.yaml', TINY.replace('seed: [1, 2]', 'seed: [1, -2]'));
    const v = await cli('sweep', bad, '-w', '0', '-o', join(w.dir, 'z'));
    expect(v.code).toBe(1);
    expect(v.err).toContain('bad.yaml:13:13: sweep.seed[1]: must be >= 0 (got -2)');
  });

  it('run and trace refuse a sweep file; validate checks every point', async () => {
    const r = await cli('run', tiny, '-o', join(w.dir, 'run'));
    expect(r.code).toBe(1);
    expect(r.err).toContain('declares a sweep: run it with `podwire sweep');
    const t = await cli('trace', tiny, '--flow', 'x');
    expect(t.code).toBe(1);
    expect(t.err).toContain('declares a sweep');
    const v = await cli('validate', tiny);
    expect(v.code, v.err).toBe(0);
    expect(v.out).toBe('ok (8 sweep points)\n');
  });
});

describe('scenarios/sweep-job.yaml', () => {
  it('is an Indexed Job whose shard count is its completions and whose pods write per-index folders', async () => {
    const { default: YAML } = await import('yaml');
    const { scenariosDir } = await import('../../scenarios/package-root.js');
    const job = YAML.parse(readFileSync(join(scenariosDir(), 'sweep-job.yaml'), 'utf8'));
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.parallelism).toBeLessThanOrEqual(job.spec.completions);
    const args: string = job.spec.template.spec.containers[0].args.join(' ');
    expect(args).toContain(`--shard "\${JOB_COMPLETION_INDEX}/${job.spec.completions}"`);
    expect(args).toMatch(/--out "\/results\/shard-\$\{JOB_COMPLETION_INDEX\}"/);
    // The command line it runs is one podwire accepts, for the last index too.
    const { parseShard } = await import('../../scenarios/sweep/shard.js');
    const last = String(job.spec.completions - 1);
    const argv = args.split(/\s+/).slice(2).map((a) => a.replaceAll('"', '').replaceAll('${JOB_COMPLETION_INDEX}', last));
    expect(argv.slice(0, 2)).toEqual(['sweep', '/scenario/scenario.yaml']);
    expect(parseShard(argv[argv.indexOf('--shard') + 1]!)).toEqual({ index: job.spec.completions - 1, count: job.spec.completions });
  });
});
