/**
 * The package root (the folder holding package.json), found by walking up from
 * this module. It is the same answer from the TypeScript sources (vitest) and
 * from the compiled dist/scenarios/*.js, which is why data files (the schema,
 * the scenario library) are read relative to it rather than to this file.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The scenarios/ source folder: scenario.schema.json and library/ live there. */
export function scenariosDir(): string {
  return join(packageRoot(), 'scenarios');
}
