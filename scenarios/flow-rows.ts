/**
 * The rows of a run's flow statistics: one per flow, or one per group (a
 * pattern's flows share a row, made at its first member), in traffic order.
 *
 * buildWorld makes the rows of the traffic it starts. A partition is sent only
 * the traffic it takes part in (scenarios/build-scope.ts), so it reports each
 * row under its number in the whole run, and mergeShares makes the whole list
 * again from the spec to name them.
 */
import { FlowStats } from '../models/stats/flow-stats.js';
import type { TrafficSpec } from './topology.js';

export interface FlowRows {
  rows: FlowStats[];
  /** Each traffic entry's row. */
  rowOf: number[];
}

export function flowRows(traffic: readonly TrafficSpec[]): FlowRows {
  // A group's row names how many flows it stands for and their class (one, or mixed).
  const groups = new Map<string, { members: number; classes: Set<string> }>();
  for (const t of traffic) {
    if (t.group === undefined) continue;
    let g = groups.get(t.group);
    if (g === undefined) groups.set(t.group, (g = { members: 0, classes: new Set() }));
    g.members++;
    g.classes.add(t.class ?? '');
  }
  const rows: FlowStats[] = [];
  const rowOf: number[] = [];
  const groupRow = new Map<string, number>();
  for (const t of traffic) {
    let row = t.group === undefined ? undefined : groupRow.get(t.group);
    if (row === undefined) {
      row = rows.length;
      rows.push(newRow(t, t.group === undefined ? undefined : groups.get(t.group)));
      if (t.group !== undefined) groupRow.set(t.group, row);
    }
    rowOf.push(row);
  }
  return { rows, rowOf };
}

function newRow(t: TrafficSpec, group: { members: number; classes: Set<string> } | undefined): FlowStats {
  const latency = t.kind === 'ping' || t.kind === 'tcp' || t.responseSize > 0 ? 'rtt' : 'one-way';
  if (t.group !== undefined && group !== undefined) {
    const flowClass = group.classes.size === 1 ? (t.class ?? '') : `${t.kind}: mixed`;
    return new FlowStats(t.group, t.kind, `${group.members} flows`, 'pattern', latency, flowClass, group.members);
  }
  const to = t.kind === 'ping' ? t.to : `${t.to}:${t.port}`;
  const from = t.from.container === undefined ? t.from.ns : `${t.from.ns}/${t.from.container}`;
  return new FlowStats(t.name, t.kind, from, to, latency, t.class ?? '');
}
