/**
 * Property: for random small rulesets (built-in INPUT plus user chains, with
 * jumps, gotos, returns, fall-through rules, MARK rewrites and matches on
 * addresses, protocol, port, interface and mark) and random packets, the
 * compiled evaluator agrees with a straightforward recursive interpreter
 * written here from iptables(8): same verdict, same per-rule and policy
 * counters. It runs twice: with the plain linear walk, and with every run
 * of keyed rules indexed (chain-index.ts, minRun 1, minSelectivity 0).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import { prefixMask } from '../../../models/wire/addr.js';
import { dev, FakeHost, ip, nf, NfVerdict, packet } from './helpers.js';

type Target =
  | { k: 'ACCEPT' | 'DROP' | 'RETURN' | 'none' }
  | { k: 'jump' | 'goto'; chain: number }
  | { k: 'mark'; value: number; mask: number };

interface Rule {
  src: { net: number; len: number; inv: boolean } | null;
  proto: { p: 'tcp' | 'udp'; inv: boolean; dport: { port: number; inv: boolean } | null } | null;
  iface: { name: string; inv: boolean } | null;
  mark: { value: number; mask: number; inv: boolean } | null;
  target: Target;
}

interface Ruleset {
  policy: 'ACCEPT' | 'DROP';
  input: Rule[];
  /** user[i] may jump only to user[j > i], so there are no loops. */
  user: Rule[][];
}

interface Pkt {
  src: string;
  proto: 'tcp' | 'udp';
  dport: number;
  inDev: string;
  mark: number;
}

const SRCS = ['10.0.0.1', '10.0.1.9', '10.1.0.5', '192.168.1.1'];
const NETS = ['10.0.0.0', '10.0.0.1', '10.1.0.0', '192.168.0.0'];
const PORTS = [53, 80, 443];
const DEVS = ['eth0', 'eth1', 'veth0'];
const MARKS = [0, 1, 2, 0x4000, 0x4001];

function ruleArb(maxChain: number, from: number): fc.Arbitrary<Rule> {
  const targets: fc.Arbitrary<Target>[] = [
    fc.constantFrom<Target>({ k: 'ACCEPT' }, { k: 'DROP' }, { k: 'RETURN' }, { k: 'none' }),
    fc.record({ k: fc.constant<'mark'>('mark'), value: fc.constantFrom(0, 1, 0x4000), mask: fc.constantFrom(0, 0x4000, 0xffffffff) }),
  ];
  if (from < maxChain) {
    targets.push(fc.record({ k: fc.constantFrom<'jump' | 'goto'>('jump', 'goto'), chain: fc.integer({ min: from, max: maxChain - 1 }) }));
  }
  return fc.record({
    src: fc.option(fc.record({ net: fc.constantFrom(...NETS.map(ip)), len: fc.constantFrom(8, 16, 24, 32), inv: fc.boolean() })),
    proto: fc.option(
      fc.record({
        p: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
        inv: fc.boolean(),
        dport: fc.option(fc.record({ port: fc.constantFrom(...PORTS), inv: fc.boolean() })),
      }),
    ),
    iface: fc.option(fc.record({ name: fc.constantFrom('eth0', 'eth+', 'veth0'), inv: fc.boolean() })),
    mark: fc.option(fc.record({ value: fc.constantFrom(0, 1, 0x4000), mask: fc.constantFrom(0x4000, 0xffffffff), inv: fc.boolean() })),
    target: fc.oneof(...targets),
  });
}

const rulesetArb: fc.Arbitrary<Ruleset> = fc.integer({ min: 0, max: 4 }).chain((nUser) =>
  fc.record({
    policy: fc.constantFrom<'ACCEPT' | 'DROP'>('ACCEPT', 'DROP'),
    input: fc.array(ruleArb(nUser, 0), { maxLength: 6 }),
    user: fc.tuple(...Array.from({ length: nUser }, (_, i) => fc.array(ruleArb(nUser, i + 1), { maxLength: 5 }))),
  }),
);

const pktArb: fc.Arbitrary<Pkt> = fc.record({
  src: fc.constantFrom(...SRCS),
  proto: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
  dport: fc.constantFrom(...PORTS),
  inDev: fc.constantFrom(...DEVS),
  mark: fc.constantFrom(...MARKS),
});

const chainName = (i: number) => `U${i}`;

function ruleText(chain: string, r: Rule): string {
  let s = `-A ${chain}`;
  if (r.src) s += `${r.src.inv ? ' !' : ''} -s ${NETS.find((n) => ip(n) === r.src!.net)}/${r.src.len}`;
  if (r.iface) s += `${r.iface.inv ? ' !' : ''} -i ${r.iface.name}`;
  if (r.proto) {
    s += `${r.proto.inv ? ' !' : ''} -p ${r.proto.p}`;
    // A port needs a positive -p (iptables loads -m tcp/udp only then).
    if (r.proto.dport && !r.proto.inv) s += ` -m ${r.proto.p}${r.proto.dport.inv ? ' !' : ''} --dport ${r.proto.dport.port}`;
  }
  if (r.mark) s += ` -m mark${r.mark.inv ? ' !' : ''} --mark ${r.mark.value}/${r.mark.mask}`;
  const t = r.target;
  if (t.k === 'jump') s += ` -j ${chainName(t.chain)}`;
  else if (t.k === 'goto') s += ` -g ${chainName(t.chain)}`;
  else if (t.k === 'mark') s += ` -j MARK --set-xmark ${t.value}/${t.mask}`;
  else if (t.k !== 'none') s += ` -j ${t.k}`;
  return s;
}

function restoreText(rs: Ruleset): string {
  const lines = ['*filter', `:INPUT ${rs.policy} [0:0]`, ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  rs.user.forEach((_, i) => lines.push(`:${chainName(i)} - [0:0]`));
  for (const r of rs.input) lines.push(ruleText('INPUT', r));
  rs.user.forEach((rules, i) => rules.forEach((r) => lines.push(ruleText(chainName(i), r))));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The reference: iptables(8) read literally, recursively. */
function reference(rs: Ruleset, pkts: Pkt[], len: (p: Pkt) => number) {
  const counts = { input: rs.input.map(() => [0, 0]), user: rs.user.map((c) => c.map(() => [0, 0])), policy: [0, 0] };
  const verdicts: string[] = [];
  for (const p of pkts) {
    let mark = p.mark;
    const bytes = len(p);
    const ruleMatches = (r: Rule): boolean => {
      if (r.src && (((ip(p.src) & prefixMask(r.src.len)) >>> 0 === ((r.src.net & prefixMask(r.src.len)) >>> 0)) === r.src.inv)) return false;
      if (r.iface) {
        const hit = r.iface.name.endsWith('+') ? p.inDev.startsWith(r.iface.name.slice(0, -1)) : p.inDev === r.iface.name;
        if (hit === r.iface.inv) return false;
      }
      if (r.proto) {
        if ((p.proto === r.proto.p) === r.proto.inv) return false;
        if (r.proto.dport && !r.proto.inv && (p.dport === r.proto.dport.port) === r.proto.dport.inv) return false;
      }
      if (r.mark && ((((mark & r.mark.mask) >>> 0) === r.mark.value) === r.mark.inv)) return false;
      return true;
    };
    /** Runs a chain; 'RETURN' means it fell off or returned. */
    const runChain = (rules: Rule[], cnt: number[][]): string => {
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i]!;
        if (!ruleMatches(r)) continue;
        cnt[i]![0]!++;
        cnt[i]![1]! += bytes;
        const t = r.target;
        if (t.k === 'ACCEPT' || t.k === 'DROP' || t.k === 'RETURN') return t.k;
        if (t.k === 'mark') mark = ((mark & ~t.mask) ^ t.value) >>> 0;
        else if (t.k === 'jump') {
          const v = runChain(rs.user[t.chain]!, counts.user[t.chain]!);
          if (v !== 'RETURN') return v;
        } else if (t.k === 'goto') return runChain(rs.user[t.chain]!, counts.user[t.chain]!);
      }
      return 'RETURN';
    };
    let v = runChain(rs.input, counts.input);
    if (v === 'RETURN') {
      counts.policy[0]!++;
      counts.policy[1]! += bytes;
      v = rs.policy;
    }
    verdicts.push(v);
  }
  return { counts, verdicts };
}

describe('compiled evaluator = reference interpreter', () => {
  it.each([
    ['linear walk', false as const],
    ['chain index', { minRun: 1, minSelectivity: 0 }],
  ])('agrees on verdicts and counters (%s)', (_name, chainIndex) => {
    const devs = new Map(DEVS.map((d) => [d, dev(d)]));
    fc.assert(
      fc.property(rulesetArb, fc.array(pktArb, { minLength: 1, maxLength: 8 }), (rs, pkts) => {
        const engine = new IptablesRuleset({ chainIndex });
        engine.restore(restoreText(rs), 'prop.rules');
        const host = new FakeHost();
        const built = pkts.map((p) => packet({ src: p.src, dst: '10.9.9.9', proto: p.proto, dport: p.dport, mark: p.mark }));
        const lens = new Map(pkts.map((p, i) => [p, built[i]!.len - 14]));
        const got = pkts.map((p, i) => {
          const v = engine.runHook('filter', nf(built[i]!, { in: devs.get(p.inDev)! }), host).verdict;
          return v === NfVerdict.ACCEPT ? 'ACCEPT' : 'DROP';
        });
        const want = reference(rs, pkts, (p) => lens.get(p)!);
        expect(got).toEqual(want.verdicts);
        const pair = (c: { packets: number; bytes: number }) => [c.packets, c.bytes];
        const input = engine.chainCounters('filter', 'INPUT');
        expect(input.rules.map(pair)).toEqual(want.counts.input);
        expect(pair(input.policy!)).toEqual(want.counts.policy);
        rs.user.forEach((_, i) => expect(engine.chainCounters('filter', chainName(i)).rules.map(pair)).toEqual(want.counts.user[i]));
      }),
      { numRuns: 300 },
    );
  });
});
