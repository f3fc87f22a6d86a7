/**
 * ipt_do_table as iptables(8) describes it: rules in order, the first
 * terminating target decides; -j pushes a return point, -g does not, RETURN
 * (or the end of a user chain) pops it, and an empty stack falls to the
 * built-in chain's policy, which counts the packet. Counters add one packet
 * and skb->len bytes (the IP datagram) per matched rule.
 */
import { describe, expect, it } from 'vitest';
import { IptablesRuleset, type IptTraceStep } from '../../../models/netfilter/iptables/index.js';
import { dev, FakeHost, filter, nf, NfHook, NfVerdict, packet, run, ruleset } from './helpers.js';

const tcp80 = () => nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', dport: 80 }));
/** 20 IP + 20 TCP */
const TCP_LEN = 40;

describe('verdicts, jumps, gotos, returns, policies', () => {
  it('the first matching terminal rule decides; later rules are not evaluated', () => {
    const r = ruleset(filter('-A INPUT -p udp -j DROP', '-A INPUT -p tcp -j ACCEPT', '-A INPUT -j DROP'));
    expect(run(r, 'filter', tcp80())).toEqual({ verdict: NfVerdict.ACCEPT, rulesEvaluated: 2 });
    expect(r.chainCounters('filter', 'INPUT').rules).toEqual([
      { packets: 0, bytes: 0 },
      { packets: 1, bytes: TCP_LEN },
      { packets: 0, bytes: 0 },
    ]);
  });

  it('falling off a built-in chain applies (and counts) the policy', () => {
    const r = ruleset(filter('-A INPUT -p udp -j ACCEPT').replace(':INPUT ACCEPT', ':INPUT DROP'));
    expect(run(r, 'filter', tcp80())).toEqual({ verdict: NfVerdict.DROP, rulesEvaluated: 2 });
    expect(r.chainCounters('filter', 'INPUT').policy).toEqual({ packets: 1, bytes: TCP_LEN });
  });

  it('a rule without -j only counts', () => {
    const r = ruleset(filter('-A INPUT -p tcp', '-A INPUT -p tcp'));
    expect(run(r, 'filter', tcp80()).verdict).toBe(NfVerdict.ACCEPT);
    expect(r.chainCounters('filter', 'INPUT').rules.map((c) => c.packets)).toEqual([1, 1]);
  });

  it('-j returns after the user chain ends; RETURN returns early', () => {
    const r = ruleset(filter(':A - [0:0]', '-A INPUT -j A', '-A INPUT -j DROP', '-A A -p udp -j ACCEPT', '-A A -p tcp -j RETURN', '-A A -j ACCEPT'));
    expect(run(r, 'filter', tcp80())).toEqual({ verdict: NfVerdict.DROP, rulesEvaluated: 4 });
    expect(r.chainCounters('filter', 'A').rules.map((c) => c.packets)).toEqual([0, 1, 0]);
  });

  it('-g does not push: the goto target returns to the caller of the chain that jumped', () => {
    const rules = filter(':A - [0:0]', ':B - [0:0]', '-A INPUT -j A', '-A INPUT -j DROP', '-A A -g B', '-A A -j ACCEPT', '-A B -p tcp');
    const r = ruleset(rules);
    // INPUT -> A -goto-> B (falls off) -> back in INPUT after "-j A" -> DROP; A's "-j ACCEPT" never runs.
    expect(run(r, 'filter', tcp80()).verdict).toBe(NfVerdict.DROP);
    expect(r.chainCounters('filter', 'A').rules.map((c) => c.packets)).toEqual([1, 0]);
    // The same with -j instead of -g reaches A's ACCEPT.
    const j = ruleset(rules.replace('-A A -g B', '-A A -j B'));
    expect(run(j, 'filter', tcp80()).verdict).toBe(NfVerdict.ACCEPT);
  });

  it('RETURN in a built-in chain goes to the policy (the underflow entry)', () => {
    const r = ruleset(filter('-A INPUT -j RETURN', '-A INPUT -j ACCEPT').replace(':INPUT ACCEPT', ':INPUT DROP'));
    expect(run(r, 'filter', tcp80())).toEqual({ verdict: NfVerdict.DROP, rulesEvaluated: 2 });
    expect(r.chainCounters('filter', 'INPUT').policy!.packets).toBe(1);
  });

  it('a goto from a built-in chain ends in the policy when the target chain returns', () => {
    const r = ruleset(filter(':A - [0:0]', '-A INPUT -g A', '-A INPUT -j ACCEPT', '-A A -j RETURN').replace(':INPUT ACCEPT', ':INPUT DROP'));
    expect(run(r, 'filter', tcp80()).verdict).toBe(NfVerdict.DROP);
  });

  it('nested jumps unwind in order', () => {
    const r = ruleset(filter(':A - [0:0]', ':B - [0:0]', ':C - [0:0]', '-A INPUT -j A', '-A INPUT -j ACCEPT', '-A A -j B', '-A A -j DROP', '-A B -j C', '-A C -j RETURN'));
    // C returns to B, B ends and returns to A, A drops.
    expect(run(r, 'filter', tcp80())).toEqual({ verdict: NfVerdict.DROP, rulesEvaluated: 6 });
  });

  it('bytes are the IP datagram length', () => {
    const r = ruleset(filter('-A INPUT -p udp'));
    run(r, 'filter', nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp', payload: 100 })));
    expect(r.chainCounters('filter', 'INPUT').rules[0]).toEqual({ packets: 1, bytes: 20 + 8 + 100 });
  });

  it('zeroCounters clears rules and policies', () => {
    const r = ruleset(filter('-A INPUT -p tcp'));
    run(r, 'filter', tcp80());
    r.zeroCounters();
    expect(r.chainCounters('filter', 'INPUT')).toEqual({ policy: { packets: 0, bytes: 0 }, rules: [{ packets: 0, bytes: 0 }] });
  });

  it('counters survive a --noflush restore of the same table', () => {
    const r = ruleset(filter('-A INPUT -p tcp'));
    run(r, 'filter', tcp80());
    r.restore('*filter\n-A INPUT -p udp\nCOMMIT\n', 'more', { noflush: true });
    run(r, 'filter', tcp80());
    expect(r.chainCounters('filter', 'INPUT').rules.map((c) => c.packets)).toEqual([2, 0]);
  });

  it('a table never restored accepts without evaluating', () => {
    const r = new IptablesRuleset();
    expect(run(r, 'nat', tcp80())).toEqual({ verdict: NfVerdict.ACCEPT, rulesEvaluated: 0 });
  });

  it('a hook the table does not have is a caller error', () => {
    const r = ruleset(filter());
    expect(() => r.runHook('filter', nf(packet({ src: '1.1.1.1', dst: '2.2.2.2' }), { hook: NfHook.PRE_ROUTING }), new FakeHost())).toThrow(/no PREROUTING chain/);
  });
});

describe('trace steps', () => {
  it('report table, chain, rule number, rule text, match, verdict and jump target', () => {
    const r = ruleset(filter(':A - [0:0]', '-A INPUT -p udp -j DROP', '-A INPUT -j A', '-A A -p tcp -m tcp --dport 80 -j ACCEPT'));
    const steps: IptTraceStep[] = [];
    run(r, 'filter', tcp80(), new FakeHost(), (s) => steps.push(s));
    expect(steps).toEqual([
      { table: 'filter', chain: 'INPUT', ruleNum: 1, kind: 'rule', rule: '-A INPUT -p udp -j DROP', matched: false, verdict: null, target: null },
      { table: 'filter', chain: 'INPUT', ruleNum: 2, kind: 'rule', rule: '-A INPUT -j A', matched: true, verdict: 'JUMP', target: 'A' },
      { table: 'filter', chain: 'A', ruleNum: 1, kind: 'rule', rule: '-A A -p tcp -m tcp --dport 80 -j ACCEPT', matched: true, verdict: 'ACCEPT', target: null },
    ]);
  });

  it('report the implicit return of a user chain and the policy', () => {
    const r = ruleset(filter(':A - [0:0]', '-A INPUT -j A'));
    const steps: IptTraceStep[] = [];
    run(r, 'filter', tcp80(), new FakeHost(), (s) => steps.push(s));
    expect(steps.map((s) => [s.chain, s.ruleNum, s.kind, s.verdict])).toEqual([
      ['INPUT', 1, 'rule', 'JUMP'],
      ['A', 1, 'return', 'RETURN'],
      ['INPUT', 2, 'policy', 'ACCEPT'],
    ]);
    expect(steps[2]!.rule).toBe('-P INPUT ACCEPT');
  });
});

describe('hotdrop', () => {
  it('a TCP header cut short ends the traversal with DROP (tcp_mt: "evil TCP offset=0 tinygram")', () => {
    const r = ruleset(filter('-A INPUT -p tcp --dport 80 -j ACCEPT', '-A INPUT -j ACCEPT'));
    const p = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'tcp', dport: 80, truncateTo: 30 }), { in: dev('eth0') });
    expect(run(r, 'filter', p)).toEqual({ verdict: NfVerdict.DROP, rulesEvaluated: 1 });
  });
});
