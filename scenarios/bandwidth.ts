/**
 * Link rates as written in scenarios: a number of bits per second, or a number
 * with a unit. `bit` units follow tc(8) (kbit, mbit, gbit, tbit; decimal
 * multiples). Unlike tc, where "bps" means *bytes* per second, "1Gbps" here is
 * read the way network people say it: one gigabit per second.
 */

/** Matches the `bandwidth` pattern of scenario.schema.json. */
export const BANDWIDTH_PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(?:([kKmMgGtT]?)(?:bit|bps))?\s*$/;

const PREFIX: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/** Bits per second (0 = unlimited). Throws on anything the schema would reject. */
export function parseBandwidth(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`invalid bandwidth ${value}`);
    return Math.round(value);
  }
  const m = BANDWIDTH_PATTERN.exec(value);
  if (!m) throw new Error(`invalid bandwidth "${value}" (expected e.g. 10Gbit, 100Mbit, 1Gbps or a number of bit/s)`);
  return Math.round(Number(m[1]) * PREFIX[(m[2] ?? '').toLowerCase()]!);
}
