/**
 * A sweep's result table: sweep.json (what was swept, which shard, every
 * point's full Results) and sweep.csv (long format: one row per point and
 * flow). Both are rendered from the same data in point order with no clock,
 * host or worker count in them, so one sweep gives the same bytes however it
 * was run, and a merge of its shards gives the bytes of an unsharded run.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Results } from '../run.js';
import type { SweepParameter } from './grid.js';
import type { Shard } from './shard.js';

/** Version of the sweep.json layout. */
export const SWEEP_FORMAT = 1;

export interface SweepRow {
  index: number;
  values: Record<string, unknown>;
  results: Results;
}

export interface SweepTable {
  format: number;
  scenario: string;
  scenarioSha256: string;
  /** --duration in ns when given (it applies to every point), else null. */
  durationNs: number | null;
  parameters: SweepParameter[];
  /** Points in the whole sweep (all shards). */
  pointCount: number;
  /** null for a whole sweep (unsharded, or merged). */
  shard: Shard | null;
  points: SweepRow[];
}

export const CSV_FLOW_COLUMNS = ['flow', 'kind', 'sent', 'received', 'lost', 'p50_ns', 'p99_ns', 'max_ns'] as const;

interface FlowJson {
  name: string;
  kind: string;
  sent: number;
  received: number;
  lost: number;
  latencyNs: { p50: number; p99: number; max: number } | null;
}

export function renderJson(table: SweepTable): string {
  return JSON.stringify(table, null, 2) + '\n';
}

/**
 * Columns: point, each parameter (its path as header), then per flow its
 * name, kind, sent, received, lost and latency p50/p99/max in ns (empty when
 * nothing came back). A point without flows has one row with empty flow cells.
 */
export function renderCsv(table: SweepTable): string {
  const header = ['point', ...table.parameters.map((p) => p.path), ...CSV_FLOW_COLUMNS];
  const lines = [header.map(csvField).join(',')];
  for (const row of table.points) {
    const lead = [String(row.index), ...table.parameters.map((p) => cell(row.values[p.path]))];
    const flows = row.results.flows as FlowJson[];
    if (flows.length === 0) lines.push([...lead, ...CSV_FLOW_COLUMNS.map(() => '')].map(csvField).join(','));
    for (const f of flows) {
      const l = f.latencyNs;
      const cells = [f.name, f.kind, String(f.sent), String(f.received), String(f.lost), l ? String(l.p50) : '', l ? String(l.p99) : '', l ? String(l.max) : ''];
      lines.push([...lead, ...cells].map(csvField).join(','));
    }
  }
  return lines.join('\r\n') + '\r\n';
}

/** A parameter value as a cell: scalars as written, anything else as JSON. */
function cell(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** RFC 4180: quote a field holding a comma, quote or line break, doubling its quotes. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Writes sweep.json and sweep.csv into `dir`, each through a temporary file renamed into place. */
export function writeSweepTable(dir: string, table: SweepTable): { json: string; csv: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'sweep.json');
  const csv = join(dir, 'sweep.csv');
  writeAtomic(json, renderJson(table));
  writeAtomic(csv, renderCsv(table));
  return { json, csv };
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Reads `<dir>/sweep.json`, checking it is one. */
export function readSweepTable(dir: string): SweepTable {
  const path = join(dir, 'sweep.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${dir}: no sweep output here (cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let t: SweepTable;
  try {
    t = JSON.parse(text) as SweepTable;
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof t !== 'object' || t === null || t.format !== SWEEP_FORMAT || !Array.isArray(t.points) || !Array.isArray(t.parameters)) {
    throw new Error(`${path}: not a podwire sweep.json (format ${SWEEP_FORMAT})`);
  }
  return t;
}
