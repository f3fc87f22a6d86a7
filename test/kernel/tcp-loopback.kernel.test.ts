/**
 * TCP between two containers of one pod, over 127.0.0.1, against the kernel:
 * three TCP_CRR connections with 100-byte requests and 200-byte answers,
 * compared segment by segment on the pod's lo, windows included. What lo
 * shows that a veth does not (each found by this comparison, session 10):
 * - the MSS is 65495, not lo's MTU less 40: ipv4_default_advmss caps it at
 *   IPV4_MAX_PMTU (65535) less the headers, and the windows of the SYN
 *   (65495) and SYN-ACK (65483) follow it;
 * - the quick ACKs: the first data starts quick-ACK mode with at least two
 *   (tcp_incr_quickack), although a 65 KB window holds less than two such
 *   segments. So the server ACKs the request before it answers, and the
 *   client ACKs the answer before its FIN, as on any other path.
 * Only small messages: the harness leaves lo's segmentation offloads on, so
 * the kernel's bulk over lo is GSO super-frames, which podwire does not send.
 *
 * And two pods of one node with `vethDelay: 0s`, 5,000-byte requests and
 * 20,000-byte answers: there a whole exchange happens inside the client's
 * connect(), and podwire's client once never closed its connections. Compared
 * per capture point and direction (the kernel runs a path with no delay in one
 * softirq, so directions interleave differently), without the windows. PSH
 * included: the 20,000-byte answer leaves in bursts of at most half of cwnd,
 * each ending with PSH as Linux's software GSO sends them (models/stack/tcp/
 * send-buffer.ts); until session 11 podwire marked only the write's end, and
 * this comparison had to ignore PSH.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { runOnKernelDetailed, tcpTrafficPrerequisites } from './kernel-harness.js';
import { kernelRunRetryingCaptureLoss } from './service-tcp-flows.js';
import { readPodwireRaw } from './service-udp-flows.js';
import { byPointAndDirection, connectionText, firstDifference, tcpConnections, type RawFrame } from './tcp-segments.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';
import { zeroDelayPods } from '../helpers/zero-delay.js';

const pre = tcpTrafficPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison, TCP over lo] skipped: ${pre.reason}`);

const FLOW = 'web -> sidecar over lo';
const SCENARIO = `
name: tcp-loopback
duration: 1s
nodes:
  - name: n1
    pods:
      - name: p1
        containers: [web, sidecar]
traffic:
  - tcp: { name: ${FLOW}, from: n1/p1/web, to: n1/p1/sidecar, port: 9000, mode: crr, count: 3, rate: 10, requestSize: 100, responseSize: 200 }
capture: [n1/p1/lo, n1/p1/eth0]
`;

/**
 * podwire's run of `yaml` (into `outDir`), then the kernel's with podwire's
 * client ports: both answered all `count` requests of `flow`; each side's
 * connections from `client`, by client port.
 */
async function runBoth(yaml: string, flow: string, client: string, count: number, outDir: string) {
  const spec = expandScenario(parseScenario(yaml, `${flow}.yaml`));
  const podwire = runTopology(spec, { outDir });
  expect((podwire.results.flows as Array<{ name: string; received: number }>).map((f) => [f.name, f.received])).toEqual([[flow, count]]);
  const pconns = tcpConnections(readPodwireRaw(podwire.captureFiles), [client]);
  const ports = [...pconns.keys()];
  expect(ports).toHaveLength(count);
  const kernel = await kernelRunRetryingCaptureLoss(flow, () => runOnKernelDetailed(spec, { traffic: { tcpSourcePorts: new Map([[flow, ports]]) } }));
  const k = kernel.traffic.flows.find((f) => f.name === flow)!;
  expect(k.exit, k.output).toBe(0);
  expect(JSON.parse(k.output)).toMatchObject({ sent: count, received: count, errors: [], ports });
  const kraw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));
  return { ports, pconns, kconns: tcpConnections(kraw, [client]) };
}

describe.skipIf(!pre.ok)('TCP over a pod\'s lo against the kernel', () => {
  expectNamespacesCleanedUp();
  const work = mkdtempSync(join(tmpdir(), 'podwire-tcp-lo-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('every segment of every connection, windows and separate quick ACKs included', async () => {
    const { ports, pconns, kconns } = await runBoth(SCENARIO, FLOW, '127.0.0.1', 3, join(work, 'lo'));
    for (const port of ports) {
      const k = kconns.get(port);
      expect(k, `the kernel's connection from port ${port}`).toBeDefined();
      expect(firstDifference(connectionText(k!), connectionText(pconns.get(port)!)), `client port ${port}`).toBe('');
    }
    const first = connectionText(pconns.get(ports[0]!)!);
    expect(first).toContain('[mss65495,');
    // The server's quick ACK of the request, before its answer.
    expect(first).toMatch(/9000 > 127\.0\.0\.1\.\d+ \[\.\] seq 1 ack 101 payload 0 .*\n.*9000 > 127\.0\.0\.1\.\d+ \[P\.\] seq 1 ack 101 payload 200/);
  }, 60_000);

  it('pods with no veth delay: every segment per point and direction, FINs included', async () => {
    const flow = 'a -> b without delay';
    const yaml = zeroDelayPods(`tcp: { name: ${flow}, from: n1/a, to: n1/b, port: 9000, mode: crr, count: 3, rate: 10, requestSize: 5000, responseSize: 20000 }`);
    const { ports, pconns, kconns } = await runBoth(yaml, flow, '10.244.1.2', 3, join(work, 'zero-delay'));
    for (const port of ports) {
      const k = byPointAndDirection(connectionText(kconns.get(port)!, { windows: false }));
      const p = byPointAndDirection(connectionText(pconns.get(port)!, { windows: false }));
      expect([...p.keys()].sort(), `client port ${port}`).toEqual([...k.keys()].sort());
      for (const [key, lines] of k) expect(p.get(key), `client port ${port}, ${key}`).toEqual(lines);
      expect(p.get('n1/a/eth0 out')!.filter((l) => l.includes('[F.]'))).toHaveLength(1);
    }
  }, 60_000);
});
