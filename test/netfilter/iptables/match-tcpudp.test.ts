/**
 * iptables-extensions(8): tcp (--sport, --dport, --tcp-flags, --syn,
 * --tcp-option), udp and sctp ports. "-p tcp --dport" loads -m tcp
 * implicitly.
 */
import { describe, expect, it } from 'vitest';
import { matches, nf, NfVerdict, packet, run, ruleset, filter } from './helpers.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../../../models/wire/tcp.js';
import { IPPROTO_TCP } from '../../../models/wire/ipv4.js';

const tcp = (sport: number, dport: number, flags = TCP_SYN, mss?: number) =>
  nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport, dport, flags, ...(mss !== undefined ? { tcpOptions: { mss } } : {}) }));
const udp = (sport: number, dport: number) => nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', sport, dport }));

describe('tcp / udp ports', () => {
  it('--dport and --sport take a port or a range "first:last"', () => {
    expect(matches('-p tcp --dport 80', tcp(40000, 80))).toBe(true);
    expect(matches('-p tcp --dport 81', tcp(40000, 80))).toBe(false);
    expect(matches('-p tcp --dport 79:81', tcp(40000, 80))).toBe(true);
    expect(matches('-p tcp --sport 1024:', tcp(40000, 80))).toBe(true);
    expect(matches('-p tcp --sport :1023', tcp(40000, 80))).toBe(false);
    expect(matches('-p tcp -m tcp --source-port 40000 --destination-port 80', tcp(40000, 80))).toBe(true);
  });
  it('"!" inverts each port test', () => {
    expect(matches('-p tcp ! --dport 80', tcp(40000, 80))).toBe(false);
    expect(matches('-p tcp ! --dport 1:79', tcp(40000, 80))).toBe(true);
  });
  it('udp has the same ports', () => {
    expect(matches('-p udp --dport 53', udp(5353, 53))).toBe(true);
    expect(matches('-p udp -m udp --sport 5353 ! --dport 53', udp(5353, 53))).toBe(false);
  });
  it('-m tcp alone matches any TCP packet (kube-proxy writes "-p tcp -m tcp -j DNAT")', () => {
    expect(matches('-p tcp -m tcp', tcp(1, 2))).toBe(true);
  });
});

describe('--tcp-flags and --syn', () => {
  it('examines the flags in the mask and requires exactly the compared ones set', () => {
    expect(matches('-p tcp --tcp-flags SYN,ACK,FIN,RST SYN', tcp(1, 80, TCP_SYN))).toBe(true);
    expect(matches('-p tcp --tcp-flags SYN,ACK,FIN,RST SYN', tcp(1, 80, TCP_SYN | TCP_ACK))).toBe(false);
    expect(matches('-p tcp --tcp-flags ALL NONE', tcp(1, 80, 0))).toBe(true);
    expect(matches('-p tcp --tcp-flags ALL FIN,PSH,URG', tcp(1, 80, TCP_FIN | TCP_PSH | TCP_URG))).toBe(true);
    expect(matches('-p tcp --tcp-flags RST RST', tcp(1, 80, TCP_RST | TCP_ACK))).toBe(true);
  });
  it('--syn is --tcp-flags SYN,RST,ACK,FIN SYN; "! --syn" the rest', () => {
    expect(matches('-p tcp --syn', tcp(1, 80, TCP_SYN))).toBe(true);
    expect(matches('-p tcp --syn', tcp(1, 80, TCP_SYN | TCP_ACK))).toBe(false);
    expect(matches('-p tcp ! --syn', tcp(1, 80, TCP_ACK))).toBe(true);
  });
  it('--syn and --tcp-flags together are refused', () => {
    expect(() => ruleset(filter('-A INPUT -p tcp --syn --tcp-flags ALL SYN'))).toThrow(/Only one of `--syn' or `--tcp-flags'/);
  });
});

describe('--tcp-option', () => {
  it('matches when the option kind is present', () => {
    expect(matches('-p tcp --tcp-option 2', tcp(1, 80, TCP_SYN, 1460))).toBe(true);
    expect(matches('-p tcp --tcp-option 2', tcp(1, 80, TCP_SYN))).toBe(false);
    expect(matches('-p tcp ! --tcp-option 2', tcp(1, 80, TCP_SYN))).toBe(true);
  });
});

describe('sctp ports', () => {
  it('reads the common header ports', () => {
    const p = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 132, payload: 12 }));
    const b = p.pkt.buf;
    const th = p.ipOff + 20;
    b[th] = 0x0b;
    b[th + 1] = 0xb8; // 3000
    b[th + 2] = 0x0f;
    b[th + 3] = 0xa0; // 4000
    expect(matches('-p sctp --sport 3000 --dport 4000', p)).toBe(true);
    expect(matches('-p sctp -m sctp ! --dport 4000', p)).toBe(false);
  });
});

describe('fragments', () => {
  it('a TCP fragment at offset 8 bytes is dropped outright ("evil TCP offset=1 frag")', () => {
    const frag = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: IPPROTO_TCP, fragOffset: 8, payload: 12 }));
    const r = ruleset(filter('-A INPUT -p tcp --dport 80 -j ACCEPT', '-A INPUT -j ACCEPT'));
    expect(run(r, 'filter', frag).verdict).toBe(NfVerdict.DROP);
  });
  it('later fragments just do not match', () => {
    const frag = nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: IPPROTO_TCP, fragOffset: 1480, payload: 12 }));
    const r = ruleset(filter('-A INPUT -p tcp --dport 80 -j DROP', '-A INPUT -j ACCEPT'));
    expect(run(r, 'filter', frag).verdict).toBe(NfVerdict.ACCEPT);
  });
});
