/**
 * The nat table of one node as CNI plugins leave it after their go-iptables
 * calls (NewChain, AppendUnique, Insert at 1, Delete, ClearChain,
 * DeleteChain), kept as iptables-save rule texts so that `restoreText` is what
 * `iptables-save -t nat` would print of the plugins' part, ready for
 * `iptables-restore --noflush` on top of the node's other rules.
 */
import { createHash } from 'node:crypto';

const BUILTIN = ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'];

export class NatTable {
  /** Chain -> rules (text after "-A CHAIN "), in creation order; built-in chains only once used. */
  private readonly chains = new Map<string, string[]>();

  ensureChain(name: string): string[] {
    let rules = this.chains.get(name);
    if (rules === undefined) this.chains.set(name, (rules = []));
    return rules;
  }

  hasChain(name: string): boolean {
    return this.chains.has(name);
  }

  /** The chains in use, in creation order. */
  chainNames(): string[] {
    return [...this.chains.keys()];
  }

  rules(chain: string): readonly string[] {
    return this.chains.get(chain) ?? [];
  }

  appendUnique(chain: string, rule: string): void {
    const rules = this.ensureChain(chain);
    if (!rules.includes(rule)) rules.push(rule);
  }

  /** `iptables -I CHAIN 1` unless present (go-iptables InsertUnique). */
  insertUnique(chain: string, rule: string): void {
    const rules = this.ensureChain(chain);
    if (!rules.includes(rule)) rules.unshift(rule);
  }

  deleteRule(chain: string, rule: string): void {
    const rules = this.chains.get(chain);
    const i = rules?.indexOf(rule) ?? -1;
    if (i >= 0) rules!.splice(i, 1);
  }

  /** Removes a user chain and every rule jumping to it. */
  deleteChain(name: string): void {
    for (const [, rules] of this.chains) {
      for (let i = rules.length - 1; i >= 0; i--) if (rules[i]!.endsWith(`-j ${name}`)) rules.splice(i, 1);
    }
    this.chains.delete(name);
  }

  /** iptables-restore text of the table ('' when the plugins wrote nothing). */
  restoreText(): string {
    const used = [...this.chains.keys()];
    if (used.length === 0) return '';
    const builtins = BUILTIN.filter((c) => this.chains.has(c));
    // iptables-save lists user chains in byte order.
    const users = used.filter((c) => !BUILTIN.includes(c)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const lines = ['*nat', ...builtins.map((c) => `:${c} ACCEPT [0:0]`), ...users.map((c) => `:${c} - [0:0]`)];
    for (const c of [...builtins, ...users]) for (const r of this.chains.get(c)!) lines.push(`-A ${c} ${r}`);
    lines.push('COMMIT', '');
    return lines.join('\n');
  }
}

/** utils.MustFormatChainNameWithPrefix: "CNI-" + prefix + hex sha512(name + id), cut to 28 characters. */
export function chainName(network: string, containerId: string, prefix = ''): string {
  const hex = createHash('sha512').update(network + containerId).digest('hex');
  return `CNI-${prefix}${hex}`.slice(0, 28);
}

/** utils.FormatComment: Go's %q of both, e.g. `name: "cbr0" id: "4f..."`. */
export function ruleComment(network: string, containerId: string): string {
  return `name: ${JSON.stringify(network)} id: ${JSON.stringify(containerId)}`;
}

/** An argument as iptables-save quotes it: in double quotes with `"` and `\` escaped when it has blanks or quotes. */
export function quoteArg(text: string): string {
  return /[\s"\\]/.test(text) || text === '' ? `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"` : text;
}
