/**
 * checkIPTablesRuleJumps from kube-proxy's proxier_test.go: every chain a rule
 * jumps to or appends to was declared, every chain jumped to has rules (except
 * KUBE-NODEPORTS), and every declared chain is used (except the top-level ones).
 * Returns the problems found, [] for a consistent ruleset.
 */
const TOP_LEVEL = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-FORWARD', 'KUBE-MARK-MASQ', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL'];
const BUILTIN_TARGETS = ['ACCEPT', 'REJECT', 'DROP', 'MARK', 'RETURN', 'DNAT', 'SNAT', 'MASQUERADE'];

function matches(lines: string[], re: RegExp): Set<string> {
  const out = new Set<string>();
  for (const l of lines) {
    const m = re.exec(l);
    if (m !== null) out.add(m[1]);
  }
  return out;
}

export function checkRuleJumps(restoreText: string): string[] {
  const problems: string[] = [];
  const tables = restoreText.split(/^COMMIT$/m).filter((t) => t.trim() !== '');
  for (const t of tables) {
    const lines = t.trim().split('\n');
    const name = lines[0].slice(1);
    const created = matches(lines, /^:(\S+)/);
    for (const x of matches(lines, /^-X (\S+)/)) created.delete(x);
    const filled = matches(lines, /^-A (\S+)/);
    const jumped = matches(lines, / -j (\S+)/);
    for (const b of BUILTIN_TARGETS) jumped.delete(b);
    for (const c of [...jumped, ...filled]) if (!created.has(c)) problems.push(`${name}: ${c} is used but not created`);
    for (const c of jumped) if (!filled.has(c) && c !== 'KUBE-NODEPORTS') problems.push(`${name}: ${c} is jumped to but has no rules`);
    for (const c of created) if (!jumped.has(c) && !TOP_LEVEL.includes(c)) problems.push(`${name}: ${c} is created but not used`);
  }
  return problems;
}
