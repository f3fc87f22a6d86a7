/**
 * The scenario's `tcp:` section reaches every namespace's TCP layer, in a
 * sequential run and on worker threads alike: a bulk transfer across nodes
 * with tcp_wmem's max at 64 KiB keeps at most that much unACKed, where the
 * default 4 MiB lets it fill the 10 Gbit/s underlay; and `sack: false`
 * (net.ipv4.tcp_sack) keeps SACK out of the handshakes. A node's own `tcp:`
 * does the same for the node and its pods only, over the scenario's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { readCapture } from '../../models/capture/capture-reader.js';

function yaml(tcp: string): string {
  return `
name: tcp-settings
duration: 200ms
${tcp}
nodes:
  - name: n1
    pods: [{ name: a }]
  - name: n2
    pods: [{ name: b }]
traffic:
  - tcp: { name: bulk, from: n1/a, to: n2/b, port: 5001, mode: bulk, count: 1, rate: 10, bytes: 8000000 }
capture: none
`;
}

/** Whether a captured TCP segment (Ethernet, 20-byte IPv4 header) offers SACK: option kind 4, SACK permitted. */
function offersSack(data: Uint8Array): boolean {
  const t = 14 + 20;
  const end = t + (data[t + 12]! >> 4) * 4;
  for (let o = t + 20; o < end;) {
    const kind = data[o]!;
    if (kind === 0) break;
    if (kind === 1) { o++; continue; }
    if (kind === 4) return true;
    o += data[o + 1]!;
  }
  return false;
}

/** The SYN and SYN-ACK in a capture file, in order. */
function handshake(file: string): Uint8Array[] {
  return readCapture(file).packets.filter((p) => p.data[14 + 20 + 13]! & 0x02).map((p) => p.data);
}

interface FlowRow {
  name: string;
  tcp?: { throughputBps?: number };
}

describe('the tcp: section (net.ipv4.tcp_* sysctls)', () => {
  const work = mkdtempSync(join(tmpdir(), 'podwire-tcp-settings-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('hands congestion control and buffer sizes to every namespace', () => {
    const spec = expandScenario(parseScenario(yaml('tcp: { congestionControl: cubic, wmem: [4096, 16384, 65536], rmem: [4096, 65536, 1048576] }'), 'x.yaml'));
    const { world } = runTopology(spec, { outDir: join(work, 'params') });
    for (const name of ['n1/a', 'n2/b', 'n1']) {
      const p = world.namespaces.get(name)!.tcp.params;
      expect(p.congestionControl, name).toBe('cubic');
      expect(p.wmem, name).toEqual([4096, 16384, 65536]);
      expect(p.rmem, name).toEqual([4096, 65536, 1048576]);
    }
  });

  it('sack: false keeps SACK_PERM out of every SYN, so no connection agrees SACK', () => {
    const withSack = (tcp: string) => {
      const spec = expandScenario(parseScenario(yaml(tcp).replace('capture: none', 'capture: [n1/a/eth0]'), 'x.yaml'));
      const r = runTopology(spec, { outDir: join(work, `sack-${tcp.length}`) });
      expect(r.world.namespaces.get('n2/b')!.tcp.params.sack).toBe(tcp === '');
      const syns = handshake(r.captureFiles.get('n1/a/eth0')!);
      expect(syns.length).toBe(2); // the SYN and the SYN-ACK
      return syns.every(offersSack);
    };
    expect(withSack('')).toBe(true);
    expect(withSack('tcp: { sack: false }')).toBe(false);
  });

  it('caps a bulk transfer at what a 64 KiB send buffer keeps in flight, on threads too', async () => {
    const rate = (results: { flows: unknown[] }) => ((results.flows as FlowRow[]).find((f) => f.name === 'bulk')!.tcp!.throughputBps)!;
    const dflt = runTopology(expandScenario(parseScenario(yaml(''), 'x.yaml')), { outDir: join(work, 'default') }).results;
    const small = expandScenario(parseScenario(yaml('tcp: { wmem: [4096, 16384, 65536] }'), 'x.yaml'));
    const seq = runTopology(small, { outDir: join(work, 'small') }).results;
    const threads = (await runPartitioned(small, { outDir: join(work, 'small-threads'), workers: 2 })).results;
    expect(rate(seq)).toBeGreaterThan(0);
    // 9.0 against 4.7 Gbit/s when written: about 62 KB of data in flight over a round trip of ~105 us.
    expect(rate(seq)).toBeLessThan(0.6 * rate(dflt));
    expect(rate(threads)).toBe(rate(seq));
  });

  it("gives a node's own tcp: to it and its pods, over the scenario's, field by field, on threads too", async () => {
    // The scenario: cubic everywhere. n1 (the sender's node): a 64 KiB send buffer. n2: no SACK.
    const text = yaml('tcp: { congestionControl: cubic }')
      .replace('  - name: n1\n', '  - name: n1\n    tcp: { wmem: [4096, 16384, 65536] }\n')
      .replace('  - name: n2\n', '  - name: n2\n    tcp: { sack: false }\n')
      .replace('capture: none', 'capture: [n1/a/eth0]');
    const spec = expandScenario(parseScenario(text, 'x.yaml'));
    const r = runTopology(spec, { outDir: join(work, 'per-node') });
    const params = (name: string) => {
      const p = r.world.namespaces.get(name)!.tcp.params;
      return { cc: p.congestionControl, sack: p.sack, wmem: p.wmem };
    };
    for (const name of ['n1', 'n1/a']) expect(params(name), name).toEqual({ cc: 'cubic', sack: true, wmem: [4096, 16384, 65536] });
    for (const name of ['n2', 'n2/b']) expect(params(name), name).toEqual({ cc: 'cubic', sack: false, wmem: [4096, 16384, 4194304] });
    // a offers SACK, b does not answer with it.
    expect(handshake(r.captureFiles.get('n1/a/eth0')!).map(offersSack)).toEqual([true, false]);
    // The sender's small buffer caps the transfer as the scenario-wide one does, and workers get it too.
    const rate = (results: { flows: unknown[] }) => ((results.flows as FlowRow[]).find((f) => f.name === 'bulk')!.tcp!.throughputBps)!;
    const dflt = runTopology(expandScenario(parseScenario(yaml(''), 'x.yaml')), { outDir: join(work, 'per-node-default') }).results;
    const threads = (await runPartitioned(spec, { outDir: join(work, 'per-node-threads'), workers: 2 })).results;
    expect(rate(r.results)).toBeLessThan(0.6 * rate(dflt));
    expect(rate(threads)).toBe(rate(r.results));
  });
});
