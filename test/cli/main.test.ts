import { afterAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { main } from '../../cli/main.js';
import { packageRoot } from '../../scenarios/package-root.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('podwire CLI', () => {
  test('--help explains every command', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    for (const c of ['run', 'list', 'validate']) expect(r.out).toContain(c);
  });

  test('list names the ready scenarios', async () => {
    const r = await cli('list');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0])).toEqual(
      expect.arrayContaining(['cross-node', 'same-node', 'docker-bridge', 'localhost']),
    );
  });

  test('run default writes one capture per capture point and results.json, and prints the flow table', async () => {
    const out = join(work, 'default');
    const r = await cli('run', 'default', '--out', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ping n1\/p1 -> n2\/p1\s+3\s+3\s+0\s+rtt/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.scenario).toBe('cross-node');
    expect(readdirSync(join(out, 'captures'))).toContain('n1.p1.eth0.pcapng');
    // nothing is left of the staging area
    expect(readdirSync(out).sort()).toEqual(['captures', 'results.json']);
  });

  const workerBuilt = existsSync(join(packageRoot(), 'dist', 'scenarios', 'partition-worker.js'));
  if (!workerBuilt) console.warn('cli test: dist/ is not built (npm run build), so --workers 2 is not tried');
  test.skipIf(!workerBuilt)('--workers 2 cuts the run over two threads and writes the same files as --workers 1', async () => {
    const one = await cli('run', 'default', '--out', join(work, 'w1'), '--workers', '1');
    const two = await cli('run', 'default', '--out', join(work, 'w2'), '--workers', '2');
    expect(two.code).toBe(0);
    expect(two.out).toMatch(/events in [\d.]+s wall on 2 worker threads/);
    expect(one.out).not.toMatch(/worker threads/);
    // Three pings in 2 s: the run says threads cannot pay here.
    expect(two.out).toMatch(/hint: under one event per 20 us window, too few for threads to pay: --workers 1 is likely faster/);
    expect(one.out).not.toMatch(/hint:/);
    expect(readFileSync(join(work, 'w2', 'results.json'))).toEqual(readFileSync(join(work, 'w1', 'results.json')));

    for (const f of readdirSync(join(work, 'w1', 'captures'))) {
      expect(readFileSync(join(work, 'w2', 'captures', f)).equals(readFileSync(join(work, 'w1', 'captures', f))), f).toBe(true);
    }
    const bad = await cli('run', 'default', '--workers', '0');
    expect(bad.code).not.toBe(0);
  });

  const cores = availableParallelism();
  if (cores < 2) console.warn('cli test: one core here, so a run without --workers has no thread count to choose');
  test.skipIf(cores < 2)('without --workers, traffic too sparse for threads runs in one thread, and says why', async () => {
    const auto = await cli('run', 'default', '--out', join(work, 'wauto'));
    expect(auto.code).toBe(0);
    expect(auto.out).toMatch(/ran in one thread: under one event per 20 us window, too few for threads to pay \(--workers N cuts it anyway\)/);
    expect(auto.out).not.toMatch(/worker threads|hint:/);
    const one = await cli('run', 'default', '--out', join(work, 'wone'), '--workers', '1');
    expect(one.out).not.toMatch(/ran in one thread/);
    expect(readFileSync(join(work, 'wauto', 'results.json'))).toEqual(readFileSync(join(work, 'wone', 'results.json')));
  });

  test('--seed, --duration and --format pcap are honoured', async () => {
    const out = join(work, 'opts');
    const r = await cli('run', 'same-node', '--out', out, '--seed', '7', '--duration', '300ms', '--format', 'pcap', '--json');
    expect(r.code).toBe(0);
    const results = JSON.parse(r.out);
    expect(results.seed).toBe(7);
    expect(results.durationNs).toBe(300_000_000);
    expect(readdirSync(join(out, 'captures')).every((f) => f.endsWith('.pcap'))).toBe(true);
    // classic pcap with the nanosecond magic
    const f = readdirSync(join(out, 'captures'))[0]!;
    expect(readFileSync(join(out, 'captures', f)).readUInt32LE(0)).toBe(0xa1b23c4d);
  });

  test('a broken scenario file exits 1 with one reason naming the file, line and field, and writes nothing', async () => {
    const file = join(work, 'broken.yaml');
    writeFileSync(file, 'name: broken\nnodes:\n  - name: n1\n    podCIDR: 10.244.1.0/33\n');
    const out = join(work, 'broken-out');
    const r = await cli('run', file, '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^podwire: /);
    expect(r.err).toContain('broken.yaml:4');
    expect(r.err).toContain('podCIDR');
    expect(existsSync(out)).toBe(false);
  });

  test('unknown scenarios and bad options are one-line errors with a non-zero exit', async () => {
    const a = await cli('run', 'no-such-scenario');
    expect(a.code).toBe(1);
    expect(a.err).toContain('no-such-scenario');
    const b = await cli('run', 'default', '--format', 'erf', '--out', join(work, 'x'));
    expect(b.code).toBe(1);
    expect(b.err).toContain('--format');
    const c = await cli('run', 'default', '--seed', '-3');
    expect(c.code).not.toBe(0);
    const d = await cli('frobnicate');
    expect(d.code).not.toBe(0);
  });

  test('validate says ok for a good scenario', async () => {
    const r = await cli('validate', 'docker-bridge');
    expect(r).toEqual({ code: 0, out: 'ok\n', err: '' });
  });
});
