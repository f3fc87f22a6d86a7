/**
 * ARP and the neighbour state machine against net/core/neighbour.c,
 * net/ipv4/arp.c and Documentation/networking/ip-sysctl.rst (arp_tbl defaults:
 * base_reachable_time 30 s, retrans_time 1 s, delay_first_probe_time 5 s,
 * ucast_solicit 3, mcast_solicit 3, unres_qlen 101; arp_accept 0, arp_announce 0,
 * arp_ignore 0):
 * - __neigh_event_send: the first packet makes the entry INCOMPLETE, queues the
 *   packet and sends a broadcast request at once; neigh_timer_handler retries
 *   every retrans_time until neigh_max_probes (probes start at ucast_solicit, so
 *   three broadcasts), then FAILED: neigh_invalidate -> arp_error_report ->
 *   icmp_send(ICMP_HOST_UNREACH) for every queued packet; the queue drops its
 *   oldest packet when full (NEIGH_QUEUEFULL);
 * - REACHABLE lasts reachable_time, drawn uniformly in [base/2, 3*base/2)
 *   (neigh_rand_reach_time), then becomes STALE, or DELAY if used in the last
 *   delay_first_probe_time; a STALE entry is used at once and enters DELAY; after
 *   5 s without confirmation PROBE sends up to ucast_solicit unicast requests
 *   (arp_solicit: eth dst the known MAC, target MAC zero) then FAILED;
 * - arp_process: a request for a local address creates the sender's entry as
 *   STALE (neigh_event_ns) and is answered by unicast; replies only update
 *   existing entries (arp_accept=0), REACHABLE only when unicast to us; requests
 *   for loopback or multicast targets are dropped; an RFC 2131 probe (sender
 *   0.0.0.0) for a local address is answered and teaches nothing; arp_rcv ignores
 *   PACKET_OTHERHOST frames;
 * - arp_solicit with arp_announce=0: the sender IP is the source of the queued
 *   packet when local, else inet_select_addr(dev, target) (same subnet first).
 */
import { describe, expect, it } from 'vitest';
import { PingApp } from '../../models/apps/ping.js';
import { FlowStats } from '../../models/stats/flow-stats.js';
import { DropReason } from '../../models/devices/drop-reason.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import type { UdpReceiver } from '../../models/stack/udp.js';
import type { Netns } from '../../models/stack/netns.js';
import type { NetDevice } from '../../models/devices/net-device.js';
import { MS, SECOND, TestNet, addr, arpFrame, decode, frameLine, ip, route, sendUdp } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const ZERO = '00:00:00:00:00:00';
const BCAST = 'ff:ff:ff:ff:ff:ff';

/** A and B on a 1 ms wire, 10.0.0.1/24 and 10.0.0.2/24; A's eth0 and lo captured. */
function lan(seed = 1) {
  const net = new TestNet(seed);
  const a = net.ns('a', { component: 'ca' });
  const b = net.ns('b', { component: 'cb' });
  const [ea, eb] = net.wire(a, 'eth0', A, b, 'eth0', B, { delayNs: MS, cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  net.capture(ea, a.lo);
  return { net, a, b, ea, eb };
}

/** A UDP socket that records the tags of what it receives. */
function sink(ns: Netns, port: number): number[] {
  const tags: number[] = [];
  const r: UdpReceiver = {
    onDatagram: (pkt, _s, _sp, _d, off) => tags.push(((pkt.buf[off]! << 24) | (pkt.buf[off + 1]! << 16) | (pkt.buf[off + 2]! << 8) | pkt.buf[off + 3]!) >>> 0),
    onIcmpError: () => {},
  };
  ns.udp.bind(port, r);
  return tags;
}

function state(ns: Netns, dev: NetDevice, target: string): string | undefined {
  return ns.neighbour(dev, ip(target))?.stateName;
}

/** Frames of one capture as "t dir line", t in ms. */
function timeline(net: TestNet, dev: string): string[] {
  return net.tap.frames.filter((f) => f.dev === dev).map((f) => `${f.t / MS} ${f.dir} ${lineOf(f.bytes)}`);
}
const lineOf = frameLine;

describe('neighbour resolution (__neigh_event_send, neigh_update)', () => {
  it('queues the first packet behind a broadcast request and sends it when the reply arrives', () => {
    const { net, a, b, ea, eb } = lan();
    const got = sink(b, 9000);
    net.at(0, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 20, 1));
    let during: [string | undefined, number] = ['', -1];
    net.at(MS, () => (during = [state(a, ea, '10.0.0.2'), a.neighbour(ea, ip('10.0.0.2'))!.queue.length]));
    net.run(SECOND);
    expect(timeline(net, 'a/eth0')).toEqual([
      `0 out ${A} > ${BCAST} ARP who-has 10.0.0.2 tell 10.0.0.1`,
      `2 in ${B} > ${A} ARP 10.0.0.2 is-at ${B}`,
      `2 out ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 UDP 5555 > 9000 len 20`,
    ]);
    expect(decode(net.tap.frames[0]!.bytes).arp!.targetMac).toBe(0);
    expect(net.tap.frames[0]!.bytes.length).toBe(42);
    expect(during).toEqual(['INCOMPLETE', 1]);
    expect(got).toEqual([1]);
    expect(a.neigh.dump()).toEqual([{ ip: '10.0.0.2', dev: 'eth0', mac: B, state: 'REACHABLE' }]);
    // The request taught B about A (STALE: a request does not prove reachability).
    expect(b.neigh.dump()).toEqual([{ ip: '10.0.0.1', dev: 'eth0', mac: A, state: 'STALE' }]);
    expect(eb.counters.rxPackets).toBe(2);
  });

  it('gives up on an unresolvable address after exactly 3 broadcasts 1 s apart, then reports each queued packet unreachable', () => {
    const { net, a, ea } = lan();
    const stats = new FlowStats('p', 'ping', 'a', '10.0.0.99', 'rtt');
    new PingApp(a, { name: 'ping', dst: ip('10.0.0.99'), count: 4, intervalNs: 500 * MS, size: 56, broadcast: false, ident: 9, startNs: 0, timeoutNs: SECOND, epochSeconds: 0 }, stats);
    const states: Record<number, string | undefined> = {};
    for (const t of [2999, 3000]) net.at(t * MS, () => (states[t] = state(a, ea, '10.0.0.99')));
    net.run(4500 * MS);
    expect(timeline(net, 'a/eth0')).toEqual([
      `0 out ${A} > ${BCAST} ARP who-has 10.0.0.99 tell 10.0.0.1`,
      `1000 out ${A} > ${BCAST} ARP who-has 10.0.0.99 tell 10.0.0.1`,
      `2000 out ${A} > ${BCAST} ARP who-has 10.0.0.99 tell 10.0.0.1`,
    ]);
    // The errors come from the local stack to itself, through lo, one per queued echo request.
    const lo = net.tap.frames.filter((f) => f.dev === 'a/lo');
    expect(lo.map((f) => `${f.t / MS} ${lineOf(f.bytes)}`)).toEqual(
      Array(4).fill(`3000 ${ZERO} > ${ZERO} IP 10.0.0.1 > 10.0.0.1 ttl 64 ICMP unreachable code 1`),
    );
    const quotedSeqs = lo.map((f) => {
      const q = (decode(f.bytes).icmp as { quoted: Uint8Array }).quoted;
      return (q[26]! << 8) | q[27]!;
    });
    expect(quotedSeqs).toEqual([1, 2, 3, 4]);
    expect(lo.every((f) => decode(f.bytes).ip!.dscpEcn === 0xc0)).toBe(true);
    expect(states).toEqual({ 2999: 'INCOMPLETE', 3000: 'FAILED' });
    expect(Object.fromEntries(stats.errors)).toEqual({ 'destination host unreachable': 4 });
    expect(net.dropsOf(a)).toEqual({ [DropReason.NEIGH_FAILED]: 4 });
  });

  it('starts over with a fresh broadcast when a FAILED entry is used again', () => {
    const { net, a, ea } = lan();
    net.at(0, () => sendUdp(a, ip('10.0.0.99'), 5555, 9000, 8));
    net.at(5 * SECOND, () => sendUdp(a, ip('10.0.0.99'), 5555, 9000, 8));
    net.run(5500 * MS);
    expect(timeline(net, 'a/eth0').map((l) => l.split(' ')[0])).toEqual(['0', '1000', '2000', '5000']);
    expect(state(a, ea, '10.0.0.99')).toBe('INCOMPLETE');
  });

  it('holds at most unres_qlen (101) packets, dropping the oldest', () => {
    const { net, a, b, ea } = lan();
    const got = sink(b, 9000);
    net.at(0, () => {
      for (let i = 0; i < 150; i++) sendUdp(a, ip('10.0.0.2'), 5555, 9000, 8, i);
    });
    net.run(SECOND);
    expect(got).toEqual(Array.from({ length: 101 }, (_, i) => 49 + i));
    expect(net.dropsOf(a)).toEqual({ [DropReason.NEIGH_QUEUEFULL]: 49 });
    expect(ea.counters.dropsByReason.get(DropReason.NEIGH_QUEUEFULL)).toBe(49);
  });

  it('reports packets a router could not deliver with ICMP host unreachable from the router', () => {
    const net = new TestNet(1);
    const a = net.ns('a');
    const r = net.ns('r', { forward: true });
    const c = net.ns('c');
    const [ea] = net.veth(a, 'eth0', A, r, 'eth0', '02:00:00:00:00:01', { cidrA: '10.0.0.1/24', cidrB: '10.0.0.254/24' });
    const [r1] = net.veth(r, 'eth1', '02:00:00:00:00:02', c, 'eth0', '02:00:00:00:00:0c', { cidrA: '10.0.1.1/24', cidrB: '10.0.1.2/24' });
    route(ea, '0.0.0.0/0', '10.0.0.254');
    net.capture(ea, r1);
    net.at(0, () => sendUdp(a, ip('10.0.1.99'), 5555, 9000, 8, 5));
    net.run(4 * SECOND);
    expect(net.tap.lines(true).filter((l) => l.startsWith('r/eth1'))).toEqual(
      Array(3).fill(`r/eth1 out 02:00:00:00:00:02 > ${BCAST} ARP who-has 10.0.1.99 tell 10.0.1.1`),
    );
    const err = net.tap.frames.filter((f) => f.dev === 'a/eth0' && f.dir === 'in' && decode(f.bytes).icmp !== undefined);
    expect(err.map((f) => `${f.t / MS} ${lineOf(f.bytes)}`)).toEqual([
      `3000 02:00:00:00:00:01 > ${A} IP 10.0.0.254 > 10.0.0.1 ttl 64 ICMP unreachable code 1`,
    ]);
    expect(net.dropsOf(r)).toEqual({ [DropReason.NEIGH_FAILED]: 1 });
  });
});

describe('NUD timers (neigh_timer_handler)', () => {
  /** When A's entry for B leaves REACHABLE after one exchange at t=0, and what it becomes. */
  function reachableSpan(seed: number): { span: number; next: string | undefined } {
    const { net, a, b, ea } = lan(seed);
    sink(b, 9000);
    net.at(0, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 8));
    net.run(10 * MS);
    const n = a.neighbour(ea, ip('10.0.0.2'))!;
    expect(n.stateName).toBe('REACHABLE');
    const confirmed = n.confirmedAt;
    let t = 10 * MS;
    while (n.stateName === 'REACHABLE' && t < 60 * SECOND) {
      t += 5 * MS;
      net.run(t);
    }
    return { span: t - confirmed, next: n.stateName };
  }

  it('keeps REACHABLE for a random reachable_time in [15 s, 45 s), then STALE when unused', () => {
    const spans = [1, 2, 3, 4, 5, 6].map(reachableSpan);
    for (const s of spans) {
      expect(s.next).toBe('STALE');
      expect(s.span).toBeGreaterThanOrEqual(15 * SECOND);
      expect(s.span).toBeLessThanOrEqual(45 * SECOND + 20 * MS);
    }
    expect(new Set(spans.map((s) => Math.round(s.span / SECOND))).size).toBeGreaterThan(2);
    expect(reachableSpan(3)).toEqual(spans[2]); // seeded
  });

  it('goes to DELAY instead when the entry was used in the last 5 s, and probes by unicast 5 s later', () => {
    const { net, a, b, ea } = lan();
    sink(b, 9000);
    for (let s = 0; s <= 60; s++) net.at(s * SECOND, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 8, s));
    net.run(10 * MS);
    const n = a.neighbour(ea, ip('10.0.0.2'))!;
    const confirmed = n.confirmedAt;
    const states = new Set<string>();
    let t = 10 * MS;
    while (n.stateName === 'REACHABLE' && t < 60 * SECOND) {
      t += 5 * MS;
      net.run(t);
      states.add(n.stateName);
    }
    expect([...states]).toEqual(['REACHABLE', 'DELAY']); // never STALE: the entry is in use
    const delayAt = n.updatedAt;
    expect(delayAt - confirmed).toBeGreaterThanOrEqual(15 * SECOND);
    expect(delayAt - confirmed).toBeLessThanOrEqual(45 * SECOND + 10 * MS);
    net.tap.clear();
    net.run(delayAt + 5 * SECOND - 1);
    expect(n.stateName).toBe('DELAY');
    net.run(delayAt + 5 * SECOND);
    expect(n.stateName).toBe('PROBE');
    net.run(delayAt + 5 * SECOND + 2 * MS);
    expect(n.stateName).toBe('REACHABLE');
    const arp = net.tap.frames.filter((f) => f.dev === 'a/eth0' && decode(f.bytes).arp !== undefined);
    expect(arp.map((f) => `${f.t - delayAt} ${f.dir} ${lineOf(f.bytes)}`)).toEqual([
      `${5 * SECOND} out ${A} > ${B} ARP who-has 10.0.0.2 tell 10.0.0.1`,
      `${5 * SECOND + 2 * MS} in ${B} > ${A} ARP 10.0.0.2 is-at ${B}`,
    ]);
    expect(decode(arp[0]!.bytes).arp!.targetMac).toBe(0);
  });

  /** B teaches A its address with a request at t=0 (A: STALE); at 10 s A sends to B. */
  function staleThenUsed(bAnswers: boolean) {
    const { net, a, b, ea, eb } = lan();
    sink(a, 7000);
    sink(b, 9000);
    net.at(0, () => sendUdp(b, ip('10.0.0.1'), 6000, 7000, 8));
    const states: Record<number, string | undefined> = {};
    net.at(9 * SECOND, () => {
      states[9000] = state(a, ea, '10.0.0.2');
      net.tap.clear();
      if (!bAnswers) eb.up = false;
    });
    net.at(10 * SECOND, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 8));
    for (const t of [10001, 14999, 15000, 15003, 17999, 18000]) net.at(t * MS, () => (states[t] = state(a, ea, '10.0.0.2')));
    net.run(20 * SECOND);
    return { net, states };
  }

  it('uses a STALE entry at once (DELAY), then after 5 s sends 3 unicast probes 1 s apart and fails', () => {
    const { net, states } = staleThenUsed(false);
    expect(timeline(net, 'a/eth0')).toEqual([
      `10000 out ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 UDP 5555 > 9000 len 8`,
      `15000 out ${A} > ${B} ARP who-has 10.0.0.2 tell 10.0.0.1`,
      `16000 out ${A} > ${B} ARP who-has 10.0.0.2 tell 10.0.0.1`,
      `17000 out ${A} > ${B} ARP who-has 10.0.0.2 tell 10.0.0.1`,
    ]);
    for (const f of net.tap.frames.slice(1)) expect(decode(f.bytes).arp!.targetMac).toBe(0);
    expect(states).toEqual({ 9000: 'STALE', 10001: 'DELAY', 14999: 'DELAY', 15000: 'PROBE', 15003: 'PROBE', 17999: 'PROBE', 18000: 'FAILED' });
  });

  it('returns to REACHABLE when the first unicast probe is answered', () => {
    const { net, states } = staleThenUsed(true);
    expect(timeline(net, 'a/eth0')).toEqual([
      `10000 out ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 UDP 5555 > 9000 len 8`,
      `15000 out ${A} > ${B} ARP who-has 10.0.0.2 tell 10.0.0.1`,
      `15002 in ${B} > ${A} ARP 10.0.0.2 is-at ${B}`,
    ]);
    expect([states[15000], states[15003], states[18000]]).toEqual(['PROBE', 'REACHABLE', 'REACHABLE']);
  });
});

describe('arp_process', () => {
  function frames(net: TestNet, dev: string, dir: 'in' | 'out'): string[] {
    return net.tap.frames.filter((f) => f.dev === dev && f.dir === dir).map((f) => lineOf(f.bytes));
  }

  it('answers a request for a local address by unicast and learns the sender as STALE', () => {
    const { net, a, b, ea, eb } = lan();
    eb.xmit(arpFrame(b, 1, BCAST, B, { senderMac: B, senderIp: '10.0.0.2', targetMac: ZERO, targetIp: '10.0.0.1' }));
    net.run(10 * MS);
    expect(frames(net, 'a/eth0', 'out')).toEqual([`${A} > ${B} ARP 10.0.0.1 is-at ${A}`]);
    const reply = decode(net.tap.frames[1]!.bytes).arp!;
    expect([reply.targetMac, formatIpv4(reply.targetIp)]).toEqual([0x02000000000b, '10.0.0.2']);
    expect(a.neigh.dump()).toEqual([{ ip: '10.0.0.2', dev: 'eth0', mac: B, state: 'STALE' }]);
    expect(state(a, ea, '10.0.0.2')).toBe('STALE');
  });

  it('answers for any local address, even one on another device (arp_ignore=0)', () => {
    const { net, a, b, eb } = lan();
    const other = net.ns('other');
    const [dummy] = net.veth(a, 'eth9', '02:00:00:00:00:99', other, 'eth0', '02:00:00:00:00:98');
    addr(dummy, '172.16.0.1/24');
    eb.xmit(arpFrame(b, 1, BCAST, B, { senderMac: B, senderIp: '10.0.0.2', targetMac: ZERO, targetIp: '172.16.0.1' }));
    net.run(10 * MS);
    expect(frames(net, 'a/eth0', 'out')).toEqual([`${A} > ${B} ARP 172.16.0.1 is-at ${A}`]);
  });

  it('ignores requests for other addresses, for loopback and multicast targets, and frames for another MAC', () => {
    const { net, a, b, eb } = lan();
    const req = (ethDst: string, tip: string) =>
      eb.xmit(arpFrame(b, 1, ethDst, B, { senderMac: B, senderIp: '10.0.0.2', targetMac: ZERO, targetIp: tip }));
    net.at(0, () => req(BCAST, '10.0.0.77'));
    net.at(MS, () => req(BCAST, '127.0.0.1'));
    net.at(2 * MS, () => req(BCAST, '224.0.0.1'));
    net.at(3 * MS, () => req('02:00:00:00:00:77', '10.0.0.1')); // PACKET_OTHERHOST: arp_rcv drops it unread
    net.run(10 * MS);
    expect(frames(net, 'a/eth0', 'in').length).toBe(4);
    expect(frames(net, 'a/eth0', 'out')).toEqual([]);
    expect(a.neigh.dump()).toEqual([]);
  });

  it('answers a duplicate-address probe (sender 0.0.0.0) for a local address and learns nothing', () => {
    const { net, a, b, eb } = lan();
    eb.xmit(arpFrame(b, 1, BCAST, B, { senderMac: B, senderIp: '0.0.0.0', targetMac: ZERO, targetIp: '10.0.0.1' }));
    net.run(10 * MS);
    expect(frames(net, 'a/eth0', 'out')).toEqual([`${A} > ${B} ARP 10.0.0.1 is-at ${A}`]);
    const reply = decode(net.tap.frames[1]!.bytes).arp!;
    expect([reply.targetMac, reply.targetIp]).toEqual([0x02000000000b, 0]);
    expect(a.neigh.dump()).toEqual([]);
  });

  it('creates nothing from an unsolicited reply (arp_accept=0)', () => {
    const { net, a, b, eb } = lan();
    eb.xmit(arpFrame(b, 2, A, B, { senderMac: B, senderIp: '10.0.0.2', targetMac: A, targetIp: '10.0.0.1' }));
    net.run(10 * MS);
    expect(a.neigh.dump()).toEqual([]);
  });

  it('resolves an INCOMPLETE entry from a unicast reply (REACHABLE); a broadcast one leaves it unconfirmed', () => {
    // A broadcast reply makes the entry STALE; flushing the queue through neigh->output
    // (neigh_resolve_output -> __neigh_event_send) then moves it to DELAY at once.
    for (const [dst, want] of [[A, 'REACHABLE'], [BCAST, 'DELAY']] as const) {
      const { net, a, b, ea, eb } = lan();
      sink(b, 9000);
      eb.up = false; // B's stack never sees A's request
      net.at(0, () => sendUdp(a, ip('10.0.0.2'), 5555, 9000, 8));
      net.at(500 * MS, () => {
        eb.up = true;
        eb.xmit(arpFrame(b, 2, dst, B, { senderMac: B, senderIp: '10.0.0.2', targetMac: A, targetIp: '10.0.0.1' }));
      });
      net.run(600 * MS);
      expect(state(a, ea, '10.0.0.2')).toBe(want);
      // The queued datagram left as soon as the address was known.
      expect(timeline(net, 'a/eth0').slice(-1)[0]).toBe(`501 out ${A} > ${B} IP 10.0.0.1 > 10.0.0.2 ttl 64 UDP 5555 > 9000 len 8`);
    }
  });

  it('takes the request sender IP from the queued packet when local, else from the device (arp_announce=0)', () => {
    const net = new TestNet(1);
    const a = net.ns('a');
    const r = net.ns('r', { forward: true });
    const c = net.ns('c');
    const [ea] = net.veth(a, 'eth0', A, r, 'eth0', '02:00:00:00:00:01', { cidrA: '10.0.0.5/24', cidrB: '10.0.0.1/24' });
    const [r1, ec] = net.veth(r, 'eth1', '02:00:00:00:00:02', c, 'eth0', '02:00:00:00:00:0c', { cidrA: '10.0.1.1/24', cidrB: '10.0.1.9/24' });
    addr(r1, '10.0.2.1/24');
    addr(ec, '10.0.2.9/24');
    route(ea, '0.0.0.0/0', '10.0.0.1');
    net.capture(r1);
    net.at(0, () => sendUdp(a, ip('10.0.2.9'), 5555, 9000, 8)); // forwarded: the device's address on the target's subnet
    net.at(MS, () => sendUdp(a, ip('10.0.1.9'), 5555, 9000, 8));
    net.at(2 * MS, () => sendUdp(r, ip('10.0.2.99'), 5555, 9000, 8, 0, { src: ip('10.0.0.1') })); // local source on eth0
    net.run(10 * MS);
    const requests = net.tap.frames.filter((f) => f.dir === 'out' && decode(f.bytes).arp?.op === 1);
    expect(requests.map((f) => lineOf(f.bytes))).toEqual([
      `02:00:00:00:00:02 > ${BCAST} ARP who-has 10.0.2.9 tell 10.0.2.1`,
      `02:00:00:00:00:02 > ${BCAST} ARP who-has 10.0.1.9 tell 10.0.1.1`,
      `02:00:00:00:00:02 > ${BCAST} ARP who-has 10.0.2.99 tell 10.0.0.1`,
    ]);
  });
});
