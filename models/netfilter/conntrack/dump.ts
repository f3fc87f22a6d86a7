/**
 * `conntrack -L` output (conntrack-tools over libnetfilter_conntrack,
 * __snprintf_conntrack_default in src/conntrack/snprintf_default.c):
 *
 *   tcp      6 431999 ESTABLISHED src=10.244.1.2 dst=10.96.0.10 sport=40000 dport=80 src=10.244.2.5 dst=10.244.1.2 sport=8080 dport=40000 [ASSURED] mark=0 use=1
 *
 * protocol name padded to 8 and number ("%-8s %u"), remaining timeout in whole
 * seconds (ctnetlink_dump_timeout: nf_ct_expires / HZ, rounded down), the TCP
 * state, the original tuple, [UNREPLIED] until a reply was seen, the reply
 * tuple, [ASSURED], mark, use. Counters, zones, timestamps and labels are
 * not printed (nf_conntrack_acct and friends are off by default).
 *
 * NAT clash entries (IPS_NAT_CLASH) are hidden, as their original direction
 * is not in the table that ctnetlink walks.
 */
import { CtStatus } from '../types.js';
import type { TrackedConn } from './conn.js';
import { formatTuple, protoName } from './tuple.js';

/** `use=`: the entry's reference count as seen by a dump (the table's reference). */
const USE = 1;

export function formatEntry(ct: TrackedConn, now: number): string {
  const o = ct.tuple[0];
  const secs = Math.floor(Math.max(ct.expiresAt - now, 0) / 1e9);
  let line = `${protoName(o.protocol).padEnd(8)} ${o.protocol} ${secs} `;
  const state = ct.tcpState;
  if (state !== '') line += `${state} `;
  line += `${formatTuple(o)} `;
  if ((ct.status & CtStatus.SEEN_REPLY) === 0) line += '[UNREPLIED] ';
  line += `${formatTuple(ct.tuple[1])} `;
  if (ct.status & CtStatus.ASSURED) line += '[ASSURED] ';
  line += `mark=${ct.mark >>> 0} use=${USE}`;
  return line;
}

/**
 * The order kernel-ref dumps use (lib/common.sh): by the line with the
 * protocol, number, timeout and TCP state taken off, so entries sort by
 * their tuples and not by how long they have left. Compared by UTF-16 code
 * unit, i.e. `LC_ALL=C sort` (the locale kernel-ref ran with is not
 * recorded; other collations may order some lines differently).
 */
export function sortKey(line: string): string {
  return line.replace(/^[a-z]+ +[0-9]+ +[0-9]+ +/, '').replace(/^[A-Z_]+ /, '');
}

export function formatTable(entries: Iterable<TrackedConn>, now: number): string[] {
  const lines: [string, string][] = [];
  for (const ct of entries) {
    if (ct.status & CtStatus.NAT_CLASH) continue;
    const line = formatEntry(ct, now);
    lines.push([sortKey(line), line]);
  }
  lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return lines.map((l) => l[1]);
}

/** The summary conntrack prints on stderr after a listing. */
export function summaryLine(n: number): string {
  return `conntrack v1.4.7 (conntrack-tools): ${n} flow entries have been shown.`;
}
