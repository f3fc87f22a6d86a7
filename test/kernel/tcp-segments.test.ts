/**
 * tcp-segments.ts (no root needed): grouping by connection across NAT, numbers
 * relative to the ISNs, "<snat>" ports, legs, separate ACKs; and the kernel
 * harness's refusal of TCP flows tcp-agent.py cannot reproduce.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import type { TcpSpec } from '../../scenarios/topology.js';
import { checkKernelTcpFlow } from './kernel-traffic.js';
import { connectionText, isSeparateAck, type RawFrame, type SegmentEntry, tcpConnections } from './tcp-segments.js';

describe('tcpConnections over podwire\'s cluster-services TCP flows', () => {
  let dir = '';
  let raw = new Map<string, RawFrame[]>();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pwk-tcp-segments-'));
    const spec = expandScenario(loadScenarioFile(resolveScenarioPath('cluster-services')));
    const tcp = { ...spec, traffic: spec.traffic.filter((f) => f.kind === 'tcp'), servers: (spec.servers ?? []).filter((s) => s.protocol === 'tcp') };
    const { captureFiles } = runTopology(tcp, { outDir: dir });
    raw = new Map([...captureFiles].map(([point, file]) => [point, readCapture(file).packets.map((p): RawFrame => ({ data: p.data, dir: p.direction === 1 ? 'in' : p.direction === 2 ? 'out' : 'unknown' }))]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the 14 connections (8 crr, 6 NodePort), each opening with SYN seq 0 and SYN-ACK ack 1 where it starts', () => {
    const conns = tcpConnections(raw, ['10.244.1.2', '192.168.49.2']);
    expect(conns.size).toBe(14);
    const byOrigin = { pod: 0, node: 0 };
    for (const c of conns.values()) {
      const origin = c.points.get('n1/client/eth0') !== undefined ? 'pod' : 'node';
      byOrigin[origin]++;
      const at = c.points.get(origin === 'pod' ? 'n1/client/eth0' : 'n1/eth0')!;
      expect(at[0]!.segment.flags).toBe('S');
      expect([at[0]!.seq, at[0]!.ack]).toEqual(['0', '-']);
      expect(at[1]!.segment.flags).toBe('S.');
      expect([at[1]!.seq, at[1]!.ack]).toEqual(['0', '1']);
      // Request and answer sizes of the scenario: 100 bytes, then 200 (on the first leg: a hairpin shows two).
      expect(at.filter((e) => e.leg === 0 && e.segment.payload > 0).map((e) => [e.forward, e.segment.payload])).toEqual([[true, 100], [false, 200]]);
    }
    expect(byOrigin).toEqual({ pod: 8, node: 6 });
  });

  it('writes masqueraded ports as <snat> and keeps a hairpin\'s two legs apart at n1/eth0', () => {
    const conns = tcpConnections(raw, ['10.244.1.2', '192.168.49.2']);
    const hairpin = [...conns.values()].find((c) => c.points.has('n1/eth0') && c.points.has('n1/echo-a/eth0') && !c.points.has('n1/client/eth0'))!;
    expect(hairpin).toBeDefined();
    const text = connectionText(hairpin);
    expect(text).toContain(`192.168.49.2.${hairpin.clientPort} > 192.168.49.3.30000 [S]`);
    expect(text).toMatch(/192\.168\.49\.3\.<snat> > 10\.244\.1\.3\.8080 \[S\]/);
    expect(text).not.toMatch(/192\.168\.49\.3\.(?!30000)\d+ > 10\.244\.1\.3/);
    const legs = hairpin.points.get('n1/eth0')!.map((e) => e.leg);
    expect(legs).toEqual([...legs].sort((a, b) => a - b));
    expect(new Set(legs)).toEqual(new Set([0, 1]));
    expect(connectionText(hairpin, { windows: false })).not.toContain(' win ');
  });
});

describe('isSeparateAck', () => {
  const entry = (flags: string, seq: string, ack: string, payload: number, forward = true): SegmentEntry => ({
    segment: { flags, payload, dir: 'out' } as SegmentEntry['segment'], leg: 0, forward, seq, ack, text: '',
  });
  it('is a pure ACK whose sender next sends data or a FIN with the same numbers, not the handshake\'s ACK', () => {
    const list = [
      entry('.', '1', '1', 0), entry('P.', '1', '1', 100), // handshake ACK, then the request
      entry('.', '1', '101', 0, false), entry('P.', '1', '101', 200, false), // quick ACK, then the answer
      entry('.', '101', '201', 0), entry('F.', '101', '201', 0), // quick ACK, then the FIN
      entry('.', '102', '202', 0), // the last ACK
    ];
    expect(list.map((_, i) => isSeparateAck(list, i))).toEqual([false, false, true, false, true, false, false]);
  });
});

describe('checkKernelTcpFlow', () => {
  const flow = (o: Partial<TcpSpec>): TcpSpec => ({
    kind: 'tcp', name: 'f', from: { ns: 'a' }, to: '10.0.0.1', startNs: 0, port: 80, mode: 'crr', count: 1, rate: 10, arrivals: 'constant',
    concurrency: 1, requestSize: 1, responseSize: 1, bytes: 1, noDelay: false, timeoutNs: 1e9, ...o,
  });
  it('accepts open-loop constant-rate crr and names what tcp-agent.py does not do', () => {
    expect(() => checkKernelTcpFlow(flow({}))).not.toThrow();
    expect(() => checkKernelTcpFlow(flow({ mode: 'rr' }))).toThrow(/flow "f": mode rr is not supported/);
    expect(() => checkKernelTcpFlow(flow({ rate: 0 }))).toThrow(/closed loop/);
    expect(() => checkKernelTcpFlow(flow({ arrivals: 'poisson' }))).toThrow(/arrivals poisson/);
  });
});
