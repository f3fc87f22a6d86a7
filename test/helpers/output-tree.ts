import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'vitest';

/** Relative path -> bytes of every file under `dir` (a run's output folder). */
export function outputTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Two run outputs hold the same files with the same bytes (captures, results.json, netfilter dumps...). */
export function expectSameOutput(actual: string, expected: string): void {
  const a = outputTree(actual);
  const e = outputTree(expected);
  expect([...a.keys()]).toEqual([...e.keys()]);
  for (const [k, bytes] of e) expect(a.get(k)!.equals(bytes), `${k} differs`).toBe(true);
}
