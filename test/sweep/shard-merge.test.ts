import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeSweepDirs } from '../../scenarios/sweep/merge.js';
import { runSweep, workerFile } from '../../scenarios/sweep/run-sweep.js';
import { inShard, parseShard } from '../../scenarios/sweep/shard.js';
import { csvField, readSweepTable } from '../../scenarios/sweep/table.js';
import { TINY, workDir } from './fixture.js';

const w = workDir();
afterAll(() => w.done());
const tiny = w.file('tiny.yaml', TINY);
const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8');

describe('shards', () => {
  it('parses i/n and refuses anything else', () => {
    expect(parseShard('2/8')).toEqual({ index: 2, count: 8 });
    for (const bad of ['8/8', '1/0', '-1/2', '1', '01/2', 'a/b']) expect(() => parseShard(bad), bad).toThrow(/--shard/);
  });

  it('partition the points: each point in exactly one shard, for every shard count', () => {
    for (let n = 1; n <= 9; n++) {
      for (let k = 0; k < 50; k++) {
        const owners = [...Array(n).keys()].filter((i) => inShard(k, { index: i, count: n }));
        expect(owners).toEqual([k % n]);
      }
    }
  });
});

describe('sweep and merge (in-process)', async () => {
  const whole = join(w.dir, 'whole');
  const run = await runSweep(tiny, { outDir: whole, workers: 0 });
  const shardDirs = [0, 1, 2].map((i) => join(w.dir, `shard-${i}`));
  for (const [i, dir] of shardDirs.entries()) await runSweep(tiny, { outDir: dir, workers: 0, shard: { index: i, count: 3 } });

  it('writes a row per point and flow, with the parameters as columns', () => {
    const csv = read(whole, 'sweep.csv').split('\r\n');
    expect(csv[0]).toBe('point,seed,underlay.delay,traffic[0].udp.count,flow,kind,sent,received,lost,p50_ns,p99_ns,max_ns');
    expect(csv).toHaveLength(8 + 2);
    expect(csv[1]).toMatch(/^0,1,10us,2,udp n1\/p1 -> n2\/p1,udp,2,2,0,\d+,\d+,\d+$/);
    expect(csv[8]).toMatch(/^7,2,50us,5,udp n1\/p1 -> n2\/p1,udp,5,5,0,\d+,\d+,\d+$/);
    // The swept delay shows in the latency: 50us of underlay each way costs more than 10us.
    const p50 = (line: string) => Number(line.split(',')[9]);
    expect(p50(csv[3]!)).toBeGreaterThan(p50(csv[1]!) + 2 * 40_000 - 1);
    expect(run.table.points).toHaveLength(8);
    expect(readSweepTable(whole).points.map((p) => p.results.seed)).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
  });

  it('a shard runs only its points', () => {
    expect(readSweepTable(shardDirs[1]!).points.map((p) => p.index)).toEqual([1, 4, 7]);
    expect(readSweepTable(shardDirs[1]!).shard).toEqual({ index: 1, count: 3 });
  });

  it('merging every shard gives the unsharded files byte for byte', () => {
    const merged = join(w.dir, 'merged');
    mergeSweepDirs([shardDirs[2]!, shardDirs[0]!, shardDirs[1]!], merged);
    expect(read(merged, 'sweep.json')).toBe(read(whole, 'sweep.json'));
    expect(read(merged, 'sweep.csv')).toBe(read(whole, 'sweep.csv'));
  });

  it('refuses a missing shard, a shard twice, and outputs of another sweep', async () => {
    const out = join(w.dir, 'bad');
    expect(() => mergeSweepDirs([shardDirs[0]!, shardDirs[2]!], out)).toThrow('merge: 3 of 8 points missing (points 1, 4, 7); shards of 3 given: 0/3, 2/3');
    expect(() => mergeSweepDirs([shardDirs[0]!, shardDirs[1]!, shardDirs[1]!, shardDirs[2]!], out)).toThrow(/shard 1\/3 is given twice/);
    expect(() => mergeSweepDirs([whole, shardDirs[0]!], out)).toThrow(/point 0 is in both/);
    const other = w.file('other.yaml', TINY.replace('count: 5, rate: 100', 'count: 5, rate: 200'));
    const otherDir = join(w.dir, 'other-2');
    await runSweep(other, { outDir: otherDir, workers: 0, shard: { index: 2, count: 3 } });
    expect(() => mergeSweepDirs([shardDirs[0]!, shardDirs[1]!, otherDir], out)).toThrow(/other-2 is not from the same sweep as .*shard-0: scenario tiny \(sha256/);
    const longer = join(w.dir, 'longer-2');
    await runSweep(tiny, { outDir: longer, workers: 0, shard: { index: 2, count: 3 }, durationNs: 60_000_000 });
    expect(() => mergeSweepDirs([shardDirs[0]!, shardDirs[1]!, longer], out)).toThrow(/--duration 60000000 vs unset/);
    expect(() => mergeSweepDirs([join(w.dir, 'nowhere')], out)).toThrow(/no sweep output here/);
    expect(existsSync(out)).toBe(false);
  });

  it('quotes CSV fields as RFC 4180 says', () => {
    expect(csvField('a -> b')).toBe('a -> b');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
  });
});

// The pool loads the compiled worker; npm ci builds dist/ (package.json prepare).
let built = false;
try {
  workerFile();
  built = true;
} catch (e) {
  console.warn(`skipping the piscina pool test: ${(e as Error).message}`);
}

describe.skipIf(!built)('sweep on the piscina pool', () => {
  it('gives the in-process bytes whatever the worker count', async () => {
    const one = join(w.dir, 'pool-1');
    const two = join(w.dir, 'pool-2');
    const inProcess = join(w.dir, 'pool-0');
    await runSweep(tiny, { outDir: inProcess, workers: 0 });
    await runSweep(tiny, { outDir: one, workers: 1 });
    await runSweep(tiny, { outDir: two, workers: 2 });
    for (const f of ['sweep.json', 'sweep.csv']) {
      expect(read(one, f)).toBe(read(inProcess, f));
      expect(read(two, f)).toBe(read(inProcess, f));
    }
  });
});
