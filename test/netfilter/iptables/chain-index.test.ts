/**
 * The chain index on the rulesets it is for: kube-proxy's KUBE-SERVICES and
 * KUBE-NODEPORTS runs are indexed, a first packet's walk jumps straight to
 * its Service's rule, and rulesEvaluated still counts every rule before it
 * (the kernel's linear cost), indexed or not. ChainIndex.next is checked
 * directly on a compiled table: where it jumps, and where it must not.
 */
import { describe, expect, it } from 'vitest';
import { kubeProxyBaseRules, kubeProxyIptables, syntheticServices } from '../../../models/k8s/kube-proxy/index.js';
import { ChainIndex } from '../../../models/netfilter/iptables/chain-index.js';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import type { CompiledTable } from '../../../models/netfilter/iptables/compile.js';
import { XtPacket } from '../../../models/netfilter/iptables/xt.js';
import { compileFirstTable, conn, CtState, dev, FakeHost, nf, NfHook, NfVerdict, packet, type PacketSpec } from './helpers.js';

/** A pod in the cluster CIDR (10.128.0.0/9) but no endpoint, so KUBE-SEP's hairpin rule does not match. */
const cni0 = dev('cni0', '10.200.0.1/24');

function kubeNode(input: ReturnType<typeof syntheticServices>, chainIndex: false | undefined): IptablesRuleset {
  const r = new IptablesRuleset(chainIndex === undefined ? {} : { chainIndex });
  r.restore(kubeProxyBaseRules(), 'base.rules');
  r.restore(kubeProxyIptables(input), 'kube-proxy.rules', { noflush: true });
  return r;
}

/** KUBE-SERVICES' "-d IP ... --dport 80" rules of the nat table, in order, as "IP". */
function serviceOrder(text: string): string[] {
  const nat = text.slice(text.indexOf('*nat'));
  return [...nat.matchAll(/^-A KUBE-SERVICES .* -d (\S+) --dport 80 /gm)].map((m) => m[1]!);
}

function syn(src: string, dst: string, dport: number) {
  return nf(packet({ src, dst, proto: 'tcp', sport: 40000, dport }), { hook: NfHook.PRE_ROUTING, in: cni0, ct: conn(src, 40000, dst, dport), ctState: CtState.NEW });
}

describe('kube-proxy rulesets', () => {
  const input = syntheticServices({ services: 300, endpointsPerService: 3, nodes: 4, seed: 7 });

  it('KUBE-SERVICES is one indexed run of a rule per Service; the short chains are walked', () => {
    const r = kubeNode(input, undefined);
    expect(r.indexedRuns('nat')).toEqual([{ chain: 'KUBE-SERVICES', firstRule: 1, rules: 300 }]);
    expect(r.indexedRuns('filter')).toEqual([]);
    const np = kubeNode(syntheticServices({ services: 40, endpointsPerService: 1, nodes: 2, seed: 3, nodePorts: true }), undefined);
    expect(np.indexedRuns('nat')).toEqual([
      { chain: 'KUBE-NODEPORTS', firstRule: 1, rules: 40 },
      { chain: 'KUBE-SERVICES', firstRule: 1, rules: 40 },
    ]);
  });

  it("a first packet to the k-th Service costs k rules in KUBE-SERVICES, indexed or not, and ends at the same endpoint", () => {
    const indexed = kubeNode(input, undefined);
    const linear = kubeNode(input, false);
    const order = serviceOrder(kubeProxyIptables(input));
    expect(order).toHaveLength(300);
    order.forEach((clusterIP, k) => {
      // Draw 0.1: the first endpoint. PREROUTING's jump, k + 1 rules of
      // KUBE-SERVICES, the SVC chain's masquerade and first endpoint rules,
      // the SEP chain's masquerade and DNAT rules.
      const hi = new FakeHost(() => 0.1);
      const hl = new FakeHost(() => 0.1);
      const a = indexed.runHook('nat', syn('10.200.0.9', clusterIP, 80), hi);
      expect([a.verdict, a.rulesEvaluated]).toEqual([NfVerdict.ACCEPT, k + 6]);
      const b = linear.runHook('nat', syn('10.200.0.9', clusterIP, 80), hl);
      expect([b.verdict, b.rulesEvaluated]).toEqual([NfVerdict.ACCEPT, k + 6]);
      expect(hi.nats).toHaveLength(1);
      expect(hi.nats).toEqual(hl.nats);
    });
    // A packet for no Service walks all of KUBE-SERVICES: the jump, 300 rules, the nodeports rule, the return, the policy.
    for (const r of [indexed, linear]) {
      const miss = r.runHook('nat', syn('10.200.0.9', '10.96.0.0', 80), new FakeHost());
      expect([miss.verdict, miss.rulesEvaluated]).toEqual([NfVerdict.ACCEPT, 304]);
    }
    expect(indexed.save({ counters: true })).toBe(linear.save({ counters: true }));
  });
});

/** Compiles the first table of `text` as iptables-restore would, with the index built from runs of `minRun`. */
function compile(text: string, minRun: number, minSelectivity = 0.5): CompiledTable {
  return compileFirstTable(text, { minRun, minSelectivity });
}

function loaded(spec: PacketSpec): XtPacket {
  const x = new XtPacket();
  x.load(nf(packet(spec)), new FakeHost(), false);
  return x;
}

describe('ChainIndex.next', () => {
  // SVC: 20 ClusterIP-shaped rules for 10.96.0.1..20:80, then 10.96.0.7:80 again, then one unkeyed rule.
  const lines = ['*filter', ':SVC - [0:0]', '-A INPUT -j SVC'];
  for (let i = 1; i <= 20; i++) lines.push(`-A SVC -m comment --comment "s${i}" -m tcp -p tcp -d 10.96.0.${i} --dport 80 -j ACCEPT`);
  lines.push('-A SVC -p tcp -d 10.96.0.7 -m tcp --dport 80 -j DROP', '-A SVC -m mark --mark 0x1 -j DROP', 'COMMIT', '');
  const t = compile(lines.join('\n'), 8);
  const ix = t.index!;
  const svc = t.chainNames.indexOf('SVC');
  const start = t.chainStart[svc]!;
  const run = ix.runAt[start]!;
  const tcp = (dst: string, extra: Partial<PacketSpec> = {}) => loaded({ src: '10.200.0.9', dst, proto: 'tcp', dport: 80, ...extra });

  it('covers the 21 keyed rules, not the unkeyed one nor the tail', () => {
    expect(ix).toBeInstanceOf(ChainIndex);
    expect(ix.runs(t)).toEqual([{ chain: 'SVC', firstRule: 1, rules: 21 }]);
    expect(ix.runEnd[run]).toBe(start + 21);
    expect(ix.runAt[start + 21]).toBe(-1);
    expect(ix.runAt[t.chainEnd[svc]!]).toBe(-1);
  });

  it('jumps to the first rule with the packet\'s key at or after the entry, or to the run\'s end', () => {
    expect(ix.next(run, start, tcp('10.96.0.7'))).toBe(start + 6);
    expect(ix.next(run, start + 6, tcp('10.96.0.7'))).toBe(start + 6);
    expect(ix.next(run, start + 7, tcp('10.96.0.7'))).toBe(start + 20);
    expect(ix.next(run, start + 21 - 1, tcp('10.96.0.20'))).toBe(start + 21);
    expect(ix.next(run, start, tcp('10.96.0.20'))).toBe(start + 19);
    expect(ix.next(run, start, tcp('10.96.0.7', { dport: 81 }))).toBe(start + 21);
    expect(ix.next(run, start, tcp('10.96.0.99'))).toBe(start + 21);
    expect(ix.next(run, start, loaded({ src: '10.200.0.9', dst: '10.96.0.7', proto: 'udp', dport: 80 }))).toBe(start + 21);
    // No port to read, but no rule of the run can match ICMP either.
    expect(ix.next(run, start, loaded({ src: '10.200.0.9', dst: '10.96.0.7', proto: 'icmp' }))).toBe(start + 21);
  });

  it('does not jump when the port match would not read the port (truncated header, fragment)', () => {
    expect(ix.next(run, start + 3, tcp('10.96.0.99', { truncateTo: 20 + 8 }))).toBe(start + 3);
    expect(ix.next(run, start + 3, tcp('10.96.0.99', { fragOffset: 8 }))).toBe(start + 3);
  });

  it('a run whose rules mostly share keys is walked, not indexed', () => {
    // 40 SSH allow-list rules, one key (tcp, 22) between them, then 10 distinct keys.
    const fw = ['*filter', ':FW - [0:0]'];
    for (let i = 0; i < 40; i++) fw.push(`-A FW -s 192.168.7.${i} -p tcp -m tcp --dport 22 -j ACCEPT`);
    for (let i = 0; i < 10; i++) fw.push(`-A FW -p tcp -m tcp --dport ${8000 + i} -j ACCEPT`);
    fw.push('COMMIT', '');
    const text = fw.join('\n');
    // 11 keys for 50 rules: below 0.5 a rule, above 0.2.
    expect(compile(text, 8, 0.5).index).toBeNull();
    const t2 = compile(text, 8, 0.2);
    expect(t2.index!.runs(t2)).toEqual([{ chain: 'FW', firstRule: 1, rules: 50 }]);
  });

  it('runs shorter than minRun are not indexed', () => {
    expect(compile(lines.join('\n'), 21).index).not.toBeNull();
    expect(compile(lines.join('\n'), 22).index).toBeNull();
  });
});
