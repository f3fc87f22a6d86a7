/**
 * kube-proxy's userspace mode with a Service endpoint deleted: kubeProxy.syncDelay
 * after the deletion, the proxy's round-robin lists drop it (LoadBalancerRR
 * OnEndpointsUpdate: the new list, the round restarted), so new connections
 * and new UDP clients go to the remaining backend. Until then, a connection the
 * proxy dials to the dead pod is given up after 250 ms and dialed again to the
 * next endpoint (TryConnectEndpoints, EndpointDialTimeouts), so no connection
 * fails, and the connections accepted meanwhile wait (ProxyLoop dials before
 * it accepts the next). A UDP client socket keeps its backend while the client
 * keeps it busy (udpProxySocket's ClientCache; the deadline is renewed by
 * every datagram).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { nodeLifecycle } from '../../scenarios/pod-deletion.js';
import { ipv4Frames, isSyn } from '../helpers/ipv4-frames.js';

const work = mkdtempSync(join(tmpdir(), 'pw-podel-us-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const scenario = `
name: del-userspace
seed: 3
duration: 3s
underlay: { cidr: 192.168.49.0/24, gateway: 192.168.49.1 }
kubeProxy: { mode: userspace, syncDelay: 500ms }
nodes:
  - name: n1
    pods:
      - { name: client }
      - { name: echo-a, labels: { app: echo } }
  - name: n2
    pods:
      - { name: echo-b, labels: { app: echo }, deleteAt: 1s }
services:
  - name: echo-udp
    selector: { app: echo }
    ports: [{ protocol: UDP, port: 80, targetPort: 8080, responseSize: 48 }]
  - name: echo-tcp
    selector: { app: echo }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080, requestSize: 100, responseSize: 200 }]
traffic:
  - udp: { name: udp 1, from: n1/client, to: svc:echo-udp, port: 80, sourcePort: 40001, count: 60, rate: 20, requestSize: 32, responseSize: 48, timeout: 200ms }
  - udp: { name: udp 2, from: n1/client, to: svc:echo-udp, port: 80, sourcePort: 40002, count: 60, rate: 20, requestSize: 32, responseSize: 48, timeout: 200ms }
  - udp: { name: udp after sync, from: n1/client, to: svc:echo-udp, port: 80, sourcePort: 40003, count: 20, rate: 20, requestSize: 32, responseSize: 48, timeout: 200ms, start: 1600ms }
  - tcp: { name: crr, from: n1/client, to: svc:echo-tcp, port: 80, mode: crr, count: 60, rate: 20, requestSize: 100, responseSize: 200, start: 10ms, timeout: 2s }
capture: all
`;

type Flow = { name: string; sent: number; received: number; lost: number };

describe('userspace mode: deleting a Service backend', () => {
  test('the plan: every node replaces the backend lists of both service ports a sync delay after the deletion', () => {
    const s = parseScenario(scenario, 'us.yaml');
    for (const node of s.nodes) {
      const syncs = nodeLifecycle(s, node).filter((a) => a.action === 'userspace-sync');
      expect(syncs).toHaveLength(1);
      const sync = syncs[0]!;
      if (sync.action !== 'userspace-sync') throw new Error('expected userspace-sync');
      expect(sync.atNs).toBe(1.5e9);
      expect(sync.ports.map((p) => [p.name.replace(/^default\//, ''), p.backends])).toEqual([
        ['echo-udp', [{ ip: '10.244.1.3', port: 8080 }]],
        ['echo-tcp', [{ ip: '10.244.1.3', port: 8080 }]],
      ]);
    }
  });

  const out = join(work, 'seq');
  const r = runTopology(expandScenario(parseScenario(scenario, 'us.yaml')), { outDir: out });
  const flows = r.results.flows as Flow[];
  const flow = (name: string) => flows.find((f) => f.name === name)!;

  test('TCP: dials to the deleted pod time out and go to the other endpoint until the sync; no connection is lost', () => {
    // The proxy on n1 opens the backend connections: their first SYNs to echo-b cross n2's eth0.
    const toB = new Map<number, number>();
    for (const f of ipv4Frames(r.captureFiles.get('n2/eth0')!)) if (isSyn(f) && f.dst === '10.244.2.2' && !toB.has(f.sport)) toB.set(f.sport, f.t);
    const times = [...toB.values()];
    expect(times.some((t) => t < 1)).toBe(true);
    expect(times.some((t) => t >= 1 && t < 1.5)).toBe(true);
    expect(times.filter((t) => t >= 1.5)).toEqual([]);
    // Each dial to the dead pod after the deletion is given up 250 ms later, and the
    // next endpoint, echo-a, gets the connection then.
    // (Times here are where each SYN was captured, n2's eth0 and echo-a's: tens of µs apart.)
    const toA = ipv4Frames(r.captureFiles.get('n1/echo-a/eth0')!).filter(isSyn).map((f) => f.t);
    const dead = times.filter((t) => t >= 1 && t < 1.5);
    expect(dead.length).toBeGreaterThan(0);
    for (const t of dead) expect(toA.some((a) => Math.abs(a - (t + 0.25)) < 1e-4), `a SYN to echo-a 250 ms after the one to echo-b at ${t}`).toBe(true);
    const crr = flow('crr') as Flow & { latencyNs: { max: number } };
    expect([crr.received, crr.lost]).toEqual([crr.sent, 0]);
    // The connections accepted behind those dials waited for them: up to two timeouts.
    expect(crr.latencyNs.max).toBeGreaterThan(dead.length * 250e6 - 50e6);
  });

  test('UDP: a new client after the sync is answered by the remaining backend; a busy client socket on the dead pod keeps it', () => {
    const after = flow('udp after sync');
    expect(after.received).toBe(after.sent);
    const early = [flow('udp 1'), flow('udp 2')];
    // Round robin gave the two clients one backend each.
    expect(early.filter((f) => f.lost === 0)).toHaveLength(1);
    const stuck = early.find((f) => f.lost > 0)!;
    // Everything it sent from the deletion on (about 40 of 60) is lost: its socket to echo-b is never idle for 250 ms.
    expect(stuck.lost).toBeGreaterThanOrEqual(38);
    expect(stuck.received).toBeGreaterThanOrEqual(18);
  });

  test('a partitioned run gives the same bytes', async () => {
    const par = join(work, 'par');
    await runPartitioned(expandScenario(parseScenario(scenario, 'us.yaml')), { outDir: par, workers: 2, inTurn: true });
    for (const f of readdirSync(join(out, 'captures'))) expect(readFileSync(join(par, 'captures', f)).equals(readFileSync(join(out, 'captures', f))), f).toBe(true);
    expect(readFileSync(join(par, 'results.json'), 'utf8')).toBe(readFileSync(join(out, 'results.json'), 'utf8'));
  });
});
