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

describe('tcpConnections with two ISNs close together', () => {
  /** An Ethernet/IPv4/TCP frame without options or payload (checksums left 0: grouping does not read them). */
  const frame = (src: string, sport: number, dst: string, dport: number, flags: number, seq: number, ack: number): RawFrame => {
    const b = new Uint8Array(54);
    const v = new DataView(b.buffer);
    v.setUint16(12, 0x0800);
    b[14] = 0x45;
    v.setUint16(16, 40);
    b[22] = 64;
    b[23] = 6;
    b.set(src.split('.').map(Number), 26);
    b.set(dst.split('.').map(Number), 30);
    v.setUint16(34, sport);
    v.setUint16(36, dport);
    v.setUint32(38, seq >>> 0);
    v.setUint32(42, ack >>> 0);
    b[46] = 0x50;
    b[47] = flags;
    return { data: b, dir: 'in' };
  };
  const SYN = 0x02;
  const SYNACK = 0x12;
  const ACK = 0x10;
  it('gives a SYN-less 4-tuple (un-masqueraded at a bridge) to the connection whose ISN lies nearest below its ack', () => {
    // As kernel 6.18 showed at n2/cni0: the masqueraded SYN, then the reply already un-masqueraded,
    // and another connection's ISN 39,439 below (both within 2^20).
    const a = 2702206748;
    const b = 2702246187;
    const raw = new Map([['p', [
      frame('10.244.1.2', 55895, '10.244.2.2', 8080, SYN, a, 0),
      frame('10.244.2.2', 8080, '10.244.1.2', 55895, SYNACK, 100, a + 1),
      frame('10.244.2.1', 57055, '10.244.2.2', 8080, SYN, b, 0),
      frame('10.244.2.2', 8080, '192.168.49.2', 48921, SYNACK, 5000, b + 1),
      frame('10.244.2.2', 8080, '192.168.49.2', 48921, ACK, 5001, b + 101),
    ]], ['client', [
      frame('10.244.1.2', 55895, '10.96.0.3', 80, SYN, a, 0),
      frame('192.168.49.2', 48921, '192.168.49.3', 30000, SYN, b, 0),
    ]]]);
    const conns = tcpConnections(raw, ['10.244.1.2', '192.168.49.2']);
    expect(conns.get(55895)!.points.get('p')!.map((e) => `${e.segment.flags} ${e.seq} ${e.ack}`)).toEqual(['S 0 -', 'S. 0 1']);
    expect(conns.get(48921)!.points.get('p')!.map((e) => `${e.segment.flags} ${e.seq} ${e.ack} ${e.forward}`)).toEqual(['S 0 - true', 'S. 0 1 false', '. 1 101 false']);
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
