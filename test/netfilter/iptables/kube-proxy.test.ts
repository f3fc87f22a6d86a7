/**
 * The rules kube-proxy (iptables mode) writes, run as a node runs them
 * (fixtures/kube-proxy.rules): a ClusterIP's endpoints chosen by -m
 * statistic, the masquerade mark set by KUBE-MARK-MASQ and consumed by
 * KUBE-POSTROUTING, NodePorts found through -m addrtype --dst-type LOCAL,
 * ClientIP affinity through -m recent, and REJECT for a service without
 * endpoints.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import seedrandom from 'seedrandom';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import { CtStatus, type NfPacket } from '../../../models/netfilter/types.js';
import { conn, CtState, dev, FakeHost, ip, nf, NfHook, NfVerdict, packet, run } from './helpers.js';
import { formatIpv4 } from '../../../models/wire/addr.js';

const RULES = readFileSync(new URL('./fixtures/kube-proxy.rules', import.meta.url), 'utf8');
const NODE_IP = '192.168.1.10';
const eth0 = dev('eth0', `${NODE_IP}/24`);
const cni0 = dev('cni0', '10.244.1.1/24');

function node(): IptablesRuleset {
  const r = new IptablesRuleset();
  r.restore(RULES, 'kube-proxy.rules');
  return r;
}

function hostWith(draws: () => number): FakeHost {
  const h = new FakeHost(draws);
  h.types.set(ip(NODE_IP), 'LOCAL');
  h.types.set(ip('127.0.0.1'), 'LOCAL');
  return h;
}

/** A new connection's first packet arriving at PREROUTING. */
function syn(src: string, dst: string, dport: number, inDev = eth0): NfPacket {
  const pkt = packet({ src, dst, proto: 'tcp', sport: 40000 + (ip(src) & 0xff), dport });
  return nf(pkt, { hook: NfHook.PRE_ROUTING, in: inDev, ct: conn(src, 40000, dst, dport), ctState: CtState.NEW });
}

/** Where the nat table sent the connection ("10.244.1.2:8080"), or null. */
function dnatOf(host: FakeHost): string | null {
  const d = host.nats.filter((n) => n.manip === 'dst');
  if (d.length === 0) return null;
  const r = d[d.length - 1]!.range;
  return `${formatIpv4(r.minAddr)}:${r.minPort}`;
}

describe('ClusterIP with two endpoints', () => {
  it('a draw below 0.5 takes the first endpoint, any other the second', () => {
    const r = node();
    for (const [draw, want] of [
      [0.1, '10.244.1.2:8080'],
      [0.49, '10.244.1.2:8080'],
      [0.5, '10.244.2.2:8080'],
      [0.99, '10.244.2.2:8080'],
    ] as const) {
      const host = hostWith(() => draw);
      expect(run(r, 'nat', syn('10.244.1.5', '10.96.0.10', 80, cni0), host).verdict).toBe(NfVerdict.ACCEPT);
      expect(dnatOf(host)).toBe(want);
    }
  });

  it('splits connections evenly with a seeded stream, and counts them in the SEP chains', () => {
    const r = node();
    const rng = seedrandom('kube-proxy');
    const host = hostWith(() => rng());
    const n = 4000;
    for (let i = 0; i < n; i++) run(r, 'nat', syn(`10.244.1.${(i % 200) + 2}`, '10.96.0.10', 80, cni0), host);
    const web1 = r.chainCounters('nat', 'KUBE-SEP-WEB1').rules[1]!.packets;
    const web2 = r.chainCounters('nat', 'KUBE-SEP-WEB2').rules[1]!.packets;
    expect(web1 + web2).toBe(n);
    // Binomial(4000, 0.5): sd ~ 32; allow 5 sd.
    expect(Math.abs(web1 - n / 2)).toBeLessThan(160);
    expect(r.chainCounters('nat', 'KUBE-SVC-WEB').rules[1]!.packets).toBe(web1);
  });

  it('three endpoints with kube-proxy\'s 0.33333333349 / 0.5 split get a third each', () => {
    const r = new IptablesRuleset();
    r.restore(
      [
        '*nat',
        ':KUBE-SVC-3 - [0:0]',
        ':KUBE-SEP-A - [0:0]',
        ':KUBE-SEP-B - [0:0]',
        ':KUBE-SEP-C - [0:0]',
        '-A PREROUTING -d 10.96.0.3/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-3',
        '-A KUBE-SVC-3 -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-A',
        '-A KUBE-SVC-3 -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-B',
        '-A KUBE-SVC-3 -j KUBE-SEP-C',
        '-A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.244.1.10:80',
        '-A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination 10.244.1.11:80',
        '-A KUBE-SEP-C -p tcp -m tcp -j DNAT --to-destination 10.244.1.12:80',
        'COMMIT',
        '',
      ].join('\n'),
      '3.rules',
    );
    const rng = seedrandom('three');
    const host = hostWith(() => rng());
    const n = 6000;
    for (let i = 0; i < n; i++) run(r, 'nat', syn('10.244.1.5', '10.96.0.3', 80, cni0), host);
    const hits = ['KUBE-SEP-A', 'KUBE-SEP-B', 'KUBE-SEP-C'].map((c) => r.chainCounters('nat', c).rules[0]!.packets);
    expect(hits.reduce((a, b) => a + b)).toBe(n);
    // sd of each count ~ 37; allow 5 sd.
    for (const h of hits) expect(Math.abs(h - n / 3)).toBeLessThan(185);
  });

  it('the nth form alternates endpoints exactly', () => {
    const r = new IptablesRuleset();
    r.restore(RULES.replace('-m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-WEB1', '-m statistic --mode nth --every 2 --packet 0 -j KUBE-SEP-WEB1'), 'nth.rules');
    const picks = Array.from({ length: 4 }, () => {
      const host = hostWith(() => 0);
      run(r, 'nat', syn('10.244.1.5', '10.96.0.10', 80, cni0), host);
      return dnatOf(host);
    });
    expect(picks).toEqual(['10.244.1.2:8080', '10.244.2.2:8080', '10.244.1.2:8080', '10.244.2.2:8080']);
  });
});

describe('masquerade marking', () => {
  it('a client outside the pod CIDR is marked in PREROUTING and masqueraded in POSTROUTING, the mark cleared', () => {
    const r = node();
    const host = hostWith(() => 0.1);
    const p = syn('192.168.1.50', '10.96.0.10', 80);
    run(r, 'nat', p, host);
    expect(p.pkt.mark).toBe(0x4000);
    const post = { ...p, hook: NfHook.POST_ROUTING, inDev: null, outDev: cni0 };
    expect(run(r, 'nat', post, host).verdict).toBe(NfVerdict.ACCEPT);
    expect(p.pkt.mark).toBe(0);
    const snat = host.nats.find((n) => n.manip === 'src')!;
    expect([formatIpv4(snat.range.minAddr), snat.range.randomFully]).toEqual(['10.244.1.1', true]);
  });

  it('a pod client is not marked and leaves POSTROUTING unmasqueraded', () => {
    const r = node();
    const host = hostWith(() => 0.1);
    const p = syn('10.244.1.5', '10.96.0.10', 80, cni0);
    run(r, 'nat', p, host);
    expect(p.pkt.mark).toBe(0);
    run(r, 'nat', { ...p, hook: NfHook.POST_ROUTING, inDev: null, outDev: cni0 }, host);
    expect(host.nats.map((n) => n.manip)).toEqual(['dst']);
    // KUBE-POSTROUTING's first rule returned.
    expect(r.chainCounters('nat', 'KUBE-POSTROUTING').rules.map((c) => c.packets)).toEqual([1, 0, 0]);
  });
});

describe('NodePort', () => {
  it('traffic to a local address goes KUBE-SERVICES -> KUBE-NODEPORTS -> KUBE-EXT-WEB (masquerade) -> KUBE-SVC-WEB', () => {
    const r = node();
    const host = hostWith(() => 0.7);
    const p = syn('192.168.1.50', NODE_IP, 30080);
    const chains: string[] = [];
    run(r, 'nat', p, host, (s) => {
      if (s.matched && s.verdict === 'JUMP') chains.push(s.target!);
    });
    expect(chains).toEqual(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-EXT-WEB', 'KUBE-MARK-MASQ', 'KUBE-SVC-WEB', 'KUBE-SEP-WEB2']);
    expect(dnatOf(host)).toBe('10.244.2.2:8080');
    expect(p.pkt.mark).toBe(0x4000);
  });
  it('the same port on a non-local address is not a NodePort', () => {
    const r = node();
    const host = hostWith(() => 0.7);
    expect(run(r, 'nat', syn('192.168.1.50', '192.168.1.99', 30080), host).verdict).toBe(NfVerdict.ACCEPT);
    expect(host.nats).toEqual([]);
  });
});

describe('ClientIP session affinity', () => {
  it('sends a client back to the endpoint it first got, until --seconds pass', () => {
    const r = node();
    let draw = 0.9;
    const host = hostWith(() => draw);
    run(r, 'nat', syn('10.244.1.5', '10.96.0.30', 80, cni0), host);
    expect(dnatOf(host)).toBe('10.244.2.3:9090');
    draw = 0.1; // would pick AFF1 if not sticky
    host.time = 3600e9;
    run(r, 'nat', syn('10.244.1.5', '10.96.0.30', 80, cni0), host);
    expect(dnatOf(host)).toBe('10.244.2.3:9090');
    // Another client is not affected.
    run(r, 'nat', syn('10.244.1.6', '10.96.0.30', 80, cni0), host);
    expect(dnatOf(host)).toBe('10.244.1.3:9090');
    // 10800 s after the last connection the affinity is gone.
    host.time = 3600e9 + 10801e9;
    run(r, 'nat', syn('10.244.1.5', '10.96.0.30', 80, cni0), host);
    expect(dnatOf(host)).toBe('10.244.1.3:9090');
    expect(r.recent('KUBE-SEP-AFF1')!.list().map((e) => formatIpv4(e.addr))).toEqual(['10.244.1.6', '10.244.1.5']);
  });
});

describe('filter table', () => {
  it('a service without endpoints is rejected with port unreachable', () => {
    const r = node();
    const host = hostWith(() => 0);
    const p = nf(packet({ src: '10.244.1.5', dst: '10.96.0.20', proto: 'tcp', dport: 80 }), { hook: NfHook.FORWARD, in: cni0, out: eth0, ct: conn('10.244.1.5', 1, '10.96.0.20', 80), ctState: CtState.NEW });
    expect(run(r, 'filter', p, host).verdict).toBe(NfVerdict.DROP);
    expect(host.rejects).toEqual(['icmp-port-unreachable']);
  });
  it('its NodePort too (KUBE-EXTERNAL-SERVICES with --dst-type LOCAL)', () => {
    const r = node();
    const host = hostWith(() => 0);
    const p = nf(packet({ src: '192.168.1.50', dst: NODE_IP, proto: 'tcp', dport: 30020 }), { hook: NfHook.LOCAL_IN, in: eth0, ct: conn('192.168.1.50', 1, NODE_IP, 30020), ctState: CtState.NEW });
    expect(run(r, 'filter', p, host).verdict).toBe(NfVerdict.DROP);
    expect(host.rejects).toEqual(['icmp-port-unreachable']);
  });
  it('KUBE-FORWARD accepts marked and established traffic; KUBE-FIREWALL drops martian localnet traffic not DNATed', () => {
    const r = node();
    const host = hostWith(() => 0);
    const marked = nf(packet({ src: '192.168.1.50', dst: '10.244.1.2', proto: 'tcp', dport: 8080, mark: 0x4000 }), { hook: NfHook.FORWARD, in: eth0, out: cni0, ct: conn('192.168.1.50', 1, '10.96.0.10', 80, 6, { status: CtStatus.DST_NAT }), ctState: CtState.NEW });
    expect(run(r, 'filter', marked, host).verdict).toBe(NfVerdict.ACCEPT);
    expect(r.chainCounters('filter', 'KUBE-FORWARD').rules.map((c) => c.packets)).toEqual([0, 1, 0]);
    const martian = nf(packet({ src: '192.168.1.50', dst: '127.0.0.1', proto: 'tcp', dport: 10250 }), { hook: NfHook.LOCAL_IN, in: eth0, ct: conn('192.168.1.50', 1, '127.0.0.1', 10250), ctState: CtState.NEW });
    expect(run(r, 'filter', martian, host).verdict).toBe(NfVerdict.DROP);
    expect(host.rejects).toEqual([]);
  });
});
