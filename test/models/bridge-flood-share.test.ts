import { describe, expect, it } from 'vitest';
import { Packet } from '../../models/packet.js';
import { pushHeaders } from '../../models/devices/tunnel.js';
import { parseMac } from '../../models/wire/addr.js';
import { TestNet, addr, decode, ip, route, sendUdp } from './helpers.js';

// A bridge floods with copies that share the frame's bytes (skb_clone); a
// receiver that writes into its copy must take bytes of its own first, so the
// other copies, and what their taps record, stay as sent.

describe('Packet.share / unshare', () => {
  it('shares the bytes until one side unshares, then each has its own', () => {
    const a = Packet.alloc(4, 1, 0);
    a.buf.set([1, 2, 3, 4], a.off);
    const b = a.share();
    expect(b.buf).toBe(a.buf);
    expect(a.shared && b.shared).toBe(true);
    b.unshare();
    b.buf[b.off] = 9;
    expect([...a.bytes()]).toEqual([1, 2, 3, 4]);
    expect([...b.bytes()]).toEqual([9, 2, 3, 4]);
    expect(b.shared).toBe(false);
  });

  it('gives a tunnel pushing headers onto a shared frame bytes of its own (skb_cow_head)', () => {
    const a = Packet.alloc(4, 1, 0);
    a.buf.set([1, 2, 3, 4], a.off);
    const b = a.share();
    pushHeaders(b, 20);
    b.buf.fill(7, b.off, b.off + 20);
    expect(b.buf).not.toBe(a.buf);
    expect([...b.bytes().subarray(20)]).toEqual([1, 2, 3, 4]);
    expect([...a.buf.subarray(a.off - 20, a.off)]).toEqual(new Array(20).fill(0));
  });
});

/**
 * Hosts h1..hN on one bridge, br0 in sw, which knows no MAC yet. h3 forwards,
 * routing 10.9.0.0/16 back via h1, and h1 knows h3's MAC already, so h1's
 * first frame to 10.9.0.5 is unknown unicast at the bridge: a flood. The ports
 * are veth pairs (one component), or NICs on wires (a component per host; the
 * wires in `lossy` drop everything).
 */
function floodLan(macs: string[], ports: 'veth' | 'wire', lossy: number[] = []) {
  const net = new TestNet(1);
  const wired = ports === 'wire';
  const sw = net.ns('sw', wired ? { component: 'sw' } : {});
  const br = net.bridge(sw, 'br0', '02:00:00:00:00:01');
  const hosts = macs.map((_, i) => net.ns(`h${i + 1}`, { ...(wired ? { component: `h${i + 1}` } : {}), forward: i === 2 }));
  const eth = hosts.map((h, i) => {
    const portMac = `0e:00:00:00:00:0${i + 1}`;
    const [port, e] = wired
      ? net.wire(sw, `p${i + 1}`, portMac, h, 'eth0', macs[i]!, { delayNs: 5000, loss: lossy.includes(i + 1) ? 0.999999 : 0 })
      : net.veth(sw, `p${i + 1}`, portMac, h, 'eth0', macs[i]!);
    br.addPort(port);
    addr(e, `10.0.0.${i + 1}/24`);
    return e;
  });
  route(eth[2]!, '10.9.0.0/16', '10.0.0.1');
  route(eth[0]!, '10.9.0.0/16', '10.0.0.3');
  hosts[0]!.neigh.addPermanent(eth[0]!, ip('10.0.0.3'), parseMac(macs[2]!));
  net.capture(...eth);
  return { net, hosts, eth };
}

describe('bridge flood with shared copies', () => {
  const H = ['02:00:00:00:01:01', '02:00:00:00:01:02', '02:00:00:00:01:03'];

  /** h1, h2, h3 on veth ports. */
  const lan = () => floodLan(H, 'veth');

  it('keeps the copies other hosts receive as sent while the addressee forwards (and rewrites) its own', () => {
    const { net, hosts } = lan();
    net.at(0, () => sendUdp(hosts[0]!, ip('10.9.0.5'), 1000, 2000, 32, 0xabcd, { ttl: 64 }));
    net.run(1_000_000);
    const sent = net.tap.frames.find((f) => f.dev === 'h1/eth0' && f.dir === 'out')!;
    const atH2 = net.tap.frames.find((f) => f.dev === 'h2/eth0' && f.dir === 'in')!;
    const atH3 = net.tap.frames.find((f) => f.dev === 'h3/eth0' && f.dir === 'in')!;
    // h3 was flooded first (ports are walked most recent first) and forwarded its copy: TTL 63.
    expect(net.tap.frames.findIndex((f) => f === atH3)).toBeLessThan(net.tap.frames.findIndex((f) => f === atH2));
    const forwarded = net.tap.frames.find((f) => f.dev === 'h3/eth0' && f.dir === 'out' && decode(f.bytes).ip?.ttl === 63);
    expect(forwarded).toBeDefined();
    expect([...atH2.bytes]).toEqual([...sent.bytes]);
    expect([...atH3.bytes]).toEqual([...sent.bytes]);
    expect(decode(atH2.bytes).ip?.ttl).toBe(64);
  });
});

describe('bridge flood to NIC ports: one copy on the wires, one packet per receiver', () => {
  const H = ['02:00:00:00:02:01', '02:00:00:00:02:02', '02:00:00:00:02:03', '02:00:00:00:02:04', '02:00:00:00:02:05'];

  /**
   * h1..h5 on NIC ports; h4's wire drops everything. The switch walks its
   * ports most recent first: h5, h4 and h3 get the one shared copy, h2 the original.
   */
  const underlay = () => floodLan(H, 'wire', [4]);

  it('gives every receiving NIC a packet of its own, so the addressee rewrites only its own', () => {
    const { net, hosts, eth } = underlay();
    // Every packet the receivers' stacks are handed, by receiver.
    const got = new Map<string, Packet[]>();
    for (const e of eth) {
      const netifReceive = e.ns.netifReceive.bind(e.ns);
      e.ns.netifReceive = (dev, pkt) => {
        got.set(e.ns.name, [...(got.get(e.ns.name) ?? []), pkt]);
        netifReceive(dev, pkt);
      };
    }
    net.at(0, () => sendUdp(hosts[0]!, ip('10.9.0.5'), 1000, 2000, 32, 0xabcd, { ttl: 64 }));
    net.run(1_000_000);
    const atH2 = got.get('h2')![0]!;
    const atH3 = got.get('h3')![0]!;
    const atH5 = got.get('h5')![0]!;
    expect(new Set([atH2, atH3, atH5]).size).toBe(3);
    expect(got.has('h4')).toBe(false); // its copy was lost on the wire
    const sent = net.tap.frames.find((f) => f.dev === 'h1/eth0' && f.dir === 'out')!;
    const rx = (h: string) => net.tap.frames.find((f) => f.dev === `${h}/eth0` && f.dir === 'in')!;
    expect([...rx('h2').bytes]).toEqual([...sent.bytes]);
    expect([...rx('h3').bytes]).toEqual([...sent.bytes]);
    expect([...rx('h5').bytes]).toEqual([...sent.bytes]);
    // h3 forwarded its copy (TTL 63) while h2's stayed as sent, bytes and metadata.
    expect(net.tap.frames.some((f) => f.dev === 'h3/eth0' && f.dir === 'out' && decode(f.bytes).ip?.ttl === 63)).toBe(true);
    expect(decode(atH2.bytes()).ip?.ttl).toBe(64);
    expect(decode(atH5.bytes()).ip?.ttl).toBe(64);
  });
});

describe('an ARP broadcast to veth ports: one copy, read in place', () => {
  const H = ['02:00:00:00:03:01', '02:00:00:00:03:02', '02:00:00:00:03:03', '02:00:00:00:03:04', '02:00:00:00:03:05'];

  /**
   * h1..h5 on veth ports; h4's eth0 is a port of a bridge of its own, which
   * forwards what it gets. h1 sends to h2, whose MAC it does not know: its ARP
   * request is flooded to p5, p4, p3 (one shared copy) and p2 (the original).
   */
  function arpFlood() {
    const { net, hosts, eth } = floodLan(H, 'veth');
    const br1 = net.bridge(hosts[3]!, 'br1', '02:00:00:00:03:99');
    br1.addPort(eth[3]!);
    const stacks = new Map<string, Packet>();
    for (const h of hosts) {
      const netifReceive = h.netifReceive.bind(h);
      h.netifReceive = (dev, pkt) => {
        if (!stacks.has(h.name)) stacks.set(h.name, pkt);
        netifReceive(dev, pkt);
      };
    }
    let bridged: Packet | null = null;
    const handleFrame = br1.handleFrame.bind(br1);
    br1.handleFrame = (port, pkt) => {
      bridged ??= pkt;
      handleFrame(port, pkt);
    };
    net.at(0, () => sendUdp(hosts[0]!, ip('10.0.0.2'), 1000, 2000, 32, 0xabcd));
    net.run(1_000_000);
    return { net, hosts, eth, stacks, bridged: bridged as Packet | null };
  }

  it('hands the receivers that only read it one packet, and a bridge port one of its own', () => {
    const { net, stacks, bridged } = arpFlood();
    // h3 and h5 read the shared copy in place: no packet was made for either.
    expect(stacks.get('h3')).toBe(stacks.get('h5'));
    // h4's bridge forwards the frame, so it keeps a packet of its own.
    expect(bridged).not.toBeNull();
    expect(bridged).not.toBe(stacks.get('h3'));
    // Every receiver saw the request as h1 sent it.
    const sent = net.tap.frames.find((f) => f.dev === 'h1/eth0' && f.dir === 'out' && decode(f.bytes).arp !== undefined)!;
    for (const h of ['h2', 'h3', 'h4', 'h5']) {
      const rx = net.tap.frames.find((f) => f.dev === `${h}/eth0` && f.dir === 'in')!;
      expect([...rx.bytes]).toEqual([...sent.bytes]);
    }
  });

  it('still answers: h2 replies, learns h1, and the datagram goes out', () => {
    const { net, hosts, eth } = arpFlood();
    expect(hosts[1]!.neighbour(eth[1]!, ip('10.0.0.1'))).toBeDefined();
    expect(hosts[2]!.neighbour(eth[2]!, ip('10.0.0.1'))).toBeUndefined();
    expect(net.tap.frames.some((f) => f.dev === 'h2/eth0' && f.dir === 'in' && decode(f.bytes).ip !== undefined)).toBe(true);
  });
});
