/**
 * `nft list ruleset` of the loaded tables: nft's layout (tabs, `elements = {
 * ... }`, priorities by name where nft names them, marks as 0x%08x) with
 * sets and maps first, then chains, each in the order they were created.
 */
import { formatIpv4 } from '../../wire/addr.js';
import type { Chain, HookName, NftSet, Rule, Statement, Table, Verdict } from './ast.js';
import { formatKeyPart, hex8 } from './values.js';

export function listRuleset(tables: Iterable<Table>): string {
  const out: string[] = [];
  for (const t of tables) out.push(listTable(t));
  return out.join('');
}

function listTable(t: Table): string {
  const parts: string[] = [];
  if (t.comment !== null) parts.push(`\tcomment ${quote(t.comment)}\n`);
  const blocks: string[] = [];
  for (const s of t.sets.values()) blocks.push(listSet(s));
  for (const c of t.chains.values()) blocks.push(listChain(c));
  return `table ip ${t.name} {\n${parts.join('')}${blocks.join('\n')}}\n`;
}

function quote(s: string): string {
  return `"${s}"`;
}

function listSet(s: NftSet): string {
  let out = `\t${s.kind} ${s.name} {\n\t\ttype ${s.keyType.join(' . ')}${s.valueType !== null ? ` : ${s.valueType}` : ''}\n`;
  // The kernel gives a dynamic set its default size, which nft then lists.
  if (s.size !== null || s.flags.includes('dynamic')) out += `\t\tsize ${s.size ?? 65535}\n`;
  if (s.flags.length > 0) out += `\t\tflags ${s.flags.join(',')}\n`;
  if (s.timeout > 0) out += `\t\ttimeout ${duration(s.timeout)}\n`;
  if (s.comment !== null) out += `\t\tcomment ${quote(s.comment)}\n`;
  if (s.elements.length > 0) {
    // Plain set elements go two to a line, map elements one.
    const per = s.kind === 'set' ? 2 : 1;
    const items = s.elements.map((e) => element(s, e));
    const lines: string[] = [];
    for (let i = 0; i < items.length; i += per) lines.push(items.slice(i, i + per).join(', '));
    out += `\t\telements = { ${lines.join(',\n\t\t\t     ')} }\n`;
  }
  return out + '\t}\n';
}

/** nft's time format: 3h, 1m30s. */
function duration(seconds: number): string {
  let out = '';
  let rest = seconds;
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= n) {
      out += `${Math.floor(rest / n)}${unit}`;
      rest %= n;
    }
  }
  return out === '' ? '0s' : out;
}

function element(s: NftSet, e: NftSet['elements'][number]): string {
  let t = e.key.map((k, i) => formatKeyPart(s.keyType[i]!, k)).join(' . ');
  if (e.comment !== undefined) t += ` comment ${quote(e.comment)}`;
  if (e.verdict !== undefined) t += ` : ${verdict(e.verdict)}`;
  return t;
}

function verdict(v: Verdict): string {
  return v.kind === 'jump' || v.kind === 'goto' ? `${v.kind} ${v.chain}` : v.kind;
}

/** nft's standard priority names (std_prios): dstnat only at prerouting, srcnat only at postrouting. */
function priorityText(hook: HookName, p: number): string {
  const names: [string, number][] = [['raw', -300], ['mangle', -150], ['filter', 0], ['security', 50]];
  if (hook === 'prerouting') names.push(['dstnat', -100]);
  if (hook === 'postrouting') names.push(['srcnat', 100]);
  for (const [n, v] of names) {
    if (p === v) return n;
  }
  // nft prints "name + n" / "name - n" within 10 of a name.
  for (const [n, v] of names) {
    const d = p - v;
    if (d !== 0 && Math.abs(d) <= 10) return `${n} ${d < 0 ? '-' : '+'} ${Math.abs(d)}`;
  }
  return String(p);
}

function listChain(c: Chain): string {
  let out = `\tchain ${c.name} {\n`;
  if (c.comment !== null) out += `\t\tcomment ${quote(c.comment)}\n`;
  if (c.base !== null) out += `\t\ttype ${c.base.type} hook ${c.base.hook} priority ${priorityText(c.base.hook, c.base.priority)}; policy ${c.base.policy};\n`;
  for (const r of c.rules) out += `\t\t${ruleText(r)}\n`;
  return out + '\t}\n';
}

export function ruleText(r: Rule): string {
  const parts = r.stmts.map(statementText);
  if (r.comment !== null) parts.push(`comment ${quote(r.comment)}`);
  return parts.join(' ');
}

function opText(op: '==' | '!='): string {
  return op === '!=' ? '!= ' : '';
}

function setLiteral(s: NftSet, literal: boolean): string {
  const items = s.elements.map((e) => element(s, e));
  return literal ? items[0]! : `{ ${items.join(', ')} }`;
}

export function statementText(s: Statement): string {
  switch (s.kind) {
    case 'match':
      // nft lists a one-element anonymous set as the bare value.
      return `${s.sel.join(' . ')} ${opText(s.op)}${setLiteral(s.set, s.literal || s.set.elements.length === 1)}`;
    case 'lookup':
      return `${s.sel.join(' . ')} ${opText(s.op)}@${s.set}`;
    case 'vmap':
      return `${s.sel.join(' . ')} vmap ${typeof s.map === 'string' ? `@${s.map}` : setLiteral(s.map, false)}`;
    case 'numgen':
      return `numgen random mod ${s.mod}${s.offset !== 0 ? ` offset ${s.offset}` : ''} vmap ${setLiteral(s.map, false)}`;
    case 'mark':
      return s.mask === null ? `meta mark ${opText(s.op)}${hex8(s.value)}` : `meta mark & ${hex8(s.mask)} ${s.op} ${hex8(s.value)}`;
    case 'fib':
      return `fib ${s.field} type ${opText(s.op)}${s.types.length > 1 ? `{ ${s.types.join(', ')} }` : s.types[0]}`;
    case 'ct state':
      return `ct state ${opText(s.op)}${s.states.join(',')}`;
    case 'ct status':
      return `ct status ${opText(s.op)}${s.statuses.join(',')}`;
    case 'counter':
      return `counter packets ${s.packets} bytes ${s.bytes}`;
    case 'mark set':
      return s.op === 'set' ? `meta mark set ${hex8(s.value)}` : `meta mark set meta mark ${{ or: '|', xor: '^', and: '&' }[s.op]} ${hex8(s.value)}`;
    case 'verdict':
      return verdict(s.verdict);
    case 'reject':
      return s.with === 'icmp-port-unreachable' ? 'reject' : s.with === 'tcp-reset' ? 'reject with tcp reset' : `reject with icmp ${s.with.slice(5)}`;
    case 'dnat':
      return `dnat to ${formatIpv4(s.addr)}${s.port !== 0 ? `:${s.port}` : ''}`;
    case 'masquerade':
      return `masquerade${s.flags.length > 0 ? ` ${s.flags.join(',')}` : ''}`;
    case 'update':
      return `update @${s.set} { ${s.sel.join(' . ')} }`;
  }
}
