import { describe, expect, test } from 'vitest';
import { randomStream } from '../../engine/rng.js';
import { NfHook, NfVerdict } from '../../models/netfilter/hooks.js';
import { Netfilter, type NetfilterCosts } from '../../models/netfilter/netfilter.js';
import type { AddrType, RejectKind } from '../../models/netfilter/types.js';
import { dev, ip, packet } from './iptables/helpers.js';
import { badChecksums, fields } from './conntrack/frames.js';

const COSTS: NetfilterCosts = { ruleNs: 100, conntrackNs: 0, natSetupNs: 0 };

/** A node's Netfilter owning `local` addresses, recording REJECTs. */
function node(text: string, local: string[] = ['192.168.0.2'], seed = 1) {
  const rejects: RejectKind[] = [];
  const nf = new Netfilter({
    now: () => 0,
    rng: randomStream(seed, 'nft-test'),
    conntrackRng: randomStream(seed, 'nft-test-ct'),
    addressType: (a): AddrType => (local.map(ip).includes(a) || a >>> 24 === 127 ? 'LOCAL' : 'UNICAST'),
    reject: (_p, kind) => rejects.push(kind),
    log: () => {},
    ipsets: new Map(),
    ruleTrace: () => undefined,
  });
  nf.costs = COSTS;
  nf.loadNft(text, 'test.nft');
  return { nf, rejects };
}

const eth0 = dev('eth0', '192.168.0.2/24');
const cni0 = dev('cni0', '10.244.1.1/24');

/** kube-proxy-like: two services behind one vmap, one with two endpoints, masquerade by mark. */
function services(n: number): string {
  const elems = [`10.96.0.10 . udp . 53 : goto svc-dns`];
  for (let i = 0; i < n; i++) elems.push(`10.97.${i >> 8}.${i & 255} . tcp . 80 : goto other`);
  return `
table ip kp {
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { ${elems.join(', ')} }
	}
	map no-endpoint-services {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.99 . tcp . 80 : goto reject-chain }
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}
	chain filter-forward {
		type filter hook forward priority -110; policy accept;
		ct state new ip daddr . meta l4proto . th dport vmap @no-endpoint-services
	}
	chain reject-chain {
		reject
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
	}
	chain other {
		meta l4proto tcp dnat to 10.244.9.9:8080
	}
	chain svc-dns {
		ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x00004000
		numgen random mod 2 vmap { 0 : goto ep-a, 1 : goto ep-b }
	}
	chain ep-a {
		meta l4proto udp dnat to 10.244.1.5:5353
	}
	chain ep-b {
		meta l4proto udp dnat to 10.244.2.5:5353
	}
}
`;
}

describe('nft evaluation at the netfilter hooks', () => {
  test('a vmap lookup sends the packet to its service chain, numgen picks each endpoint, DNAT rewrites the bytes', () => {
    const { nf } = node(services(0));
    const seen = new Set<string>();
    for (let sport = 40000; sport < 40040; sport++) {
      const pkt = packet({ src: '10.244.1.2', dst: '10.96.0.10', proto: 'udp', sport, dport: 53 });
      expect(nf.hook(NfHook.PRE_ROUTING, pkt, cni0, null)).toBe(NfVerdict.ACCEPT);
      const f = fields(pkt);
      expect(f.dport).toBe(5353);
      expect(['10.244.1.5', '10.244.2.5']).toContain(f.dst);
      expect(badChecksums(pkt)).toEqual([]);
      seen.add(f.dst);
    }
    expect(seen.size).toBe(2);
  });

  test('masquerade fires only for marked packets, with the out device address', () => {
    const { nf } = node(services(0));
    // From outside the pod range: marked in svc-dns, masqueraded at postrouting.
    const ext = packet({ src: '192.168.0.7', dst: '10.96.0.10', proto: 'udp', sport: 41000, dport: 53 });
    nf.hook(NfHook.PRE_ROUTING, ext, eth0, null);
    expect(nf.hook(NfHook.POST_ROUTING, ext, null, eth0)).toBe(NfVerdict.ACCEPT);
    expect(fields(ext).src).toBe('192.168.0.2');
    expect(ext.mark & 0x4000).toBe(0);
    // A pod: not marked, source kept.
    const pod = packet({ src: '10.244.1.2', dst: '10.96.0.10', proto: 'udp', sport: 41001, dport: 53 });
    nf.hook(NfHook.PRE_ROUTING, pod, cni0, null);
    nf.hook(NfHook.POST_ROUTING, pod, null, eth0);
    expect(fields(pod).src).toBe('10.244.1.2');
    expect(badChecksums(ext)).toEqual([]);
  });

  test('a service without endpoints is rejected at forward; other traffic passes untouched', () => {
    const { nf, rejects } = node(services(0));
    const syn = packet({ src: '10.244.1.2', dst: '10.96.0.99', proto: 'tcp', sport: 40000, dport: 80 });
    expect(nf.hook(NfHook.PRE_ROUTING, syn, cni0, null)).toBe(NfVerdict.ACCEPT);
    expect(fields(syn).dst).toBe('10.96.0.99');
    expect(nf.hook(NfHook.FORWARD, syn, cni0, eth0)).toBe(NfVerdict.DROP);
    expect(rejects).toEqual(['icmp-port-unreachable']);
    const plain = packet({ src: '10.244.1.2', dst: '10.244.2.3', proto: 'tcp', sport: 40001, dport: 80 });
    expect(nf.hook(NfHook.PRE_ROUTING, plain, cni0, null)).toBe(NfVerdict.ACCEPT);
    expect(nf.hook(NfHook.FORWARD, plain, cni0, eth0)).toBe(NfVerdict.ACCEPT);
    expect(fields(plain).dst).toBe('10.244.2.3');
  });

  test('cost: one rule per rule evaluated, so the vmap path does not grow with the number of services', () => {
    const cost = (n: number): number => {
      const { nf } = node(services(n));
      const pkt = packet({ src: '10.244.1.2', dst: '10.96.0.10', proto: 'udp', sport: 40000, dport: 53 });
      nf.hook(NfHook.PRE_ROUTING, pkt, cni0, null);
      return nf.lastCostNs;
    };
    // nat-prerouting: jump (1), services vmap (1), svc-dns: mark rule (1), numgen (1), ep: dnat (1).
    expect(cost(0)).toBe(5 * COSTS.ruleNs);
    expect(cost(5000)).toBe(cost(0));
  });

  test('the same seed draws the same endpoints', () => {
    const run = (seed: number) => {
      const { nf } = node(services(0), undefined, seed);
      const out: string[] = [];
      for (let sport = 40000; sport < 40016; sport++) {
        const pkt = packet({ src: '10.244.1.2', dst: '10.96.0.10', proto: 'udp', sport, dport: 53 });
        nf.hook(NfHook.PRE_ROUTING, pkt, cni0, null);
        out.push(fields(pkt).dst);
      }
      return out.join(' ');
    };
    expect(run(7)).toBe(run(7));
  });

  test('ct state, fib, mark and anonymous sets', () => {
    const { nf } = node(`
table ip f {
	chain in {
		type filter hook input priority 0; policy drop;
		ct state invalid drop
		fib daddr type != local drop
		meta mark 0x00000007 accept
		ip saddr { 10.0.0.0/8, 172.16.0.1 } tcp dport { 22, 80-90 } accept
	}
}
`);
    // Conntrack (loaded for `ct state`) sees each packet at prerouting first.
    const mk = (src: string, dport: number, mark = 0, dst = '192.168.0.2') => {
      const pkt = packet({ src, dst, proto: 'tcp', sport: 40000 + dport, dport, mark });
      nf.hook(NfHook.PRE_ROUTING, pkt, eth0, null);
      return pkt;
    };
    expect(nf.conntrack).not.toBeNull();
    expect(nf.hook(NfHook.LOCAL_IN, mk('10.1.2.3', 22), eth0, null)).toBe(NfVerdict.ACCEPT);
    expect(nf.hook(NfHook.LOCAL_IN, mk('10.1.2.3', 85), eth0, null)).toBe(NfVerdict.ACCEPT);
    expect(nf.hook(NfHook.LOCAL_IN, mk('10.1.2.3', 91), eth0, null)).toBe(NfVerdict.DROP);
    expect(nf.hook(NfHook.LOCAL_IN, mk('172.16.0.1', 80), eth0, null)).toBe(NfVerdict.ACCEPT);
    expect(nf.hook(NfHook.LOCAL_IN, mk('172.16.0.2', 80), eth0, null)).toBe(NfVerdict.DROP);
    expect(nf.hook(NfHook.LOCAL_IN, mk('172.16.0.2', 80, 7), eth0, null)).toBe(NfVerdict.ACCEPT);
    expect(nf.hook(NfHook.LOCAL_IN, mk('10.1.2.3', 22, 0, '192.168.0.9'), eth0, null)).toBe(NfVerdict.DROP);
    // Never seen by conntrack: ct state reads invalid.
    expect(nf.hook(NfHook.LOCAL_IN, packet({ src: '10.1.2.3', dst: '192.168.0.2', proto: 'tcp', sport: 1, dport: 22 }), eth0, null)).toBe(NfVerdict.DROP);
  });
});
