import { describe, expect, it } from 'vitest';
import { gridIndices, parseFieldPath, planSweep } from '../../scenarios/sweep/grid.js';
import { TINY } from './fixture.js';
import { scenarioErrors } from '../helpers/scenario-errors.js';

const sweepErrors = (text: string): string[] => scenarioErrors(() => planSweep(text, 's.yaml'));

describe('sweep grid', () => {
  it('parses field paths and refuses malformed ones', () => {
    expect(parseFieldPath('traffic[0].udp.rate')).toEqual(['traffic', 0, 'udp', 'rate']);
    expect(parseFieldPath('nodes[12].pods[0].ip')).toEqual(['nodes', 12, 'pods', 0, 'ip']);
    for (const bad of ['', 'a.', '.a', 'a[01]', 'a[x]', 'a b', '[0]', 'a..b']) expect(parseFieldPath(bad)).toBeUndefined();
  });

  it('orders the cartesian product with the first key slowest', () => {
    expect(gridIndices([2, 3])).toEqual([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
    expect(gridIndices([])).toEqual([[]]);
  });

  it('gives each point the file with its values set, in canonical order', () => {
    const plan = planSweep(TINY, 'tiny.yaml');
    expect(plan.parameters.map((p) => p.path)).toEqual(['seed', 'underlay.delay', 'traffic[0].udp.count']);
    expect(plan.points.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(plan.points.map((p) => Object.values(p.values))).toEqual([
      [1, '10us', 2], [1, '10us', 5], [1, '50us', 2], [1, '50us', 5],
      [2, '10us', 2], [2, '10us', 5], [2, '50us', 2], [2, '50us', 5],
    ]);
    const p5 = plan.points[5]!.scenario;
    expect(p5.seed).toBe(2);
    expect(p5.underlay.delayNs).toBe(10_000);
    expect(p5.traffic[0]).toMatchObject({ kind: 'udp', count: 5, rate: 100 });
    // No capture asked for: a sweep records none.
    expect(p5.capture).toBe('none');
    expect(plan.scenarioSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps captures when the file asks for them', () => {
    const plan = planSweep(TINY.replace('sweep:', 'capture: [n1/eth0]\nsweep:'), 'tiny.yaml');
    expect(plan.points[0]!.captures).toBe(true);
    expect(plan.points[0]!.scenario.capture).toEqual(['n1/eth0']);
  });

  it('names the sweep value, with its position, when a value is invalid for its field', () => {
    const text = TINY.replace('seed: [1, 2]', 'seed: [1, -2]').replace('[10us, 50us]', '[10us, fast]');
    expect(sweepErrors(text)).toEqual([
      's.yaml:13:13: sweep.seed[1]: must be >= 0 (got -2)',
      's.yaml:14:26: sweep.underlay.delay[1]: invalid duration "fast" (expected e.g. 2s, 200ms, 50us, 100ns)',
    ]);
  });

  it('names sweep paths that do not exist, overlap, repeat a value or are malformed', () => {
    const text = TINY.replace(
      'sweep:\n',
      'sweep:\n  traffic[3].udp.rate: [1]\n  traffic[0].ping.count: [1]\n  nodez: [1]\n  "a b": [1]\n  underlay: [{}]\n  mtu: [1500, 1500]\n',
    );
    const errors = sweepErrors(text);
    expect(errors).toEqual([
      's.yaml:13:24: sweep.traffic[3].udp.rate: traffic has 1 item (no traffic[3])',
      's.yaml:14:26: sweep.traffic[0].ping.count: traffic[0].ping does not exist (traffic[0] has udp)',
      's.yaml:16:10: sweep.a b: "a b" is not a field path (expected e.g. seed, underlay.delay, traffic[0].udp.rate)',
      's.yaml:18:15: sweep.mtu[1]: 1500 repeats sweep.mtu[0]',
      's.yaml:20:19: sweep.underlay.delay: overlaps sweep.underlay (one would overwrite the other)',
    ]);
  });

  it('reports an unknown key at the sweep entry, and a problem a value causes elsewhere with its point', () => {
    expect(sweepErrors(TINY.replace('sweep:\n', 'sweep:\n  nodez: [1]\n'))).toEqual(['s.yaml:13:11: sweep.nodez[0]: unknown key "nodez" (did you mean "nodes"?)']);
    const small = TINY.replace('sweep:\n', 'sweep:\n  underlay.cidr: [192.168.49.0/24, 192.168.7.0/30]\n');
    const errors = sweepErrors(small);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatch(/underlay\.cidr = "192\.168\.7\.0\/30"|sweep\.underlay\.cidr\[1\]/);
  });

  it('an empty sweep is one point: the file itself', () => {
    const plan = planSweep(TINY.replace(/sweep:[\s\S]*$/, 'sweep: {}\n'), 'tiny.yaml');
    expect(plan.points).toHaveLength(1);
    expect(plan.points[0]!.values).toEqual({});
  });
});
