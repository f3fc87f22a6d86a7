/**
 * nodeport-etp: an external host reaching NodePorts with
 * externalTrafficPolicy Cluster and Local, read from the captures: Cluster
 * replaces the client's address with the node's, Local keeps it, and Local on
 * a node without an endpoint drops the connection (kube-proxy's
 * KUBE-EXTERNAL-SERVICES "has no local endpoints" DROP).
 */
import { expectSameOutput } from '../helpers/output-tree.js';
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { libraryDir } from '../../scenarios/library.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology, type RunResult } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { read16 } from '../../models/wire/bytes.js';
import { ipv4Dst, ipv4Src } from '../../models/wire/ipv4.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-etp-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const EXT = '192.168.49.100';
const N1 = '192.168.49.2';
const N2 = '192.168.49.3';
const POD = '10.244.1.2';

interface Segment {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  syn: boolean;
  ack: boolean;
}

/** TCP segments of a capture point, in capture order (IPv4 without options). */
function tcpSegments(r: RunResult, point: string): Segment[] {
  const file = r.captureFiles.get(point);
  if (file === undefined) throw new Error(`no capture of ${point}`);
  return readCapture(file)
    .packets.filter((p) => p.data[12] === 0x08 && p.data[13] === 0x00 && p.data[23] === 6)
    .map((p) => {
      const b = p.data;
      const flags = b[47]!;
      return {
        src: formatIpv4(ipv4Src(b, 14)),
        dst: formatIpv4(ipv4Dst(b, 14)),
        sport: read16(b, 34),
        dport: read16(b, 36),
        syn: (flags & 0x02) !== 0,
        ack: (flags & 0x10) !== 0,
      };
    });
}

const synsOf = (segs: Segment[]) => segs.filter((s) => s.syn && !s.ack);
const synAcksOf = (segs: Segment[]) => segs.filter((s) => s.syn && s.ack);

/** The library scenario, with its traffic replaced by `traffic` when given. */
function run(dir: string, traffic?: unknown[]): RunResult {
  const file = join(libraryDir(), 'nodeport-etp.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { traffic: unknown[] };
  if (traffic !== undefined) doc.traffic = traffic;
  return runTopology(expandScenario(parseScenario(stringify(doc), file)), { outDir: join(work, dir) });
}

function flow(r: RunResult, name: string): { sent: number; received: number; lost: number } {
  const f = (r.results.flows as { name: string; sent: number; received: number; lost: number }[]).find((x) => x.name === name);
  if (f === undefined) throw new Error(`no flow ${name}`);
  return f;
}

describe('nodeport-etp', () => {
  test('the external host is its own component, wired to the underlay switch like a node', () => {
    const file = join(libraryDir(), 'nodeport-etp.yaml');
    const t = expandScenario(parseScenario(readFileSync(file, 'utf8'), file));
    const ext = t.namespaces.find((n) => n.name === 'ext1')!;
    expect(ext).toMatchObject({ kind: 'external', component: 'ext1', ipForward: false });
    expect(ext.interfaces).toEqual([{ name: 'eth0', mac: '02:42:c0:a8:31:64', mtu: 1500, addresses: ['192.168.49.100/24'] }]);
    expect(ext.routes).toEqual([{ dst: '0.0.0.0/0', via: '192.168.49.1', dev: 'eth0' }]);
    expect(t.namespaces.find((n) => n.name === 'underlay')!.interfaces.map((i) => i.name)).toEqual(['n1', 'n2', 'ext1']);
    expect(t.links).toContainEqual(expect.objectContaining({ kind: 'wire', a: { ns: 'ext1', ifname: 'eth0' }, b: { ns: 'underlay', ifname: 'ext1' } }));
    expect(t.captures).toEqual(expect.arrayContaining(['ext1/eth0', 'underlay/ext1']));
    expect(t.traffic.map((f) => f.class)).toEqual(['tcp: external → NodePort, other node', 'tcp: external → NodePort, other node']);
  });

  test('Cluster: the pod on n1 sees n2 as the client; Local: it sees the client itself', () => {
    const r = run('both');
    expect(flow(r, 'ext1 -> n2 Cluster')).toMatchObject({ sent: 4, received: 4, lost: 0 });
    expect(flow(r, 'ext1 -> n1 Local')).toMatchObject({ sent: 4, received: 4, lost: 0 });
    expect(r.results.drops).toEqual({});

    // The client only ever talks to the node address it chose, and is answered from it.
    const ext = tcpSegments(r, 'ext1/eth0');
    expect(synsOf(ext).map((s) => `${s.src} > ${s.dst}:${s.dport}`)).toEqual([
      ...Array(4).fill(`${EXT} > ${N2}:30080`),
      ...Array(4).fill(`${EXT} > ${N1}:30081`),
    ]);
    expect(synAcksOf(ext).map((s) => `${s.src}:${s.sport} > ${s.dst}`)).toEqual([
      ...Array(4).fill(`${N2}:30080 > ${EXT}`),
      ...Array(4).fill(`${N1}:30081 > ${EXT}`),
    ]);

    // The pod: DNATed to itself in both cases, source masqueraded to n2 only with Cluster.
    const pod = tcpSegments(r, 'n1/echo/eth0');
    expect(synsOf(pod).map((s) => `${s.src} > ${s.dst}:${s.dport}`)).toEqual([
      ...Array(4).fill(`${N2} > ${POD}:8080`),
      ...Array(4).fill(`${EXT} > ${POD}:8080`),
    ]);
    // Cluster: the connection leaves n2 again towards n1, DNATed and SNATed; Local never touches n2.
    const n2out = synsOf(tcpSegments(r, 'n2/eth0')).filter((s) => s.dst === POD);
    expect(n2out.map((s) => s.src)).toEqual(Array(4).fill(N2));
    expect(synAcksOf(tcpSegments(r, 'n1/eth0')).filter((s) => s.dst === EXT).map((s) => `${s.src}:${s.sport}`)).toEqual(Array(4).fill(`${N1}:30081`));
  });

  test('a partitioned run cuts the external host off into a part of its own, with the same output', async () => {
    const file = join(libraryDir(), 'nodeport-etp.yaml');
    const spec = expandScenario(parseScenario(readFileSync(file, 'utf8'), file));
    runTopology(spec, { outDir: join(work, 'seq') });
    const r = await runPartitioned(spec, { outDir: join(work, 'parts'), workers: 4, inTurn: true });
    expect(r.plan.parts).toBe(4);
    expect(new Set(['ext1', 'underlay', 'n1', 'n2'].map((c) => r.plan.partOf.get(c))).size).toBe(4);
    expectSameOutput(join(work, 'parts'), join(work, 'seq'));
  });

  test('Local on a node without endpoints: kube-proxy drops the connection', () => {
    const r = run('local-n2', [{ tcp: { name: 'ext1 -> n2 Local', from: 'ext1', to: 'n2', port: 30081, mode: 'crr', count: 3, rate: 10, requestSize: 100, responseSize: 200, start: '100ms' } }]);
    const f = flow(r, 'ext1 -> n2 Local');
    expect(f.sent).toBe(3);
    expect(f.received).toBe(0);
    // Every SYN (and its retransmissions) is dropped by n2's netfilter, nowhere else.
    expect(Object.keys(r.results.drops)).toEqual(['n2']);
    const n2drops = r.results.drops['n2']!;
    expect(Object.keys(n2drops)).toEqual(['NETFILTER_DROP']);
    const syns = synsOf(tcpSegments(r, 'ext1/eth0'));
    expect(syns.length).toBeGreaterThanOrEqual(3);
    expect(n2drops['NETFILTER_DROP']).toBe(syns.length);
    expect(syns.every((s) => s.src === EXT && s.dst === N2 && s.dport === 30081)).toBe(true);
    expect(synAcksOf(tcpSegments(r, 'ext1/eth0'))).toEqual([]);
    expect(tcpSegments(r, 'n1/echo/eth0')).toEqual([]);
    // The rule that did it, with its counter, as iptables-save -c prints it.
    const saved = readFileSync(join(work, 'local-n2', 'netfilter', 'n2.iptables-save'), 'utf8');
    const rule = saved.split('\n').find((l) => l.includes('has no local endpoints') && l.includes('--dport 30081'));
    expect(rule).toBe(
      `[${syns.length}:${syns.length * 60}] -A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/echo-local has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30081 -j DROP`,
    );
  });
});
