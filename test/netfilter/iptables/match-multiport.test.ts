/** iptables-extensions(8) multiport: up to 15 ports (a range counts two) against source, destination or either port. */
import { describe, expect, it } from 'vitest';
import { filter, matches, nf, packet, ruleset } from './helpers.js';

const tcp = (sport: number, dport: number) => nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport, dport }));

describe('-m multiport', () => {
  it('--dports lists ports and ranges', () => {
    expect(matches('-p tcp -m multiport --dports 22,80,443', tcp(5000, 443))).toBe(true);
    expect(matches('-p tcp -m multiport --dports 22,80,443', tcp(5000, 444))).toBe(false);
    expect(matches('-p tcp -m multiport --dports 22,8000:8080', tcp(5000, 8042))).toBe(true);
  });
  it('--sports tests the source port, --ports either', () => {
    expect(matches('-p tcp -m multiport --sports 5000', tcp(5000, 80))).toBe(true);
    expect(matches('-p tcp -m multiport --sports 80', tcp(5000, 80))).toBe(false);
    expect(matches('-p tcp -m multiport --ports 80', tcp(5000, 80))).toBe(true);
    expect(matches('-p tcp -m multiport --ports 5000', tcp(5000, 80))).toBe(true);
  });
  it('"!" inverts', () => {
    expect(matches('-p tcp -m multiport ! --dports 80,443', tcp(5000, 22))).toBe(true);
    expect(matches('-p tcp -m multiport ! --dports 80,443', tcp(5000, 80))).toBe(false);
  });
  it('needs -p tcp, udp, udplite, sctp or dccp, and at most 15 ports', () => {
    expect(() => ruleset(filter('-A INPUT -m multiport --dports 80'))).toThrow(/multiport needs `-p tcp'/);
    expect(() => ruleset(filter('-A INPUT -p icmp -m multiport --dports 80'))).toThrow(/multiport only works with TCP/);
    expect(() => ruleset(filter(`-A INPUT -p tcp -m multiport --dports ${Array.from({ length: 16 }, (_, i) => i + 1).join(',')}`))).toThrow(/too many ports/);
    expect(() => ruleset(filter('-A INPUT -p tcp -m multiport --dports 1:15,20:30'))).not.toThrow();
  });
});
