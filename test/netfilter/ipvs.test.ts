import { describe, expect, test } from 'vitest';
import { SECOND } from '../../engine/time.js';
import {
  IpvsConn,
  IpvsConnTable,
  IpvsTcpState,
  RealServer,
  TCP_TIMEOUTS_S,
  UDP_TIMEOUT_S,
  VirtualServer,
  connOverhead,
  dhBuckets,
  hash32,
  nextTcpState,
  shBuckets,
  schedule,
  virtualServerOf,
  type SchedulerName,
} from '../../models/netfilter/ipvs/index.js';
import { tupleHash } from '../../models/netfilter/ipvs/conn.js';
import { IpSetTable } from '../../models/netfilter/ipset.js';
import { IptablesRuleset } from '../../models/netfilter/iptables/ruleset.js';
import { parseIpv4 } from '../../models/wire/addr.js';

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

/** A new connection's real server, from a client the hashing schedulers see as 10.244.1.2. */
const pick = (s: VirtualServer, client = '10.244.1.2'): RealServer | null => schedule(s, parseIpv4(client), s.addr);

function svc(scheduler: SchedulerName, reals: string[], persistenceTimeout?: number): VirtualServer {
  return virtualServerOf({
    protocol: 'TCP',
    address: '10.96.0.10',
    port: 80,
    scheduler,
    ...(persistenceTimeout !== undefined ? { persistenceTimeout } : {}),
    realServers: reals.map((a) => ({ address: a, port: 8080, weight: 1 })),
  });
}

/** A virtual server 10.96.0.10:80 (TCP, real servers on 8080) or :53 (UDP, on 53) with real servers [address, weight], added in that order. */
function weighted(scheduler: SchedulerName, reals: [string, number][], protocol: 'TCP' | 'UDP' = 'TCP'): VirtualServer {
  const port = protocol === 'TCP' ? 8080 : 53;
  return virtualServerOf({
    protocol,
    address: '10.96.0.10',
    port: protocol === 'TCP' ? 80 : 53,
    scheduler,
    realServers: reals.map(([address, weight]) => ({ address, port, weight })),
  });
}

const ip = (d: RealServer | null) => (d === null ? null : [d.addr >>> 24, (d.addr >>> 16) & 255, (d.addr >>> 8) & 255, d.addr & 255].join('.'));

describe('IPVS schedulers', () => {
  test('rr: starts at the head of the list, where ipvsadm -a puts each new real server, and wraps round', () => {
    const s = svc('rr', ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(s.dests.map((d) => ip(d))).toEqual(['10.0.0.3', '10.0.0.2', '10.0.0.1']);
    expect([1, 2, 3, 4, 5].map(() => ip(pick(s)))).toEqual(['10.0.0.3', '10.0.0.2', '10.0.0.1', '10.0.0.3', '10.0.0.2']);
  });

  test('rr: deleting a real server (ipvsadm -d) steps the position back, so the rotation goes on where it was', () => {
    const s = svc('rr', ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect([1, 2].map(() => ip(pick(s)))).toEqual(['10.0.0.3', '10.0.0.2']);
    const gone = s.dests[1]!;
    expect(s.removeDest(parseIpv4('10.0.0.2'), 8080)).toBe(true);
    expect(gone.removed).toBe(true);
    expect(s.removeDest(parseIpv4('10.0.0.2'), 8080)).toBe(false);
    expect([1, 2, 3].map(() => ip(pick(s)))).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.1']);
  });

  test('rr: a weight-0 real server is skipped; none usable gives null', () => {
    const s = weighted('rr', [['10.0.0.1', 1], ['10.0.0.2', 0]], 'UDP');
    expect([1, 2, 3].map(() => ip(pick(s)))).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    expect(pick(svc('rr', []))).toBeNull();
  });

  test('lc: the least overhead (active * 256 + inactive) wins, the first in list order on a tie', () => {
    const s = svc('lc', ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    const [c, b, a] = s.dests as [RealServer, RealServer, RealServer];
    expect(ip(pick(s))).toBe('10.0.0.3'); // all zero: the head
    c.activeConns = 1;
    expect(ip(pick(s))).toBe('10.0.0.2');
    b.inactConns = 255;
    a.inactConns = 200;
    expect(ip(pick(s))).toBe('10.0.0.1');
    a.activeConns = 1;
    expect(connOverhead(a)).toBe(456);
    expect(ip(pick(s))).toBe('10.0.0.2'); // 255 inactive weigh less than one active
  });

  test('wrr: weights 4, 3 and 2 give A A B A B C A B C once a round starts from the top weight', () => {
    const s = weighted('wrr', [['10.0.0.3', 2], ['10.0.0.2', 3], ['10.0.0.1', 4]]);
    const name = (d: RealServer | null) => (d === null ? '-' : 'ABC'[(d.addr & 255) - 1]!); // A = 10.0.0.1, weight 4
    // Each `ipvsadm -a` runs ip_vs_wrr_dest_changed: the first set cw to 1 (mw of a lone
    // weight 2 with di 2), and the later ones kept it, so the first round is the weight >= 1 pass.
    expect(Array.from({ length: 21 }, () => name(pick(s))).join('')).toBe('ABC' + 'AABABCABC' + 'AABABCABC');
  });

  test('wrr: weights of 1 (kube-proxy) go round as rr; weight 0 is passed over; none usable gives null', () => {
    const s = svc('wrr', ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect([1, 2, 3, 4].map(() => ip(pick(s)))).toEqual(['10.0.0.3', '10.0.0.2', '10.0.0.1', '10.0.0.3']);
    const drained = weighted('wrr', [['10.0.0.1', 1], ['10.0.0.2', 0]], 'UDP');
    expect([1, 2, 3].map(() => ip(pick(drained)))).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    drained.removeDest(parseIpv4('10.0.0.1'), 53);
    expect(pick(drained)).toBeNull();
    expect(pick(svc('wrr', []))).toBeNull();
  });

  test('wlc: the least overhead per weight (active * 256 + inactive), compared as loh * dw > doh * lw', () => {
    const s = weighted('wlc', [['10.0.0.1', 3], ['10.0.0.2', 1]]);
    const [two, one] = s.dests as [RealServer, RealServer]; // the list head is the last added
    expect(ip(pick(s))).toBe('10.0.0.2'); // both 0: the first of positive weight
    two.activeConns = 1; // 256 / 1 against 0 / 3
    expect(ip(pick(s))).toBe('10.0.0.1');
    one.activeConns = 2; // 256 / 1 against 512 / 3: 256 * 3 > 512 * 1
    expect(ip(pick(s))).toBe('10.0.0.1');
    one.activeConns = 4; // 256 * 3 < 1024 * 1
    expect(ip(pick(s))).toBe('10.0.0.2');
  });

  test('lblc: a destination address keeps its real server until that one is overloaded and another is under half its weight', () => {
    const s = svc('lblc', ['10.0.0.1', '10.0.0.2']); // list .2, .1
    const [two, one] = s.dests as [RealServer, RealServer];
    expect(ip(pick(s))).toBe('10.0.0.2'); // new: as wlc, the head
    two.activeConns = 1; // wlc would now take .1; lblc keeps .2 (1 active is not more than weight 1)
    expect(ip(pick(s))).toBe('10.0.0.2');
    two.activeConns = 2;
    one.activeConns = 1; // .2 is over its weight, but no server is under half its own
    expect(ip(pick(s))).toBe('10.0.0.2');
    one.activeConns = 0; // now .1 is: rescheduled, and .1 is remembered
    expect(ip(pick(s))).toBe('10.0.0.1');
    two.activeConns = 0;
    expect(ip(pick(s))).toBe('10.0.0.1');
    // Another destination address has an entry of its own.
    expect(ip(schedule(s, parseIpv4('10.244.1.2'), parseIpv4('10.96.0.11')))).toBe('10.0.0.2');
    // A deleted real server is not kept; one of weight 0 is never chosen.
    s.removeDest(parseIpv4('10.0.0.1'), 8080);
    expect(ip(pick(s))).toBe('10.0.0.2');
    const drained = weighted('lblc', [['10.0.0.1', 1], ['10.0.0.2', 0]]);
    expect(ip(pick(drained))).toBe('10.0.0.1');
  });

  test('lblcr: an overloaded address gains a second real server, and the least loaded of its set serves it', () => {
    const s = svc('lblcr', ['10.0.0.1', '10.0.0.2']); // list .2, .1
    const [two, one] = s.dests as [RealServer, RealServer];
    expect(ip(pick(s))).toBe('10.0.0.2'); // the set is {.2}
    two.activeConns = 2; // over its weight while .1 is idle: .1 joins the set
    expect(ip(pick(s))).toBe('10.0.0.1');
    two.activeConns = 1; // .2 is no longer overloaded, but .1 is the set's least loaded (0 against 256)
    expect(ip(pick(s))).toBe('10.0.0.1');
    one.activeConns = 1;
    two.activeConns = 0; // now .2 (0 against 256); lblc would keep .1
    expect(ip(pick(s))).toBe('10.0.0.2');
    // A member deleted from the service is passed over, even at the head of the set and idle.
    one.activeConns = 0;
    two.activeConns = 1;
    s.removeDest(parseIpv4('10.0.0.1'), 8080);
    expect(ip(pick(s))).toBe('10.0.0.2');
    const single = svc('lblc', ['10.0.0.1', '10.0.0.2']);
    const [t2, t1] = single.dests as [RealServer, RealServer];
    pick(single);
    t2.activeConns = 2;
    pick(single); // lblc moves the address to .1
    t1.activeConns = 1;
    t2.activeConns = 0;
    expect(ip(pick(single))).toBe('10.0.0.1');
  });

  test('sed counts active connections only, plus the new one; wlc counts inactive ones too', () => {
    const make = (scheduler: SchedulerName) => {
      const s = svc(scheduler, ['10.0.0.1', '10.0.0.2']);
      const [b, a] = s.dests as [RealServer, RealServer];
      b.inactConns = 300; // many connections in TIME_WAIT
      a.activeConns = 1;
      return s;
    };
    expect(ip(pick(make('sed')))).toBe('10.0.0.2'); // (0 + 1) against (1 + 1)
    expect(ip(pick(make('wlc')))).toBe('10.0.0.1'); // 300 against 256
  });

  test('nq: the first idle real server in list order, else as sed; weight 0 is passed over', () => {
    const s = weighted('nq', [['10.0.0.1', 10], ['10.0.0.2', 1], ['10.0.0.3', 0]]);
    const [z, b, a] = s.dests as [RealServer, RealServer, RealServer];
    a.activeConns = 1;
    expect(ip(pick(s))).toBe('10.0.0.2'); // idle, although 10.0.0.1's (1 + 1) / 10 is less
    b.activeConns = 1;
    expect(ip(pick(s))).toBe('10.0.0.1'); // 2 / 10 against 2 / 1
    expect(z.weight).toBe(0);
    expect(pick(svc('nq', []))).toBeNull();
  });

  test('hash_32 as include/linux/hash.h has it: the top bits of val * 0x61C88647', () => {
    // Worked out apart from the code, with Python integers.
    expect(hash32(parseIpv4('10.244.1.2'), 8)).toBe(77);
    expect(hash32(parseIpv4('10.244.2.3'), 8)).toBe(120);
    expect(hash32(parseIpv4('10.96.0.2'), 8)).toBe(228);
    expect(hash32(parseIpv4('10.96.0.10'), 8)).toBe(242);
  });

  test('sh: a client always gets the real server of its source address bucket; buckets go round the list by weight', () => {
    const s = svc('sh', ['10.0.0.1', '10.0.0.2', '10.0.0.3']); // list .3, .2, .1
    // Bucket 77 holds list[77 % 3 = 2] = 10.0.0.1; bucket 120 list[0] = 10.0.0.3.
    expect([1, 2, 3].map(() => ip(pick(s, '10.244.1.2')))).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    expect(ip(pick(s, '10.244.2.3'))).toBe('10.0.0.3');
    const byWeight = weighted('sh', [['10.0.0.1', 2], ['10.0.0.2', 1]]);
    // ip_vs_sh_reassign: .2 takes one bucket, .1 two, and round again.
    expect(shBuckets(byWeight.dests).slice(0, 7).map(ip)).toEqual(['10.0.0.2', '10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.1', '10.0.0.2']);
  });

  test('sh: a real server of weight 0 keeps one bucket, and its clients find no destination', () => {
    const s = weighted('sh', [['10.0.0.1', 1], ['10.0.0.2', 0]], 'UDP');
    expect(shBuckets(s.dests).slice(0, 4).map(ip)).toEqual(['10.0.0.2', '10.0.0.1', '10.0.0.2', '10.0.0.1']);
    expect(pick(s, '10.244.2.3')).toBeNull(); // bucket 120: 10.0.0.2
    expect(ip(pick(s, '10.244.1.2'))).toBe('10.0.0.1'); // bucket 77
    // Deleting the drained one reassigns the buckets.
    s.removeDest(parseIpv4('10.0.0.2'), 53);
    expect(ip(pick(s, '10.244.2.3'))).toBe('10.0.0.1');
  });

  test('dh: the bucket of the destination address, so one virtual address always gets one real server; weights give no more buckets', () => {
    const s = svc('dh', ['10.0.0.1', '10.0.0.2', '10.0.0.3']); // list .3, .2, .1; 10.96.0.10 hashes to 242, list[242 % 3 = 2]
    expect(['10.244.1.2', '10.244.2.3', '10.244.1.3'].map((c) => ip(pick(s, c)))).toEqual(['10.0.0.1', '10.0.0.1', '10.0.0.1']);
    const byWeight = weighted('dh', [['10.0.0.1', 5], ['10.0.0.2', 1]]);
    expect(dhBuckets(byWeight.dests).slice(0, 4).map(ip)).toEqual(['10.0.0.2', '10.0.0.1', '10.0.0.2', '10.0.0.1']);
  });

  test('a bad spec is an error naming the service', () => {
    expect(() => virtualServerOf({ protocol: 'TCP', address: '10.96.0.1', port: 80, scheduler: 'mh' as 'rr', realServers: [] })).toThrow(
      'ipvs TCP 10.96.0.1:80: scheduler mh is not modelled (rr, wrr, lc, wlc, lblc, lblcr, sed, nq, sh, dh)',
    );
    expect(() =>
      virtualServerOf({ protocol: 'TCP', address: '10.96.0.1', port: 80, scheduler: 'rr', realServers: [{ address: '10.0.0.1', port: 80, weight: 1 }, { address: '10.0.0.1', port: 80, weight: 1 }] }),
    ).toThrow('already has real server 10.0.0.1:80');
  });
});

describe('IPVS TCP states', () => {
  test('a connection: SYN_RECV, ESTABLISHED on the client ACK, FIN_WAIT, TIME_WAIT', () => {
    let s = nextTcpState(IpvsTcpState.NONE, SYN, false);
    expect(s).toBe(IpvsTcpState.SYN_RECV);
    s = nextTcpState(s, SYN | ACK, true);
    expect(s).toBe(IpvsTcpState.SYN_RECV);
    s = nextTcpState(s, ACK, false);
    expect(s).toBe(IpvsTcpState.ESTABLISHED);
    s = nextTcpState(s, FIN | ACK, false);
    expect(s).toBe(IpvsTcpState.CLOSE_WAIT);
    s = nextTcpState(s, FIN | ACK, true);
    expect(s).toBe(IpvsTcpState.TIME_WAIT);
    expect(nextTcpState(IpvsTcpState.ESTABLISHED, RST | ACK, true)).toBe(IpvsTcpState.CLOSE);
    expect(nextTcpState(IpvsTcpState.ESTABLISHED, 0, true)).toBe(IpvsTcpState.ESTABLISHED);
  });

  test('timeouts are ipvsadm --timeout defaults: tcp 900, tcpfin 120, udp 300', () => {
    expect(TCP_TIMEOUTS_S[IpvsTcpState.ESTABLISHED]).toBe(900);
    expect(TCP_TIMEOUTS_S[IpvsTcpState.FIN_WAIT]).toBe(120);
    expect(UDP_TIMEOUT_S).toBe(300);
  });
});

describe('IPVS connection table', () => {
  test('entries are found both ways, count against their real server, and expire after their timeout', () => {
    let now = 0;
    const t = new IpvsConnTable(() => now);
    const s = virtualServerOf({ protocol: 'UDP', address: '10.96.0.10', port: 53, scheduler: 'rr', realServers: [{ address: '10.0.0.1', port: 53, weight: 1 }] });
    const d = s.dests[0]!;
    const c = t.add(new IpvsConn(17, parseIpv4('10.244.0.5'), 40000, s.addr, 53, d, s, null, false));
    expect(t.inGet(17, parseIpv4('10.244.0.5'), 40000, s.addr, 53)).toBe(c);
    expect(t.outGet(17, d.addr, 53, parseIpv4('10.244.0.5'), 40000)).toBe(c);
    expect(t.inGet(6, parseIpv4('10.244.0.5'), 40000, s.addr, 53)).toBeNull();
    expect(d.inactConns).toBe(1);
    now = (UDP_TIMEOUT_S - 1) * SECOND;
    expect(t.inGet(17, parseIpv4('10.244.0.5'), 40000, s.addr, 53)).toBe(c);
    now = UDP_TIMEOUT_S * SECOND;
    expect(t.inGet(17, parseIpv4('10.244.0.5'), 40000, s.addr, 53)).toBeNull();
    expect(d.inactConns).toBe(0);
    expect(t.size).toBe(0);
  });

  test('a persistence template outlives its timeout while it controls a connection', () => {
    let now = 0;
    const t = new IpvsConnTable(() => now);
    const s = svc('rr', ['10.0.0.1'], 10);
    const d = s.dests[0]!;
    const client = parseIpv4('10.244.0.5');
    const tpl = t.add(new IpvsConn(6, client, 0, s.addr, 80, d, s, null, true));
    expect(d.persistConns).toBe(1);
    const c = t.add(new IpvsConn(6, client, 40000, s.addr, 80, d, s, tpl, false));
    c.timeoutS = 900;
    t.touch(c);
    now = 11 * SECOND;
    expect(t.templateGet(6, client, s)).toBe(tpl);
    now = 899 * SECOND;
    expect(t.templateGet(6, client, s)).toBe(tpl); // its connection still lives
    now = 2000 * SECOND;
    expect(t.templateGet(6, client, s)).toBeNull();
    expect(d.persistConns).toBe(0);
    expect(d.inactConns).toBe(0);
  });
});

describe('IPVS connection table buckets', () => {
  test('connections whose tuples hash alike are each found both ways, and expire on their own', () => {
    let now = 0;
    const t = new IpvsConnTable(() => now);
    const s = virtualServerOf({ protocol: 'TCP', address: '10.96.0.10', port: 80, scheduler: 'rr', realServers: [{ address: '10.0.0.1', port: 8080, weight: 1 }] });
    const d = s.dests[0]!;
    // Two clients whose (client -> VIP) tuples share a bucket: found by search, not written in.
    const seen = new Map<number, [number, number]>();
    let pair: [[number, number], [number, number]] | undefined;
    for (let i = 0; pair === undefined && i < 1 << 22; i++) {
      const client: [number, number] = [parseIpv4('10.244.0.0') + (i >>> 8), 30000 + (i & 255)];
      const h = tupleHash(6, client[0], client[1], s.addr, 80);
      const other = seen.get(h);
      if (other !== undefined) pair = [other, client];
      else seen.set(h, client);
    }
    expect(pair).toBeDefined();
    const [[a, ap], [b, bp]] = pair!;
    const ca = t.add(new IpvsConn(6, a, ap, s.addr, 80, d, s, null, false));
    expect(t.inGet(6, b, bp, s.addr, 80)).toBeNull();
    now = SECOND;
    const cb = t.add(new IpvsConn(6, b, bp, s.addr, 80, d, s, null, false));
    expect(t.inGet(6, a, ap, s.addr, 80)).toBe(ca);
    expect(t.inGet(6, b, bp, s.addr, 80)).toBe(cb);
    expect(t.outGet(6, d.addr, 8080, a, ap)).toBe(ca);
    expect(t.outGet(6, d.addr, 8080, b, bp)).toBe(cb);
    // The first one's timer runs out; the second, added a second later, is still there.
    now = TCP_TIMEOUTS_S[IpvsTcpState.NONE] * SECOND;
    expect(t.inGet(6, a, ap, s.addr, 80)).toBeNull();
    expect(t.inGet(6, b, bp, s.addr, 80)).toBe(cb);
    expect(t.outGet(6, d.addr, 8080, b, bp)).toBe(cb);
    expect(t.entries()).toEqual([cb]);
  });
});

describe('hash:ip,port,ip (KUBE-LOOP-BACK)', () => {
  test('-m set --match-set KUBE-LOOP-BACK dst,dst,src matches a pod reaching itself through a VIP', () => {
    const set = IpSetTable.of('KUBE-LOOP-BACK', 'hash:ip,port,ip', ['10.244.1.3,tcp:8080,10.244.1.3']);
    expect(set.test(parseIpv4('10.244.1.3'), 6, 8080, parseIpv4('10.244.1.3'))).toBe(true);
    expect(set.test(parseIpv4('10.244.1.3'), 6, 8080, parseIpv4('10.244.1.2'))).toBe(false);
    expect(set.test(parseIpv4('10.244.1.3'), 17, 8080, parseIpv4('10.244.1.3'))).toBe(false);
    expect(() => IpSetTable.of('X', 'hash:ip,port,ip', ['10.0.0.1,tcp:80'])).toThrow('is not an ip,port,ip element');
    const rs = new IptablesRuleset({ ipsets: (n) => (n === 'KUBE-LOOP-BACK' ? set : undefined) });
    rs.restore('*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE\nCOMMIT\n', 'r');
    expect(rs.save()).toContain('-A POSTROUTING -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE');
  });
});
