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
import { netfilterTcpPrerequisites } from './kernel-harness.js';
import { nonTcpDifferences, nonTcpFrames, runLibraryTcp, type TcpOrigin } from './library-tcp-runs.js';
import { inTempDir } from './service-udp-flows.js';
import { summariseFrame } from './normalise.js';
import { connectionText, firstDifference, tcpConnections, type RawFrame } from './tcp-segments.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';

const pre = netfilterTcpPrerequisites();
if (!pre.ok) console.warn(`[kernel user-space proxies comparison] skipped: ${pre.reason}`);

interface Case {
  scenario: string;
  /** Per TCP flow, where its client's SYNs leave. */
  origins: Record<string, TcpOrigin>;
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

/** Text with ephemeral ports (32768-60999) written as "E". */
const blankEphemeral = (text: string) => text.replace(/\.(3[2-9]\d{3}|[45]\d{4}|60\d{3})\b/g, '.E');

describe.skipIf(!pre.ok)('user-space proxies (docker-proxy, kube-proxy userspace) against the kernel', () => {
  expectNamespacesCleanedUp();

  it.each(CASES)('$scenario: client connections, the proxies\' connections, every other frame', async (c) => {
    await inTempDir(`pwk-podwire-${c.scenario}-`, async (outDir) => {
      const r = await runLibraryTcp(c.scenario, c.origins, outDir);
      const pconns = tcpConnections(r.podwireRaw, c.initiators);
      const kconns = tcpConnections(r.kernelRaw, c.initiators);
      const known = new Set([...r.ports.values()].flat());
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

      if (c.ordered) {
        expect(nonTcpDifferences(r, { ephemeralPorts: 'pair' }), `podwire's other frames differ from the kernel's (${c.scenario})`).toBe('');
      } else {
        const bag = (raw: ReadonlyMap<string, readonly RawFrame[]>) => new Map([...nonTcpFrames(raw)].map(([p, l]) => [p, l.map((f) => blankEphemeral(summariseFrame(f))).sort()]));
        const k = bag(r.kernelRaw);
        const p = bag(r.podwireRaw);
        expect([...p.keys()].sort()).toEqual([...k.keys()].sort());
        for (const [point, frames] of k) expect(p.get(point), point).toEqual(frames);
      }
    });
  }, 120_000);
});
