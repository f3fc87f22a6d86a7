import type { ProgressStream } from '../../cli/progress.js';

/** A stand-in for a terminal (or, with tty false, a pipe) that keeps what is written, escape codes removed. */
export function screen(tty: boolean): ProgressStream & { text(): string } {
  let text = '';
  return {
    isTTY: tty,
    columns: 160,
    write(chunk: string | Uint8Array, ...rest: unknown[]) {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    },
    text: () => text.replace(/\x1B(\[[0-9;?]*[A-Za-z]|[78])/g, ''),
  } as unknown as ProgressStream & { text(): string };
}
