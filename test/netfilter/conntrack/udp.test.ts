import { describe, expect, it } from 'vitest';
import { NfHook, NfVerdict } from '../../../models/netfilter/hooks.js';
import { CtDir, CtState, CtStatus } from '../../../models/netfilter/types.js';
import { IPPROTO_UDP } from '../../../models/wire/ipv4.js';
import { SECOND, addr, makeConntrack, nfp, udp } from './frames.js';

const fwd = { src: '10.0.0.1', dst: '10.0.0.2', sport: 5555, dport: 53 };
const rev = { src: '10.0.0.2', dst: '10.0.0.1', sport: 53, dport: 5555 };

/** One packet through in() and confirm(), as a forwarding namespace sees it. */
function pass(ct: ReturnType<typeof makeConntrack>['ct'], spec: typeof fwd) {
  const p = nfp(udp(spec));
  expect(ct.in(p)).toBe(NfVerdict.ACCEPT);
  p.hook = NfHook.POST_ROUTING;
  expect(ct.confirm(p)).toBe(NfVerdict.ACCEPT);
  return p;
}

describe('UDP tracking (nf_conntrack_proto_udp.c)', () => {
  it('a first packet is NEW and unconfirmed until confirm()', () => {
    const { ct } = makeConntrack();
    const p = nfp(udp(fwd));
    ct.in(p);
    expect(p.ctState).toBe(CtState.NEW);
    expect(p.ctDir).toBe(CtDir.ORIGINAL);
    expect(p.ct).not.toBeNull();
    expect(ct.count).toBe(0);
    const t = { src: addr('10.0.0.1'), dst: addr('10.0.0.2'), protocol: IPPROTO_UDP, srcPort: 5555, dstPort: 53 };
    expect(ct.lookup(t)).toBeUndefined();
    ct.confirm(p);
    expect(ct.count).toBe(1);
    expect(ct.lookup(t)).toBe(p.ct);
    expect(ct.dump()).toBe(
      'udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=5555 dport=53 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5555 mark=0 use=1\n',
    );
  });

  it('the reply is ESTABLISHED in the reply direction and clears [UNREPLIED]', () => {
    const { ct, clock } = makeConntrack();
    const first = pass(ct, fwd);
    clock.t = 0.5 * SECOND;
    const r = pass(ct, rev);
    expect(r.ct).toBe(first.ct);
    expect(r.ctState).toBe(CtState.ESTABLISHED);
    expect(r.ctDir).toBe(CtDir.REPLY);
    expect(r.ct!.status & CtStatus.SEEN_REPLY).toBeTruthy();
    // Within the first 2 s: still the 30 s timeout, not ASSURED.
    expect(ct.dumpLines()).toEqual([
      'udp      17 30 src=10.0.0.1 dst=10.0.0.2 sport=5555 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=5555 mark=0 use=1',
    ]);
    // A later original-direction packet is ESTABLISHED too.
    clock.t = 1 * SECOND;
    expect(pass(ct, fwd).ctState).toBe(CtState.ESTABLISHED);
  });

  it('becomes a stream (120 s, ASSURED) only for a packet more than 2 s after creation, with a reply seen', () => {
    const { ct, clock } = makeConntrack();
    const p = pass(ct, fwd);
    clock.t = 1 * SECOND;
    pass(ct, rev);
    clock.t = 2 * SECOND; // not after stream_ts (strictly)
    pass(ct, fwd);
    expect(p.ct!.status & CtStatus.ASSURED).toBe(0);
    clock.t = 3 * SECOND;
    pass(ct, rev);
    expect(p.ct!.status & CtStatus.ASSURED).toBeTruthy();
    expect(ct.dumpLines()[0]).toMatch(/^udp {6}17 120 .* \[ASSURED\] mark=0 use=1$/);
  });

  it('without a reply, packets after 2 s keep the 30 s timeout and no ASSURED', () => {
    const { ct, clock } = makeConntrack();
    const p = pass(ct, fwd);
    clock.t = 10 * SECOND;
    pass(ct, fwd);
    expect(p.ct!.status & CtStatus.ASSURED).toBe(0);
    expect(p.ct!.expiresAt).toBe(40 * SECOND);
  });

  it('expires 30 s after the last packet; the next packet starts a new connection', () => {
    const { ct, clock } = makeConntrack();
    const first = pass(ct, fwd);
    clock.t = 20 * SECOND;
    pass(ct, fwd); // refresh: now expires at 50 s
    clock.t = 49.999 * SECOND;
    expect(ct.count).toBe(1);
    expect(ct.dumpLines()[0]).toContain(' 0 src=');
    clock.t = 50 * SECOND;
    expect(ct.count).toBe(0);
    const again = nfp(udp(fwd));
    ct.in(again);
    expect(again.ctState).toBe(CtState.NEW);
    expect(again.ct).not.toBe(first.ct);
  });

  it('an expired entry is reaped by the lookup that meets it, and the reply direction is NEW then', () => {
    const { ct, clock } = makeConntrack();
    pass(ct, fwd);
    clock.t = 31 * SECOND;
    const r = nfp(udp(rev));
    ct.in(r);
    expect(r.ctState).toBe(CtState.NEW);
    expect(r.ctDir).toBe(CtDir.ORIGINAL);
  });

  it('a truncated datagram (length field beyond the packet) is INVALID', () => {
    const { ct } = makeConntrack();
    const pkt = udp(fwd);
    const l4 = pkt.off + 14 + 20;
    pkt.buf[l4 + 4] = 0x10; // length 4096+
    const p = nfp(pkt);
    expect(ct.in(p)).toBe(NfVerdict.ACCEPT);
    expect(p.ctState).toBe(CtState.INVALID);
    expect(p.ct).toBeNull();
    expect(ct.stats.invalid).toBe(1);
  });

  it('NOTRACK and already-tracked packets are left alone', () => {
    const { ct } = makeConntrack();
    const p = nfp(udp(fwd));
    p.ctState = CtState.UNTRACKED;
    ct.in(p);
    expect(p.ct).toBeNull();
    expect(p.ctState).toBe(CtState.UNTRACKED);
    const q = pass(ct, fwd);
    const before = q.ct;
    q.ctState = CtState.NEW;
    ct.in(q); // e.g. looped back into PRE_ROUTING
    expect(q.ct).toBe(before);
  });
});
