/**
 * The receiver's side of a large request, against the kernel: 40 full-sized
 * segments from n1/a to n2/b (host-gw, TCP_CRR, one connection). Linux 6.18
 * ACKs each of the first 21 at once: 16 quick ACKs from the first data, and
 * one more for each segment that opens the window (tcp_grow_window sets
 * icsk_ack.quick |= 1); the windows of the first four ACKs grow by two
 * segments each (2 * advmss), which holds only for an skb truesize of about
 * payload + 896 bytes (SKB_TRUESIZE of a small-head skb): with 1,280 podwire's
 * window stopped at its clamp after the first.
 *
 * Compared: which segments the first 21 ACKs acknowledge, exactly, and their
 * first four windows, to within one 128-byte unit (where rcv_ssthresh starts
 * within a unit is not modelled). Not compared: what follows, where the
 * kernel's receiving process, on the same CPU as the whole softirq path, has
 * not run yet and its window shrinks, while podwire's application reads at once.
 *
 * And the sender's side of the same request: its first flight, before any
 * ACK, as two bursts of five segments (tcp_cwnd_test lets a burst take at
 * most half of cwnd), PSH on the last segment of each, as Linux's software
 * GSO sends them with the veth's TSO and GSO off. What follows depends on
 * when ACKs arrive, which differs: the kernel's path has no delay.
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
import { decodeTcpSegment, type RawFrame } from './tcp-segments.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = tcpTrafficPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison, TCP receive window] skipped: ${pre.reason}`);

const FLOW = 'tcp n1/a -> n2/b';
const SEGMENTS = 40;
const SCENARIO = `name: tcp-bulk-window
duration: 1s
nodes:
  - name: n1
    pods: [{ name: a }]
  - name: n2
    pods: [{ name: b }]
traffic:
  - tcp: { name: ${FLOW}, from: n1/a, to: n2/b, port: 80, mode: crr, count: 1, rate: 10, requestSize: ${SEGMENTS * 1448}, responseSize: 100 }
capture: [n2/b/eth0, n1/a/eth0]
`;

/** The pure ACKs b sends for the request: [segments acknowledged, window field]. */
function serverAcks(raw: ReadonlyMap<string, readonly RawFrame[]>): [number, number][] {
  const segs = (raw.get('n2/b/eth0') ?? []).map(decodeTcpSegment).filter((s) => s !== undefined);
  const syn = segs.find((s) => s!.flags === 'S' && s!.dir === 'in')!;
  return segs
    .filter((s) => s!.dir === 'out' && s!.flags === '.' && s!.payload === 0 && s!.srcPort === 80)
    .map((s) => [(s!.ack - syn.seq - 1 + 2 ** 32) % 2 ** 32 / 1448, s!.window] as [number, number])
    .filter(([n]) => n > 0 && n < SEGMENTS);
}

/** The client's first ten data segments: payload, and P where PSH is set. */
function firstFlight(raw: ReadonlyMap<string, readonly RawFrame[]>): string[] {
  return (raw.get('n1/a/eth0') ?? [])
    .map(decodeTcpSegment)
    .filter((s) => s !== undefined && s.dir === 'out' && s.payload > 0)
    .slice(0, 10)
    .map((s) => `${s!.payload}${s!.flags.includes('P') ? ' P' : ''}`);
}

describe.skipIf(!pre.ok)('TCP receive window and quick ACKs on a 40-segment request, against the kernel', () => {
  const work = mkdtempSync(join(tmpdir(), 'podwire-tcp-window-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** podwire's run and the kernel's, with podwire's client port; once for both cases. */
  let both: Promise<{ praw: Map<string, RawFrame[]>; kraw: Map<string, RawFrame[]> }> | undefined;
  function runBoth() {
    both ??= (async () => {
      const spec = expandScenario(parseScenario(SCENARIO, 'tcp-bulk-window.yaml'));
      const podwire = runTopology(spec, { outDir: work });
      const praw = readPodwireRaw(podwire.captureFiles);
      const port = (praw.get('n1/a/eth0') ?? []).map(decodeTcpSegment).find((s) => s !== undefined && s.flags === 'S')!.srcPort;
      const kernel = await kernelRunRetryingCaptureLoss('TCP receive window', () => runOnKernelDetailed(spec, { traffic: { tcpSourcePorts: new Map([[FLOW, [port]]]) } }));
      const flow = kernel.traffic.flows.find((f) => f.name === FLOW)!;
      expect(flow.exit, flow.output).toBe(0);
      const kraw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));
      return { praw: new Map([...praw].map(([p, l]) => [p, [...l]])), kraw };
    })();
    return both;
  }

  it('ACKs the first 21 segments one by one, the window growing by two segments for the first four', async () => {
    const { praw, kraw } = await runBoth();
    const k = serverAcks(kraw);
    const p = serverAcks(praw);
    const first21 = Array.from({ length: 21 }, (_, i) => i + 1);
    expect(k.slice(0, 21).map(([n]) => n)).toEqual(first21);
    expect(p.slice(0, 21).map(([n]) => n)).toEqual(first21);
    for (let i = 0; i < 4; i++) expect(Math.abs(p[i]![1] - k[i]![1]), `window of ACK ${i + 1}: kernel ${k[i]![1]}, podwire ${p[i]![1]}`).toBeLessThanOrEqual(1);
    // Two segments (2 * 1460 bytes, 22.8 units of 128) per ACK.
    for (let i = 1; i < 4; i++) expect(p[i]![1] - p[i - 1]![1]).toBeGreaterThanOrEqual(22);
  }, 120_000);

  it('sends the first flight as two bursts of five segments, PSH on the last of each', async () => {
    const { praw, kraw } = await runBoth();
    const k = firstFlight(kraw);
    expect(k).toEqual(['1448', '1448', '1448', '1448', '1448 P', '1448', '1448', '1448', '1448', '1448 P']);
    expect(firstFlight(praw)).toEqual(k);
  }, 120_000);

  it('leaves no namespace behind', () => {
    expectNamespacesCleanedUp();
  });
});
