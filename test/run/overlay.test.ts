/**
 * flannel's vxlan and ipip overlays between two nodes, run end to end
 * (scenarios -> build -> run): pods reach each other, the underlay carries
 * VXLAN (or IP-in-IP) with node addresses outside and pod addresses inside,
 * every frame is exactly the encapsulation longer, and an MTU mismatch
 * behaves as Linux: DF datagrams get "fragmentation needed" from the node,
 * others are fragmented before encapsulation.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { resolveScenario } from '../../scenarios/library.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology, type RunResult } from '../../scenarios/run.js';
import { buildWorld } from '../../scenarios/build.js';
import { ScenarioError } from '../../scenarios/errors.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { VxlanDevice } from '../../models/devices/vxlan.js';
import { IpipDevice } from '../../models/devices/ipip.js';
import { parseIpv4 } from '../../models/wire/addr.js';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { IPPROTO_UDP, IPV4_HEADER_LEN } from '../../models/wire/ipv4.js';
import { UDP_HEADER_LEN, emitUdp } from '../../models/wire/udp.js';
import { RecordingTap } from '../models/helpers.js';
import { checkCaptureWithTshark, tsharkFields, tsharkPath } from '../helpers/tshark.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-overlay-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Two nodes with one pod each; `extra` lines go at the top level. */
function twoNodes(extra: string, traffic: string): string {
  return `
name: overlay-test
duration: 1s
${extra}
nodes:
  - { name: n1, address: 192.168.49.2, podCIDR: 10.244.1.0/24, pods: [{ name: p1, ip: 10.244.1.2 }] }
  - { name: n2, address: 192.168.49.3, podCIDR: 10.244.2.0/24, pods: [{ name: p1, ip: 10.244.2.2 }] }
traffic:
${traffic}
capture: all
`;
}

const PING_AND_UDP = `
  - ping: { from: n1/p1, to: n2/p1, count: 3, interval: 100ms }
  - udp: { from: n1/p1, to: n2/p1, port: 9000, count: 4, rate: 100, requestSize: 200, responseSize: 1200 }
`;

let runs = 0;
function run(text: string): RunResult {
  return runTopology(expandScenario(parseScenario(text, 'overlay-test.yaml')), { outDir: join(work, `run-${runs++}`) });
}

type Flow = { name: string; sent: number; received: number; errors: Record<string, number> };
function flows(r: RunResult): Flow[] {
  return r.results.flows as Flow[];
}

function frameLengths(file: string): number[] {
  return readCapture(readFileSync(file)).packets.map((p) => p.data.length);
}

const tshark = tsharkPath();
if (tshark === null) console.warn('SKIP tshark decoding of overlay captures: tshark is not installed (CI installs it with apt-get)');

describe('vxlan', () => {
  const r = run(twoNodes('routing: vxlan', PING_AND_UDP));
  const cap = (p: string) => r.captureFiles.get(p)!;

  test('pods on two nodes reach each other; nothing is dropped', () => {
    for (const f of flows(r)) {
      expect(f.sent, f.name).toBeGreaterThan(0);
      expect(f.received, f.name).toBe(f.sent);
    }
    expect(r.results.drops).toEqual({});
  });

  test('flannel state: device, MTUs, FDB, permanent neighbour, onlink route', () => {
    const n1 = r.world.namespaces.get('n1')!;
    const dev = n1.device('flannel.1') as VxlanDevice;
    expect(dev).toBeInstanceOf(VxlanDevice);
    expect([dev.vni, dev.port, dev.mtu]).toEqual([1, 8472, 1450]);
    expect(dev.addrs).toEqual([{ addr: parseIpv4('10.244.1.0'), prefixLen: 32 }]);
    expect(dev.fdbEntries()).toEqual([{ mac: '0e:f1:c0:a8:31:03', dst: '192.168.49.3' }]);
    expect(n1.neigh.dump().filter((e) => e.dev === 'flannel.1')).toEqual([
      { ip: '10.244.2.0', dev: 'flannel.1', mac: '0e:f1:c0:a8:31:03', state: 'PERMANENT' },
    ]);
    const route = n1.routes.lookup(parseIpv4('10.244.2.2'))!;
    expect([route.dev.name, route.via]).toEqual(['flannel.1', parseIpv4('10.244.2.0')]);
    expect(n1.device('eth0').mtu).toBe(1500);
    expect(n1.device('cni0').mtu).toBe(1450);
    expect(r.world.namespaces.get('n1/p1')!.device('eth0').mtu).toBe(1450);
  });

  test('every underlay frame of the overlay is the flannel.1 frame plus 50 bytes', () => {
    const inner = frameLengths(cap('n1/flannel.1'));
    // The underlay also carries the nodes' ARP exchange (42-byte frames), which flannel.1 never sees.
    const outer = frameLengths(cap('n1/eth0')).filter((n) => n !== 42);
    expect(inner.length).toBe(3 * 2 + 4 * 2);
    expect(outer).toEqual(inner.map((n) => n + 50));
    expect(r.results.devices['n1/flannel.1']).toMatchObject({ tx: { packets: 7 }, rx: { packets: 7 } });
  });

  test.skipIf(tshark === null)('tshark: VNI 1 on UDP 8472, node addresses outside, pod addresses inside, clean checksums', async () => {
    const rows = await tsharkFields(cap('underlay/n1'), ['ip.src', 'ip.dst', 'ip.flags.df', 'udp.dstport', 'vxlan.vni', 'udp.checksum.status'], {
      filter: 'vxlan',
      args: ['-d', 'udp.port==8472,vxlan', '-o', 'udp.check_checksum:TRUE'],
    });
    expect(rows.length).toBe(14);
    for (const [src, dst, df, dport, vni, csum] of rows) {
      const [outerSrc, innerSrc] = src!.split(',');
      const [outerDst, innerDst] = dst!.split(',');
      expect([outerSrc, outerDst].sort()).toEqual(['192.168.49.2', '192.168.49.3']);
      expect([innerSrc, innerDst].sort()).toEqual(['10.244.1.2', '10.244.2.2']);
      expect(df!.split(',')[0]).toBe('0');
      expect(dport!.split(',')[0]).toBe('8472');
      expect(vni).toBe('1');
      expect(csum!.split(',').every((s) => s === '1')).toBe(true);
    }
    for (const point of ['underlay/n1', 'n1/eth0', 'n2/eth0', 'n1/flannel.1', 'n2/flannel.1']) {
      const check = await checkCaptureWithTshark(cap(point));
      expect(check.problems, point).toEqual([]);
    }
  });

  test('a flow takes one outer source port per sending node, in 32768..60998; flows differ', () => {
    // Key: inner protocol and outer source (each node hashes with its own secret, as each host has its own hashrnd).
    const ports = new Map<string, Set<number>>();
    for (const p of readCapture(readFileSync(cap('n1/eth0'))).packets) {
      const b = p.data;
      if (b.length === 42) continue;
      const key = `${b[50 + 23]} from ${b[29]}`;
      if (!ports.has(key)) ports.set(key, new Set());
      ports.get(key)!.add((b[34]! << 8) | b[35]!);
    }
    expect([...ports.keys()].sort()).toEqual(['1 from 2', '1 from 3', '17 from 2', '17 from 3']);
    for (const [key, set] of ports) expect(set.size, key).toBe(1);
    const fromN1 = [...ports.get('1 from 2')!, ...ports.get('17 from 2')!];
    expect(fromN1[0]).not.toBe(fromN1[1]);
    for (const set of ports.values()) {
      for (const port of set) {
        expect(port).toBeGreaterThanOrEqual(32768);
        expect(port).toBeLessThan(60999);
      }
    }
  });
});

describe('vxlan options', () => {
  test.skipIf(tshark === null)('VNI 42 on the IANA port 4789 without UDP checksums decodes as VXLAN with no -d', async () => {
    const r = run(twoNodes('routing: vxlan\nvxlan: { vni: 42, port: 4789, udpChecksum: false }', PING_AND_UDP));
    for (const f of flows(r)) expect(f.received, f.name).toBe(f.sent);
    const rows = await tsharkFields(r.captureFiles.get('underlay/n2')!, ['udp.dstport', 'vxlan.vni', 'udp.checksum'], { filter: 'vxlan' });
    expect(rows.length).toBe(14);
    for (const [dport, vni, csum] of rows) {
      expect(dport!.split(',')[0]).toBe('4789');
      expect(vni).toBe('42');
      expect(csum!.split(',')[0]).toBe('0x0000');
    }
  });

  test('vxlan options with another routing mode are an error, as is a pod MTU above the underlay', () => {
    expect(() => parseScenario(twoNodes('routing: ipip\nvxlan: { vni: 2 }', PING_AND_UDP), 'bad.yaml')).toThrow(ScenarioError);
    expect(() => parseScenario(twoNodes('routing: ipip\nvxlan: { vni: 2 }', PING_AND_UDP), 'bad.yaml')).toThrow(/vxlan: applies only to routing: vxlan/);
    expect(() => parseScenario(twoNodes('routing: vxlan\nmtu: 1400\npodMtu: 1450', PING_AND_UDP), 'bad.yaml')).toThrow(/podMtu: 1450 exceeds the underlay mtu \(1400\)/);
    expect(() => parseScenario(twoNodes('routing: vxlan\nvxlan: { vni: 16777216 }', PING_AND_UDP), 'bad.yaml')).toThrow(ScenarioError);
  });
});

describe('ipip', () => {
  const r = run(twoNodes('routing: ipip', PING_AND_UDP));

  test('pods on two nodes reach each other through flannel.ipip; nothing is dropped', () => {
    for (const f of flows(r)) expect(f.received, f.name).toBe(f.sent);
    expect(r.results.drops).toEqual({});
    const n1 = r.world.namespaces.get('n1')!;
    const dev = n1.device('flannel.ipip');
    expect(dev).toBeInstanceOf(IpipDevice);
    expect(dev.mtu).toBe(1480);
    expect(r.world.namespaces.get('n2/p1')!.device('eth0').mtu).toBe(1480);
    const route = n1.routes.lookup(parseIpv4('10.244.2.2'))!;
    expect([route.dev.name, route.via]).toEqual(['flannel.ipip', parseIpv4('192.168.49.3')]);
    // No neighbour resolution on the tunnel: a NOARP entry for the remote node.
    expect(n1.neigh.dump().filter((e) => e.dev === 'flannel.ipip').map((e) => e.state)).toEqual(['NOARP']);
  });

  test('underlay frames are the pod frames plus 20 bytes, protocol 4, DF, inner TTL copied', () => {
    const pod = frameLengths(r.captureFiles.get('n1/p1/eth0')!).filter((n) => n !== 42);
    const outer = readCapture(readFileSync(r.captureFiles.get('n1/eth0')!)).packets.map((p) => p.data).filter((b) => b.length !== 42);
    expect(outer.map((b) => b.length)).toEqual(pod.map((n) => n + 20));
    for (const b of outer) {
      expect(b[23]).toBe(4);
      expect(b[20]! & 0x40).toBe(0x40);
      expect(b[22]).toBe(b[34 + 8]);
    }
  });

  test.skipIf(tshark === null)('tshark: outer node addresses, inner pod addresses, protocol 4, clean', async () => {
    const file = r.captureFiles.get('underlay/n1')!;
    const rows = await tsharkFields(file, ['ip.src', 'ip.dst', 'ip.proto'], { filter: 'ip.proto == 4' });
    expect(rows.length).toBe(14);
    for (const [src, dst, proto] of rows) {
      expect(src!.split(',')[0]!.startsWith('192.168.49.')).toBe(true);
      expect(dst!.split(',')[1]!.startsWith('10.244.')).toBe(true);
      expect(proto!.split(',')[0]).toBe('4');
    }
    expect((await checkCaptureWithTshark(file)).problems).toEqual([]);
  });
});

describe.each(['vxlan', 'ipip'])('%s: a node talking to a remote pod', (routing) => {
  test('leaves with the tunnel address (10.244.1.0) as source and gets its answers', () => {
    const r = run(twoNodes(`routing: ${routing}`, '  - ping: { from: n1, to: n2/p1, count: 2, interval: 100ms }'));
    expect(flows(r)[0]).toMatchObject({ sent: 2, received: 2 });
    expect(r.results.drops).toEqual({});
    const seen = readCapture(readFileSync(r.captureFiles.get('n2/p1/eth0')!)).packets.map((p) => p.data).filter((b) => b.length !== 42);
    expect(seen.map((b) => [...b.subarray(26, 30)].join('.'))).toEqual(['10.244.1.0', '10.244.2.2', '10.244.1.0', '10.244.2.2']);
  });
});

describe('pod MTU 1500 over vxlan', () => {
  test('the first 1472-byte ping gets "frag needed" from n1 (MTU 1450) and is dropped there; the pod learns the path MTU and fragments the next; 1422 passes', () => {
    const r = run(
      twoNodes(
        'routing: vxlan\npodMtu: 1500',
        `
  - ping: { from: n1/p1, to: n2/p1, count: 2, interval: 100ms, size: 1472 }
  - ping: { from: n1/p1, to: n2/p1, count: 2, interval: 100ms, size: 1422, start: 500ms }
`,
      ),
    );
    const [big, fits] = flows(r);
    expect(big!.sent).toBe(2);
    expect(big!.received).toBe(1);
    expect(big!.errors).toEqual({ 'frag needed and DF set': 1 });
    expect(fits!.received).toBe(2);
    expect(r.results.drops).toEqual({ n1: { PKT_TOO_BIG: 1 } });
    // The error quotes the tunnel MTU (icmp.un.frag.mtu at offset 14+20+6).
    const atPod = readCapture(readFileSync(r.captureFiles.get('n1/p1/eth0')!)).packets.map((p) => p.data);
    const errors = atPod.filter((b) => b[34] === 3 && b[35] === 4);
    expect(errors.map((b) => (b[40]! << 8) | b[41]!)).toEqual([1450]);
    // The second request leaves as 1,444 + 76 bytes without DF (test/kernel/fragments.kernel.test.ts has the kernel do the same).
    const fromPod = atPod.filter((b) => b[12] === 0x08 && b[13] === 0 && [...b.subarray(26, 30)].join('.') === '10.244.1.2');
    const second = fromPod.filter((b) => (b[20]! & 0x40) === 0).map((b) => (b[16]! << 8) | b[17]!);
    expect(second.slice(0, 2)).toEqual([1444, 76]);
  });

  test('a datagram without DF is fragmented to the tunnel MTU before encapsulation and reassembled by the pod', () => {
    const spec = expandScenario(parseScenario(twoNodes('routing: vxlan\npodMtu: 1500', '  []'), 'overlay-test.yaml'));
    spec.captures = [];
    const world = buildWorld(spec);
    const p1 = world.namespaces.get('n1/p1')!;
    const p2 = world.namespaces.get('n2/p1')!;
    const n1 = world.namespaces.get('n1')!;
    const got: number[] = [];
    p2.udp.bind(7000, { onDatagram: (_pkt, _s, _sp, _d, _off, len) => got.push(len), onIcmpError: () => {} });
    const tap = new RecordingTap(world.sim);
    n1.device('eth0').tap = tap;
    // A 1500-byte datagram: fits the pod's eth0, not flannel.1.
    const payload = 1500 - IPV4_HEADER_LEN - UDP_HEADER_LEN;
    p1.component.schedule(1_000_000, {
      handleEvent: () => {
        const len = UDP_HEADER_LEN + payload;
        const pkt = p1.newPacket(IPV4_HEADER_LEN + len);
        const udp = pkt.off + ETH_HLEN + IPV4_HEADER_LEN;
        pkt.buf.fill(0x5a, udp + UDP_HEADER_LEN, udp + len);
        p1.sendIp(pkt, IPPROTO_UDP, 0, parseIpv4('10.244.2.2'), { dontFragment: false }, (src) =>
          emitUdp({ srcPort: 7001, dstPort: 7000, length: len }, pkt.buf, udp, src, parseIpv4('10.244.2.2')),
        );
      },
    }, 0, null);
    world.sim.run(spec.durationNs);
    expect(got).toEqual([payload]);
    expect(n1.fragStats).toMatchObject({ fragOKs: 1, fragCreates: 2, fragFails: 0 });
    // ip_fragment at flannel.1 (MTU 1450): 1480 bytes of IP payload as 1424 (the largest multiple
    // of 8 within 1450 - 20) and 56; each fragment then gets the 50 bytes of VXLAN encapsulation.
    const first = Math.floor((1450 - IPV4_HEADER_LEN) / 8) * 8;
    const frames = tap.frames.map((f) => f.bytes.length).filter((n) => n !== 42);
    expect(frames).toEqual([ETH_HLEN + IPV4_HEADER_LEN + first + 50, ETH_HLEN + IPV4_HEADER_LEN + (1480 - first) + 50]);
    expect(world.drops.toJSON()).toEqual({});
  });
});

describe('a tunnel datagram fragmented on the way, reassembled at the far node', () => {
  test("the inner segment it carried is forwarded whole: what nf_defrag learned of the outer datagram stays with it", () => {
    // n1 reaches a NodePort on n2 whose backend is n1/a: n1's TCP learns MTU 1450 towards n2
    // (n2 forwards the DNATed segments into flannel.1), so n1's own VXLAN datagrams to n2, 1500
    // bytes with a full-sized inner segment, leave in two fragments (as Linux sends them; see
    // test/kernel/tcp-pmtu.kernel.test.ts). n2 reassembles them (conntrack's defrag), takes the
    // VXLAN header off and forwards the 1450-byte inner segment out eth0, MTU 1500, whole.
    const r = run(`
name: overlay-test
duration: 1s
routing: vxlan
podMtu: 1500
nodes:
  - { name: n1, address: 192.168.49.2, podCIDR: 10.244.1.0/24, pods: [{ name: a, ip: 10.244.1.2, labels: { app: echo } }] }
  - { name: n2, address: 192.168.49.3, podCIDR: 10.244.2.0/24, pods: [{ name: b, ip: 10.244.2.2 }] }
services:
  - name: echo
    type: NodePort
    selector: { app: echo }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080, nodePort: 30000, requestSize: 5000, responseSize: 3000 }]
traffic:
  - tcp: { from: n1, to: n2, port: 30000, mode: crr, count: 2, rate: 10, requestSize: 5000, responseSize: 3000 }
capture: all
`);
    expect(flows(r).map((f) => f.received)).toEqual([2]);
    const ipv4 = (point: string) => readCapture(readFileSync(r.captureFiles.get(point)!)).packets.map((p) => p.data).filter((b) => b[12] === 0x08 && b[13] === 0);
    const isFragment = (b: Uint8Array) => (b[20]! & 0x20) !== 0 || (((b[20]! & 0x1f) << 8) | b[21]!) !== 0;
    // n1's VXLAN datagrams to n2: some leave fragmented.
    expect(ipv4('n1/eth0').filter((b) => b[23] === IPPROTO_UDP && isFragment(b)).length).toBeGreaterThan(0);
    // n2's forwarded TCP segments: none fragmented, and full-sized ones (1450 bytes of IP) among them.
    const forwarded = ipv4('n2/eth0').filter((b) => b[23] === 6 && b[26] === 192);
    expect(forwarded.filter(isFragment)).toEqual([]);
    expect(forwarded.some((b) => ((b[16]! << 8) | b[17]!) === 1450)).toBe(true);
  });
});

describe('the flannel-vxlan library scenario', () => {
  test('is answered in full, with no drops, and runs byte-identically twice', () => {
    const a = runTopology(expandScenario(resolveScenario('flannel-vxlan')), { outDir: join(work, 'lib-a') });
    const b = runTopology(expandScenario(resolveScenario('flannel-vxlan')), { outDir: join(work, 'lib-b') });
    for (const f of a.results.flows as Flow[]) expect(f.received, f.name).toBe(f.sent);
    expect(a.results.drops).toEqual({});
    expect(readFileSync(b.resultsFile, 'utf8')).toBe(readFileSync(a.resultsFile, 'utf8'));
    for (const [point, file] of a.captureFiles) expect(readFileSync(b.captureFiles.get(point)!).equals(readFileSync(file)), point).toBe(true);
  });
});
