/**
 * tcp_min_rtt's windowed minimum (lib/minmax.c, minmax_running_min), with a
 * 100 s window: a new minimum replaces everything; a minimum older than the
 * window gives way to the best sample taken since, which the quarter and half
 * window choices kept.
 */
import { describe, expect, it } from 'vitest';
import { MinRtt } from '../../../models/stack/tcp/min-rtt.js';

const S = 1e9;
const MS = 1e6;

describe('tcp_min_rtt (minmax_running_min)', () => {
  it('is Infinity before any sample, then the smallest sample', () => {
    const m = new MinRtt(100 * S);
    expect(m.valueNs).toBe(Infinity);
    m.update(0, 5 * MS);
    m.update(1 * S, 7 * MS);
    expect(m.valueNs).toBe(5 * MS);
    m.update(2 * S, 3 * MS);
    expect(m.valueNs).toBe(3 * MS);
  });

  it('forgets a minimum older than the window for the best sample since', () => {
    const m = new MinRtt(100 * S);
    m.update(0, 2 * MS); // the minimum
    m.update(30 * S, 9 * MS); // past a quarter: becomes the 2nd choice
    m.update(60 * S, 6 * MS); // a better 2nd choice
    m.update(80 * S, 8 * MS); // past half the window: a 3rd choice
    expect(m.valueNs).toBe(2 * MS);
    m.update(101 * S, 10 * MS); // the 2 ms sample is out of the window
    expect(m.valueNs).toBe(6 * MS);
  });

  it('starts over when every sample is out of the window', () => {
    const m = new MinRtt(100 * S);
    m.update(0, 2 * MS);
    m.update(500 * S, 40 * MS);
    expect(m.valueNs).toBe(40 * MS);
  });
});
