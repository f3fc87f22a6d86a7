import type { Results } from '../scenarios/run.js';

interface FlowRow {
  name: string;
  sent: number;
  received: number;
  lost: number;
  latency: 'rtt' | 'one-way';
  errors: Record<string, number>;
  latencyNs: { min: number; p50: number; p90: number; p99: number; p999: number; max: number } | null;
  /** TCP flows only (FlowStats.tcp). */
  tcp?: {
    connections: number;
    connected: number;
    retransmits: number;
    setupNs: { p50: number; p99: number } | null;
    throughputBps?: number;
  };
}

/** A TCP flow's extras on one line: connections, setup latency, retransmissions, bulk throughput. */
function tcpLine(f: FlowRow): string | null {
  const t = f.tcp;
  if (t === undefined) return null;
  const parts = [`${t.connected}/${t.connections} connected`];
  if (t.setupNs !== null) parts.push(`setup p50 ${us(t.setupNs.p50)} p99 ${us(t.setupNs.p99)} us`);
  parts.push(`${t.retransmits} retransmits`);
  if (t.throughputBps !== undefined) parts.push(`throughput ${(t.throughputBps / 1e6).toFixed(1)} Mbit/s`);
  return `  ${f.name}: tcp ${parts.join(', ')}`;
}

/** Microseconds with up to 3 decimals: the unit in which these latencies read best. */
function us(ns: number): string {
  return (ns / 1000).toFixed(ns < 10_000 ? 3 : ns < 1_000_000 ? 1 : 0);
}

/** The per-flow table `podwire run` prints (latencies in microseconds), then the flows by class when a class holds several. */
export function formatSummary(results: Results): string {
  const flows = results.flows as FlowRow[];
  const out = table('flow', flows);
  for (const f of flows) {
    const tcp = tcpLine(f);
    if (tcp !== null) out.push(tcp);
    const errs = Object.entries(f.errors);
    if (errs.length > 0) out.push(`  ${f.name}: ${errs.map(([k, v]) => `${v} x ${k}`).join(', ')}`);
  }
  const classes = (results.classes ?? []) as (FlowRow & { class: string; flows: number })[];
  if (classes.some((c) => c.flows > 1)) {
    out.push('by class:');
    const rows = classes.map((c) => ({ ...c, name: `${c.class} (${c.flows})` }));
    out.push(...table('class', rows));
    for (const c of rows) {
      const tcp = tcpLine(c);
      if (tcp !== null) out.push(tcp);
    }
  }
  out.push(...dropLines(results.drops));
  return out.join('\n');
}

/** Namespaces listed one by one in the drop summary; past that, the totals and the namespaces with the most drops. */
export const DROP_LINES = 10;

/**
 * Drops per namespace and reason. A large cluster can drop in thousands of
 * namespaces (a rack switch each, a node each): then the totals by reason
 * come first, and only the DROP_LINES namespaces with the most drops follow
 * (results.json has them all).
 */
function dropLines(drops: Results['drops']): string[] {
  const rows = Object.entries(drops);
  if (rows.length === 0) return [];
  const line = ([ns, reasons]: [string, Record<string, number>]) => `  ${ns}: ${Object.entries(reasons).map(([r, n]) => `${r}=${n}`).join(' ')}`;
  if (rows.length <= DROP_LINES) return ['drops:', ...rows.map(line)];
  const byReason = new Map<string, number>();
  const total = (reasons: Record<string, number>) => Object.values(reasons).reduce((a, b) => a + b, 0);
  for (const [, reasons] of rows) for (const [r, n] of Object.entries(reasons)) byReason.set(r, (byReason.get(r) ?? 0) + n);
  const all = [...byReason.values()].reduce((a, b) => a + b, 0);
  const reasons = [...byReason].sort(([a], [b]) => (a < b ? -1 : 1)).map(([r, n]) => `${r}=${n}`).join(' ');
  // Most drops first; a stable sort keeps the results' order among equals.
  const top = rows.map((row) => ({ row, n: total(row[1]) })).sort((a, b) => b.n - a.n).slice(0, DROP_LINES);
  return [
    `drops: ${all} in ${rows.length} namespaces (${reasons}); the ${DROP_LINES} with the most:`,
    ...top.map((t) => line(t.row)),
    `  (${rows.length - DROP_LINES} more namespaces in results.json)`,
  ];
}

function table(first: string, flows: FlowRow[]): string[] {
  const header = [first, 'sent', 'recv', 'lost', 'lat', 'min', 'p50', 'p90', 'p99', 'p999', 'max'];
  const rows = flows.map((f) => {
    const l = f.latencyNs;
    return [
      f.name,
      String(f.sent),
      String(f.received),
      String(f.lost),
      f.latency,
      ...(l === null ? ['-', '-', '-', '-', '-', '-'] : [l.min, l.p50, l.p90, l.p99, l.p999, l.max].map(us)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header) + '   (latencies in us)', ...rows.map(line)];
}
