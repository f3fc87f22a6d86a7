/**
 * `node --expose-gc run-one.js <module file> <name> <figures file>`: runs the
 * benchmark NAME that the compiled module exports, in this fresh process, and
 * writes its figures as JSON to the figures file (its progress lines go to
 * stdout as usual). `--against` runs each build's benchmarks this way
 * (against.ts); the module may belong to another checkout.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Benchmark } from './benchmark.js';

const [file, name, out] = process.argv.slice(2);
if (file === undefined || name === undefined || out === undefined) {
  console.error('usage: node --expose-gc run-one.js <module file> <name> <figures file>');
  process.exit(2);
}
const mod = (await import(pathToFileURL(file).href)) as { benchmark?: Benchmark };
if (mod.benchmark?.name !== name) {
  console.error(`run-one: ${file} exports no benchmark "${name}"`);
  process.exit(2);
}
writeFileSync(out, JSON.stringify(await mod.benchmark.run()));
