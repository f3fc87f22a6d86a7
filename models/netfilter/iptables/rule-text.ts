/**
 * A rule as text: the iptables-save form ("-A CHAIN -s 10.0.0.0/8 -p tcp -m
 * tcp --dport 80 -j ACCEPT", options in iptables' canonical order: -s -d -i
 * -o -p -f, then each match with its options, then the target), and the
 * columns `iptables -L -v -n -x` prints (print_firewall in
 * iptables/iptables.c).
 */
import type { RuleSpec } from './ast.js';
import { listAddr, protocolName, saveAddr } from './values.js';

function coreSave(r: RuleSpec): string {
  const ip = r.ip;
  let s = '';
  const neg = (b: boolean) => (b ? ' !' : '');
  if (ip.src.mask !== 0 || ip.srcInv) s += `${neg(ip.srcInv)} -s ${saveAddr(ip.src)}`;
  if (ip.dst.mask !== 0 || ip.dstInv) s += `${neg(ip.dstInv)} -d ${saveAddr(ip.dst)}`;
  if (ip.inIface !== null) s += `${neg(ip.inInv)} -i ${ip.inIface.text}`;
  if (ip.outIface !== null) s += `${neg(ip.outInv)} -o ${ip.outIface.text}`;
  if (ip.proto !== 0) s += `${neg(ip.protoInv)} -p ${protocolName(ip.proto)}`;
  if (ip.frag) s += `${neg(ip.fragInv)} -f`;
  return s;
}

/** Everything after "-A CHAIN": what identifies a rule (-D RULESPEC compares this). */
export function ruleBody(r: RuleSpec): string {
  let s = coreSave(r);
  for (const m of r.matches) s += ` -m ${m.name}${m.save()}`;
  const t = r.target;
  switch (t.kind) {
    case 'none':
      break;
    case 'verdict':
      s += ` -j ${t.verdict}`;
      break;
    case 'jump':
      s += ` ${t.goto ? '-g' : '-j'} ${t.chain}`;
      break;
    case 'ext':
      s += ` -j ${t.ext.name}${t.ext.save()}`;
  }
  return s;
}

/** The iptables-save line without counters. */
export function saveRule(chain: string, r: RuleSpec): string {
  return `-A ${chain}${ruleBody(r)}`;
}

/** The name in -L's target column. */
export function targetColumn(r: RuleSpec): string {
  const t = r.target;
  switch (t.kind) {
    case 'none':
      return '';
    case 'verdict':
      return t.verdict;
    case 'jump':
      return t.chain;
    case 'ext':
      return t.ext.kernelName;
  }
}

/** One rule line of `iptables -L -v -n -x [--line-numbers]`. */
export function listRule(r: RuleSpec, packets: number, bytes: number, num: number | null): string {
  const ip = r.ip;
  let s = num === null ? '' : `${String(num).padEnd(4)} `;
  s += `${String(packets).padStart(8)} ${String(bytes).padStart(8)} `;
  s += `${targetColumn(r).padEnd(9)} `;
  s += ip.protoInv ? '!' : ' ';
  s += String(ip.proto).padEnd(5);
  s += `${ip.fragInv ? '!' : '-'}${ip.frag ? 'f' : '-'} `;
  const iface = (spec: typeof ip.inIface, inv: boolean) => `${inv ? '!' : ''}${spec === null ? '*' : spec.text}`;
  s += ` ${iface(ip.inIface, ip.inInv).padEnd(6)} `;
  s += `${iface(ip.outIface, ip.outInv).padEnd(6)} `;
  s += `${ip.srcInv ? '!' : ' '}${listAddr(ip.src).padEnd(19)} `;
  s += `${ip.dstInv ? '!' : ' '}${listAddr(ip.dst).padEnd(19)} `;
  if (r.target.kind === 'jump' && r.target.goto) s += '[goto] ';
  for (const m of r.matches) s += m.print();
  if (r.target.kind === 'ext') s += r.target.ext.print();
  return s;
}
