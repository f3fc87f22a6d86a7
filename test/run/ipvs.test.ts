/**
 * kube-proxy's IPVS mode end to end: Services programmed as IPVS virtual
 * servers on every node, packets NATed by the IPVS hooks in the emulated
 * stack, answers and captures checked from the bytes.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveScenario } from '../../scenarios/library.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology, type RunResult } from '../../scenarios/run.js';
import { buildWorld } from '../../scenarios/build.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { checkCaptureWithTshark, tsharkPath } from '../helpers/tshark.js';
import { ipv4Frames } from '../helpers/ipv4-frames.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-ipvs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function flows(r: RunResult): Record<string, { sent: number; received: number; errors: Record<string, number> }> {
  return Object.fromEntries((r.results.flows as { name: string; sent: number; received: number; errors: Record<string, number> }[]).map((f) => [f.name, f]));
}

function run(yaml: string, dir: string): RunResult {
  return runTopology(expandScenario(parseScenario(yaml, 't.yaml')), { outDir: join(work, dir) });
}

describe('services-ipvs (ready scenario)', () => {
  const out = join(work, 'lib');
  const r = runTopology(expandScenario(resolveScenario('services-ipvs')), { outDir: out });
  const cap = (point: string) => ipv4Frames(join(out, 'captures', `${point}.pcapng`));

  test('every request is answered, nothing is dropped', () => {
    for (const f of Object.values(flows(r))) expect(f.received).toBe(f.sent);
    expect(r.results.drops).toEqual({});
  });

  test('the client talks to the ClusterIPs only: every answer comes from the VIP (IPVS rewrote the source back)', () => {
    const inbound = cap('n1.client.eth0').filter((f) => f.dst === '10.244.1.2' && f.proto !== 1);
    expect(inbound.length).toBeGreaterThan(0);
    expect(new Set(inbound.map((f) => `${f.src}:${f.sport}`))).toEqual(new Set(['10.96.0.2:80', '10.96.0.3:80']));
  });

  test('the backends see their own address as destination (DNAT to the real server), the pod client unmasqueraded, TTL one lower per hop', () => {
    const b = cap('n2.echo-b.eth0').filter((f) => f.dst === '10.244.2.2' && f.src === '10.244.1.2');
    const a = cap('n1.echo-a.eth0').filter((f) => f.dst === '10.244.1.3' && f.src === '10.244.1.2');
    expect(b.length).toBeGreaterThan(0);
    expect(a.length).toBeGreaterThan(0);
    for (const f of [...a, ...b]) expect(f.dport).toBe(8080);
    // n1's IPVS decrements as it forwards, then n2 routes: 64 -> 62; on the same node only IPVS: 63.
    expect(new Set(b.map((f) => f.ttl))).toEqual(new Set([62]));
    expect(new Set(a.map((f) => f.ttl))).toEqual(new Set([63]));
  });

  test('rr alternates UDP connections, the last real server added (echo-b) first', () => {
    const conns = readFileSync(join(out, 'netfilter', 'n1.ipvsadm'), 'utf8');
    const dest = (port: number) => new RegExp(`UDP \\S+ +UDP +10\\.244\\.1\\.2:${port} +10\\.96\\.0\\.2:80 +(\\S+)`).exec(conns)?.[1];
    expect([40001, 40002, 40003, 40004].map(dest)).toEqual(['10.244.2.2:8080', '10.244.1.3:8080', '10.244.2.2:8080', '10.244.1.3:8080']);
    expect(conns).toContain('UDP  10.96.0.2:80 rr\n  -> 10.244.1.3:8080              Masq    1      0          2\n  -> 10.244.2.2:8080              Masq    1      0          2\n');
  });

  test('NodePort from another node: KUBE-NODE-PORT marks it, KUBE-POSTROUTING masquerades it to the address it leaves n2 by', () => {
    const toB = cap('n2.echo-b.eth0').filter((f) => f.dst === '10.244.2.2' && f.proto === 6 && f.src !== '10.244.1.2');
    const toA = cap('n1.echo-a.eth0').filter((f) => f.dst === '10.244.1.3' && f.proto === 6 && f.src !== '10.244.1.2');
    expect(new Set(toB.map((f) => f.src))).toEqual(new Set(['10.244.2.1']));
    expect(new Set(toA.map((f) => f.src))).toEqual(new Set(['192.168.49.3']));
    expect(readFileSync(join(out, 'netfilter', 'n2.ipvsadm'), 'utf8')).toMatch(/TCP \S+ +TIME_WAIT +192\.168\.49\.2:\d+ +192\.168\.49\.3:30000 +10\.244\.1\.3:8080/);
  });

  test('the same seed gives byte-identical captures, results and dumps', () => {
    const again = join(work, 'lib-again');
    runTopology(expandScenario(resolveScenario('services-ipvs')), { outDir: again });
    for (const sub of ['captures', 'netfilter']) {
      const files = readdirSync(join(out, sub)).sort();
      expect(readdirSync(join(again, sub)).sort()).toEqual(files);
      for (const f of files) expect(readFileSync(join(again, sub, f)).equals(readFileSync(join(out, sub, f))), f).toBe(true);
    }
    expect(readFileSync(join(again, 'results.json'), 'utf8')).toBe(readFileSync(join(out, 'results.json'), 'utf8'));
  });

  const tshark = tsharkPath();
  if (tshark === null) console.log('skipping the tshark check of services-ipvs: tshark is not installed');
  test.skipIf(tshark === null)('tshark finds every frame well formed with correct checksums', async () => {
    for (const f of readdirSync(join(out, 'captures'))) {
      const c = await checkCaptureWithTshark(join(out, 'captures', f));
      expect(c.problems, f).toEqual([]);
    }
  });
});

const NODES = `nodes:
  - name: n1
    pods: [{ name: client }, { name: a, hairpin: true, labels: { app: echo } }]
  - name: n2
    pods: [{ name: b, labels: { app: echo } }]
`;

describe('IPVS mode corner cases', () => {
  test('nothing listens on a node for flows to a ClusterIP: the VIP is local on kube-ipvs0, but the servers are the pods', () => {
    const world = buildWorld(expandScenario(resolveScenario('services-ipvs')));
    const listening = [...world.namespaces.values()].filter((ns) => ns.udp.isBound(80) || ns.tcp.isListening(80)).map((ns) => ns.name);
    expect(listening).toEqual([]);
    // The backends do listen, on the target port.
    expect(world.namespaces.get('n2/echo-b')!.udp.isBound(8080)).toBe(true);
  });


  test('a Service without endpoints: IPVS has no real server and answers ICMP port unreachable, for UDP and for a TCP SYN', () => {
    const r = run(
      `name: t\nduration: 1s\nkubeProxy: { mode: ipvs }\n${NODES}services:
  - { name: nobody, selector: { app: nobody }, ports: [{ name: u, protocol: UDP, port: 80, targetPort: 8080 }, { name: t, protocol: TCP, port: 80, targetPort: 8080 }] }
traffic:
  - udp: { name: udp, from: n1/client, to: 10.96.0.2, port: 80, count: 2, rate: 10, requestSize: 32, responseSize: 64, start: 100ms }
  - tcp: { name: tcp, from: n1/client, to: 10.96.0.2, port: 80, mode: crr, count: 1, rate: 10, requestSize: 64, responseSize: 64, start: 500ms }
capture: [n1/client/eth0]
`,
      'nobody',
    );
    const f = flows(r);
    expect(f['udp']).toMatchObject({ sent: 2, received: 0, errors: { 'destination port unreachable': 2 } });
    expect(f['tcp']).toMatchObject({ received: 0, errors: { ECONNREFUSED: 1 } });
    const icmp = ipv4Frames(join(work, 'nobody', 'captures', 'n1.client.eth0.pcapng')).filter((x) => x.proto === 1);
    expect(icmp.map((x) => `${x.src} ${x.icmpType}/${x.icmpCode}`)).toEqual(['10.96.0.2 3/3', '10.96.0.2 3/3', '10.96.0.2 3/3']);
    expect(r.results.drops).toEqual({ n1: { NETFILTER_DROP: 3 } });
  });

  test('sessionAffinity ClientIP: a persistence template (-p 10800) sends every connection of a client to one real server', () => {
    const r = run(
      `name: t\nduration: 1s\nkubeProxy: { mode: ipvs }\n${NODES}services:
  - { name: dns, sessionAffinity: ClientIP, selector: { app: echo }, ports: [{ protocol: UDP, port: 53, targetPort: 5353 }] }
traffic:
${[1, 2, 3, 4].map((i) => `  - udp: { name: c${i}, from: n1/client, to: 10.96.0.2, port: 53, sourcePort: ${40000 + i}, count: 1, rate: 10, requestSize: 32, responseSize: 64, start: ${i * 100}ms }`).join('\n')}
capture: none
`,
      'sticky',
    );
    for (const f of Object.values(flows(r))) expect(f.received).toBe(1);
    const ipvs = r.world.namespaces.get('n1')!.netfilter!.ipvs!;
    const conns = ipvs.conns.entries();
    expect(conns.filter((c) => c.isTemplate).map((c) => formatIpv4(c.caddr))).toEqual(['10.244.1.2']);
    expect(new Set(conns.filter((c) => !c.isTemplate).map((c) => formatIpv4(c.daddr)))).toEqual(new Set(['10.244.2.2']));
    expect(conns.filter((c) => !c.isTemplate)).toHaveLength(4);
  });

  test('sh keeps each client address on one backend, dh every client of a Service on one; rr spreads them', () => {
    // hash_32 of 10.244.1.2 is bucket 77 and of 10.244.1.6 bucket 212: with two
    // backends of weight 1 the buckets alternate between them, so the clients differ.
    const yaml = (sched: string) => `name: t\nduration: 2s\nkubeProxy: { mode: ipvs, ipvs: { scheduler: ${sched} } }
nodes:
  - name: n1
    pods: [{ name: odd, ip: 10.244.1.2 }, { name: even, ip: 10.244.1.6 }]
  - name: n2
    pods: [{ name: e1, labels: { app: echo } }, { name: e2, labels: { app: echo } }]
services:
  - { name: echo, selector: { app: echo }, ports: [{ protocol: UDP, port: 80, targetPort: 8080 }] }
traffic:
${['odd', 'even']
  .flatMap((c, k) => [1, 2, 3].map((i) => `  - udp: { name: ${c}${i}, from: n1/${c}, to: 10.96.0.2, port: 80, sourcePort: ${40000 + i}, count: 1, rate: 10, requestSize: 32, responseSize: 64, start: ${k * 300 + i * 50}ms }`))
  .join('\n')}
capture: none
`;
    const backends = (sched: string) => {
      const r = run(yaml(sched), `hash-${sched}`);
      for (const f of Object.values(flows(r))) expect(f.received, sched).toBe(1);
      const conns = r.world.namespaces.get('n1')!.netfilter!.ipvs!.conns.entries();
      expect(conns).toHaveLength(6);
      const of = (client: string) => new Set(conns.filter((c) => formatIpv4(c.caddr) === client).map((c) => formatIpv4(c.daddr)));
      return { odd: of('10.244.1.2'), even: of('10.244.1.6') };
    };
    const sh = backends('sh');
    expect([sh.odd.size, sh.even.size]).toEqual([1, 1]);
    expect([...sh.odd][0]).not.toBe([...sh.even][0]);
    const dh = backends('dh');
    expect(new Set([...dh.odd, ...dh.even]).size).toBe(1);
    const rr = backends('rr');
    expect([rr.odd.size, rr.even.size]).toEqual([2, 2]);
    expect(readFileSync(join(work, 'hash-sh', 'netfilter', 'n1.ipvsadm'), 'utf8')).toContain('UDP  10.96.0.2:80 sh\n');
  });

  test('lc sends a new connection to the real server without the long-lived established one; rr would not', () => {
    const yaml = (sched: string) => `name: t\nduration: 3s\nkubeProxy: { mode: ipvs, ipvs: { scheduler: ${sched} } }\n${NODES}services:
  - { name: web, selector: { app: echo }, ports: [{ protocol: TCP, port: 80, targetPort: 8080 }] }
traffic:
  - tcp: { name: long, from: n1/client, to: 10.96.0.2, port: 80, mode: rr, count: 20, rate: 10, requestSize: 64, responseSize: 64, start: 100ms }
  - tcp: { name: s1, from: n1/client, to: 10.96.0.2, port: 80, mode: crr, count: 1, rate: 10, requestSize: 64, responseSize: 64, start: 500ms }
  - tcp: { name: s2, from: n1/client, to: 10.96.0.2, port: 80, mode: crr, count: 1, rate: 10, requestSize: 64, responseSize: 64, start: 800ms }
capture: none
`;
    const dests = (sched: string) => {
      const r = run(yaml(sched), `sched-${sched}`);
      for (const f of Object.values(flows(r))) expect(f.received).toBe(f.sent);
      const conns = r.world.namespaces.get('n1')!.netfilter!.ipvs!.conns.entries();
      // By last packet: s1, s2, then the long connection.
      const [s1, s2, long] = conns.sort((x, y) => x.expiresAt - y.expiresAt).map((c) => formatIpv4(c.daddr));
      expect(conns).toHaveLength(3);
      return { s1, s2, long };
    };
    const lc = dests('lc');
    expect(lc.s1).not.toBe(lc.long);
    expect(lc.s2).toBe(lc.s1); // s1 in TIME_WAIT weighs 1, the established long one 256
    const rr = dests('rr');
    expect(rr.s1).not.toBe(rr.long);
    expect(rr.s2).toBe(rr.long);
  });

  test('a process on the node: its source is the VIP (local route via kube-ipvs0), marked by KUBE-SERVICES and masqueraded; a VIP port no service has is rejected by KUBE-IPVS-FILTER', () => {
    const r = run(
      `name: t\nduration: 1s\nkubeProxy: { mode: ipvs }\n${NODES}services:
  - { name: echo, selector: { app: echo }, ports: [{ protocol: UDP, port: 80, targetPort: 8080 }] }
traffic:
  - udp: { name: node, from: n1, to: 10.96.0.2, port: 80, count: 1, rate: 10, requestSize: 32, responseSize: 64, start: 100ms }
  - udp: { name: port81, from: n1/client, to: 10.96.0.2, port: 81, count: 1, rate: 10, requestSize: 32, responseSize: 64, start: 100ms }
capture: [n2/b/eth0]
`,
      'node',
    );
    expect(flows(r)['node']).toMatchObject({ sent: 1, received: 1 });
    expect(flows(r)['port81']).toMatchObject({ received: 0, errors: { 'destination port unreachable': 1 } });
    expect(readFileSync(join(work, 'node', 'netfilter', 'n1.ipvsadm'), 'utf8')).toMatch(/UDP \S+ +UDP +10\.96\.0\.2:\d+ +10\.96\.0\.2:80 +10\.244\.2\.2:8080/);
    const atB = ipv4Frames(join(work, 'node', 'captures', 'n2.b.eth0.pcapng')).filter((f) => f.proto === 17);
    expect(atB.map((f) => `${f.src} > ${f.dst}:${f.dport}`)[0]).toBe('192.168.49.2 > 10.244.2.2:8080');
  });

  test('a packet IPVS sent on is not scheduled again (skb->ipvs_property), even towards an address that is itself a virtual server', () => {
    // ip_vs_nat_send_or_cont marks the packet and sends it through LOCAL_OUT once
    // more, past IPVS's own LOCAL_OUT hooks; ip_vs_in and ip_vs_out accept a
    // marked packet untouched. A virtual server need not be local: one on
    // b's own address and port would take every packet a local process sends
    // there, but not the request IPVS has already sent to b.
    const yaml = `name: t\nduration: 1s\nkubeProxy: { mode: ipvs }\n${NODES}services:
  - { name: echo, selector: { app: echo }, ports: [{ protocol: UDP, port: 80, targetPort: 8080 }] }
traffic:
  - udp: { name: node, from: n1, to: 10.96.0.2, port: 80, count: 1, rate: 10, requestSize: 32, responseSize: 64, start: 100ms }
capture: [n1/a/eth0, n2/b/eth0]
`;
    const spec = expandScenario(parseScenario(yaml, 't.yaml'));
    const n1 = spec.namespaces.find((ns) => ns.name === 'n1')!;
    n1.ipvs!.services.push({ protocol: 'UDP', address: '10.244.2.2', port: 8080, scheduler: 'rr', realServers: [{ address: '10.244.1.3', port: 8080, weight: 1 }] });
    const r = runTopology(spec, { outDir: join(work, 'marked') });
    expect(flows(r)['node']).toMatchObject({ sent: 1, received: 1 });
    const requests = (point: string) =>
      ipv4Frames(join(work, 'marked', 'captures', `${point}.pcapng`))
        .filter((f) => f.proto === 17 && f.dport === 8080)
        .map((f) => `${f.src} > ${f.dst}:${f.dport}`);
    expect(requests('n2.b.eth0')).toEqual(['192.168.49.2 > 10.244.2.2:8080']);
    expect(requests('n1.a.eth0')).toEqual([]);
    // One connection, to the virtual server the process addressed.
    const conns = r.world.namespaces.get('n1')!.netfilter!.ipvs!.conns.entries();
    expect(conns.map((c) => `${formatIpv4(c.vaddr)}:${c.vport} -> ${formatIpv4(c.daddr)}:${c.dport}`)).toEqual(['10.96.0.2:80 -> 10.244.2.2:8080']);
  });

  test('hairpin: a pod reaching itself through its ClusterIP is masqueraded by KUBE-LOOP-BACK (its veth in hairpin mode)', () => {
    const r = run(
      `name: t\nduration: 1s\nkubeProxy: { mode: ipvs }\n${NODES}services:
  - { name: web, selector: { app: echo }, ports: [{ protocol: TCP, port: 80, targetPort: 8080 }] }
traffic:
  - tcp: { name: self, from: n1/a, to: 10.96.0.2, port: 80, mode: crr, count: 4, rate: 10, requestSize: 64, responseSize: 64, start: 100ms }
capture: [n1/a/eth0]
`,
      'hairpin',
    );
    expect(flows(r)['self']).toMatchObject({ sent: 4, received: 4 });
    const toSelf = ipv4Frames(join(work, 'hairpin', 'captures', 'n1.a.eth0.pcapng')).filter((f) => f.dst === '10.244.1.3' && f.dport === 8080);
    expect(toSelf.length).toBeGreaterThan(0);
    expect(new Set(toSelf.map((f) => f.src))).toEqual(new Set(['10.244.1.1']));
  });
});
