import { describe, expect, it } from 'vitest';
import { NfHook, NfVerdict } from '../../../models/netfilter/hooks.js';
import { CtState, CtStatus, type NatRange, type NfPacket } from '../../../models/netfilter/types.js';
import type { Conntrack } from '../../../models/netfilter/conntrack/conntrack.js';
import { TCP_SYN } from '../../../models/wire/tcp.js';
import type { Packet } from '../../../models/packet.js';
import { SECOND, addr, makeConntrack, nfp, tcp, udp } from './frames.js';

function pass(ct: Conntrack, pkt: Packet): { p: NfPacket; in: NfVerdict; confirm: NfVerdict } {
  const p = nfp(pkt);
  const v = ct.in(p);
  p.hook = NfHook.POST_ROUTING;
  return { p, in: v, confirm: v === NfVerdict.ACCEPT ? ct.confirm(p) : v };
}

const flow = (i: number) => udp({ src: `10.0.0.${i}`, dst: '10.0.1.1', sport: 1000 + i, dport: 53 });
const reply = (i: number) => udp({ src: '10.0.1.1', dst: `10.0.0.${i}`, sport: 53, dport: 1000 + i });

function range(a: string, port = 0): NatRange {
  return { minAddr: addr(a), maxAddr: addr(a), minPort: port, maxPort: port, random: false, randomFully: false, persistent: false };
}

describe('nf_conntrack_max', () => {
  it('a full table with nothing to evict drops new connections and counts them', () => {
    // 262144 buckets: early_drop's 8 buckets around a new tuple hold none of the 2 entries.
    const { ct } = makeConntrack({ max: 2 });
    expect(pass(ct, flow(1)).confirm).toBe(NfVerdict.ACCEPT);
    expect(pass(ct, flow(2)).confirm).toBe(NfVerdict.ACCEPT);
    const third = pass(ct, flow(3));
    expect(third.in).toBe(NfVerdict.DROP);
    expect(third.p.ct).toBeNull();
    expect(ct.stats.drop).toBe(1);
    expect(ct.stats.dropTableFull).toBe(1);
    expect(ct.stats.earlyDrop).toBe(0);
    expect(ct.count).toBe(2);
    // Packets of existing connections still pass.
    expect(pass(ct, reply(1)).in).toBe(NfVerdict.ACCEPT);
  });

  it('early_drop evicts the unassured entries sharing the new tuple\'s chain', () => {
    const { ct } = makeConntrack({ max: 2, buckets: 1 });
    pass(ct, flow(1));
    pass(ct, flow(2));
    const third = pass(ct, flow(3));
    expect(third.in).toBe(NfVerdict.ACCEPT);
    expect(ct.stats.earlyDrop).toBe(2); // every unassured entry in the chain goes
    expect(ct.stats.drop).toBe(0);
    expect(ct.count).toBe(1);
  });

  it('ASSURED entries are never early-dropped', () => {
    const { ct, clock } = makeConntrack({ max: 2, buckets: 1 });
    for (const i of [1, 2]) {
      pass(ct, flow(i));
      pass(ct, reply(i));
    }
    clock.t = 3 * SECOND;
    for (const i of [1, 2]) pass(ct, flow(i)); // a UDP stream after 2 s: ASSURED
    expect(pass(ct, flow(3)).in).toBe(NfVerdict.DROP);
    expect(ct.stats.earlyDrop).toBe(0);
    expect(ct.stats.dropTableFull).toBe(1);
  });

  it('expired entries are reaped when the table is full, before anything is evicted', () => {
    const { ct, clock } = makeConntrack({ max: 2 });
    pass(ct, flow(1));
    pass(ct, flow(2));
    clock.t = 30 * SECOND;
    expect(pass(ct, flow(3)).confirm).toBe(NfVerdict.ACCEPT);
    expect(ct.stats.earlyDrop).toBe(0);
    expect(ct.stats.drop).toBe(0);
    expect(ct.count).toBe(1);
  });
});

describe('confirm clashes (__nf_conntrack_confirm, nf_ct_resolve_clash)', () => {
  it('two connections NATed onto one tuple: the second is dropped (insert_failed), TCP and UDP alike', () => {
    for (const mk of [(i: number) => tcp({ src: `10.0.0.${i}`, dst: '8.8.8.8', sport: 999, dport: 53, flags: TCP_SYN, seq: 1 }), (i: number) => udp({ src: `10.0.0.${i}`, dst: '8.8.8.8', sport: 999, dport: 53 })]) {
      const { ct } = makeConntrack();
      const snat = (p: NfPacket) => {
        ct.in(p);
        ct.setupNat(p, 'src', range('192.168.0.10', 20000)); // a single port: no uniqueness search
        p.hook = NfHook.POST_ROUTING;
        return ct.confirm(p);
      };
      expect(snat(nfp(mk(1)))).toBe(NfVerdict.ACCEPT);
      expect(snat(nfp(mk(2)))).toBe(NfVerdict.DROP);
      expect(ct.stats.insertFailed).toBe(1);
      expect(ct.stats.drop).toBe(1);
      expect(ct.count).toBe(1);
    }
  });

  it('two UDP packets of one flow racing to confirm with the same binding: the second joins the first entry', () => {
    const { ct } = makeConntrack();
    const a = nfp(flow(1));
    const b = nfp(flow(1));
    ct.in(a);
    ct.in(b); // a is not confirmed yet: b gets its own entry
    expect(b.ct).not.toBe(a.ct);
    for (const p of [a, b]) {
      ct.setupNat(p, 'dst', range('10.0.2.2'));
      ct.ensureNullBinding(p, 'src');
    }
    expect(ct.confirm(a)).toBe(NfVerdict.ACCEPT);
    expect(ct.confirm(b)).toBe(NfVerdict.ACCEPT);
    expect(b.ct).toBe(a.ct);
    expect(ct.stats.clashResolve).toBe(1);
    expect(ct.count).toBe(1);
  });

  it('with different bindings the loser is kept for its replies only, 1 s, hidden from the listing', () => {
    const { ct, clock } = makeConntrack();
    const a = nfp(flow(1));
    const b = nfp(flow(1));
    ct.in(a);
    ct.in(b);
    ct.setupNat(a, 'dst', range('10.0.2.2'));
    ct.setupNat(b, 'dst', range('10.0.2.3'));
    ct.confirm(a);
    expect(ct.confirm(b)).toBe(NfVerdict.ACCEPT);
    expect(b.ct!.status & (CtStatus.NAT_CLASH | CtStatus.FIXED_TIMEOUT)).toBe(CtStatus.NAT_CLASH | CtStatus.FIXED_TIMEOUT);
    expect(ct.dumpLines()).toHaveLength(1);
    // Its reply direction is in the table; its original direction is a's.
    const back = nfp(udp({ src: '10.0.2.3', dst: '10.0.0.1', sport: 53, dport: 1001 }));
    ct.in(back);
    expect(back.ct).toBe(b.ct);
    expect(back.ctState).toBe(CtState.ESTABLISHED);
    const again = nfp(flow(1));
    ct.in(again);
    expect(again.ct).toBe(a.ct);
    clock.t = 1 * SECOND;
    expect(ct.count).toBe(1);
  });
});
