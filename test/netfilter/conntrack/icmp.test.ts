import { describe, expect, it } from 'vitest';
import { NfHook } from '../../../models/netfilter/hooks.js';
import { CtDir, CtState, type NfPacket } from '../../../models/netfilter/types.js';
import type { Conntrack } from '../../../models/netfilter/conntrack/conntrack.js';
import type { Packet } from '../../../models/packet.js';
import { SECOND, icmpEcho, icmpError, makeConntrack, nfp, udp } from './frames.js';

function pass(ct: Conntrack, pkt: Packet): NfPacket {
  const p = nfp(pkt);
  ct.in(p);
  p.hook = NfHook.POST_ROUTING;
  ct.confirm(p);
  return p;
}

describe('ICMP tracking (nf_conntrack_proto_icmp.c)', () => {
  it('tracks an echo by its identifier, 30 s', () => {
    const { ct, clock } = makeConntrack();
    const req = pass(ct, icmpEcho('10.0.0.1', '10.0.0.2', 8, 4660, 1));
    expect(req.ctState).toBe(CtState.NEW);
    expect(ct.dump()).toBe(
      'icmp     1 30 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=4660 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=4660 mark=0 use=1\n',
    );
    clock.t = 0.2 * SECOND;
    const rep = pass(ct, icmpEcho('10.0.0.2', '10.0.0.1', 0, 4660, 1));
    expect(rep.ct).toBe(req.ct);
    expect(rep.ctState).toBe(CtState.ESTABLISHED);
    expect(rep.ctDir).toBe(CtDir.REPLY);
    // The next request of the same ping is the same connection.
    clock.t = 1 * SECOND;
    const req2 = pass(ct, icmpEcho('10.0.0.1', '10.0.0.2', 8, 4660, 2));
    expect(req2.ct).toBe(req.ct);
    expect(req2.ctState).toBe(CtState.ESTABLISHED);
    // Another identifier is another connection.
    pass(ct, icmpEcho('10.0.0.1', '10.0.0.2', 8, 4661, 1));
    expect(ct.count).toBe(2);
    clock.t = 31 * SECOND;
    expect(ct.count).toBe(0);
  });

  it('an echo reply with no request is INVALID (it cannot open a connection)', () => {
    const { ct } = makeConntrack();
    const p = pass(ct, icmpEcho('10.0.0.2', '10.0.0.1', 0, 7, 1));
    expect(p.ctState).toBe(CtState.INVALID);
    expect(p.ct).toBeNull();
    expect(ct.count).toBe(0);
    expect(ct.stats.invalid).toBe(1);
  });

  it('a port unreachable quoting a tracked UDP flow is RELATED, in the reply direction', () => {
    const { ct } = makeConntrack();
    const dgram = udp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 5555, dport: 9000 });
    const flow = pass(ct, dgram);
    const err = pass(ct, icmpError('10.0.0.2', '10.0.0.1', 3, 3, dgram));
    expect(err.ctState).toBe(CtState.RELATED);
    expect(err.ctDir).toBe(CtDir.REPLY);
    expect(err.ct).toBe(flow.ct);
    // A router on the way may send it too (time exceeded, from another address).
    const ttl = pass(ct, icmpError('10.0.0.254', '10.0.0.1', 11, 0, dgram));
    expect(ttl.ctState).toBe(CtState.RELATED);
    expect(ttl.ct).toBe(flow.ct);
    // Errors create nothing.
    expect(ct.count).toBe(1);
  });

  it('an error about a reply packet is RELATED in the original direction', () => {
    const { ct } = makeConntrack();
    const flow = pass(ct, udp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 5555, dport: 9000 }));
    const answer = udp({ src: '10.0.0.2', dst: '10.0.0.1', sport: 9000, dport: 5555 });
    pass(ct, answer);
    const err = pass(ct, icmpError('10.0.0.1', '10.0.0.2', 3, 3, answer));
    expect(err.ctState).toBe(CtState.RELATED);
    expect(err.ctDir).toBe(CtDir.ORIGINAL);
    expect(err.ct).toBe(flow.ct);
  });

  it('an error about no known flow, or addressed elsewhere, is INVALID and counted as an error', () => {
    const { ct } = makeConntrack();
    const dgram = udp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 5555, dport: 9000 });
    const unknown = pass(ct, icmpError('10.0.0.2', '10.0.0.1', 3, 3, dgram));
    expect(unknown.ctState).toBe(CtState.INVALID);
    expect(unknown.ct).toBeNull();
    pass(ct, dgram);
    // Quotes our flow, but sent to a third host: not related (nf_conntrack_inet_error).
    const forged = pass(ct, icmpError('10.0.0.2', '10.0.0.9', 3, 3, dgram));
    expect(forged.ctState).toBe(CtState.INVALID);
    expect(ct.stats.error).toBe(2);
    expect(ct.stats.invalid).toBe(0);
  });
});
