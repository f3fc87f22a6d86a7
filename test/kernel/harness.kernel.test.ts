/**
 * Proves the kernel harness: builds the two kernel-ref topologies live, runs
 * their traffic and checks the frames against what shared/kernel-ref
 * documents (expected.md): frame counts per capture point, ARP order, TTL
 * 64/63/62, DF on requests only, the bridge device seeing only the flooded ARP
 * request, and no namespace left behind.
 */
import { describe, expect, it } from 'vitest';
import { kernelPrerequisites, runOnKernel, runOnKernelDetailed } from './kernel-harness.js';
import { buildKernelTopology, listOwnNamespaces } from './netns-topology.js';
import type { NormalisedFrame } from './normalise.js';
import { summariseFrame } from './normalise.js';
import { crossNodeReference, sameNodeReference } from './reference-topologies.js';
import { run } from './commands.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel harness] skipped: ${pre.reason}`);

const BCAST = 'ff:ff:ff:ff:ff:ff';
const ZERO = '00:00:00:00:00:00';
type Dir = 'in' | 'out';

function arpRequest(dir: Dir, mac: string, senderIp: string, targetIp: string): NormalisedFrame {
  return { dir, ethSrc: mac, ethDst: BCAST, ethType: 0x0806, arp: { op: 1, senderMac: mac, senderIp, targetMac: ZERO, targetIp } };
}

function arpReply(dir: Dir, mac: string, ip: string, toMac: string, toIp: string): NormalisedFrame {
  return { dir, ethSrc: mac, ethDst: toMac, ethType: 0x0806, arp: { op: 2, senderMac: mac, senderIp: ip, targetMac: toMac, targetIp: toIp } };
}

interface Hop {
  src: string;
  dst: string;
  ttl: number;
}

/** ICMP echo of ping -s 56: 20 + 8 + 56 = 84 bytes; requests carry DF (iputils), replies do not. */
function echo(dir: Dir, hop: Hop, ips: [string, string], type: 0 | 8, seq: number): NormalisedFrame {
  return {
    dir,
    ethSrc: hop.src,
    ethDst: hop.dst,
    ethType: 0x0800,
    ipv4: { src: ips[0], dst: ips[1], ttl: hop.ttl, protocol: 1, df: type === 8, totalLength: 84 },
    icmp: { type, code: 0, id: 4660, seq },
  };
}

/** The reference datagram: 20 bytes of payload, UDP length 28, IP length 48, DF (UDP sockets default to IP_PMTUDISC_WANT). */
function udp(dir: Dir, hop: Hop, ips: [string, string]): NormalisedFrame {
  return {
    dir,
    ethSrc: hop.src,
    ethDst: hop.dst,
    ethType: 0x0800,
    ipv4: { src: ips[0], dst: ips[1], ttl: hop.ttl, protocol: 17, df: true, totalLength: 48 },
    udp: { srcPort: 5555, dstPort: 9000, length: 28 },
  };
}

/**
 * The 9 frames of one L2 segment as seen from the side that sends the
 * requests: ARP request out, reply in, three request/reply pairs, one UDP out.
 */
function segment(arp: [NormalisedFrame, NormalisedFrame], request: Hop, reply: Hop, client: string, server: string): NormalisedFrame[] {
  const frames = [...arp];
  for (let seq = 1; seq <= 3; seq++) {
    frames.push(echo('out', request, [client, server], 8, seq), echo('in', reply, [server, client], 0, seq));
  }
  frames.push(udp('out', request, [client, server]));
  return frames;
}

function mirror(frames: NormalisedFrame[]): NormalisedFrame[] {
  return frames.map((f) => ({ ...f, dir: f.dir === 'in' ? 'out' : 'in' }));
}

function expectFrames(actual: Map<string, NormalisedFrame[]>, expected: Record<string, NormalisedFrame[]>): void {
  expect([...actual.keys()].sort()).toEqual(Object.keys(expected).sort());
  for (const [point, frames] of Object.entries(expected)) {
    const got = actual.get(point) ?? [];
    // Summaries first: a readable failure when order or count differs.
    expect(got.map(summariseFrame), point).toEqual(frames.map(summariseFrame));
    expect(got, point).toEqual(frames);
  }
}

describe.skipIf(!pre.ok)('kernel harness against shared/kernel-ref', () => {
  expectNamespacesCleanedUp();

  it('same-node: pure L2 between two pods of one bridge', async () => {
    const frames = await runOnKernel(sameNodeReference());
    const p1 = '0a:58:0a:f4:01:02';
    const p2 = '0a:58:0a:f4:01:03';
    const client = segment(
      [arpRequest('out', p1, '10.244.1.2', '10.244.1.3'), arpReply('in', p2, '10.244.1.3', p1, '10.244.1.2')],
      { src: p1, dst: p2, ttl: 64 },
      { src: p2, dst: p1, ttl: 64 },
      '10.244.1.2',
      '10.244.1.3',
    );
    // Bridge ports and the peer see the same frames (nothing rewritten, TTL untouched).
    expectFrames(frames, {
      'n1/p1/eth0': client,
      'n1/vethp1': mirror(client),
      'n1/vethp2': client,
      'n1/p2/eth0': mirror(client),
      // The bridge device gets only the flooded broadcast; unicast goes port to port.
      'n1/cni0': [arpRequest('in', p1, '10.244.1.2', '10.244.1.3')],
    });
  });

  it('cross-node: host-gw routing over an underlay, three ARP exchanges, TTL 64/63/62', async () => {
    const run = await runOnKernelDetailed(crossNodeReference());
    const frames = run.frames;
    const p1 = '0a:58:0a:f4:01:02';
    const gw1 = '0a:58:0a:f4:01:01';
    const p2 = '0a:58:0a:f4:02:02';
    const gw2 = '0a:58:0a:f4:02:01';
    const eth1 = '02:42:c0:a8:31:02';
    const eth2 = '02:42:c0:a8:31:03';
    const [c, s] = ['10.244.1.2', '10.244.2.2'];
    // Pod p1 ARPs for its gateway; replies come back routed twice (TTL 62).
    const p1Side = segment(
      [arpRequest('out', p1, c, '10.244.1.1'), arpReply('in', gw1, '10.244.1.1', p1, c)],
      { src: p1, dst: gw1, ttl: 64 },
      { src: gw1, dst: p1, ttl: 62 },
      c,
      s,
    );
    // Between the nodes: routed once in each direction (TTL 63).
    const n1Side = segment(
      [arpRequest('out', eth1, '192.168.49.2', '192.168.49.3'), arpReply('in', eth2, '192.168.49.3', eth1, '192.168.49.2')],
      { src: eth1, dst: eth2, ttl: 63 },
      { src: eth2, dst: eth1, ttl: 63 },
      c,
      s,
    );
    // n2 ARPs for the pod; requests arrive routed twice (TTL 62), replies leave the pod at 64.
    const n2Cni = segment(
      [arpRequest('out', gw2, '10.244.2.1', s), arpReply('in', p2, s, gw2, '10.244.2.1')],
      { src: gw2, dst: p2, ttl: 62 },
      { src: p2, dst: gw2, ttl: 64 },
      c,
      s,
    );
    expectFrames(frames, {
      'n1/p1/eth0': p1Side,
      'n1/vethp1': mirror(p1Side),
      // Routed traffic really enters and leaves through the bridge device.
      'n1/cni0': mirror(p1Side),
      'n1/eth0': n1Side,
      'underlay/n1': mirror(n1Side),
      'underlay/br0': [arpRequest('in', eth1, '192.168.49.2', '192.168.49.3')],
      'underlay/n2': n1Side,
      'n2/eth0': mirror(n1Side),
      'n2/cni0': n2Cni,
      'n2/vethp1': n2Cni,
      'n2/p1/eth0': mirror(n2Cni),
    });
    // All three ARP exchanges are triggered by the first echo request, which waits in each
    // router's neighbour queue: p1 sends it, then n1 ARPs on the underlay, then n2 ARPs for the pod.
    const at = (point: string, frame: number) => run.captures.get(point)![frame]!.timeNs;
    expect(at('n1/p1/eth0', 2)).toBeLessThan(at('n1/eth0', 0)); // request out of p1 < n1's who-has
    expect(at('n1/eth0', 0)).toBeLessThan(at('n2/eth0', 2)); // n1's who-has < request into n2
    expect(at('n2/eth0', 2)).toBeLessThan(at('n2/cni0', 0)); // request into n2 < n2's who-has for the pod
    expect(run.traffic.flows.map((f) => [f.name, f.exit])).toEqual([
      ['ping n1/p1 -> n2/p1', 0],
      ['udp n1/p1 -> n2/p1', 0],
    ]);
    expect(JSON.parse(run.traffic.flows[1]!.output)).toEqual({ sent: 1, received: 0 });
  });

  it('builds what the spec says: MACs, MTU, bridges, hairpin, long names, routes, sysctls', async () => {
    const spec: TopologySpec = crossNodeReference();
    const n1 = spec.namespaces.find((n) => n.name === 'n1')!;
    // A name too long for IFNAMSIZ must be mapped, and reported under its spec name.
    const longName = 'veth-a-very-long-pod-name';
    n1.interfaces[1]!.name = longName;
    n1.interfaces[1]!.hairpin = true;
    n1.interfaces[1]!.mtu = 1400;
    spec.links[1]!.a.ifname = longName;
    n1.bridges[0]!.ageingNs = 42_000_000_000;
    spec.captures = spec.captures.map((c) => (c === 'n1/vethp1' ? `n1/${longName}` : c));
    spec.tcp = { congestionControl: 'cubic', wmem: [4096, 16384, 33554432] };
    // n2's own tcp: for it and its pods, over the scenario's.
    spec.namespaces.find((n) => n.name === 'n2')!.tcp = { sack: false, rmem: [4096, 65536, 1048576] };
    const topo = await buildKernelTopology(spec);
    try {
      const k = topo.resolvePoint(`n1/${longName}`);
      expect(k.ifname.length).toBeLessThanOrEqual(15);
      expect(topo.renamed.get(`n1/${longName}`)).toBe(k.ifname);
      const links = JSON.parse(await run('ip', ['-n', topo.netns('n1'), '-j', '-d', 'link', 'show'])) as Array<Record<string, any>>;
      const byName = new Map(links.map((l) => [l.ifname as string, l]));
      const port = byName.get(k.ifname)!;
      expect(port.address).toBe('0e:58:0a:f4:01:02');
      expect(port.mtu).toBe(1400);
      expect(port.master).toBe('cni0');
      expect(port.linkinfo.info_slave_data.hairpin).toBe(true);
      expect(port.linkinfo.info_slave_data.state).toBe('forwarding');
      const br = byName.get('cni0')!;
      expect(br.address).toBe('0a:58:0a:f4:01:01');
      expect(br.mtu).toBe(1500); // kept although a port has 1400: set by us after the ports joined
      expect(br.linkinfo.info_data.stp_state).toBe(0);
      expect(br.linkinfo.info_data.ageing_time).toBe(4200);
      expect(br.linkinfo.info_data.mcast_snooping).toBe(0);
      expect(byName.get('eth0')!.address).toBe('02:42:c0:a8:31:02');
      const addrs = JSON.parse(await run('ip', ['-n', topo.netns('n1'), '-j', '-4', 'addr', 'show'])) as Array<Record<string, any>>;
      const v4 = addrs.flatMap((a) => (a.addr_info as Array<Record<string, any>>).map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`)).sort();
      expect(v4).toEqual(['cni0 10.244.1.1/24', 'eth0 192.168.49.2/24', 'lo 127.0.0.1/8']);
      const routes = (await run('ip', ['-n', topo.netns('n1'), 'route', 'show'])).trim().split('\n');
      expect(routes).toContain('default via 192.168.49.1 dev eth0 ');
      expect(routes.some((r) => r.startsWith('10.244.2.0/24 via 192.168.49.3 dev eth0'))).toBe(true);
      const sysctl = (ns: string, key: string) => run('ip', ['netns', 'exec', topo.netns(ns), 'sysctl', '-n', key]).then((s) => s.trim());
      expect(await sysctl('n1', 'net.ipv4.ip_forward')).toBe('1');
      expect(await sysctl('n1/p1', 'net.ipv4.ip_forward')).toBe('0');
      expect(await sysctl('underlay', 'net.ipv4.ip_forward')).toBe('0');
      expect(await sysctl('n1/p1', 'net.ipv6.conf.eth0.disable_ipv6')).toBe('1');
      // The scenario's tcp: section, else the defaults podwire models (not the host's). The
      // congestion control stays Reno in the namespace: the agents set CUBIC on their sockets.
      expect(await sysctl('n1/p1', 'net.ipv4.tcp_congestion_control')).toBe('reno');
      expect((await sysctl('n1', 'net.ipv4.tcp_wmem')).split(/\s+/)).toEqual(['4096', '16384', '33554432']);
      expect((await sysctl('n1', 'net.ipv4.tcp_rmem')).split(/\s+/)).toEqual(['4096', '131072', '6291456']);
      expect(await sysctl('n1/p1', 'net.ipv4.tcp_sack')).toBe('1');
      for (const ns of ['n2', 'n2/p1']) {
        expect(await sysctl(ns, 'net.ipv4.tcp_sack'), ns).toBe('0');
        expect((await sysctl(ns, 'net.ipv4.tcp_rmem')).split(/\s+/), ns).toEqual(['4096', '65536', '1048576']);
        expect((await sysctl(ns, 'net.ipv4.tcp_wmem')).split(/\s+/), ns).toEqual(['4096', '16384', '33554432']);
      }
      // The pod can reach its peer on the other node through both routers.
      await run('ip', ['netns', 'exec', topo.netns('n1/p1'), 'ping', '-n', '-c', '1', '-W', '2', '10.244.2.2']);
    } finally {
      await topo.teardown();
    }
    expect(listOwnNamespaces()).toEqual([]);
  });

  it('removes what it created when the setup fails', async () => {
    const spec = sameNodeReference();
    // A gateway outside every connected network: `ip route add` fails after the links exist.
    spec.namespaces[1]!.routes = [{ dst: '0.0.0.0/0', via: '172.31.255.1', dev: 'eth0' }];
    await expect(buildKernelTopology(spec)).rejects.toThrow(/route add/);
    expect(listOwnNamespaces()).toEqual([]);
  });
});
