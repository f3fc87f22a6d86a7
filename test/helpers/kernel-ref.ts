import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The kernel reference material (shared/kernel-ref): $PODWIRE_KERNEL_REF, else
 * `../shared/kernel-ref` beside the repository (where CI puts it), else null.
 */
export function kernelRefDir(): string | null {
  const candidates = [process.env.PODWIRE_KERNEL_REF, join(repoRoot, '../shared/kernel-ref')];
  return candidates.find((p): p is string => !!p && existsSync(p)) ?? null;
}
