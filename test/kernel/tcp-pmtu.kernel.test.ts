/**
 * TCP's path MTU discovery against the kernel: flannel's vxlan with
 * `podMtu: 1500`, so a pod's 1,448-byte segments do not fit the tunnel (MTU
 * 1,450). Two TCP_CRR connections from n1/a to n2/b, 5,000-byte requests and
 * 3,000-byte answers:
 * - the first connection's full-sized segments meet "fragmentation needed"
 *   at the sender's node; the sender (the client, and the server for its
 *   answer) lowers its MSS to 1,398 and sends the run of lost segments again
 *   cut at that MSS, its last piece with PSH, but not the last segment, which
 *   fit (tcp_v4_mtu_reduced, tcp_simple_retransmit);
 * - the second connection starts with the learned path MTU: both SYNs
 *   advertise MSS 1,410 with windows in multiples of it, and 1,398-byte
 *   segments from the start.
 * podwire once kept the handshake's MSS and stalled on retransmissions. The
 * same through a ClusterIP Service with its backend on n2: conntrack turns the
 * errors about DNATed segments back (they come from the ClusterIP, quoting it),
 * and the socket finds its connection by them. And from node n1 to a NodePort
 * on n2 whose backend is on n1: n1 learns MTU 1,450 towards n2 for its TCP
 * socket, so its own VXLAN datagrams to n2 (1,500 bytes) leave as two
 * fragments, as Linux sends them; n2 reassembles them, and the inner segment
 * it forwards goes whole (podwire once cut it again to the outer datagram's
 * largest fragment).
 *
 * Compared per connection and capture point, each direction on its own (the
 * kernel runs a whole pod-to-pod path in one softirq, so what a point sends
 * and receives interleave differently): flags, seq/ack, payload lengths,
 * options, TTLs, MACs, DF. Not compared: the windows after the handshake
 * (their growth on large segments follows the skb truesize, which podwire
 * estimates) and the ICMP errors' quoted headers (they hold the random ISN);
 * the errors themselves are counted per point with their MTU.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { runOnKernelDetailed, tcpTrafficPrerequisites, tunnelPrerequisites } from './kernel-harness.js';
import { kernelRunRetryingCaptureLoss } from './service-tcp-flows.js';
import { readPodwireRaw } from './service-udp-flows.js';
import { byPointAndDirection, connectionText, tcpConnections, type RawFrame } from './tcp-segments.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const tcp = tcpTrafficPrerequisites();
const pre = tcp.ok ? tunnelPrerequisites('vxlan') : tcp;
if (!pre.ok) console.warn(`[kernel comparison, TCP path MTU] skipped: ${pre.reason}`);

const FLOW = 'tcp n1/a -> n2/b';

/** Two nodes over vxlan with pods at MTU 1500; n1/a (or `from`) opens two connections to `to`: n2/b, or a Service in `services`. */
function scenario(name: string, to: string, b: string, services = '', from = 'n1/a', a = '{ name: a }', port = 80): string {
  return `name: ${name}
duration: 1s
routing: vxlan
podMtu: 1500
nodes:
  - name: n1
    pods: [${a}]
  - name: n2
    pods: [${b}]
${services}traffic:
  - tcp: { name: ${FLOW}, from: ${from}, to: ${to}, port: ${port}, mode: crr, count: 2, rate: 10, requestSize: 5000, responseSize: 3000 }
capture: all
`;
}

const SCENARIO = scenario('tcp-pmtu', 'n2/b', '{ name: b }');
const SERVICE_SCENARIO = scenario(
  'tcp-pmtu-service',
  '10.96.0.2',
  '{ name: b, labels: { app: echo } }',
  `services:
  - name: echo
    selector: { app: echo }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080, requestSize: 5000, responseSize: 3000 }]
`,
);const NODEPORT_SCENARIO = scenario(
  'tcp-pmtu-nodeport',
  'n2',
  '{ name: b }',
  `services:
  - name: echo
    type: NodePort
    selector: { app: echo }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080, nodePort: 30000, requestSize: 5000, responseSize: 3000 }]
`,
  'n1',
  '{ name: a, labels: { app: echo } }',
  30000,
);

const CLIENT = '10.244.1.2';

/** "fragmentation needed" errors per "<point> <direction>", each as "<source address> <next-hop MTU>". */
function fragNeeded(raw: ReadonlyMap<string, readonly RawFrame[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [point, frames] of raw) {
    for (const f of frames) {
      const b = f.data;
      if (b.length < 42 || b[12] !== 0x08 || b[13] !== 0 || b[23] !== 1) continue;
      const icmp = 14 + (b[14]! & 0x0f) * 4;
      if (b[icmp] !== 3 || b[icmp + 1] !== 4) continue;
      (out[`${point} ${f.dir}`] ??= []).push(`${b.subarray(26, 30).join('.')} ${(b[icmp + 6]! << 8) | b[icmp + 7]!}`);
    }
  }
  return out;
}

/**
 * Every IPv4 frame per "<point> <direction>", by protocol, DF/MF, fragment offset
 * and total length, counted: what TCP segments alone do not show (VXLAN
 * datagrams and their fragments, ICMP errors).
 */
function ipv4Shapes(raw: ReadonlyMap<string, readonly RawFrame[]>): string[] {
  const counts = new Map<string, number>();
  for (const [point, frames] of raw) {
    for (const f of frames) {
      const b = f.data;
      if (b[12] !== 0x08 || b[13] !== 0) continue;
      const key = `${point} ${f.dir} proto ${b[23]} flags ${b[20]! >> 5} offset ${((b[20]! & 0x1f) << 8) | b[21]!} length ${(b[16]! << 8) | b[17]!}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts].map(([k, n]) => `${k} x${n}`).sort();
}

/** The client of the flow: its address and the capture point its segments leave by. */
interface Client {
  address: string;
  point: string;
}

const POD_CLIENT: Client = { address: CLIENT, point: 'n1/a/eth0' };

/**
 * Runs `scenario` in podwire and then in the kernel with podwire's client
 * ports, checks both answered every request, and compares every connection's
 * segments point by point, each direction on its own, and every IPv4 frame's
 * shape. Returns the client's segments sent, per connection, and the errors
 * per point of each side.
 */
async function compareTcpPmtu(scenario: string, outDir: string, client: Client = POD_CLIENT) {
  const spec = expandScenario(parseScenario(scenario, 'tcp-pmtu.yaml'));
  const podwire = runTopology(spec, { outDir });
  expect((podwire.results.flows as Array<{ name: string; received: number }>).map((f) => [f.name, f.received])).toEqual([[FLOW, 2]]);
  const praw = readPodwireRaw(podwire.captureFiles);
  const pconns = tcpConnections(praw, [client.address]);
  const ports = [...pconns.keys()];
  expect(ports).toHaveLength(2);

  const kernel = await kernelRunRetryingCaptureLoss('TCP path MTU', () => runOnKernelDetailed(spec, { traffic: { tcpSourcePorts: new Map([[FLOW, ports]]) } }));
  const flow = kernel.traffic.flows.find((f) => f.name === FLOW)!;
  expect(flow.exit, flow.output).toBe(0);
  expect(JSON.parse(flow.output)).toMatchObject({ sent: 2, received: 2, errors: [], ports });
  const kraw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));
  const kconns = tcpConnections(kraw, [client.address]);

  for (const port of ports) {
    const k = byPointAndDirection(connectionText(kconns.get(port)!, { synWindowsOnly: true }));
    const p = byPointAndDirection(connectionText(pconns.get(port)!, { synWindowsOnly: true }));
    expect([...p.keys()].sort(), `client port ${port}`).toEqual([...k.keys()].sort());
    for (const [key, lines] of k) expect(p.get(key), `client port ${port}, ${key}`).toEqual(lines);
  }
  expect(ipv4Shapes(praw)).toEqual(ipv4Shapes(kraw));
  const clientSent = ports.map((port) => byPointAndDirection(connectionText(pconns.get(port)!, { windows: false })).get(`${client.point} out`)!);
  return { clientSent, errors: fragNeeded(praw), kernelErrors: fragNeeded(kraw), shapes: ipv4Shapes(praw) };
}

/** The payload lengths of segments that carry data. */
function payloads(lines: readonly string[]): number[] {
  return lines.map((l) => Number(/payload (\d+)/.exec(l)![1])).filter((n) => n > 0);
}

describe.skipIf(!pre.ok)('TCP path MTU discovery over vxlan with podMtu 1500, against the kernel', () => {
  const work = mkdtempSync(join(tmpdir(), 'podwire-tcp-pmtu-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('pod to pod: lowers the MSS to 1,398, resends the lost run cut at it, and starts the next connection with it', async () => {
    const r = await compareTcpPmtu(SCENARIO, join(work, 'pods'));
    // What the first connection's client sent: the flight, then the lost run again at MSS 1,398.
    expect(payloads(r.clientSent[0]!)).toEqual([1448, 1448, 1448, 656, 1398, 1398, 1398, 150]);
    expect(r.clientSent[1]![0]).toContain('[mss1410,');
    expect(payloads(r.clientSent[1]!)).toEqual([1398, 1398, 1398, 806]);
    // One error per lost segment, each quoting the tunnel's MTU, where each node sends them to its pod.
    expect(r.errors).toEqual(r.kernelErrors);
    expect(r.errors['n1/a/eth0 in']).toEqual(Array(3).fill('10.244.1.1 1450'));
    expect(r.errors['n2/b/eth0 in']).toEqual(Array(2).fill('10.244.2.1 1450'));
  }, 120_000);

  it('to a ClusterIP: the errors come back from the Service address, and the connection takes them', async () => {
    const r = await compareTcpPmtu(SERVICE_SCENARIO, join(work, 'service'));
    expect(payloads(r.clientSent[0]!)).toEqual([1448, 1448, 1448, 656, 1398, 1398, 1398, 150]);
    expect(r.errors).toEqual(r.kernelErrors);
    expect(r.errors['n1/a/eth0 in']).toEqual(Array(3).fill('10.96.0.2 1450'));
  }, 120_000);

  it("from a node to a NodePort served on its own node: its VXLAN datagrams are fragmented, the inner segments forwarded whole", async () => {
    const r = await compareTcpPmtu(NODEPORT_SCENARIO, join(work, 'nodeport'), { address: '192.168.49.2', point: 'n1/eth0' });
    expect(payloads(r.clientSent[0]!)).toEqual([1448, 1448, 1448, 656, 1398, 1398, 1398, 150]);
    expect(r.errors['n1/eth0 in']).toEqual(Array(3).fill('192.168.49.3 1450'));
    // n1's VXLAN datagrams of 1,500 bytes leave as 1,444 + 76 (MF, then offset 1,424); n2 forwards the inner segments of 1,450 whole.
    expect(r.shapes.filter((l) => l.startsWith('n1/eth0 out proto 17 flags 1 offset 0 length 1444')).length).toBe(1);
    expect(r.shapes.filter((l) => l.startsWith('n2/eth0 out proto 6 flags 2 offset 0 length 1450'))).toHaveLength(1);
    expect(r.shapes.filter((l) => / proto 6 flags [01] /.test(l))).toEqual([]);
  }, 120_000);

  it('leaves no namespace behind', () => {
    expectNamespacesCleanedUp();
  });
});
