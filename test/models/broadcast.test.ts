/**
 * Sending to a broadcast address, after net/ipv4 and what this kernel does
 * (checked with two namespaces and python sockets, see test/kernel/broadcast.kernel.test.ts):
 * - ip_route_output_key_hash: a directed broadcast of a configured prefix is
 *   the local table's `broadcast` route (RTN_BROADCAST, on-link, from the
 *   prefix's device); 255.255.255.255 leaves on the device the main table
 *   routes it to, without the gateway; with no route at all, ENETUNREACH;
 * - udp_sendmsg / ping_v4_sendmsg: RTCF_BROADCAST on a socket without
 *   SO_BROADCAST fails with EACCES and sends nothing; tcp_v4_connect refuses
 *   a broadcast with ENETUNREACH;
 * - arp_constructor: the neighbour of a broadcast address is NUD_NOARP with
 *   the device's broadcast address, so the frame goes to ff:ff:ff:ff:ff:ff
 *   without an ARP request;
 * - ip_mc_output: the sender receives a copy of its own broadcast
 *   (dev_loopback_xmit), which no tap on the device sees (af_packet skips
 *   PACKET_LOOPBACK) and its counters do not count;
 * - __udp4_lib_mcast_deliver: a broadcast no socket wants is consumed
 *   (UDP_MIB_IGNOREDMULTI), with no ICMP port unreachable and no drop;
 * - icmp_echo: hosts ignore broadcast echo requests (icmp_echo_ignore_broadcasts=1).
 */
import { describe, expect, it } from 'vitest';
import type { UdpReceiver } from '../../models/stack/udp.js';
import type { Netns } from '../../models/stack/netns.js';
import { UdpClient, UdpServer, type UdpClientOptions } from '../../models/apps/udp-rr.js';
import { PingApp } from '../../models/apps/ping.js';
import { FlowStats } from '../../models/stats/flow-stats.js';
import { MS, SECOND, TestNet, addr, decode, ip, route, sendUdp } from './helpers.js';

const MACS = ['02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03'];

/** h1, h2, h3 (10.0.0.1-3/24) on bridge br0 in sw; h1 routes everything else via h2. */
function lan() {
  const net = new TestNet(1);
  const sw = net.ns('sw');
  const br = net.bridge(sw, 'br0', '0e:00:00:00:00:ff');
  const hosts = MACS.map((_, i) => net.ns(`h${i + 1}`));
  const eth = hosts.map((h, i) => {
    const [port, e] = net.veth(sw, `p${i + 1}`, `0e:00:00:00:00:0${i + 1}`, h, 'eth0', MACS[i]!);
    br.addPort(port);
    addr(e, `10.0.0.${i + 1}/24`);
    return e;
  });
  const tap = net.capture(...eth);
  return { net, hosts, eth, tap, h1: hosts[0]!, h2: hosts[1]!, h3: hosts[2]! };
}

/** A socket on `port` recording "src:sport -> dst len". */
function socket(ns: Netns, port: number): string[] {
  const got: string[] = [];
  const r: UdpReceiver = {
    onDatagram: (_pkt, src, sport, dst, _off, len) => got.push(`${fmt(src)}:${sport} -> ${fmt(dst)} ${len}`),
    onIcmpError: (type, code) => got.push(`icmp ${type}/${code}`),
  };
  ns.udp.bind(port, r);
  return got;
}

/** A UdpClient on h1 sending 3 requests to 10.0.0.255:9000, with or without SO_BROADCAST. */
function client(h1: Netns, broadcast: boolean): FlowStats {
  const stats = new FlowStats('f', 'udp', 'h1', '10.0.0.255:9000', 'rtt');
  const o: UdpClientOptions = {
    name: 'f', dst: ip('10.0.0.255'), port: 9000, sourcePort: 5555, count: 3, rate: 100, arrivals: 'constant',
    requestSize: 32, responseSize: 16, broadcast, startNs: 0, timeoutNs: SECOND,
  };
  new UdpClient(h1, o, stats, h1.component.random('traffic/f'));
  return stats;
}

function fmt(a: number): string {
  return [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff].join('.');
}

describe('sending to a broadcast address', () => {
  it('fails with EACCES without SO_BROADCAST, and nothing leaves (not even an ARP request)', () => {
    const { net, h1, tap } = lan();
    let err: string | null | undefined;
    net.at(0, () => (err = sendUdp(h1, ip('10.0.0.255'), 5555, 9, 8)));
    net.run(SECOND);
    expect(err).toBe('EACCES');
    expect(tap.frames).toEqual([]);
    expect(net.dropsOf(h1)).toEqual({});
  });

  it('sends a directed broadcast to ff:ff:ff:ff:ff:ff without ARP; every host and the sender itself receive it', () => {
    const { net, hosts, h1, h2, tap, eth } = lan();
    const got = hosts.map((h) => socket(h, 9));
    let err: string | null | undefined;
    net.at(0, () => (err = sendUdp(h1, ip('10.0.0.255'), 5555, 9, 8, 0, { broadcast: true })));
    net.run(SECOND);
    expect(err).toBeNull();
    // Seen once where it leaves and once where each other host takes it in (the bridge floods
    // its newest port first, as br_flood walks port_list); the sender's own copy is not captured.
    expect(tap.lines(true)).toEqual([
      'h1/eth0 out 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff IP 10.0.0.1 > 10.0.0.255 ttl 64 UDP 5555 > 9 len 8',
      'h3/eth0 in 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff IP 10.0.0.1 > 10.0.0.255 ttl 64 UDP 5555 > 9 len 8',
      'h2/eth0 in 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff IP 10.0.0.1 > 10.0.0.255 ttl 64 UDP 5555 > 9 len 8',
    ]);
    const d = decode(tap.frames[0]!.bytes);
    expect(d.ip!.dontFragment).toBe(true);
    expect(d.ip!.checksumOk).toBe(true);
    expect(got).toEqual([['10.0.0.1:5555 -> 10.0.0.255 8'], ['10.0.0.1:5555 -> 10.0.0.255 8'], ['10.0.0.1:5555 -> 10.0.0.255 8']]);
    expect(eth[0]!.counters.rxPackets).toBe(0);
    expect(h1.neigh.dump()).toEqual([{ ip: '10.0.0.255', dev: 'eth0', mac: 'ff:ff:ff:ff:ff:ff', state: 'NOARP' }]);
    expect(h2.neigh.dump()).toEqual([]); // a broadcast teaches no neighbour
  });

  it('consumes a broadcast no socket wants: no ICMP port unreachable, no drop', () => {
    const { net, h1, h2, h3, tap } = lan();
    net.at(0, () => sendUdp(h1, ip('10.0.0.255'), 5555, 9, 8, 0, { broadcast: true }));
    net.run(SECOND);
    expect(tap.lines().filter((l) => l.includes('ICMP'))).toEqual([]);
    for (const h of [h1, h2, h3]) expect(net.dropsOf(h)).toEqual({});
  });

  it('sends 255.255.255.255 on the routed device without the gateway, from its address; ENETUNREACH with no route', () => {
    const { net, h1, h3, tap, eth } = lan();
    let noRoute: string | null | undefined;
    net.at(0, () => (noRoute = sendUdp(h3, ip('255.255.255.255'), 5555, 9, 8, 0, { broadcast: true })));
    route(eth[0]!, '0.0.0.0/0', '10.0.0.2');
    let unflagged: string | null | undefined;
    net.at(MS, () => (unflagged = sendUdp(h1, ip('255.255.255.255'), 5555, 9, 8)));
    net.at(2 * MS, () => sendUdp(h1, ip('255.255.255.255'), 5555, 9, 8, 0, { broadcast: true }));
    net.run(SECOND);
    expect(noRoute).toBe('ENETUNREACH');
    expect(unflagged).toBe('EACCES');
    expect(tap.lines(true).filter((l) => l.startsWith('h1/'))).toEqual([
      'h1/eth0 out 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff IP 10.0.0.1 > 255.255.255.255 ttl 64 UDP 5555 > 9 len 8',
    ]);
    expect(tap.lines().some((l) => l.includes('ARP'))).toBe(false);
    expect(h1.neigh.dump().map((n) => `${n.ip} ${n.mac} ${n.state}`)).toEqual(['255.255.255.255 ff:ff:ff:ff:ff:ff NOARP']);
  });

  it('a request/response flow to a broadcast: each server answers from its own address, the extra answers count as duplicates', () => {
    const { net, h1, h2, h3, tap } = lan();
    new UdpServer(h2, 9000, 16);
    new UdpServer(h3, 9000, 16);
    const stats = client(h1, true);
    net.run(SECOND);
    expect(stats.sent).toBe(3);
    expect(stats.received).toBe(3);
    expect(stats.duplicates).toBe(3);
    const answers = tap.lines(true).filter((l) => l.startsWith('h1/eth0 in') && l.includes('UDP 9000 > 5555'));
    expect(answers.map((l) => l.split(' IP ')[1]!.split(' ttl')[0])).toEqual(
      ['10.0.0.3 > 10.0.0.1', '10.0.0.2 > 10.0.0.1', '10.0.0.3 > 10.0.0.1', '10.0.0.2 > 10.0.0.1', '10.0.0.3 > 10.0.0.1', '10.0.0.2 > 10.0.0.1'],
    );
  });

  it('the same flow without broadcast records "permission denied" for every request and sends nothing', () => {
    const { net, h1, tap } = lan();
    const stats = client(h1, false);
    net.run(SECOND);
    expect(Object.fromEntries(stats.errors)).toEqual({ 'permission denied': 3 });
    expect(tap.frames).toEqual([]);
  });

  it('ping -b sends echo requests to ff:ff:ff:ff:ff:ff, which every host ignores; without -b it is refused', () => {
    const { net, h1, tap } = lan();
    const pingOpts = { count: 2, intervalNs: 100 * MS, size: 56, startNs: 0, timeoutNs: SECOND, epochSeconds: 0 };
    const withB = new FlowStats('b', 'ping', 'h1', '10.0.0.255', 'rtt');
    new PingApp(h1, { ...pingOpts, name: 'b', dst: ip('10.0.0.255'), ident: 1, broadcast: true }, withB);
    const without = new FlowStats('n', 'ping', 'h1', '10.0.0.255', 'rtt');
    new PingApp(h1, { ...pingOpts, name: 'n', dst: ip('10.0.0.255'), ident: 2, broadcast: false }, without);
    net.run(SECOND);
    expect(tap.lines(true).filter((l) => l.startsWith('h1/')).map((l) => l.replace(/ seq \d/, ''))).toEqual([
      'h1/eth0 out 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff IP 10.0.0.1 > 10.0.0.255 ttl 64 ICMP echo request id 1',
      'h1/eth0 out 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff IP 10.0.0.1 > 10.0.0.255 ttl 64 ICMP echo request id 1',
    ]);
    expect([withB.sent, withB.received]).toEqual([2, 0]);
    expect(Object.fromEntries(without.errors)).toEqual({ 'permission denied': 2 });
  });

  it('refuses a TCP connect to a broadcast address with ENETUNREACH', () => {
    const { h1 } = lan();
    expect(() => h1.tcp.connect(ip('10.0.0.255'), 80, { onConnected: () => {}, onData: () => {}, onClosed: () => {} } as never)).toThrow(/ENETUNREACH/);
  });

  it('a directed broadcast is one only on the device whose prefix it ends (inet_addr_type_dev_table)', () => {
    const { h1, eth } = lan();
    expect(h1.isBroadcast(ip('10.0.0.255'))).toBe(true);
    expect(h1.isBroadcastOn(eth[0]!, ip('10.0.0.255'))).toBe(true);
    expect(h1.isBroadcastOn(h1.lo, ip('10.0.0.255'))).toBe(false);
    expect(h1.isBroadcastOn(h1.lo, ip('255.255.255.255'))).toBe(true);
    expect(h1.isBroadcast(ip('10.0.0.254'))).toBe(false);
    h1.deleteDevice(eth[0]!);
    expect(h1.isBroadcast(ip('10.0.0.255'))).toBe(false);
  });
});
