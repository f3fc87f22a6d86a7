/**
 * The learning bridge against the kernel's net/bridge:
 * - br_handle_frame / br_handle_frame_finish (br_input.c): drop invalid
 *   (multicast or zero) sources, learn the source on the ingress port
 *   (br_fdb_update), then deliver locally, forward or flood;
 * - br_forward / br_flood / should_deliver (br_forward.c): never back out of the
 *   ingress port unless it is in hairpin mode; floods walk br->port_list, to
 *   which br_add_if adds ports at the head (list_add_rcu);
 * - br_fdb.c: entries expire when updated + ageing_time <= now (has_expired,
 *   BR_DEFAULT_AGEING_TIME 300 s); br_add_if installs each port's own MAC as a
 *   permanent local entry (br_fdb_add_local; `bridge fdb show` lists it as
 *   "permanent", as /work/shared/kernel-ref/cross-node/topology.json shows).
 * Frames are raw Ethernet frames with an experimental ethertype, so only L2 runs.
 */
import { describe, expect, it } from 'vitest';
import { DropReason } from '../../models/devices/drop-reason.js';
import { parseMac } from '../../models/wire/addr.js';
import { ETHERTYPE_TEST, SECOND, TestNet, addr, ip, rawFrame, sendUdp } from './helpers.js';
import type { VethDevice } from '../../models/devices/veth.js';
import type { Netns } from '../../models/stack/netns.js';

const BR = '02:00:00:00:00:01';
const H = ['02:00:00:00:01:01', '02:00:00:00:01:02', '02:00:00:00:01:03'];
const P = ['0e:00:00:00:00:01', '0e:00:00:00:00:02', '0e:00:00:00:00:03'];

/** A bridge br0 in namespace sw with ports p1..p3, each a veth to host hN's eth0. */
function switched(opts: { hairpin?: boolean[] } = {}) {
  const net = new TestNet(1);
  const sw = net.ns('sw');
  const br = net.bridge(sw, 'br0', BR);
  const hosts: Netns[] = [];
  const eth: VethDevice[] = [];
  const ports: VethDevice[] = [];
  for (let i = 0; i < 3; i++) {
    const h = net.ns(`h${i + 1}`);
    const [port, e] = net.veth(sw, `p${i + 1}`, P[i]!, h, 'eth0', H[i]!);
    br.addPort(port, opts.hairpin?.[i] ?? false);
    hosts.push(h);
    eth.push(e);
    ports.push(port);
  }
  net.capture(br, ...ports, ...eth);
  /** Host i transmits a test frame (src defaults to its own MAC). */
  const send = (i: number, dst: string, src = H[i]!, tag = 0) => eth[i]!.xmit(rawFrame(hosts[i]!, dst, src, ETHERTYPE_TEST, 46, tag));
  return { net, sw, br, hosts, eth, ports, send };
}

/** "dev dir" of every frame captured, in order (the line is the same frame throughout). */
function where(net: TestNet): string[] {
  return net.tap.frames.map((f) => `${f.dev} ${f.dir}`);
}

describe('bridge: learning, flooding and forwarding (br_input.c, br_forward.c)', () => {
  it('floods unknown unicast to every port but the ingress one, not to the bridge device, and learns the source', () => {
    const { net, br, ports, send } = switched();
    send(0, H[1]!);
    // Ports added p1, p2, p3 are walked p3, p2 (most recent first); p1 is the ingress port.
    expect(where(net)).toEqual(['h1/eth0 out', 'sw/p1 in', 'sw/p3 out', 'sw/p2 out', 'h3/eth0 in', 'h2/eth0 in']);
    expect(br.fdbDump()).toEqual([{ mac: parseMac(H[0]!), port: 'p1', ageNs: 0 }]);
    expect(ports[0]!.counters.txPackets).toBe(0);
  });

  it('forwards known unicast out of the learned port only', () => {
    const { net, send } = switched();
    send(1, H[0]!); // h2 speaks first: learned on p2
    net.tap.clear();
    send(0, H[1]!);
    expect(where(net)).toEqual(['h1/eth0 out', 'sw/p1 in', 'sw/p2 out', 'h2/eth0 in']);
  });

  it('floods broadcast to the other ports and passes a copy up to the bridge device', () => {
    const { net, br, send } = switched();
    send(0, 'ff:ff:ff:ff:ff:ff');
    expect(where(net)).toEqual(['h1/eth0 out', 'sw/p1 in', 'sw/p3 out', 'sw/p2 out', 'sw/br0 in', 'h3/eth0 in', 'h2/eth0 in']);
    expect(br.counters.rxPackets).toBe(1);
    // Every copy carries the same bytes.
    const bytes = net.tap.frames.map((f) => Buffer.from(f.bytes).toString('hex'));
    expect(new Set(bytes).size).toBe(1);
  });

  it('treats multicast like broadcast when there is no multicast router or querier (local_rcv)', () => {
    const { net, send } = switched();
    send(2, '01:00:5e:00:00:fb');
    expect(where(net)).toEqual(['h3/eth0 out', 'sw/p3 in', 'sw/p2 out', 'sw/p1 out', 'sw/br0 in', 'h2/eth0 in', 'h1/eth0 in']);
  });

  it("delivers a frame for the bridge's own MAC to the bridge device only", () => {
    const { net, br, send } = switched();
    send(0, BR);
    expect(where(net)).toEqual(['h1/eth0 out', 'sw/p1 in', 'sw/br0 in']);
    expect(br.counters.rxPackets).toBe(1);
  });

  it("delivers a frame for a port's own MAC locally too: br_add_if makes it a permanent local entry", () => {
    const { net, ports, send } = switched();
    send(0, P[0]!);
    expect(where(net)).toEqual(['h1/eth0 out', 'sw/p1 in', 'sw/br0 in']);
    expect(ports[1]!.counters.txPackets + ports[2]!.counters.txPackets).toBe(0);
  });

  it('does not show unicast between ports on the bridge device', () => {
    const { net, br, send } = switched();
    send(1, H[0]!);
    send(0, H[1]!);
    send(1, H[0]!);
    expect(net.tap.frames.filter((f) => f.dev === 'sw/br0')).toEqual([]);
    expect(br.counters.rxPackets).toBe(0);
  });

  it('never sends a frame back out of its ingress port unless the port is in hairpin mode', () => {
    const X = '02:00:00:00:02:01'; // a second station behind p1
    const plain = switched();
    plain.send(0, H[0]!, X); // X learned on p1
    plain.net.tap.clear();
    plain.send(0, X);
    expect(where(plain.net)).toEqual(['h1/eth0 out', 'sw/p1 in']);
    expect(plain.ports[0]!.counters.rxDropped).toBe(1);
    expect(plain.net.dropsOf(plain.sw)).toEqual({ [DropReason.BRIDGE_NO_EGRESS]: 1 });

    const hairpin = switched({ hairpin: [true, false, false] });
    hairpin.send(0, H[0]!, X);
    hairpin.net.tap.clear();
    hairpin.send(0, X);
    expect(where(hairpin.net)).toEqual(['h1/eth0 out', 'sw/p1 in', 'sw/p1 out', 'h1/eth0 in']);
  });

  it('floods back out of a hairpin ingress port as well', () => {
    const { net, send } = switched({ hairpin: [true, false, false] });
    send(0, 'ff:ff:ff:ff:ff:ff');
    expect(where(net)).toEqual([
      'h1/eth0 out', 'sw/p1 in', 'sw/p3 out', 'sw/p2 out', 'sw/p1 out', 'sw/br0 in', 'h3/eth0 in', 'h2/eth0 in', 'h1/eth0 in',
    ]);
  });

  it('drops a frame with a multicast source address and learns nothing from it', () => {
    const { net, br, ports, sw, send } = switched();
    send(0, H[1]!, '01:00:5e:00:00:01');
    expect(where(net)).toEqual(['h1/eth0 out', 'sw/p1 in']);
    expect(ports[0]!.counters.rxDropped).toBe(1);
    expect(br.fdbDump()).toEqual([]);
    expect(net.dropsOf(sw)).toEqual({ [DropReason.NOT_SPECIFIED]: 1 });
  });

  it('moves a learned MAC to the port it is seen on next', () => {
    const { net, br, send } = switched();
    send(1, H[0]!); // h2's MAC on p2
    expect(br.portOf(parseMac(H[1]!))?.name).toBe('p2');
    send(2, H[0]!, H[1]!); // the same MAC now arrives on p3
    expect(br.portOf(parseMac(H[1]!))?.name).toBe('p3');
    net.tap.clear();
    send(0, H[1]!);
    expect(where(net)).toEqual(['h1/eth0 out', 'sw/p1 in', 'sw/p3 out', 'h3/eth0 in']);
  });

  it('ages entries out after ageing_time (300 s): known until then, flooded from then on', () => {
    const { net, br, send } = switched();
    expect(br.ageingNs).toBe(300 * SECOND);
    const seen: Record<string, string[]> = {};
    net.at(0, () => send(1, H[0]!));
    for (const t of [100 * SECOND, 300 * SECOND - 1, 300 * SECOND]) {
      net.at(t, () => {
        net.tap.clear();
        send(0, H[1]!);
        seen[t] = where(net).filter((w) => w.endsWith(' out') && w.startsWith('sw/'));
      });
    }
    net.run(400 * SECOND);
    // A lookup (dst) does not refresh the entry; only frames from the MAC do.
    expect(seen[100 * SECOND]).toEqual(['sw/p2 out']);
    expect(seen[300 * SECOND - 1]).toEqual(['sw/p2 out']);
    expect(seen[300 * SECOND]).toEqual(['sw/p3 out', 'sw/p2 out']);
    expect(br.fdbDump().map((e) => e.port)).toEqual(['p1']); // h1, learned at 300 s
  });

  it('refreshes an entry each time the MAC is seen as a source', () => {
    const { net, send } = switched();
    let out: string[] = [];
    net.at(0, () => send(1, H[0]!));
    net.at(200 * SECOND, () => send(1, H[0]!));
    net.at(450 * SECOND, () => {
      net.tap.clear();
      send(0, H[1]!);
      out = where(net).filter((w) => w.startsWith('sw/') && w.endsWith(' out'));
    });
    net.run(500 * SECOND);
    expect(out).toEqual(['sw/p2 out']);
  });

  it('floods what the bridge device itself transmits to a broadcast address (br_dev_xmit)', () => {
    const { net, br, sw } = switched();
    br.xmit(rawFrame(sw, 'ff:ff:ff:ff:ff:ff', BR, ETHERTYPE_TEST));
    // Each port transmits once and nothing comes back up to the bridge device.
    expect(where(net)[0]).toBe('sw/br0 out');
    expect(where(net).slice(1).sort()).toEqual(['h1/eth0 in', 'h2/eth0 in', 'h3/eth0 in', 'sw/p1 out', 'sw/p2 out', 'sw/p3 out']);
    expect(br.counters.rxPackets).toBe(0);
  });

  it('finishes a flood made by a process-context send before any port receiver runs (softirq after local_bh_enable)', () => {
    const { net, br, sw, eth } = switched();
    addr(br, '10.0.0.1/24');
    eth.forEach((e, i) => addr(e, `10.0.0.${11 + i}/24`));
    // The first datagram needs ARP: the request leaves br0 and is flooded to p3, p2, p1.
    sendUdp(sw, ip('10.0.0.11'), 5555, 9000, 8);
    const order = where(net);
    const lastPortOut = Math.max(order.indexOf('sw/p1 out'), order.indexOf('sw/p2 out'), order.indexOf('sw/p3 out'));
    const firstHostIn = Math.min(...['h1/eth0 in', 'h2/eth0 in', 'h3/eth0 in'].map((x) => order.indexOf(x)));
    expect(order.slice(0, 4)).toEqual(['sw/br0 out', 'sw/p3 out', 'sw/p2 out', 'sw/p1 out']);
    expect(lastPortOut).toBeLessThan(firstHostIn);
  });
});
