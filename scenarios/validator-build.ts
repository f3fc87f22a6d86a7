/**
 * `npm run build`'s last step: the scenario schema compiled ahead of time
 * (ajv's standalone code) into dist/scenarios/scenario-validator.cjs, with the
 * digest of the schema it was made from, so that a process loads it in a few
 * ms instead of compiling it. schema-check.ts uses it only while the digest
 * matches the schema on disk, and compiles the schema itself otherwise.
 *
 *   node dist/scenarios/validator-build.js [out-file]
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PRECOMPILED_VALIDATOR, compileValidator, schemaDigest, schemaPath } from './schema-check.js';

/** The standalone module text for the schema `schemaText`. */
export function precompiledValidator(schemaText: string): string {
  const { ajv, validate } = compileValidator(schemaText, true);
  const standaloneCode = (createRequire(import.meta.url)('ajv/dist/standalone/index.js') as { default: (ajv: unknown, v: unknown) => string }).default;
  return `${standaloneCode(ajv, validate)}\nmodule.exports.schemaDigest = ${JSON.stringify(schemaDigest(schemaText))};\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ?? fileURLToPath(new URL(PRECOMPILED_VALIDATOR, import.meta.url));
  // Written aside and renamed: a reader never sees half a module.
  writeFileSync(`${out}.tmp`, precompiledValidator(readFileSync(schemaPath(), 'utf8')));
  renameSync(`${out}.tmp`, out);
}
