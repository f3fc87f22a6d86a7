/**
 * The ready scenarios in scenarios/library/*.yaml, found relative to the
 * package root so that the same code works from the sources and from dist/
 * (the YAML files are not copied by tsc).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import YAML from 'yaml';
import { loadScenarioFile } from './loader.js';
import { scenariosDir } from './package-root.js';
import type { Scenario } from './scenario.js';

/** What `run default` runs. */
export const DEFAULT_SCENARIO = 'cross-node';

export interface LibraryEntry {
  /** File name without .yaml; also the scenario's `name`. */
  name: string;
  description: string;
  path: string;
}

export function libraryDir(): string {
  return join(scenariosDir(), 'library');
}

/** The library, sorted by name. Reads only each file's description (no validation). */
export function listScenarios(): LibraryEntry[] {
  const dir = libraryDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const path = join(dir, f);
      const data: unknown = YAML.parse(readFileSync(path, 'utf8'));
      const description =
        typeof data === 'object' && data !== null && typeof (data as { description?: unknown }).description === 'string'
          ? (data as { description: string }).description
          : '';
      return { name: basename(f, '.yaml'), description, path };
    });
}

/**
 * The file a name stands for: a library name ("cross-node"), "default", or a
 * path to a YAML file (anything with a slash or a .yaml/.yml ending, or an
 * existing file). Unknown names throw, listing what the library has.
 */
export function resolveScenarioPath(nameOrPath: string): string {
  const looksLikePath = /[/\\]/.test(nameOrPath) || /\.ya?ml$/i.test(nameOrPath);
  if (looksLikePath || isFile(nameOrPath)) {
    const path = resolve(nameOrPath);
    if (!existsSync(path)) throw new Error(`scenario file not found: ${nameOrPath}`);
    return path;
  }
  const name = nameOrPath === 'default' ? DEFAULT_SCENARIO : nameOrPath;
  const entry = listScenarios().find((e) => e.name === name);
  if (!entry) {
    const names = listScenarios().map((e) => (e.name === DEFAULT_SCENARIO ? `${e.name} (default)` : e.name));
    throw new Error(`unknown scenario "${nameOrPath}" (the library has ${names.join(', ')}; or give a path to a .yaml file)`);
  }
  return entry.path;
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** Loads (and validates) a library scenario or a scenario file. */
export function resolveScenario(nameOrPath: string): Scenario {
  return loadScenarioFile(resolveScenarioPath(nameOrPath));
}
