/**
 * TCP on a path with no delay at all (`vethDelay: 0s`, two pods of one node):
 * a whole TCP_CRR exchange, handshake to answer, happens inside the client's
 * connect() call. The client must still close each connection once it has
 * its answer (it once lost the connection it had not been handed back yet,
 * and left every connection open), and an open-loop rr channel sends one
 * request per arrival. test/kernel/tcp-loopback.kernel.test.ts compares such
 * connections with Linux's, capture point by point.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { ipv4Frames } from '../helpers/ipv4-frames.js';
import { zeroDelayPods } from '../helpers/zero-delay.js';

const work = mkdtempSync(join(tmpdir(), 'pw-zero-delay-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const scenario = (traffic: string) => zeroDelayPods(traffic, '[n1/a/eth0]');

type Flow = { sent: number; received: number; tcp: { connections: number } };

describe('TCP with no delay on the path', () => {
  test('crr: every connection is closed by the client, then by the server', () => {
    const r = runTopology(expandScenario(parseScenario(scenario('tcp: { from: n1/a, to: n1/b, port: 9000, mode: crr, count: 3, rate: 10, requestSize: 5000, responseSize: 20000 }'), 'zd.yaml')), { outDir: join(work, 'crr') });
    const f = (r.results.flows as Flow[])[0]!;
    expect([f.sent, f.received]).toEqual([3, 3]);
    const fins = ipv4Frames(r.captureFiles.get('n1/a/eth0')!).filter((x) => x.proto === 6 && (x.tcpFlags & 0x01) !== 0);
    expect(fins.filter((x) => x.src === '10.244.1.2')).toHaveLength(3);
    expect(fins.filter((x) => x.src === '10.244.1.3')).toHaveLength(3);
  });

  test('rr, open loop: one request per arrival, each answered, on one connection', () => {
    const r = runTopology(expandScenario(parseScenario(scenario('tcp: { from: n1/a, to: n1/b, port: 9000, mode: rr, count: 5, rate: 10, requestSize: 100, responseSize: 200 }'), 'zd.yaml')), { outDir: join(work, 'rr') });
    const f = (r.results.flows as Flow[])[0]!;
    expect([f.sent, f.received]).toEqual([5, 5]);
    const requests = ipv4Frames(r.captureFiles.get('n1/a/eth0')!).filter((x) => x.proto === 6 && x.src === '10.244.1.2' && (x.tcpFlags & 0x08) !== 0);
    expect(requests).toHaveLength(5);
    // 100 ms apart, as the arrivals: none sent early as if the loop were closed.
    expect(requests.map((x) => Math.round(x.t * 10) / 10)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
  });
});
