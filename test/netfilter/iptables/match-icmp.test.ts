/** iptables-extensions(8) icmp: --icmp-type by name, "type", "type/code" or "any". */
import { describe, expect, it } from 'vitest';
import { matches, nf, packet } from './helpers.js';

const icmp = (type: number, code = 0) => nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'icmp', icmpType: type, icmpCode: code, payload: 28 }));

describe('-m icmp --icmp-type', () => {
  it('by name', () => {
    expect(matches('-p icmp --icmp-type echo-request', icmp(8))).toBe(true);
    expect(matches('-p icmp --icmp-type echo-reply', icmp(8))).toBe(false);
    expect(matches('-p icmp --icmp-type port-unreachable', icmp(3, 3))).toBe(true);
    expect(matches('-p icmp --icmp-type port-unreachable', icmp(3, 1))).toBe(false);
    expect(matches('-p icmp --icmp-type destination-unreachable', icmp(3, 13))).toBe(true);
  });
  it('by number, with or without a code', () => {
    expect(matches('-p icmp --icmp-type 3', icmp(3, 10))).toBe(true);
    expect(matches('-p icmp --icmp-type 3/1', icmp(3, 1))).toBe(true);
    expect(matches('-p icmp --icmp-type 3/1', icmp(3, 2))).toBe(false);
  });
  it('"any" matches every type; "!" inverts', () => {
    expect(matches('-p icmp --icmp-type any', icmp(11))).toBe(true);
    expect(matches('-p icmp ! --icmp-type echo-request', icmp(0))).toBe(true);
    expect(matches('-p icmp ! --icmp-type any', icmp(0))).toBe(false);
  });
  it('an unambiguous prefix names a type, an ambiguous one is refused', () => {
    expect(matches('-p icmp --icmp-type echo-req', icmp(8))).toBe(true);
    expect(() => matches('-p icmp --icmp-type echo', icmp(8))).toThrow(/Ambiguous ICMP type `echo'/);
  });
});
