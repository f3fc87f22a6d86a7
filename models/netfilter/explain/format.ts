/**
 * The text `podwire iptables trace` prints: the verdict, where the packet
 * can end up and with what probability, whether it is masqueraded, then the
 * path of one branch. Rules that matched and chain ends are shown with their
 * iptables-save text; runs of rules that did not match are counted, so a
 * kube-proxy KUBE-SERVICES chain of thousands of rules stays one line.
 */
import type { Explanation } from './explain.js';
import type { PathStep } from './path.js';

/** Probabilities to 6 decimals, without trailing zeros (0.333333, 0.5, 1). */
export function formatProbability(p: number): string {
  return String(Number(p.toFixed(6)));
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const start = e.path.find((s) => s.step === 'hook');
  const packet = start?.packet ?? '';
  const dev = start?.in != null ? ` on ${start.in}` : '';
  lines.push(`packet       ${packet}, entering at ${e.entry}${dev}`);
  lines.push(`verdict      ${e.verdict}`);
  const accepted = e.outcomes.filter((o) => o.verdict === 'ACCEPT');
  if (e.destinations.length === 0) lines.push('destinations none');
  e.destinations.forEach((d, i) => {
    const masq = accepted.some((o) => o.masquerade && o.destination?.ip === d.ip && o.destination?.port === d.port);
    const where = d.port === null ? d.ip : `${d.ip}:${d.port}`;
    lines.push(`${i === 0 ? 'destinations ' : '             '}${where.padEnd(21)} p=${formatProbability(d.probability)}${masq ? '  (masqueraded)' : ''}`);
  });
  for (const o of e.outcomes) {
    if (o.verdict !== 'ACCEPT' && e.verdict === 'ACCEPT') lines.push(`             ${o.verdict.padEnd(21)} p=${formatProbability(o.probability)}`);
  }
  lines.push(`masquerade   ${e.masquerade ? 'yes' : 'no'}`);
  const of = e.branches === 1 ? 'the only branch' : `first ${e.verdict} branch of ${e.branches}, p=${formatProbability(e.pathProbability)}`;
  lines.push(`path (${of}):`);
  lines.push(...formatPath(e.path));
  return lines.join('\n');
}

export function formatPath(path: readonly PathStep[]): string[] {
  const out: string[] = [];
  let skipped = 0;
  const flush = () => {
    if (skipped > 0) out.push(`    (${skipped} rule${skipped === 1 ? '' : 's'} did not match)`);
    skipped = 0;
  };
  for (const s of path) {
    if (s.step === 'rule' && !s.matched) {
      skipped++;
      continue;
    }
    flush();
    switch (s.step) {
      case 'hook': {
        const devs = [s.in !== null ? `in ${s.in}` : '', s.out !== null ? `out ${s.out}` : ''].filter((x) => x !== '').join(' ');
        out.push(`  ${s.hook}${devs === '' ? '' : ` (${devs})`}: ${s.packet}`);
        break;
      }
      case 'rule': {
        const action = s.verdict === null ? '' : ` -> ${s.verdict}${s.target !== null ? ` ${s.target}` : ''}`;
        out.push(`    ${s.table} ${s.chain} #${s.ruleNum}: ${s.rule}${action}`);
        // nf_nat_masquerade_ipv4 drops when the out device has no address ("ate my IP address").
        if (s.verdict === 'DROP' && /-j MASQUERADE\b/.test(s.rule)) out.push('    (MASQUERADE found no address on the out device: give the node its addresses with --local-ip)');
        break;
      }
      case 'conntrack':
        out.push(`    conntrack: ${s.state}`);
        break;
      case 'nat':
        out.push(`    ${s.manip === 'dst' ? 'DNAT' : 'SNAT'}: ${s.from} -> ${s.to}`);
        break;
      case 'route':
        out.push(
          s.decision === 'local'
            ? `  route: ${s.dst} is local${s.out !== null ? ` (out ${s.out})` : ''}`
            : `  route: ${s.dst} is not local: ${s.decision} out ${s.out}`,
        );
        break;
      case 'reject':
        out.push(`    REJECT sends ${s.with}`);
        break;
      case 'log':
        out.push(`    log: ${s.text}`);
        break;
      case 'drop':
        out.push(`    dropped by ${s.by}`);
        break;
      case 'end':
        out.push(
          s.delivered === 'local'
            ? `  delivered locally: ${s.packet}`
            : s.delivered === 'sent'
              ? `  sent: ${s.packet}`
              : `  ${s.verdict} in ${s.at}`,
        );
        break;
    }
  }
  flush();
  return out;
}
