/**
 * The problems normalizing finds, collected rather than thrown so that one
 * load reports them all; the loader attaches file positions.
 */
import { parseDuration } from '../engine/time.js';
import type { PathSegment } from './errors.js';
import type { DurationText } from './raw-scenario.js';
import type { Issue } from './schema-check.js';

export class Problems {
  readonly issues: Issue[] = [];

  /** A problem at `path`; `anchor` is where to point when `path` is not in the file (a defaulted field). */
  readonly fail = (path: PathSegment[], message: string, anchor?: PathSegment[]): void => {
    this.issues.push(anchor ? { path, message, anchor: { path: anchor } } : { path, message });
  };

  /** `value` (else `fallback`) in nanoseconds; 0 after reporting a malformed duration. */
  duration(value: DurationText | undefined, fallback: DurationText, path: PathSegment[]): number {
    try {
      return parseDuration(value ?? fallback);
    } catch (e) {
      this.fail(path, (e as Error).message);
      return 0;
    }
  }
}

/** "1 address", "3 addresses": a count in a problem's message. */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
