/**
 * The user-space proxies against the kernel: the library scenarios
 * docker-proxy (runtime docker's published ports, docker-proxy serving the
 * host's own traffic) and services-userspace (kube-proxy's userspace mode:
 * REDIRECT and DNAT portals to the proxy, a second connection to the
 * backend). On the kernel side proxy-agent.py does what the Go code does
 * (kube-proxy's ProxyLoop / copyBytes, libnetwork's tcp_proxy.go broker), over
 * the real stack and the rules podwire generated.
 *
 * Compared:
 * - every connection a flow's client opens (the kernel's clients bind
 *   podwire's ports), segment by segment at every capture point, windows
 *   included;
 * - the proxy's own connections to the backends, whose ephemeral ports
 *   differ: as a multiset of connection texts with those ports blanked;
 * - every other frame: docker-proxy point by point in order; services-userspace
 *   as a multiset per point with ephemeral ports blanked, because its two UDP
 *   clients send at the same instant, which two kernel processes order as they may.
 * Both were equal to the kernel when first compared (session 10), before and
 * after that session made the proxies dial and end connections as the Go code
 * does: those changes are in timing, which this comparison leaves out
 * (test/models/userspace-proxy.test.ts has them).
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { netfilterPrerequisites, runOnKernelDetailed, tcpTrafficPrerequisites } from './kernel-harness.js';
import { kernelRunRetryingCaptureLoss } from './service-tcp-flows.js';
import { inTempDir, readPodwireRaw } from './service-udp-flows.js';
import { compareCapturePoints, normaliseFrame, summariseFrame } from './normalise.js';
import { connectionText, decodeTcpSegment, firstDifference, tcpConnections, type RawFrame } from './tcp-segments.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

function prerequisites(): { ok: boolean; reason: string } {
  const nf = netfilterPrerequisites();
  if (!nf.ok) return nf;
  const tcp = tcpTrafficPrerequisites();
  return tcp.ok ? nf : tcp;
}

const pre = prerequisites();
if (!pre.ok) console.warn(`[kernel user-space proxies comparison] skipped: ${pre.reason}`);

interface Case {
  scenario: string;
  /** Per TCP flow: where its client's SYNs leave, from which address, to which address and port. */
  origins: Record<string, { point: string; src: string; dst: string; dstPort: number }>;
  /** Every address a connection starts from, the proxies' included. */
  initiators: string[];
  /** How many connections the proxies open to backends. */
  proxied: number;
  /** Other frames in order (true), or as a multiset per point. */
  ordered: boolean;
}

const CASES: Case[] = [
  {
    scenario: 'docker-proxy',
    origins: {
      'client -> published port': { point: 'client/eth0', src: '192.168.1.11', dst: '192.168.1.10', dstPort: 8080 },
      "web -> host's published port": { point: 'host/web/eth0', src: '172.17.0.2', dst: '192.168.1.10', dstPort: 8080 },
    },
    initiators: ['192.168.1.11', '127.0.0.1', '172.17.0.2', '172.17.0.1'],
    // host -> localhost:8080 (4, its client side on lo, not captured) and web -> host's port (2)
    proxied: 6,
    ordered: true,
  },
  {
    scenario: 'services-userspace',
    origins: {
      'client crr': { point: 'n1/client/eth0', src: '10.244.1.2', dst: '10.96.0.3', dstPort: 80 },
      'n1 -> NodePort on n2': { point: 'n1/eth0', src: '192.168.49.2', dst: '192.168.49.3', dstPort: 30000 },
    },
    initiators: ['10.244.1.2', '192.168.49.2', '10.244.1.1', '10.244.2.1', '192.168.49.3'],
    proxied: 12,
    ordered: false,
  },
];

/** A connection's text with ephemeral ports (32768-60999) written as "E". */
const blankEphemeral = (text: string) => text.replace(/\.(3[2-9]\d{3}|[45]\d{4}|60\d{3})\b/g, '.E');

describe.skipIf(!pre.ok)('user-space proxies (docker-proxy, kube-proxy userspace) against the kernel', () => {
  expectNamespacesCleanedUp();

  it.each(CASES)('$scenario: client connections, the proxies\' connections, every other frame', async (c) => {
    const spec = expandScenario(loadScenarioFile(resolveScenarioPath(c.scenario)));
    await inTempDir(`pwk-podwire-${c.scenario}-`, async (outDir) => {
      const podwire = runTopology(spec, { outDir });
      const flows = podwire.results.flows as Array<{ name: string; sent: number; received: number }>;
      for (const f of flows) expect([f.name, f.received]).toEqual([f.name, f.sent]);
      const praw = readPodwireRaw(podwire.captureFiles);
      const ports = new Map<string, number[]>();
      for (const [flow, o] of Object.entries(c.origins)) {
        const syns = (praw.get(o.point) ?? []).map(decodeTcpSegment).filter((s) => s !== undefined && s.dir === 'out' && s.flags === 'S' && s.src === o.src && s.dst === o.dst && s.dstPort === o.dstPort);
        ports.set(flow, syns.map((s) => s!.srcPort));
        expect(ports.get(flow)!.length, flow).toBe(spec.traffic.find((t) => t.name === flow)!.kind === 'tcp' ? (spec.traffic.find((t) => t.name === flow) as { count: number }).count : 0);
      }

      const kernel = await kernelRunRetryingCaptureLoss(`kernel ${c.scenario}`, () => runOnKernelDetailed(spec, { traffic: { tcpSourcePorts: ports } }));
      for (const f of kernel.traffic.flows) expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
      for (const f of kernel.traffic.flows) expect(JSON.parse(f.output), f.name).toMatchObject({ received: flows.find((p) => p.name === f.name)!.sent });
      const kraw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));

      const pconns = tcpConnections(praw, c.initiators);
      const kconns = tcpConnections(kraw, c.initiators);
      const known = new Set([...ports.values()].flat());
      const diffs: string[] = [];
      for (const port of known) {
        const k = kconns.get(port);
        if (k === undefined) diffs.push(`client port ${port}: no such connection in the kernel's captures`);
        else {
          const d = firstDifference(connectionText(k), connectionText(pconns.get(port)!));
          if (d !== '') diffs.push(`client port ${port}: ${d}`);
        }
      }
      expect(diffs.join('\n\n'), `podwire's client connections differ from the kernel's (${c.scenario})`).toBe('');

      const proxied = (conns: typeof pconns) => [...conns].filter(([port]) => !known.has(port)).map(([, v]) => blankEphemeral(connectionText(v))).sort();
      const pp = proxied(pconns);
      expect(pp).toHaveLength(c.proxied);
      expect(pp.every((t) => t.split('\n').length >= 10)).toBe(true);
      expect(pp).toEqual(proxied(kconns));

      const nonTcp = (raw: ReadonlyMap<string, readonly RawFrame[]>) => new Map([...raw].map(([p, l]) => [p, l.filter((f) => decodeTcpSegment(f) === undefined).map((f) => normaliseFrame(f.data, f.dir))]));
      if (c.ordered) {
        expect(compareCapturePoints(nonTcp(kraw), nonTcp(praw), { ephemeralPorts: 'pair' }).text, `podwire's other frames differ from the kernel's (${c.scenario})`).toBe('');
      } else {
        const bag = (raw: ReadonlyMap<string, readonly RawFrame[]>) => new Map([...nonTcp(raw)].map(([p, l]) => [p, l.map((f) => blankEphemeral(summariseFrame(f))).sort()]));
        const k = bag(kraw);
        const p = bag(praw);
        expect([...p.keys()].sort()).toEqual([...k.keys()].sort());
        for (const [point, frames] of k) expect(p.get(point), point).toEqual(frames);
      }
    });
  }, 120_000);
});
