/**
 * iptables-extensions(8) conntrack and state. The state comes from
 * connection tracking (p.ct, p.ctState); SNAT and DNAT are "virtual states"
 * read from the connection's status bits.
 */
import { describe, expect, it } from 'vitest';
import { conn, CtDir, CtState, FakeHost, matches, nf, packet } from './helpers.js';
import { CtStatus } from '../../../models/netfilter/types.js';

const pk = () => packet({ src: '10.244.1.2', dst: '10.96.0.10', proto: 'tcp', sport: 40000, dport: 80 });
const c = (extra = {}) => conn('10.244.1.2', 40000, '10.96.0.10', 80, 6, extra);

describe('--ctstate / --state', () => {
  it('NEW, ESTABLISHED, RELATED from the packet\'s ctinfo', () => {
    expect(matches('-m conntrack --ctstate NEW', nf(pk(), { ct: c(), ctState: CtState.NEW }))).toBe(true);
    expect(matches('-m conntrack --ctstate RELATED,ESTABLISHED', nf(pk(), { ct: c(), ctState: CtState.NEW }))).toBe(false);
    expect(matches('-m conntrack --ctstate RELATED,ESTABLISHED', nf(pk(), { ct: c(), ctState: CtState.ESTABLISHED }))).toBe(true);
    expect(matches('-m state --state RELATED', nf(pk(), { ct: c(), ctState: CtState.RELATED }))).toBe(true);
    expect(matches('-m conntrack ! --ctstate NEW', nf(pk(), { ct: c(), ctState: CtState.ESTABLISHED }))).toBe(true);
  });
  it('INVALID when conntrack found nothing, UNTRACKED after NOTRACK', () => {
    expect(matches('-m conntrack --ctstate INVALID', nf(pk(), { ct: null, ctState: CtState.INVALID }))).toBe(true);
    expect(matches('-m state --state INVALID', nf(pk(), { ct: null, ctState: CtState.UNTRACKED }))).toBe(false);
    expect(matches('-m state --state UNTRACKED', nf(pk(), { ct: null, ctState: CtState.UNTRACKED }))).toBe(true);
  });
  it('DNAT and SNAT are the connection\'s NAT status bits', () => {
    const dnat = nf(pk(), { ct: c({ status: CtStatus.DST_NAT }), ctState: CtState.ESTABLISHED });
    expect(matches('-m conntrack --ctstate DNAT', dnat)).toBe(true);
    expect(matches('-m conntrack --ctstate SNAT', dnat)).toBe(false);
    // kube-proxy's KUBE-FIREWALL: "! --ctstate RELATED,ESTABLISHED,DNAT".
    expect(matches('-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT', nf(pk(), { ct: c({ status: CtStatus.DST_NAT }), ctState: CtState.NEW }))).toBe(false);
    expect(matches('-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT', nf(pk(), { ct: c(), ctState: CtState.NEW }))).toBe(true);
  });
});

describe('tuple, status, expiry and direction', () => {
  const dnated = () =>
    conn('10.244.1.2', 40000, '10.96.0.10', 80, 6, {
      tuple: [
        { src: 0x0af40102, dst: 0x0a60000a, protocol: 6, srcPort: 40000, dstPort: 80 },
        { src: 0x0af40203, dst: 0x0af40102, protocol: 6, srcPort: 8080, dstPort: 40000 },
      ],
      status: CtStatus.DST_NAT | CtStatus.ASSURED | CtStatus.SEEN_REPLY,
      expiresAt: 120e9,
    });
  it('--ctorigdst / --ctorigdstport test the original destination (the ClusterIP before DNAT)', () => {
    const p = nf(pk(), { ct: dnated(), ctState: CtState.ESTABLISHED });
    expect(matches('-m conntrack --ctorigdst 10.96.0.10 --ctorigdstport 80', p)).toBe(true);
    expect(matches('-m conntrack --ctorigdst 10.96.0.0/12', p)).toBe(true);
    expect(matches('-m conntrack ! --ctorigdst 10.96.0.10', p)).toBe(false);
    expect(matches('-m conntrack --ctorigdstport 81:90', p)).toBe(false);
    expect(matches('-m conntrack --ctreplsrc 10.244.2.3 --ctreplsrcport 8080', p)).toBe(true);
    expect(matches('-m conntrack --ctorigsrc 10.244.1.2 --ctrepldst 10.244.1.2 --ctproto tcp', p)).toBe(true);
    expect(matches('-m conntrack --ctproto udp', p)).toBe(false);
  });
  it('--ctstatus, --ctexpire (whole seconds left) and --ctdir', () => {
    const host = new FakeHost();
    host.time = 100e9;
    const p = nf(pk(), { ct: dnated(), ctState: CtState.ESTABLISHED, ctDir: CtDir.REPLY });
    expect(matches('-m conntrack --ctstatus ASSURED', p, host)).toBe(true);
    expect(matches('-m conntrack --ctstatus CONFIRMED', p, host)).toBe(false);
    expect(matches('-m conntrack --ctexpire 20', p, host)).toBe(true);
    expect(matches('-m conntrack --ctexpire 0:19', p, host)).toBe(false);
    expect(matches('-m conntrack --ctdir REPLY', p, host)).toBe(true);
    expect(matches('-m conntrack --ctdir ORIGINAL', p, host)).toBe(false);
  });
  it('without a connection, only --ctstate can match', () => {
    const p = nf(pk(), { ct: null, ctState: CtState.INVALID });
    expect(matches('-m conntrack --ctstate INVALID --ctorigdst 10.96.0.10', p)).toBe(true);
    expect(matches('-m conntrack --ctorigdst 10.96.0.10', p)).toBe(false);
    expect(matches('-m conntrack ! --ctorigdst 10.96.0.10', p)).toBe(false);
  });
});
