import type { TraceSelector, TraceStep, Tracer } from './tracer.js';
import { tagAlways, tagRoot } from './trace-tag.js';

/**
 * The trace of a partitioned run, merged from each partition's tracer.
 *
 * Each partition selects on its own: the flow's request where the flow's
 * sender runs, or the first `count` frames matching the filter among those
 * first transmitted there. The sequential run's selection is an order over
 * the whole run, so it is the first `count` of all partitions' selections by
 * (time, event key): a packet among the first `count` overall is among the
 * first `count` of its partition too. Steps of a packet selected only
 * locally, and of the answers it provoked, are dropped (they share its root,
 * models/trace/trace-tag.ts); always-kept steps (TRACE target) stay.
 *
 * The kept steps merge by (time, event key): each partition's are in that
 * order, one event's steps all come from the partition that ran it, and
 * within an event they keep the order the event made them.
 */

/** What a partition's tracer hands back: plain data, so a worker can post it. */
export interface TracePart {
  steps: TraceStep[];
  keys: number[];
  tags: number[];
  selections: { id: number; t: number; key: number }[];
}

export function tracePart(tracer: Tracer): TracePart {
  return { steps: tracer.steps, keys: tracer.stepKeys, tags: tracer.stepTags, selections: tracer.selections };
}

export function mergeTraceParts(parts: readonly TracePart[], selector: TraceSelector): TraceStep[] {
  const flow = selector.flow !== undefined;
  const all = parts.flatMap((p, k) => p.selections.map((s, i) => ({ ...s, k, i })));
  all.sort((a, b) => a.t - b.t || a.key - b.key || a.k - b.k || a.i - b.i);
  const chosen = new Set(all.slice(0, flow ? 1 : (selector.count ?? 1)).map((s) => s.id));
  const kept = parts.map((p) => {
    const idx: number[] = [];
    p.steps.forEach((s, i) => {
      const tag = p.tags[i]!;
      const root = tagRoot(tag);
      // A flow packet is watched even when it is not the selected one (only its answer is not).
      if (tagAlways(tag) || chosen.has(root) || (flow && root === s.packet)) idx.push(i);
    });
    return idx;
  });
  const out: TraceStep[] = [];
  const at = parts.map(() => 0);
  for (;;) {
    let best = -1;
    for (let k = 0; k < parts.length; k++) {
      if (at[k]! >= kept[k]!.length) continue;
      if (best < 0) {
        best = k;
        continue;
      }
      const i = kept[k]![at[k]!]!;
      const j = kept[best]![at[best]!]!;
      const a = parts[k]!;
      const b = parts[best]!;
      if (a.steps[i]!.t < b.steps[j]!.t || (a.steps[i]!.t === b.steps[j]!.t && a.keys[i]! < b.keys[j]!)) best = k;
    }
    if (best < 0) return out;
    out.push(parts[best]!.steps[kept[best]![at[best]!]!]!);
    at[best]!++;
  }
}
