/**
 * iptables-extensions(8) DNAT, SNAT, MASQUERADE, REDIRECT: each resolves a
 * range, has the host bind the connection (nf_nat_setup_info), and accepts,
 * which ends the nat chain.
 */
import { describe, expect, it } from 'vitest';
import { conn, dev, FakeHost, ip, nf, NfHook, NfVerdict, packet, run, ruleset } from './helpers.js';

const nat = (...lines: string[]) => ['*nat', ...lines, 'COMMIT', ''].join('\n');
const syn = (src: string, dst: string, dport = 80) => packet({ src, dst, proto: 'tcp', sport: 40000, dport });

describe('-j DNAT', () => {
  it('--to-destination ip:port binds the destination and ends the chain', () => {
    const host = new FakeHost();
    const r = ruleset(nat('-A PREROUTING -p tcp -j DNAT --to-destination 10.244.1.2:8080', '-A PREROUTING -j LOG'));
    expect(run(r, 'nat', nf(syn('1.1.1.1', '10.96.0.10'), { hook: NfHook.PRE_ROUTING }), host)).toEqual({ verdict: NfVerdict.ACCEPT, rulesEvaluated: 1 });
    expect(host.nats).toEqual([{ manip: 'dst', range: { minAddr: ip('10.244.1.2'), maxAddr: ip('10.244.1.2'), minPort: 8080, maxPort: 8080, random: false, randomFully: false, persistent: false } }]);
    expect(host.logs).toEqual([]);
  });
  it('address and port ranges, flags; ":port" keeps the address', () => {
    const host = new FakeHost();
    const r = ruleset(nat('-A OUTPUT -p udp -j DNAT --to-destination 10.0.0.1-10.0.0.5:53-60 --random --persistent', '-A PREROUTING -p tcp -j DNAT --to-destination :8080'));
    run(r, 'nat', nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp' }), { hook: NfHook.LOCAL_OUT }), host);
    run(r, 'nat', nf(syn('1.1.1.1', '2.2.2.2'), { hook: NfHook.PRE_ROUTING }), host);
    expect(host.nats).toEqual([
      { manip: 'dst', range: { minAddr: ip('10.0.0.1'), maxAddr: ip('10.0.0.5'), minPort: 53, maxPort: 60, random: true, randomFully: false, persistent: true } },
      { manip: 'dst', range: { minAddr: 0, maxAddr: 0, minPort: 8080, maxPort: 8080, random: false, randomFully: false, persistent: false } },
    ]);
  });
  it('a port needs -p tcp, udp, sctp or dccp', () => {
    expect(() => ruleset(nat('-A PREROUTING -j DNAT --to-destination 10.0.0.1:80'))).toThrow(/Need TCP, UDP, SCTP or DCCP with port specification/);
    expect(() => ruleset(nat('-A PREROUTING -j DNAT'))).toThrow(/--to-destination/);
  });
});

describe('-j SNAT', () => {
  it('--to-source binds the source in POSTROUTING (or INPUT)', () => {
    const host = new FakeHost();
    const r = ruleset(nat('-A POSTROUTING -o eth0 -j SNAT --to-source 192.168.1.10 --random-fully', '-A INPUT -j SNAT --to-source 10.0.0.9'));
    run(r, 'nat', nf(syn('10.244.1.2', '8.8.8.8'), { hook: NfHook.POST_ROUTING, out: dev('eth0') }), host);
    run(r, 'nat', nf(syn('8.8.8.8', '10.0.0.1'), { hook: NfHook.LOCAL_IN }), host);
    expect(host.nats.map((n) => [n.manip, n.range.minAddr, n.range.randomFully])).toEqual([
      ['src', ip('192.168.1.10'), true],
      ['src', ip('10.0.0.9'), false],
    ]);
  });
  it('is refused in PREROUTING', () => {
    expect(() => ruleset(nat('-A PREROUTING -j SNAT --to-source 1.1.1.1'))).toThrow(/SNAT target: used from hooks PREROUTING, but only usable from INPUT\/POSTROUTING/);
  });
});

describe('-j MASQUERADE', () => {
  const rules = ruleset(nat('-A POSTROUTING -j MASQUERADE --random-fully'));
  const out = (...addrs: string[]) => dev('eth0', ...addrs);
  it('takes the out device\'s address on the destination\'s subnet, else its first address', () => {
    const host = new FakeHost();
    run(rules, 'nat', nf(syn('10.244.1.2', '192.168.2.7'), { hook: NfHook.POST_ROUTING, out: out('192.168.1.10/24', '192.168.2.10/24') }), host);
    run(rules, 'nat', nf(syn('10.244.1.2', '8.8.8.8'), { hook: NfHook.POST_ROUTING, out: out('192.168.1.10/24', '192.168.2.10/24') }), host);
    expect(host.nats.map((n) => [n.manip, n.range.minAddr, n.range.maxAddr, n.range.randomFully])).toEqual([
      ['src', ip('192.168.2.10'), ip('192.168.2.10'), true],
      ['src', ip('192.168.1.10'), ip('192.168.1.10'), true],
    ]);
  });
  it('drops when the device has no address ("ate my IP address")', () => {
    const host = new FakeHost();
    expect(run(rules, 'nat', nf(syn('10.244.1.2', '8.8.8.8'), { hook: NfHook.POST_ROUTING, out: out() }), host).verdict).toBe(NfVerdict.DROP);
    expect(host.nats).toEqual([]);
  });
  it('leaves a connection from 0.0.0.0 alone', () => {
    const host = new FakeHost();
    const p = nf(syn('0.0.0.0', '8.8.8.8'), { hook: NfHook.POST_ROUTING, out: out('192.168.1.10/24'), ct: conn('0.0.0.0', 68, '255.255.255.255', 67) });
    expect(run(rules, 'nat', p, host).verdict).toBe(NfVerdict.ACCEPT);
    expect(host.nats).toEqual([]);
  });
  it('--to-ports restricts the source ports', () => {
    const host = new FakeHost();
    const r = ruleset(nat('-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-2048'));
    run(r, 'nat', nf(syn('10.244.1.2', '8.8.8.8'), { hook: NfHook.POST_ROUTING, out: out('192.168.1.10/24') }), host);
    expect([host.nats[0]!.range.minPort, host.nats[0]!.range.maxPort]).toEqual([1024, 2048]);
  });
});

describe('-j REDIRECT', () => {
  it('to the in device\'s primary address in PREROUTING, to 127.0.0.1 in OUTPUT', () => {
    const host = new FakeHost();
    const r = ruleset(nat('-A PREROUTING -p tcp -j REDIRECT --to-ports 15001', '-A OUTPUT -p tcp -j REDIRECT --to-ports 15001'));
    run(r, 'nat', nf(syn('10.244.1.2', '10.96.0.10'), { hook: NfHook.PRE_ROUTING, in: dev('eth0', '10.244.1.1/24', '10.244.9.1/24') }), host);
    run(r, 'nat', nf(syn('10.244.1.1', '10.96.0.10'), { hook: NfHook.LOCAL_OUT }), host);
    expect(host.nats.map((n) => [n.manip, n.range.minAddr, n.range.minPort])).toEqual([
      ['dst', ip('10.244.1.1'), 15001],
      ['dst', ip('127.0.0.1'), 15001],
    ]);
  });
  it('drops in PREROUTING when the in device has no address', () => {
    const r = ruleset(nat('-A PREROUTING -p tcp -j REDIRECT'));
    expect(run(r, 'nat', nf(syn('10.244.1.2', '10.96.0.10'), { hook: NfHook.PRE_ROUTING, in: dev('eth0') })).verdict).toBe(NfVerdict.DROP);
  });
});
