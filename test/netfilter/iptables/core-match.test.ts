/**
 * The matches every rule has without -m (struct ipt_ip, ip_packet_match):
 * -s/-d with masks, -i/-o with the "+" wildcard, -p, -f, each negatable.
 */
import { describe, expect, it } from 'vitest';
import { dev, matches, matchesAt, nf, packet } from './helpers.js';

const p = (src: string, dst: string, h: Parameters<typeof nf>[1] = {}, proto: 'tcp' | 'udp' | 'icmp' = 'tcp') => nf(packet({ src, dst, proto }), h);

describe('-s / -d', () => {
  it('match the address under the mask, "!" negates', () => {
    const pk = p('10.244.1.7', '10.96.0.10');
    expect(matches('-s 10.244.0.0/16', pk)).toBe(true);
    expect(matches('-s 10.245.0.0/16', pk)).toBe(false);
    expect(matches('! -s 10.244.0.0/16', pk)).toBe(false);
    expect(matches('-d 10.96.0.10', pk)).toBe(true);
    expect(matches('-d 10.96.0.11/32', pk)).toBe(false);
    expect(matches('! -d 10.96.0.11', pk)).toBe(true);
  });
  it('take dotted and non-contiguous masks', () => {
    const pk = p('10.7.2.9', '1.1.1.1');
    expect(matches('-s 10.0.2.0/255.0.255.0', pk)).toBe(true);
    expect(matches('-s 10.0.3.0/255.0.255.0', pk)).toBe(false);
  });
  it('0.0.0.0/0 matches everything', () => {
    expect(matches('-s 0.0.0.0/0', p('1.2.3.4', '5.6.7.8'))).toBe(true);
  });
});

describe('-i / -o', () => {
  const eth0 = dev('eth0');
  const veth = dev('veth1234');
  it('match the device name exactly, or a prefix with "+"', () => {
    expect(matches('-i eth0', p('1.1.1.1', '2.2.2.2', { in: eth0 }))).toBe(true);
    expect(matches('-i eth', p('1.1.1.1', '2.2.2.2', { in: eth0 }))).toBe(false);
    expect(matches('-i eth+', p('1.1.1.1', '2.2.2.2', { in: eth0 }))).toBe(true);
    expect(matches('-i veth+', p('1.1.1.1', '2.2.2.2', { in: eth0 }))).toBe(false);
    expect(matches('! -i veth+', p('1.1.1.1', '2.2.2.2', { in: eth0 }))).toBe(true);
  });
  it('a packet without an in device has the empty name', () => {
    expect(matches('-i eth+', p('1.1.1.1', '2.2.2.2', { in: null }))).toBe(false);
    expect(matches('! -i eth0', p('1.1.1.1', '2.2.2.2', { in: null }))).toBe(true);
  });
  it('-o tests the out device (FORWARD, OUTPUT, POSTROUTING)', () => {
    const fwd = p('1.1.1.1', '2.2.2.2', { in: eth0, out: veth });
    expect(matchesAt('FORWARD', '-i eth0 -o veth+', fwd)).toBe(true);
    expect(matchesAt('FORWARD', '-o eth0', fwd)).toBe(false);
    expect(matchesAt('POSTROUTING', '! -o eth0', p('1.1.1.1', '2.2.2.2', { out: veth }))).toBe(true);
  });
});

describe('-p', () => {
  it('by name or number; "all" is any', () => {
    expect(matches('-p tcp', p('1.1.1.1', '2.2.2.2'))).toBe(true);
    expect(matches('-p 6', p('1.1.1.1', '2.2.2.2'))).toBe(true);
    expect(matches('-p udp', p('1.1.1.1', '2.2.2.2'))).toBe(false);
    expect(matches('! -p udp', p('1.1.1.1', '2.2.2.2'))).toBe(true);
    expect(matches('-p all', p('1.1.1.1', '2.2.2.2', {}, 'icmp'))).toBe(true);
    expect(matches('-p ICMP', p('1.1.1.1', '2.2.2.2', {}, 'icmp'))).toBe(true);
  });
});

describe('-f', () => {
  const frag = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp', fragOffset: 1480 }));
  const first = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp', moreFragments: true }));
  it('matches second and later fragments only; "! -f" the rest', () => {
    expect(matches('-f', frag)).toBe(true);
    expect(matches('-f', first)).toBe(false);
    expect(matches('! -f', frag)).toBe(false);
    expect(matches('! -f', first)).toBe(true);
  });
  it('port matches never match a non-first fragment', () => {
    expect(matches('-p udp --dport 53', frag)).toBe(false);
    expect(matches('-p udp ! --dport 53', frag)).toBe(false);
  });
});
