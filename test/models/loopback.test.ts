/**
 * Loopback (drivers/net/loopback.c) and the local routing table:
 * - the whole of 127.0.0.0/8 is local (`ip route show table local`:
 *   "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1");
 * - traffic to any local address, including the namespace's own eth0 address,
 *   is routed through lo (ip_route_output_key_hash_rcu: RTN_LOCAL -> loopback_dev)
 *   with zeroed Ethernet addresses;
 * - tcpdump on lo shows every frame once, as inbound: libpcap discards the
 *   PACKET_OUTGOING copy on loopback (pcap-linux.c), checked on this kernel with
 *   `tcpdump -Q out -i lo` seeing nothing;
 * - no ICMP rate limit towards loopback (icmpv4_xrlim_allow: "No rate limit on
 *   loopback").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PingApp } from '../../models/apps/ping.js';
import { FlowStats } from '../../models/stats/flow-stats.js';
import { FileTap } from '../../models/capture/capture-tap.js';
import { PcapngWriter } from '../../models/capture/pcapng-writer.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { DIRECTION_INBOUND } from '../../models/capture/capture-writer.js';
import { MS, SECOND, TestNet, decode, ip, route, sendUdp } from './helpers.js';

function host() {
  const net = new TestNet(1);
  const h = net.ns('h');
  const peer = net.ns('peer');
  const [eth] = net.veth(h, 'eth0', '02:00:00:00:00:0a', peer, 'eth0', '02:00:00:00:00:0b', { cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  route(eth, '0.0.0.0/0', '10.0.0.2');
  net.capture(h.lo, eth);
  return { net, h, eth };
}

function ping(net: TestNet, ns: ReturnType<typeof host>['h'], dst: string, count = 2): FlowStats {
  const stats = new FlowStats('p', 'ping', ns.name, dst, 'rtt');
  new PingApp(ns, { name: 'ping', dst: ip(dst), count, intervalNs: 100 * MS, size: 56, broadcast: false, ident: 77, startNs: 0, timeoutNs: SECOND, epochSeconds: 0 }, stats);
  net.run(SECOND);
  return stats;
}

describe('loopback', () => {
  it('treats all of 127.0.0.0/8 as local and answers from the address pinged, through lo', () => {
    const { net, h } = host();
    expect([h.isLocal(ip('127.0.0.1')), h.isLocal(ip('127.1.2.3')), h.isLocal(ip('127.255.255.254')), h.isLocal(ip('128.0.0.1'))]).toEqual([
      true, true, true, false,
    ]);
    const stats = ping(net, h, '127.1.2.3', 1);
    expect(stats.received).toBe(1);
    expect(net.tap.lines(true)).toEqual([
      'h/lo in 00:00:00:00:00:00 > 00:00:00:00:00:00 IP 127.0.0.1 > 127.1.2.3 ttl 64 ICMP echo request id 77 seq 1',
      'h/lo in 00:00:00:00:00:00 > 00:00:00:00:00:00 IP 127.1.2.3 > 127.0.0.1 ttl 64 ICMP echo reply id 77 seq 1',
    ]);
  });

  it("routes a ping to the namespace's own eth0 address via lo, never onto eth0", () => {
    const { net, h, eth } = host();
    const stats = ping(net, h, '10.0.0.1', 2);
    expect(stats.received).toBe(2);
    expect(net.tap.lines(true)).toEqual([
      'h/lo in 00:00:00:00:00:00 > 00:00:00:00:00:00 IP 10.0.0.1 > 10.0.0.1 ttl 64 ICMP echo request id 77 seq 1',
      'h/lo in 00:00:00:00:00:00 > 00:00:00:00:00:00 IP 10.0.0.1 > 10.0.0.1 ttl 64 ICMP echo reply id 77 seq 1',
      'h/lo in 00:00:00:00:00:00 > 00:00:00:00:00:00 IP 10.0.0.1 > 10.0.0.1 ttl 64 ICMP echo request id 77 seq 2',
      'h/lo in 00:00:00:00:00:00 > 00:00:00:00:00:00 IP 10.0.0.1 > 10.0.0.1 ttl 64 ICMP echo reply id 77 seq 2',
    ]);
    expect(eth.counters.txPackets).toBe(0);
    expect(h.neigh.dump()).toEqual([]); // no ARP for a local address
  });

  it('counts each frame once on each side of lo', () => {
    const { net, h } = host();
    ping(net, h, '127.0.0.1', 3);
    expect([h.lo.counters.txPackets, h.lo.counters.rxPackets]).toEqual([6, 6]);
    expect(h.lo.counters.txBytes).toBe(6 * 98);
  });

  it('does not rate-limit ICMP errors sent over lo', () => {
    const { net, h } = host();
    net.at(0, () => {
      for (let i = 0; i < 10; i++) sendUdp(h, ip('127.0.0.1'), 40000 + i, 9, 8, i);
    });
    net.run(SECOND);
    const errors = net.tap.frames.map((f) => decode(f.bytes)).filter((d) => d.icmp !== undefined);
    expect(errors.length).toBe(10);
    expect(errors.every((d) => d.icmp!.type === 3 && d.icmp!.code === 3)).toBe(true);
    expect(h.icmp.rateLimited).toBe(0);
  });

  describe('written to pcapng', () => {
    const dir = mkdtempSync(join(tmpdir(), 'podwire-lo-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('marks every lo frame inbound (epb_flags), once each', () => {
      const { net, h } = host();
      const path = join(dir, 'h.lo.pcapng');
      const writer = new PcapngWriter(path, { epochSeconds: 0 });
      h.lo.tap = new FileTap(h.lo, writer, () => net.sim.now);
      ping(net, h, '127.0.0.1', 2);
      writer.close();
      const cap = readCapture(path);
      expect(cap.interfaces.map((i) => i.name)).toEqual(['h/lo']);
      expect(cap.packets.map((p) => p.direction)).toEqual([DIRECTION_INBOUND, DIRECTION_INBOUND, DIRECTION_INBOUND, DIRECTION_INBOUND]);
      expect(cap.packets.map((p) => Number(p.timeNs))).toEqual([0, 0, 100 * MS, 100 * MS]);
    });
  });
});
