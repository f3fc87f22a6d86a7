/**
 * The scenario's `tcp:` section reaches every namespace's TCP layer, in a
 * sequential run and on worker threads alike: a bulk transfer across nodes
 * with tcp_wmem's max at 64 KiB keeps at most that much unACKed, where the
 * default 4 MiB lets it fill the 10 Gbit/s underlay; and `sack: false`
 * (net.ipv4.tcp_sack) keeps SACK out of the handshakes.
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
      const syns = readCapture(r.captureFiles.get('n1/a/eth0')!).packets.filter((p) => p.data[14 + 20 + 13]! & 0x02);
      expect(syns.length).toBe(2); // the SYN and the SYN-ACK
      // Option kind 4 (SACK permitted) after the 20-byte TCP header, up to its data offset.
      return syns.every((p) => {
        const t = 14 + 20;
        const end = t + (p.data[t + 12]! >> 4) * 4;
        for (let o = t + 20; o < end;) {
          const kind = p.data[o]!;
          if (kind === 0) break;
          if (kind === 1) { o++; continue; }
          if (kind === 4) return true;
          o += p.data[o + 1]!;
        }
        return false;
      });
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
});
