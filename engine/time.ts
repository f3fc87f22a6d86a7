/**
 * Simulated time is an integer count of nanoseconds held in a double: exact up
 * to 2^53 ns (about 104 days of simulated time).
 */
export type Nanos = number;

export const NS = 1;
export const US = 1_000;
export const MS = 1_000_000;
export const SECOND = 1_000_000_000;

const UNITS: Record<string, number> = { ns: NS, us: US, µs: US, ms: MS, s: SECOND, m: 60 * SECOND };

/** Parses "2s", "200ms", "50us", "1.5ms" or a bare number of nanoseconds. */
export function parseDuration(text: string | number): Nanos {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`invalid duration ${text}`);
    return Math.round(text);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m)?\s*$/.exec(text);
  if (!m) throw new Error(`invalid duration "${text}" (expected e.g. 2s, 200ms, 50us, 100ns)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ns']!);
}

/** Renders nanoseconds with a unit a person reads at a glance. */
export function formatDuration(ns: Nanos): string {
  if (ns >= SECOND) return `${(ns / SECOND).toFixed(3)}s`;
  if (ns >= MS) return `${(ns / MS).toFixed(3)}ms`;
  if (ns >= US) return `${(ns / US).toFixed(3)}us`;
  return `${ns}ns`;
}
