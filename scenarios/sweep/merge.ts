/**
 * `podwire merge`: joins the shard outputs of one sweep into the table an
 * unsharded run writes. Refuses outputs of different sweeps (scenario text,
 * parameters or --duration differ), a shard given twice, and a set of shards
 * that leaves points out.
 */
import { inShard } from './shard.js';
import { type SweepRow, type SweepTable, readSweepTable, writeSweepTable } from './table.js';

/** What makes two outputs parts of one sweep. */
function identity(t: SweepTable): string {
  return JSON.stringify([t.scenario, t.scenarioSha256, t.durationNs, t.parameters, t.pointCount]);
}

export function mergeTables(inputs: { dir: string; table: SweepTable }[]): SweepTable {
  if (inputs.length === 0) throw new Error('merge: name at least one sweep output folder');
  const first = inputs[0]!;
  for (const { dir, table } of inputs.slice(1)) {
    if (identity(table) === identity(first.table)) continue;
    const why =
      table.scenarioSha256 !== first.table.scenarioSha256
        ? `scenario ${table.scenario} (sha256 ${table.scenarioSha256.slice(0, 12)}) vs ${first.table.scenario} (sha256 ${first.table.scenarioSha256.slice(0, 12)})`
        : table.durationNs !== first.table.durationNs
          ? `--duration ${table.durationNs ?? 'unset'} vs ${first.table.durationNs ?? 'unset'}`
          : 'different parameters';
    throw new Error(`merge: ${dir} is not from the same sweep as ${first.dir}: ${why}`);
  }
  const owner = new Map<number, string>();
  const rows: SweepRow[] = [];
  const shardSeen = new Map<string, string>();
  for (const { dir, table } of inputs) {
    const key = table.shard === null ? 'all' : `${table.shard.index}/${table.shard.count}`;
    const again = shardSeen.get(key);
    if (again !== undefined) throw new Error(`merge: shard ${key} is given twice (${again} and ${dir})`);
    shardSeen.set(key, dir);
    for (const row of table.points) {
      if (!inShard(row.index, table.shard) || row.index >= table.pointCount) throw new Error(`merge: ${dir} holds point ${row.index}, which is not in shard ${key}`);
      const prev = owner.get(row.index);
      if (prev !== undefined) throw new Error(`merge: point ${row.index} is in both ${prev} and ${dir}`);
      owner.set(row.index, dir);
      rows.push(row);
    }
  }
  const total = first.table.pointCount;
  if (rows.length !== total) {
    const missing: number[] = [];
    for (let k = 0; k < total && missing.length < 10; k++) if (!owner.has(k)) missing.push(k);
    const counts = [...new Set(inputs.map((i) => i.table.shard?.count).filter((n) => n !== undefined))];
    const shards = counts.length === 1 ? `; shards of ${counts[0]} given: ${[...shardSeen.keys()].sort().join(', ')}` : '';
    throw new Error(`merge: ${total - rows.length} of ${total} points missing (points ${missing.join(', ')}${total - rows.length > missing.length ? ', ...' : ''})${shards}`);
  }
  rows.sort((a, b) => a.index - b.index);
  return { ...first.table, shard: null, points: rows };
}

export function mergeSweepDirs(dirs: string[], outDir: string): { table: SweepTable; files: { json: string; csv: string } } {
  const table = mergeTables(dirs.map((dir) => ({ dir, table: readSweepTable(dir) })));
  return { table, files: writeSweepTable(outDir, table) };
}
