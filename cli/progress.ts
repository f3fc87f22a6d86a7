import { SingleBar } from 'cli-progress';
import { formatDuration } from '../engine/time.js';

/** Where a progress bar is drawn: a terminal (stderr), or in tests a stand-in for one. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface RunProgress {
  /** The run reached `simNs` of simulated time, after `events` events. */
  update(simNs: number, events: number): void;
  /** Draws the final state and gives the terminal back (always call it, or the bar's timer keeps the process alive). */
  stop(): void;
}

/**
 * The progress of one run as a bar on `stream`: how much of the simulated
 * duration has run, how many events that took, and the wall time so far.
 * On a stream that is not a terminal it prints a line every few seconds.
 */
export function runProgress(durationNs: number, stream: ProgressStream): RunProgress {
  const bar = newBar('simulating [{bar}] {percentage}% | {sim} of {total_sim} | {events}{duration_formatted} wall', stream);
  const total = formatDuration(durationNs);
  bar.start(durationNs, 0, { sim: formatDuration(0), total_sim: total, events: '' });
  return {
    update(simNs, events) {
      const at = Math.min(simNs, durationNs);
      bar.update(at, { sim: formatDuration(at), total_sim: total, events: `${(events / 1e6).toFixed(1)} M events | ` });
    },
    stop() {
      bar.stop();
    },
  };
}

/** The points of a sweep done so far, as a bar on `stream` drawn from the first update (which brings the total), with the wall time. */
export function sweepProgress(stream: ProgressStream): { update(done: number, total: number): void; stop(): void } {
  let bar: SingleBar | null = null;
  return {
    update(done, total) {
      if (bar === null) {
        bar = newBar('sweep [{bar}] {value} of {total} points | {duration_formatted} wall', stream);
        bar.start(total, done);
      } else bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** A bar redrawn at most 5 times a second on a terminal; on anything else a line every 5 s. */
function newBar(format: string, stream: ProgressStream): SingleBar {
  return new SingleBar({ stream, format, barsize: 30, hideCursor: true, noTTYOutput: stream.isTTY !== true, notTTYSchedule: 5000, fps: 5 });
}
