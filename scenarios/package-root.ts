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

/**
 * The compiled file of a worker-thread module next to the module at
 * `fromUrl`. From dist/ it is a neighbour; from the TypeScript sources
 * (vitest) it is the one in the package's dist/, which a worker thread can
 * load where it could not load a .ts file. `distPath` is relative to dist/.
 */
export function workerModule(fromUrl: string, fileName: string, distPath: string, hint: string): string {
  const here = fileURLToPath(fromUrl);
  const path = here.endsWith('.js') ? join(dirname(here), fileName) : join(packageRoot(), 'dist', distPath);
  if (!existsSync(path)) throw new Error(`the worker ${path} is not built (run npm run build, or ${hint})`);
  return path;
}
