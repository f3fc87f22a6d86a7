import { describe, expect, it } from 'vitest';
import { NfHook, NfVerdict } from '../../../models/netfilter/hooks.js';
import { CtDir, CtState, CtStatus, type NatRange, type NfPacket } from '../../../models/netfilter/types.js';
import type { Conntrack } from '../../../models/netfilter/conntrack/conntrack.js';
import { jhash2 } from '../../../models/netfilter/conntrack/jhash.js';
import { ETH_HLEN } from '../../../models/wire/ethernet.js';
import { ICMP_HEADER_LEN } from '../../../models/wire/icmp.js';
import { IPPROTO_UDP, ipv4HeaderLen, ipv4Src, ipv4Dst } from '../../../models/wire/ipv4.js';
import { bySourceKey } from '../../../models/netfilter/conntrack/nat.js';
import { formatIpv4 } from '../../../models/wire/addr.js';
import { onesComplementSum, pseudoHeaderSum } from '../../../models/wire/checksum.js';
import { udpChecksum } from '../../../models/wire/udp.js';
import { TCP_ACK, TCP_SYN } from '../../../models/wire/tcp.js';
import type { Packet } from '../../../models/packet.js';
import { SECOND, addr, badChecksums, fields, icmpEcho, icmpError, innerFields, makeConntrack, nfp, tcp, udp } from './frames.js';

function range(lo: string, hi = lo, ports: [number, number] = [0, 0], flags: Partial<NatRange> = {}): NatRange {
  return { minAddr: addr(lo), maxAddr: addr(hi), minPort: ports[0], maxPort: ports[1], random: false, randomFully: false, persistent: false, ...flags };
}

/** A nat table that binds every first packet to `r` (as DNAT/SNAT/MASQUERADE would), counting its calls. */
function natRule(ct: Conntrack, manip: 'src' | 'dst', r: NatRange | null) {
  const rule = {
    calls: 0,
    run: (p: NfPacket): NfVerdict => {
      rule.calls++;
      if (r !== null) ct.setupNat(p, manip, r);
      return NfVerdict.ACCEPT;
    },
  };
  return rule;
}
const noRule = (): NfVerdict => NfVerdict.ACCEPT;

/**
 * A packet forwarded through the namespace: PRE_ROUTING (conntrack, nat
 * dst), POST_ROUTING (nat src, confirm), as the stack will call them.
 */
function forward(ct: Conntrack, pkt: Packet, dnat: (p: NfPacket) => NfVerdict = noRule, snat: (p: NfPacket) => NfVerdict = noRule): NfPacket {
  const p = nfp(pkt, NfHook.PRE_ROUTING);
  expect(ct.in(p)).toBe(NfVerdict.ACCEPT);
  expect(ct.natHook(p, 'dst', dnat)).toBe(NfVerdict.ACCEPT);
  p.hook = NfHook.POST_ROUTING;
  expect(ct.natHook(p, 'src', snat)).toBe(NfVerdict.ACCEPT);
  expect(ct.confirm(p)).toBe(NfVerdict.ACCEPT);
  return p;
}

/** A locally generated packet: LOCAL_OUT (conntrack, nat dst), POST_ROUTING (nat src, confirm). */
function output(ct: Conntrack, pkt: Packet, dnat: (p: NfPacket) => NfVerdict = noRule, snat: (p: NfPacket) => NfVerdict = noRule): NfPacket {
  const p = nfp(pkt, NfHook.LOCAL_OUT);
  ct.in(p);
  expect(ct.natHook(p, 'dst', dnat)).toBe(NfVerdict.ACCEPT);
  p.hook = NfHook.POST_ROUTING;
  expect(ct.natHook(p, 'src', snat)).toBe(NfVerdict.ACCEPT);
  expect(ct.confirm(p)).toBe(NfVerdict.ACCEPT);
  return p;
}

/** A packet delivered locally: PRE_ROUTING (conntrack, nat dst), LOCAL_IN (nat src, confirm). */
function input(ct: Conntrack, pkt: Packet): NfPacket {
  const p = nfp(pkt, NfHook.PRE_ROUTING);
  ct.in(p);
  expect(ct.natHook(p, 'dst', noRule)).toBe(NfVerdict.ACCEPT);
  p.hook = NfHook.LOCAL_IN;
  expect(ct.natHook(p, 'src', noRule)).toBe(NfVerdict.ACCEPT);
  expect(ct.confirm(p)).toBe(NfVerdict.ACCEPT);
  return p;
}

const CLIENT = '10.244.1.2';
const VIP = '10.96.0.10';
const BACKEND = '10.244.2.5';

describe('DNAT to a backend (a Service VIP)', () => {
  it('rewrites the original direction, un-DNATs replies, keeps checksums valid, and consults the nat table once', () => {
    const { ct, clock } = makeConntrack();
    const dnat = natRule(ct, 'dst', range(BACKEND, BACKEND, [8080, 8080]));
    const c2s = { src: CLIENT, dst: VIP, sport: 40000, dport: 80 };
    const s2c = { src: BACKEND, dst: CLIENT, sport: 8080, dport: 40000 };

    const syn = tcp({ ...c2s, flags: TCP_SYN, seq: 1000 });
    const p = forward(ct, syn, dnat.run);
    expect(p.ct!.status & (CtStatus.DST_NAT | CtStatus.DST_NAT_DONE | CtStatus.SRC_NAT_DONE)).toBe(
      CtStatus.DST_NAT | CtStatus.DST_NAT_DONE | CtStatus.SRC_NAT_DONE,
    );
    expect(p.ct!.status & CtStatus.SRC_NAT).toBe(0);
    expect(fields(syn)).toEqual({ src: CLIENT, dst: BACKEND, protocol: 6, sport: 40000, dport: 8080 });
    expect(badChecksums(syn)).toEqual([]);

    const synack = tcp({ ...s2c, flags: TCP_SYN | TCP_ACK, seq: 5000, ack: 1001 });
    const r = forward(ct, synack, dnat.run);
    expect(r.ctDir).toBe(CtDir.REPLY);
    expect(fields(synack)).toEqual({ src: VIP, dst: CLIENT, protocol: 6, sport: 80, dport: 40000 });
    expect(badChecksums(synack)).toEqual([]);

    const ack = tcp({ ...c2s, flags: TCP_ACK, seq: 1001, ack: 5001, payload: 37 });
    forward(ct, ack, dnat.run);
    expect(fields(ack).dst).toBe(BACKEND);
    expect(badChecksums(ack)).toEqual([]);
    const ack2 = tcp({ ...s2c, flags: TCP_ACK, seq: 5001, ack: 1038 });
    forward(ct, ack2, dnat.run);
    expect(badChecksums(ack2)).toEqual([]);

    expect(dnat.calls).toBe(1);
    clock.t = 0.5 * SECOND;
    expect(ct.dump()).toBe(
      'tcp      6 431999 ESTABLISHED src=10.244.1.2 dst=10.96.0.10 sport=40000 dport=80 src=10.244.2.5 dst=10.244.1.2 sport=8080 dport=40000 [ASSURED] mark=0 use=1\n',
    );
  });

  it('un-DNATs an ICMP port unreachable from the backend, including the quoted datagram', () => {
    const { ct } = makeConntrack();
    const dnat = natRule(ct, 'dst', range(BACKEND, BACKEND, [53, 53]));
    const q = udp({ src: CLIENT, dst: VIP, sport: 5353, dport: 53, payload: 'query for example.com' });
    forward(ct, q, dnat.run);
    expect(fields(q)).toEqual({ src: CLIENT, dst: BACKEND, protocol: IPPROTO_UDP, sport: 5353, dport: 53 });

    // The backend refuses what it received (the DNATed datagram).
    const err = icmpError(BACKEND, CLIENT, 3, 3, q);
    const e = forward(ct, err, dnat.run);
    expect(e.ctState).toBe(CtState.RELATED);
    expect(e.ctDir).toBe(CtDir.REPLY);
    expect(fields(err).src).toBe(VIP);
    expect(fields(err).dst).toBe(CLIENT);
    expect(innerFields(err)).toEqual({ src: CLIENT, dst: VIP, protocol: IPPROTO_UDP, sport: 5353, dport: 53 });
    expect(badChecksums(err)).toEqual([]);
    // The quoted UDP checksum was patched too: verify it over the quoted datagram.
    const ip = err.off + ETH_HLEN;
    const inner = ip + ipv4HeaderLen(err.buf, ip) + ICMP_HEADER_LEN;
    const l4 = inner + ipv4HeaderLen(err.buf, inner);
    const len = (err.buf[l4 + 4]! << 8) | err.buf[l4 + 5]!;
    expect(udpChecksum(err.buf, l4)).not.toBe(0);
    const sum = onesComplementSum(err.buf, l4, len, pseudoHeaderSum(ipv4Src(err.buf, inner), ipv4Dst(err.buf, inner), IPPROTO_UDP, len));
    expect(sum).toBe(0xffff);
    expect(dnat.calls).toBe(1);
  });

  it('a local client (OUTPUT DNAT) gets replies un-DNATed at LOCAL_IN', () => {
    const { ct } = makeConntrack();
    const dnat = natRule(ct, 'dst', range(BACKEND, BACKEND, [8080, 8080]));
    const out = udp({ src: '10.0.0.1', dst: VIP, sport: 41000, dport: 80 });
    output(ct, out, dnat.run);
    expect(fields(out).dst).toBe(BACKEND);
    const back = udp({ src: BACKEND, dst: '10.0.0.1', sport: 8080, dport: 41000 });
    const b = input(ct, back);
    expect(b.ctState).toBe(CtState.ESTABLISHED);
    expect(fields(back)).toEqual({ src: VIP, dst: '10.0.0.1', protocol: IPPROTO_UDP, sport: 80, dport: 41000 });
    expect(badChecksums(back)).toEqual([]);
  });

  it('leaves a UDP checksum of 0 at 0', () => {
    const { ct } = makeConntrack();
    const dnat = natRule(ct, 'dst', range(BACKEND, BACKEND, [53, 53]));
    const q = udp({ src: CLIENT, dst: VIP, sport: 5353, dport: 53, checksum: false });
    forward(ct, q, dnat.run);
    expect(fields(q).dst).toBe(BACKEND);
    expect(udpChecksum(q.buf, q.off + ETH_HLEN + 20)).toBe(0);
    expect(badChecksums(q)).toEqual([]);
  });
});

describe('SNAT / MASQUERADE', () => {
  const NODE = '192.168.0.10';
  const DNS = '8.8.8.8';

  it('two clients with the same source port to the same destination: the second gets another port', () => {
    const { ct } = makeConntrack();
    const masq = natRule(ct, 'src', range(NODE));
    const a = udp({ src: '10.244.1.2', dst: DNS, sport: 33000, dport: 53 });
    const b = udp({ src: '10.244.1.3', dst: DNS, sport: 33000, dport: 53 });
    forward(ct, a, noRule, masq.run);
    forward(ct, b, noRule, masq.run);
    expect(fields(a)).toEqual({ src: NODE, dst: DNS, protocol: IPPROTO_UDP, sport: 33000, dport: 53 });
    const bPort = fields(b).sport;
    expect(fields(b).src).toBe(NODE);
    expect(bPort).not.toBe(33000);
    expect(bPort).toBeGreaterThanOrEqual(1024); // 1024-65535 for a source port >= 1024
    expect(ct.stats.found).toBeGreaterThanOrEqual(1);
    expect(badChecksums(a)).toEqual([]);
    expect(badChecksums(b)).toEqual([]);

    // Replies find their way back to each client.
    const ra = udp({ src: DNS, dst: NODE, sport: 53, dport: 33000 });
    const rb = udp({ src: DNS, dst: NODE, sport: 53, dport: bPort });
    expect(forward(ct, ra).ctDir).toBe(CtDir.REPLY);
    expect(forward(ct, rb).ctDir).toBe(CtDir.REPLY);
    expect(fields(ra)).toEqual({ src: DNS, dst: '10.244.1.2', protocol: IPPROTO_UDP, sport: 53, dport: 33000 });
    expect(fields(rb)).toEqual({ src: DNS, dst: '10.244.1.3', protocol: IPPROTO_UDP, sport: 53, dport: 33000 });
    expect(badChecksums(rb)).toEqual([]);
    expect(masq.calls).toBe(2);
  });

  it('keeps a client address:port mapping for another destination (find_appropriate_src)', () => {
    const { ct } = makeConntrack();
    const masq = natRule(ct, 'src', range(NODE));
    forward(ct, udp({ src: '10.244.1.2', dst: DNS, sport: 33000, dport: 53 }), noRule, masq.run);
    const b = udp({ src: '10.244.1.3', dst: DNS, sport: 33000, dport: 53 });
    forward(ct, b, noRule, masq.run);
    const mapped = fields(b).sport;
    const c = udp({ src: '10.244.1.3', dst: '1.1.1.1', sport: 33000, dport: 53 });
    forward(ct, c, noRule, masq.run);
    expect(fields(c).sport).toBe(mapped);
  });

  it('find_appropriate_src takes a mapping only from the same source, when two sources share a bysource chain', () => {
    // Two clients whose (address, port) fall in one chain: each must be told apart by its source.
    // Addresses spread over 10.0.0.0/8 (consecutive ones never share a chain).
    const srcs = Array.from({ length: 2048 }, (_, i) => (addr('10.0.0.0') | (Math.imul(i + 1, 0x2c1b3c6d) >>> 8)) >>> 0);
    let found: { a: string; b: string; pa: number; pb: number } | null = null;
    for (let i = 0; found === null && i < srcs.length; i++) {
      for (let j = i + 1; j < srcs.length; j++) {
        // Same key when the sources' parts differ only where the ports' parts can make up for it.
        const pa = 33000;
        const pb = pa ^ ((bySourceKey(srcs[i]!, 0, IPPROTO_UDP) ^ bySourceKey(srcs[j]!, 0, IPPROTO_UDP)) >>> 2);
        if (pb < 1024 || pb > 65535 || bySourceKey(srcs[i]!, pa, IPPROTO_UDP) !== bySourceKey(srcs[j]!, pb, IPPROTO_UDP)) continue;
        found = { a: formatIpv4(srcs[i]!), b: formatIpv4(srcs[j]!), pa, pb };
        break;
      }
    }
    expect(found).not.toBeNull();
    const { a, b, pa: portA, pb: portB } = found!;
    const { ct } = makeConntrack();
    const masq = natRule(ct, 'src', range(NODE));
    // A third client takes NODE:portA towards DNS, so `a` is moved to another port there.
    forward(ct, udp({ src: '10.244.1.9', dst: DNS, sport: portA, dport: 53 }), noRule, masq.run);
    const pa = forward(ct, udp({ src: a, dst: DNS, sport: portA, dport: 53 }), noRule, masq.run);
    const moved = fields(pa.pkt).sport;
    expect(moved).not.toBe(portA);
    // `b` shares a's chain but not its source: towards another host it keeps its own port.
    const pb = forward(ct, udp({ src: b, dst: '1.1.1.1', sport: portB, dport: 53 }), noRule, masq.run);
    expect(fields(pb.pkt).sport).toBe(portB);
    // And `a` keeps its mapping towards that host too.
    const pa2 = forward(ct, udp({ src: a, dst: '1.1.1.1', sport: portA, dport: 53 }), noRule, masq.run);
    expect(fields(pa2.pkt).sport).toBe(moved);
  });

  it('--random-fully draws the port from the namespace stream: reproducible per seed, different across seeds', () => {
    const port = (seed: number) => {
      const { ct } = makeConntrack({ seed });
      const masq = natRule(ct, 'src', range(NODE, NODE, [0, 0], { randomFully: true }));
      const a = udp({ src: '10.244.1.2', dst: DNS, sport: 33000, dport: 53 });
      forward(ct, a, noRule, masq.run);
      return fields(a).sport;
    };
    const ports = [1, 2, 3, 4, 5].map(port);
    expect([1, 2, 3, 4, 5].map(port)).toEqual(ports);
    expect(new Set(ports).size).toBeGreaterThan(1);
    // Even an unused port is not kept: the first client's 33000 is replaced.
    expect(ports.filter((p) => p === 33000)).toEqual([]);
    for (const p of ports) expect(p).toBeGreaterThanOrEqual(1024);
  });

  it('a port range maps into the range', () => {
    const { ct } = makeConntrack();
    const snat = natRule(ct, 'src', range(NODE, NODE, [20000, 20010]));
    const got = new Set<number>();
    for (let i = 2; i < 8; i++) {
      const a = udp({ src: `10.244.1.${i}`, dst: DNS, sport: 33000, dport: 53 });
      forward(ct, a, noRule, snat.run);
      got.add(fields(a).sport);
    }
    expect(got.size).toBe(6);
    for (const p of got) expect(p >= 20000 && p <= 20010).toBe(true);
  });

  it('an address range picks the address the kernel picks (jhash2 of source and destination)', () => {
    // Expected offsets computed with the kernel's jhash2 in C (x86 byte order):
    // 10.244.1.1 -> +0, 10.244.1.2 -> +3, 10.244.1.3 -> +3, 10.244.1.4 -> +0 within 192.168.0.10-13 for 8.8.8.8,
    // and with --persistent 10.244.1.2 -> +2, 10.244.1.3 -> +1.
    const pick = (client: string, persistent: boolean) => {
      const { ct } = makeConntrack();
      const snat = natRule(ct, 'src', range('192.168.0.10', '192.168.0.13', [0, 0], { persistent }));
      const a = udp({ src: client, dst: DNS, sport: 33000, dport: 53 });
      forward(ct, a, noRule, snat.run);
      return fields(a).src;
    };
    expect(pick('10.244.1.1', false)).toBe('192.168.0.10');
    expect(pick('10.244.1.2', false)).toBe('192.168.0.13');
    expect(pick('10.244.1.3', false)).toBe('192.168.0.13');
    expect(pick('10.244.1.4', false)).toBe('192.168.0.10');
    expect(pick('10.244.1.2', true)).toBe('192.168.0.12');
    expect(pick('10.244.1.3', true)).toBe('192.168.0.11');
  });

  it('a local connection that clashes with a masqueraded one gets a new source port without any SNAT rule', () => {
    const { ct } = makeConntrack();
    const masq = natRule(ct, 'src', range(NODE));
    forward(ct, udp({ src: '10.244.1.2', dst: DNS, sport: 33000, dport: 53 }), noRule, masq.run);
    // The node itself uses the same address and port: the null binding finds the reply tuple taken.
    const local = udp({ src: NODE, dst: DNS, sport: 33000, dport: 53 });
    const p = output(ct, local);
    expect(fields(local).src).toBe(NODE);
    expect(fields(local).sport).not.toBe(33000);
    expect(p.ct!.status & CtStatus.SRC_NAT).toBeTruthy();
    expect(badChecksums(local)).toEqual([]);
    expect(ct.count).toBe(2);
  });

  it('SNATs ICMP echo identifiers that clash and restores them on the replies', () => {
    const { ct } = makeConntrack();
    const masq = natRule(ct, 'src', range(NODE));
    const a = icmpEcho('10.244.1.2', DNS, 8, 99);
    const b = icmpEcho('10.244.1.3', DNS, 8, 99);
    forward(ct, a, noRule, masq.run);
    forward(ct, b, noRule, masq.run);
    expect(fields(a)).toMatchObject({ src: NODE, sport: 99 });
    const bId = fields(b).sport;
    expect(bId).not.toBe(99);
    expect(badChecksums(b)).toEqual([]);
    const rb = icmpEcho(DNS, NODE, 0, bId);
    forward(ct, rb);
    expect(fields(rb)).toMatchObject({ dst: '10.244.1.3', sport: 99 });
    expect(badChecksums(rb)).toEqual([]);
  });

  it('rewrites an ICMP error about a masqueraded flow back to the client', () => {
    const { ct } = makeConntrack();
    const masq = natRule(ct, 'src', range(NODE));
    const q = udp({ src: '10.244.1.2', dst: DNS, sport: 33000, dport: 53 });
    forward(ct, q, noRule, masq.run);
    // A router beyond the node: time exceeded, about the datagram as it left the node.
    const err = icmpError('203.0.113.1', NODE, 11, 0, q);
    const e = forward(ct, err);
    expect(e.ctState).toBe(CtState.RELATED);
    expect(fields(err)).toMatchObject({ src: '203.0.113.1', dst: '10.244.1.2' });
    expect(innerFields(err)).toEqual({ src: '10.244.1.2', dst: DNS, protocol: IPPROTO_UDP, sport: 33000, dport: 53 });
    expect(badChecksums(err)).toEqual([]);
  });
});

describe('NAT binding rules', () => {
  it('binds only unconfirmed connections, once per manipulation', () => {
    const { ct } = makeConntrack();
    const p = nfp(udp({ src: CLIENT, dst: VIP, sport: 1, dport: 2 }));
    ct.in(p);
    expect(ct.setupNat(p, 'dst', range(BACKEND))).toBe(NfVerdict.ACCEPT);
    expect(ct.natInitialized(p.ct!, 'dst')).toBe(true);
    expect(ct.natInitialized(p.ct!, 'src')).toBe(false);
    expect(ct.setupNat(p, 'dst', range(BACKEND))).toBe(NfVerdict.DROP);
    ct.ensureNullBinding(p, 'src');
    ct.confirm(p);
    const before = p.ct!.tuple[1].src;
    const q = nfp(udp({ src: CLIENT, dst: VIP, sport: 1, dport: 2 }));
    ct.in(q);
    expect(ct.setupNat(q, 'src', range('1.2.3.4'))).toBe(NfVerdict.ACCEPT); // confirmed: ignored
    expect(q.ct!.tuple[1].src).toBe(before);
  });

  it('jhash2 matches the kernel (values from include/linux/jhash.h compiled in C)', () => {
    expect(jhash2([0x0100000a, 0, 0, 0], 0x0200a8c0)).toBe(1287132856);
    expect(jhash2([0x12345678], 7)).toBe(2841601953);
    expect(jhash2([1, 2, 3, 4, 5], 99)).toBe(2714013822);
    expect(jhash2([0xffffffff, 0x80000000, 0x7fffffff], 0xdeadbeef)).toBe(4056493410);
  });
});
