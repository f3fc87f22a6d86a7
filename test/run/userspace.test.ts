/**
 * kube-proxy's userspace mode end to end (scenarios/library/services-userspace.yaml):
 * the client sees only the Service address, the backends see a second
 * connection from the node, requests alternate between backends, and the proxy's
 * processing cost shows in the latency.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveScenario } from '../../scenarios/library.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { ipv4Frames, isSyn } from '../helpers/ipv4-frames.js';

const work = mkdtempSync(join(tmpdir(), 'pw-userspace-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const userspace = runTopology(expandScenario(resolveScenario('services-userspace')), { outDir: join(work, 'us') });
const iptables = runTopology(expandScenario({ ...resolveScenario('services-userspace'), kubeProxy: { mode: 'iptables', syncDelayNs: 1e9 } }), { outDir: join(work, 'ipt') });

type Flow = { name: string; sent: number; received: number; latencyNs: { p50: number } };
const flow = (r: typeof userspace, name: string) => (r.results.flows as Flow[]).find((f) => f.name === name)!;

/** [src, dst, dport] of every TCP SYN (without ACK) in a capture. */
function syns(point: string): [string, string, number][] {
  return ipv4Frames(userspace.captureFiles.get(point)!).filter(isSyn).map((f) => [f.src, f.dst, f.dport]);
}

describe('kube-proxy userspace mode', () => {
  test('every request is answered through the proxy', () => {
    for (const f of userspace.results.flows as Flow[]) expect(f.received, f.name).toBe(f.sent);
    expect(userspace.results.drops).toEqual({});
  });

  test('the client connects to the Service address; the backends get connections from the node', () => {
    const client = syns('n1/client/eth0');
    expect(client.length).toBe(8);
    for (const s of client) expect(s.slice(1)).toEqual(['10.96.0.3', 80]);
    const a = syns('n1/echo-a/eth0');
    const b = syns('n2/echo-b/eth0');
    // Round robin over two backends: the 8 crr connections and the 4 NodePort ones split between them.
    expect(a.length + b.length).toBe(12);
    expect(a.length).toBeGreaterThanOrEqual(4);
    expect(b.length).toBeGreaterThanOrEqual(4);
    for (const [src, , port] of [...a, ...b]) {
      expect(port).toBe(8080);
      expect(['10.244.1.1', '10.244.2.1', '192.168.49.2', '192.168.49.3']).toContain(src);
    }
  });

  test('the rules are the REDIRECT and DNAT portals, in iptables-save with their counters', () => {
    const saved = readFileSync(join(work, 'us', 'netfilter', 'n1.iptables-save'), 'utf8');
    expect(saved).toMatch(/^\[\d+:\d+\] -A KUBE-PORTALS-CONTAINER -d 10\.96\.0\.3\/32 -p tcp -m comment --comment "default\/echo-tcp" -m tcp --dport 80 -j REDIRECT --to-ports \d+$/m);
    expect(saved).toMatch(/^\[8:\d+\] -A KUBE-PORTALS-CONTAINER -d 10\.96\.0\.3\/32 -p tcp/m);
    expect(saved).toMatch(/-A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default\/echo-tcp" -m tcp --dport \d+ -j DNAT --to-destination 192\.168\.49\.2:\d+/);
  });

  // pkg/proxy/userspace/proxysocket.go, copyBytes: when io.Copy from one side ends, it
  // closes both connections (dest.Close(); src.Close()). So the client's FIN makes the
  // proxy send FINs to the backend and to the client at once, and the backend's FIN,
  // which comes later, has no part in it.
  test('when the client closes, the proxy closes both connections at once', () => {
    const fins = (point: string) => ipv4Frames(userspace.captureFiles.get(point)!).filter((f) => f.proto === 6 && (f.tcpFlags & 0x01) !== 0);
    const toClient = fins('n1/vethclient').filter((f) => f.src === '10.96.0.3');
    const fromClient = fins('n1/vethclient').filter((f) => f.dst === '10.96.0.3');
    const toBackend = fins('n1/vethecho-a').filter((f) => f.src === '10.244.1.1');
    const fromBackend = fins('n1/vethecho-a').filter((f) => f.dst === '10.244.1.1');
    expect(toClient.length).toBe(8);
    expect(toBackend.length).toBeGreaterThanOrEqual(4);
    // The first connection went to echo-a (round robin from the first endpoint).
    expect(toClient[0]!.t).toBe(toBackend[0]!.t);
    expect(toClient[0]!.t).toBeLessThan(fromBackend[0]!.t);
    // One copy (10 us) after the client's FIN, plus the stack's costs.
    expect(toClient[0]!.t - fromClient[0]!.t).toBeGreaterThanOrEqual(10e-6);
    expect(toClient[0]!.t - fromClient[0]!.t).toBeLessThan(12e-6);
  });

  test('the proxy costs time: a transaction takes longer than in iptables mode', () => {
    const us = flow(userspace, 'client crr').latencyNs.p50;
    const ipt = flow(iptables, 'client crr').latencyNs.p50;
    // The backend connection starts after the accept cost (20us) and the answer
    // waits for a copy (10us); iptables mode pays a few us of NAT instead.
    expect(us - ipt).toBeGreaterThan(20_000);
    expect(us - ipt).toBeLessThan(40_000);
  });
});
