/**
 * iptables-extensions(8) recent: a per-namespace list of addresses with the
 * times they were seen. kube-proxy's ClientIP session affinity sets the
 * client in KUBE-SEP-X and checks it with --rcheck --seconds --reap.
 */
import { describe, expect, it } from 'vitest';
import { IP_LIST_TOT } from '../../../models/netfilter/iptables/index.js';
import { FakeHost, filter, ip, nf, NfVerdict, packet, run, ruleset } from './helpers.js';

const S = 1e9;
const from = (src: string, ttl = 64) => nf(packet({ src, dst: '10.0.0.1', ttl }));

describe('-m recent', () => {
  it('--set adds the source and matches; --rcheck matches a listed address', () => {
    const r = ruleset(filter('-A INPUT -p tcp -m recent --set --name seen', '-A INPUT -m recent --rcheck --name seen -j DROP'));
    const host = new FakeHost();
    expect(run(r, 'filter', from('1.1.1.1'), host).verdict).toBe(NfVerdict.ACCEPT);
    r.restore(filter('-A INPUT -m recent --set --name seen', '-A INPUT -m recent --rcheck --name seen -j DROP'), 'x');
    expect(run(r, 'filter', from('1.1.1.1'), host).verdict).toBe(NfVerdict.DROP);
    expect(r.recent('seen')!.list().map((e) => e.addr)).toEqual([ip('1.1.1.1')]);
  });

  it('--seconds only counts recent stamps; --hitcount needs that many', () => {
    const r = ruleset(filter(':S - [0:0]', '-A S -m recent --set --name L', '-A INPUT -p udp -j S', '-A INPUT -m recent --rcheck --seconds 10 --hitcount 2 --name L -j DROP'));
    const host = new FakeHost();
    const udp = () => nf(packet({ src: '2.2.2.2', dst: '10.0.0.1', proto: 'udp' }));
    const icmp = () => from('2.2.2.2');
    run(r, 'filter', udp(), host); // stamp at t=0
    expect(run(r, 'filter', icmp(), host).verdict).toBe(NfVerdict.ACCEPT); // one hit < 2
    host.time = 5 * S;
    run(r, 'filter', udp(), host); // stamp at 5 s
    expect(run(r, 'filter', icmp(), host).verdict).toBe(NfVerdict.DROP);
    host.time = 12 * S; // the t=0 stamp is now older than 10 s
    expect(run(r, 'filter', icmp(), host).verdict).toBe(NfVerdict.ACCEPT);
  });

  it('--update refreshes the stamp when it matches; --remove deletes the entry', () => {
    const host = new FakeHost();
    const r = ruleset(filter('-A INPUT -p udp -m recent --set --name L', '-A INPUT -p icmp -m recent --update --seconds 10 --name L -j DROP', '-A INPUT -p tcp -m recent --remove --name L'));
    run(r, 'filter', nf(packet({ src: '3.3.3.3', dst: '10.0.0.1', proto: 'udp' })), host);
    for (const t of [8, 16, 24]) {
      host.time = t * S;
      expect(run(r, 'filter', from('3.3.3.3'), host).verdict).toBe(NfVerdict.DROP);
    }
    run(r, 'filter', nf(packet({ src: '3.3.3.3', dst: '10.0.0.1', proto: 'tcp' })), host);
    expect(r.recent('L')!.entries).toBe(0);
    expect(run(r, 'filter', from('3.3.3.3'), host).verdict).toBe(NfVerdict.ACCEPT);
  });

  it('--reap drops the oldest entry once it is older than --seconds', () => {
    const host = new FakeHost();
    const r = ruleset(filter('-A INPUT -p udp -m recent --set --name L', '-A INPUT -p icmp -m recent --rcheck --seconds 10 --reap --name L -j DROP'));
    run(r, 'filter', nf(packet({ src: '4.4.4.4', dst: '10.0.0.1', proto: 'udp' })), host);
    host.time = 1 * S;
    run(r, 'filter', nf(packet({ src: '5.5.5.5', dst: '10.0.0.1', proto: 'udp' })), host);
    host.time = 20 * S;
    run(r, 'filter', from('5.5.5.5'), host);
    expect(r.recent('L')!.list().map((e) => e.addr)).toEqual([ip('5.5.5.5')]);
  });

  it('--rdest keys by destination; --mask groups addresses', () => {
    const host = new FakeHost();
    const r = ruleset(filter('-A INPUT -p udp -m recent --set --name D --rdest', '-A INPUT -p udp -m recent --set --name M --mask 255.255.255.0', '-A INPUT -p icmp -m recent --rcheck --name M --mask 255.255.255.0 -j DROP'));
    run(r, 'filter', nf(packet({ src: '6.6.6.6', dst: '10.0.0.1', proto: 'udp' })), host);
    expect(r.recent('D')!.list()[0]!.addr).toBe(ip('10.0.0.1'));
    expect(r.recent('M')!.list()[0]!.addr).toBe(ip('6.6.6.0'));
    expect(run(r, 'filter', from('6.6.6.77'), host).verdict).toBe(NfVerdict.DROP);
  });

  it('--rttl also requires the TTL to match', () => {
    const host = new FakeHost();
    const r = ruleset(filter('-A INPUT -p udp -m recent --set --name T', '-A INPUT -p icmp -m recent --rcheck --rttl --name T -j DROP'));
    run(r, 'filter', nf(packet({ src: '7.7.7.7', dst: '10.0.0.1', proto: 'udp', ttl: 60 })), host);
    expect(run(r, 'filter', from('7.7.7.7', 61), host).verdict).toBe(NfVerdict.ACCEPT);
    expect(run(r, 'filter', from('7.7.7.7', 60), host).verdict).toBe(NfVerdict.DROP);
  });

  it('"!" inverts the command', () => {
    const r = ruleset(filter('-A INPUT -m recent ! --rcheck --name N -j DROP'));
    expect(run(r, 'filter', from('8.8.8.8')).verdict).toBe(NfVerdict.DROP);
  });

  it('keeps at most ip_list_tot addresses, evicting the least recently seen', () => {
    const r = ruleset(filter('-A INPUT -m recent --set --name BIG'));
    for (let i = 0; i <= IP_LIST_TOT; i++) run(r, 'filter', from(`10.1.${i >> 8}.${i & 255}`));
    const t = r.recent('BIG')!;
    expect(t.entries).toBe(IP_LIST_TOT);
    expect(t.list()[0]!.addr).toBe(ip('10.1.0.1'));
  });

  it('lists survive reloading rules that still use them, and go with the last rule', () => {
    const rules = filter('-A INPUT -m recent --set --name KEEP');
    const r = ruleset(rules);
    run(r, 'filter', from('9.9.9.9'));
    r.restore(rules, 'again');
    expect(r.recent('KEEP')!.entries).toBe(1);
    r.restore(filter(), 'none');
    expect(r.recent('KEEP')).toBeUndefined();
  });

  it('checks its options as the kernel does', () => {
    expect(() => ruleset(filter('-A INPUT -m recent --name X'))).toThrow(/you must specify one of/);
    expect(() => ruleset(filter('-A INPUT -m recent --set --rcheck'))).toThrow(/only one of/);
    expect(() => ruleset(filter('-A INPUT -m recent --set --seconds 5'))).toThrow(/cannot be combined/);
    expect(() => ruleset(filter('-A INPUT -m recent --rcheck --reap'))).toThrow(/--reap requires --seconds/);
    expect(() => ruleset(filter('-A INPUT -m recent --rcheck --hitcount 21'))).toThrow(/hitcount \(21\) is larger than packets to be remembered \(20\)/);
  });
});
