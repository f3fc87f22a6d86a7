/**
 * Property: the chain index (chain-index.ts) changes nothing but wall-clock
 * time. Random kube-proxy-like tables (INPUT jumping to a SVC chain of rules
 * keyed by destination, protocol and port, some keyed partly or not at all,
 * with negations, ranges, masks, matches with side effects before and after
 * the port match, jumps to a leaf chain, MARK rewrites) and
 * random packets (including truncated headers and fragments, which make the
 * port matches hotdrop or fail) run through one ruleset indexed with a small
 * minRun and one with indexing off: same verdict, same rulesEvaluated, same
 * mark, same random draws, and the same counters of every rule and policy.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import { dev, FakeHost, ip, nf, packet, type PacketSpec } from './helpers.js';

type Target = 'ACCEPT' | 'DROP' | 'RETURN' | 'none' | 'mark' | 'jump' | 'goto';
type Pre = 'comment' | 'addrtype' | 'mark' | 'nth';
type Post = 'nth' | 'random' | 'src' | 'comment';

interface Rule {
  dst: { addr: string; len: 32 | 24; inv: boolean } | null;
  proto: { p: 'tcp' | 'udp'; inv: boolean } | null;
  port: { lo: number; hi: number; inv: boolean } | null;
  pre: Pre[];
  post: Post | null;
  target: Target;
}

interface Tables {
  policy: 'ACCEPT' | 'DROP';
  input: Rule[];
  svc: Rule[];
  leaf: Rule[];
  minRun: number;
}

const DSTS = ['10.96.0.1', '10.96.0.2', '10.96.0.3', '10.96.1.7'];
/** 10.96.0.2 is LOCAL to the host (for -m addrtype); 10.96.9.9 is in no rule. */
const PKT_DSTS = [...DSTS, '10.96.9.9'];
const PORTS = [53, 80, 443];
const DEVS = ['eth0', 'cni0'];

function ruleArb(targets: Target[]): fc.Arbitrary<Rule> {
  return fc
    .record({
      dst: fc.option(
        fc.record({ addr: fc.constantFrom(...DSTS), len: fc.constantFrom<32 | 24>(32, 32, 32, 24) }),
        { freq: 4 },
      ),
      dstInv: fc.integer({ min: 0, max: 9 }),
      proto: fc.option(fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'), { freq: 5 }),
      protoInv: fc.integer({ min: 0, max: 9 }),
      port: fc.option(
        fc.record({ lo: fc.constantFrom(...PORTS), span: fc.constantFrom(0, 0, 0, 0, 400), inv: fc.integer({ min: 0, max: 9 }) }),
        { freq: 4 },
      ),
      pre: fc.array(fc.constantFrom<Pre>('comment', 'comment', 'addrtype', 'mark', 'nth'), { maxLength: 2 }),
      post: fc.option(fc.constantFrom<Post>('nth', 'random', 'src', 'comment'), { freq: 2 }),
      target: fc.constantFrom(...targets),
    })
    .map(({ dst, dstInv, proto, protoInv, port, pre, post, target }) => {
      // Negations are rare (1 in 10), as in kube-proxy's rules.
      const p = proto === null ? null : { p: proto, inv: protoInv === 0 };
      return {
        dst: dst === null ? null : { addr: dst.addr, len: dst.len, inv: dstInv === 0 },
        proto: p,
        // A port match needs a positive -p.
        port: p === null || p.inv || port === null ? null : { lo: port.lo, hi: port.lo + port.span, inv: port.inv === 0 },
        pre,
        post,
        target,
      };
    });
}

const tablesArb: fc.Arbitrary<Tables> = fc.record({
  policy: fc.constantFrom<'ACCEPT' | 'DROP'>('ACCEPT', 'DROP'),
  input: fc.array(ruleArb(['ACCEPT', 'DROP', 'none', 'mark', 'jump', 'goto']), { maxLength: 3 }),
  svc: fc.array(ruleArb(['ACCEPT', 'DROP', 'RETURN', 'none', 'mark', 'jump', 'jump', 'goto']), { minLength: 1, maxLength: 14 }),
  leaf: fc.array(ruleArb(['ACCEPT', 'DROP', 'RETURN', 'none', 'mark']), { maxLength: 4 }),
  minRun: fc.constantFrom(1, 2, 3),
});

interface Pkt {
  src: string;
  dst: string;
  proto: 'tcp' | 'udp' | 'icmp';
  dport: number;
  inDev: string;
  mark: number;
  /** Truncated transport header, or a fragment (offset in bytes). */
  damage: 'none' | 'truncated' | 'frag8' | 'frag16';
}

const pktArb: fc.Arbitrary<Pkt> = fc.record({
  src: fc.constantFrom('10.0.0.1', '10.244.1.5'),
  dst: fc.constantFrom(...PKT_DSTS),
  proto: fc.constantFrom<'tcp' | 'udp' | 'icmp'>('tcp', 'tcp', 'udp', 'icmp'),
  dport: fc.constantFrom(...PORTS, 8080),
  inDev: fc.constantFrom(...DEVS),
  mark: fc.constantFrom(0, 1),
  damage: fc.constantFrom<Pkt['damage']>('none', 'none', 'none', 'none', 'truncated', 'frag8', 'frag16'),
});

function ruleText(chain: string, r: Rule, jumpTo: string): string {
  let s = `-A ${chain}`;
  if (r.dst) s += `${r.dst.inv ? ' !' : ''} -d ${r.dst.addr}/${r.dst.len}`;
  if (r.proto) s += `${r.proto.inv ? ' !' : ''} -p ${r.proto.p}`;
  for (const m of r.pre) {
    if (m === 'comment') s += ' -m comment --comment "ns/svc:p cluster IP"';
    else if (m === 'addrtype') s += ' -m addrtype --dst-type LOCAL';
    else if (m === 'mark') s += ' -m mark --mark 0x1/0x1';
    // Counts every packet that reaches it: a rule with it before the port match cannot be skipped by port.
    else s += ' -m statistic --mode nth --every 3 --packet 1';
  }
  if (r.port) s += ` -m ${r.proto!.p}${r.port.inv ? ' !' : ''} --dport ${r.port.lo === r.port.hi ? r.port.lo : `${r.port.lo}:${r.port.hi}`}`;
  if (r.post === 'nth') s += ' -m statistic --mode nth --every 2 --packet 0';
  else if (r.post === 'random') s += ' -m statistic --mode random --probability 0.5000000000';
  else if (r.post === 'src') s += ' ! -s 10.244.0.0/16';
  else if (r.post === 'comment') s += ' -m comment --comment x';
  switch (r.target) {
    case 'none':
      break;
    case 'mark':
      s += ' -j MARK --set-xmark 0x2/0x2';
      break;
    case 'jump':
      s += ` -j ${jumpTo}`;
      break;
    case 'goto':
      s += ` -g ${jumpTo}`;
      break;
    default:
      s += ` -j ${r.target}`;
  }
  return s;
}

function restoreText(t: Tables): string {
  const lines = ['*filter', `:INPUT ${t.policy} [0:0]`, ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':SVC - [0:0]', ':LEAF - [0:0]'];
  for (const r of t.input) lines.push(ruleText('INPUT', r, 'LEAF'));
  lines.push('-A INPUT -j SVC');
  for (const r of t.svc) lines.push(ruleText('SVC', r, 'LEAF'));
  for (const r of t.leaf) lines.push(ruleText('LEAF', r, 'LEAF'));
  lines.push('COMMIT', '');
  return lines.join('\n');
}

function build(p: Pkt): PacketSpec {
  const s: PacketSpec = { src: p.src, dst: p.dst, proto: p.proto, sport: 40000, dport: p.dport, mark: p.mark };
  if (p.damage === 'truncated') s.truncateTo = 20 + 4;
  else if (p.damage === 'frag8') s.fragOffset = 8;
  else if (p.damage === 'frag16') s.fragOffset = 16;
  return s;
}

function host(seed: string): FakeHost {
  const h = new FakeHost(seedrandom(seed));
  h.types.set(ip('10.96.0.2'), 'LOCAL');
  return h;
}

describe('indexed chains = linear walk', () => {
  it('agree on verdicts, rulesEvaluated, marks, draws and counters', () => {
    const devs = new Map(DEVS.map((d) => [d, dev(d)]));
    let indexedRules = 0;
    let runs = 0;
    fc.assert(
      fc.property(tablesArb, fc.array(pktArb, { minLength: 1, maxLength: 12 }), fc.integer(), (t, pkts, seed) => {
        const text = restoreText(t);
        // Every run indexed, however few its distinct keys: the generator repeats keys on purpose.
        const indexed = new IptablesRuleset({ chainIndex: { minRun: t.minRun, minSelectivity: 0 } });
        const linear = new IptablesRuleset({ chainIndex: false });
        indexed.restore(text, 'prop.rules');
        linear.restore(text, 'prop.rules');
        expect(linear.indexedRuns('filter')).toEqual([]);
        for (const r of indexed.indexedRuns('filter')) {
          expect(r.rules).toBeGreaterThanOrEqual(t.minRun);
          indexedRules += r.rules;
          runs++;
        }
        const hi = host(`s${seed}`);
        const hl = host(`s${seed}`);
        for (const p of pkts) {
          const a = packet(build(p));
          const b = packet(build(p));
          const ra = indexed.runHook('filter', nf(a, { in: devs.get(p.inDev)! }), hi);
          const got = { verdict: ra.verdict, rulesEvaluated: ra.rulesEvaluated, mark: a.mark };
          const rb = linear.runHook('filter', nf(b, { in: devs.get(p.inDev)! }), hl);
          expect(got).toEqual({ verdict: rb.verdict, rulesEvaluated: rb.rulesEvaluated, mark: b.mark });
        }
        expect(hi.draws).toEqual(hl.draws);
        expect(indexed.save({ counters: true })).toBe(linear.save({ counters: true }));
      }),
      { numRuns: 400 },
    );
    // The index was really there: most tables had runs in SVC (and LEAF).
    expect(runs).toBeGreaterThan(300);
    expect(indexedRules).toBeGreaterThan(1000);
  });
});
