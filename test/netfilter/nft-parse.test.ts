import { describe, expect, test } from 'vitest';
import { NftError, NftRuleset } from '../../models/netfilter/nft/index.js';

const BLOCK = `
table ip t {
	comment "a table"
	set ips {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.168.0.1 }
	}

	map svc {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.1 . tcp . 443 : goto api,
			     10.96.0.10 . udp . 53 comment "dns" : jump dns }
	}

	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr . meta l4proto . th dport vmap @svc
		ip saddr != @ips counter packets 0 bytes 0 drop
	}

	chain api {
		numgen random mod 2 vmap { 0 : goto a, 1 : goto b }
	}

	chain a {
		meta l4proto tcp dnat to 10.1.0.1:6443
	}

	chain b {
		meta l4proto tcp dnat to 10.1.0.2:6443
	}

	chain dns {
		meta mark set meta mark | 0x00004000
		ip daddr 10.96.0.10 udp dport 53 ip saddr != 10.0.0.0/8 jump b comment "x y"
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00000000 return
		masquerade fully-random
	}

	chain fwd {
		type filter hook forward priority -110; policy drop;
		ct state established,related accept
		ct status dnat accept
		fib daddr type local reject with icmp host-unreachable
	}
}
`;

describe('nft -f parser', () => {
  test('a table block loads, and nft list ruleset prints it back the way nft does', () => {
    const r = new NftRuleset();
    r.load(BLOCK, 'block.nft');
    const t = r.tables.get('t')!;
    expect([...t.chains.keys()]).toEqual(['pre', 'api', 'a', 'b', 'dns', 'post', 'fwd']);
    expect(t.chains.get('pre')!.base).toEqual({ type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' });
    expect(t.chains.get('fwd')!.base!.policy).toBe('drop');
    const listed = r.list();
    expect(listed).toContain('\t\ttype nat hook prerouting priority dstnat; policy accept;\n');
    expect(listed).toContain('\t\ttype filter hook forward priority -110; policy drop;\n');
    expect(listed).toContain('\t\telements = { 10.96.0.1 . tcp . 443 : goto api,\n\t\t\t     10.96.0.10 . udp . 53 comment "dns" : jump dns }\n');
    expect(listed).toContain('\t\tip saddr != @ips counter packets 0 bytes 0 drop\n');
    expect(listed).toContain('\t\tnumgen random mod 2 vmap { 0 : goto a, 1 : goto b }\n');
    expect(listed).toContain('\t\tip daddr 10.96.0.10 udp dport 53 ip saddr != 10.0.0.0/8 jump b comment "x y"\n');
    expect(listed).toContain('\t\tfib daddr type local reject with icmp host-unreachable\n');
    // What we print, we read back to the same listing.
    const again = new NftRuleset();
    again.load(listed, 'listed.nft');
    expect(again.list()).toBe(listed);
  });

  test('knftables-style add commands (kube-proxy\'s spelling) give the canonical listing', () => {
    const r = new NftRuleset();
    r.load(
      [
        'add table ip kube-proxy { comment "rules for kube-proxy" ; }',
        'add chain ip kube-proxy mark-for-masquerade',
        'add chain ip kube-proxy masquerading',
        'add rule ip kube-proxy mark-for-masquerade mark set mark or 0x4000',
        'add rule ip kube-proxy masquerading mark and 0x4000 == 0 return',
        'add rule ip kube-proxy masquerading mark set mark xor 0x4000',
        'add set ip kube-proxy aff { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }',
        'add rule ip kube-proxy masquerading update @aff { ip saddr }',
        'add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }',
        'add rule ip kube-proxy nat-output jump masquerading',
        'add set ip kube-proxy ips { type ipv4_addr ; }',
        'add element ip kube-proxy ips { 10.0.0.1 }',
        'add element ip kube-proxy ips { 10.0.0.2, 10.0.0.3 }',
        'flush chain ip kube-proxy nat-output',
        'insert rule ip kube-proxy nat-output jump mark-for-masquerade',
      ].join('\n'),
      'tx.nft',
    );
    const listed = r.list();
    expect(listed).toContain('\tchain mark-for-masquerade {\n\t\tmeta mark set meta mark | 0x00004000\n\t}\n');
    expect(listed).toContain('\t\tmeta mark & 0x00004000 == 0x00000000 return\n\t\tmeta mark set meta mark ^ 0x00004000\n');
    expect(listed).toContain('\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n');
    expect(listed).toContain('\t\telements = { 10.0.0.1, 10.0.0.2,\n\t\t\t     10.0.0.3 }\n');
    expect(listed).toContain('\tchain nat-output {\n\t\ttype nat hook output priority -100; policy accept;\n\t\tjump mark-for-masquerade\n\t}\n');
  });

  const bad: [string, string, RegExp][] = [
    ['table ip t {\n\tchain c {\n\t\tip daddr 10.0.0.1 log prefix "x"\n\t}\n}\n', 'bad.nft:3', /unsupported statement \(at 'log'\)/],
    ['add table ip t\nadd chain ip t c\nadd rule ip t c jump nowhere\n', 'bad.nft:3', /chain nowhere does not exist/],
    ['add table ip6 t\n', 'bad.nft:1', /family ip6 is not modelled/],
    ['table ip t {\n\tchain c {\n\t\tip daddr 10.0.0.1 accept\n', 'bad.nft:4', /unterminated chain block/],
    ['table ip t {\n\tchain c {\n\t\tip daddr 10.0.0.1 accept', 'bad.nft:3', /unterminated chain block/],
    ['add table ip t\n\nadd rule ip t c accept\n', 'bad.nft:3', /No such file or directory \(chain c/],
    ['add table ip t\nadd chain ip t c\nadd rule ip t c comment "open\n', 'bad.nft:3', /unterminated string/],
    ['add table ip t\nadd set ip t s { type ipv4_addr ; }\nadd element ip t s { 10.0.0.0/8 }\n', 'bad.nft:3', /has no interval flag/],
    ['add table ip t\nadd chain ip t c\nadd rule ip t c ip daddr 10.0.0.300 accept\n', 'bad.nft:3', /Could not parse ipv4_addr \(at '10.0.0.300'\)/],
    ['add table ip t\nadd chain ip t c { type route hook output priority 0 ; }\n', 'bad.nft:2', /chain type route is not modelled/],
    ['add table ip t\nadd chain ip t c\nadd rule ip t c ip daddr @nope accept\n', 'bad.nft:3', /set nope does not exist/],
    ['add table ip t\nadd chain ip t c\nadd rule ip t c meta iifname "eth0" accept\n', 'bad.nft:3', /unsupported meta key/],
    [
      'add table ip t\nadd chain ip t f { type filter hook forward priority 0 ; }\nadd chain ip t ep\nadd rule ip t f jump ep\nadd rule ip t ep dnat to 10.0.0.1:80\n',
      'bad.nft:5',
      /dnat is only valid in nat chains at prerouting and output; chain ep is reached from filter hook forward/,
    ],
    [
      'add table ip t\nadd chain ip t p { type filter hook prerouting priority 0 ; }\nadd map ip t m { type inet_proto . inet_service : verdict ; }\nadd chain ip t r\nadd rule ip t r reject\nadd rule ip t p meta l4proto . th dport vmap @m\nadd element ip t m { tcp . 80 : goto r }\n',
      'bad.nft:5',
      /reject is only valid at the input, forward and output hooks/,
    ],
  ];
  test.each(bad)('rejects %j at its line', (text, where, reason) => {
    let err: unknown;
    try {
      new NftRuleset().load(text, 'bad.nft');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NftError);
    expect((err as Error).message.startsWith(`${where}: `)).toBe(true);
    expect((err as Error).message).toMatch(reason);
  });
});
