import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { resolveScenario, resolveScenarioPath } from '../../scenarios/library.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { fieldsAt, type Fields } from '../netfilter/conntrack/frames.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-nftables-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(nameOrPath: string, dir: string) {
  return runTopology(expandScenario(resolveScenario(nameOrPath)), { outDir: join(work, dir) });
}

/** The IPv4 packets of a capture point, as header fields (plus ICMP type/code). */
function ipv4(files: Map<string, string>, point: string): (Fields & { icmp?: [number, number] })[] {
  const file = files.get(point);
  if (file === undefined) throw new Error(`no capture ${point}: ${[...files.keys()].join(', ')}`);
  return readCapture(file)
    .packets.filter((p) => p.data[12] === 0x08 && p.data[13] === 0x00)
    .map((p) => {
      const f = fieldsAt(p.data, ETH_HLEN);
      const l4 = ETH_HLEN + (p.data[ETH_HLEN]! & 0x0f) * 4;
      return f.protocol === 1 ? { ...f, icmp: [p.data[l4]!, p.data[l4 + 1]!] as [number, number] } : f;
    });
}

describe('kube-proxy nftables mode end to end (services-nftables)', () => {
  const r = run('services-nftables', 'main');

  test('every flow is answered, nothing dropped, and the nodes carry no iptables rules of kube-proxy', () => {
    for (const f of r.results.flows as { name: string; sent: number; received: number; errors: object }[]) {
      expect(f.received, f.name).toBe(f.sent);
      expect(f.errors, f.name).toEqual({});
    }
    expect(r.results.drops).toEqual({});
    const nft = readFileSync(join(work, 'main', 'netfilter', 'n1.nft'), 'utf8');
    expect(nft).toMatch(/^table ip kube-proxy \{\n/);
    expect(nft).toContain('10.96.0.2 . udp . 80 : goto service-');
    expect(readFileSync(join(work, 'main', 'netfilter', 'n1.iptables-save'), 'utf8')).not.toContain('KUBE-');
  });

  test('the client sees only the ClusterIP (UDP and TCP): replies are un-DNATed', () => {
    const pkts = ipv4(r.captureFiles, 'n1/client/eth0');
    for (const [proto, vip] of [[17, '10.96.0.2'], [6, '10.96.0.3']] as const) {
      const out = pkts.filter((p) => p.protocol === proto && p.src === '10.244.1.2');
      const back = pkts.filter((p) => p.protocol === proto && p.dst === '10.244.1.2');
      expect(out.length).toBeGreaterThan(0);
      expect(back.length).toBeGreaterThan(0);
      expect(new Set(out.map((p) => `${p.dst}:${p.dport}`))).toEqual(new Set([`${vip}:80`]));
      expect(new Set(back.map((p) => `${p.src}:${p.sport}`))).toEqual(new Set([`${vip}:80`]));
    }
  });

  test('the backends see the DNATed destination: echo-a on the same node and echo-b on the other', () => {
    const a = ipv4(r.captureFiles, 'n1/echo-a/eth0').filter((p) => p.src === '10.244.1.2');
    const b = ipv4(r.captureFiles, 'n2/echo-b/eth0').filter((p) => p.src === '10.244.1.2');
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    for (const p of a) expect(`${p.dst}:${p.dport}`).toBe('10.244.1.3:8080');
    for (const p of b) expect(`${p.dst}:${p.dport}`).toBe('10.244.2.2:8080');
    // Both protocols reach both sides over the runs' draws.
    expect(new Set([...a, ...b].map((p) => p.protocol))).toEqual(new Set([6, 17]));
    // The NodePort connection from n1 is masqueraded by n2 before reaching a backend.
    const np = [...ipv4(r.captureFiles, 'n2/echo-b/eth0'), ...ipv4(r.captureFiles, 'n1/echo-a/eth0')].filter((p) => p.protocol === 6 && p.dport === 8080 && p.src !== '10.244.1.2');
    expect(np.length).toBeGreaterThan(0);
    for (const p of np) expect(['10.244.2.1', '192.168.49.3']).toContain(p.src);
  });

  test('the same seed gives byte-identical captures, results and nft listings', () => {
    const again = run('services-nftables', 'again');
    for (const [point, file] of r.captureFiles) {
      expect(readFileSync(again.captureFiles.get(point)!).equals(readFileSync(file)), point).toBe(true);
    }
    expect(readFileSync(again.resultsFile, 'utf8')).toBe(readFileSync(r.resultsFile, 'utf8'));
    for (const n of ['n1', 'n2']) {
      expect(readFileSync(join(work, 'again', 'netfilter', `${n}.nft`), 'utf8')).toBe(readFileSync(join(work, 'main', 'netfilter', `${n}.nft`), 'utf8'));
    }
  });
});

describe('a Service without endpoints in nftables mode', () => {
  test('its ClusterIP is rejected: ICMP port unreachable, ECONNREFUSED', () => {
    const doc = YAML.parse(readFileSync(resolveScenarioPath('services-nftables'), 'utf8'));
    doc.name = 'nftables-no-endpoints';
    doc.services.push({ name: 'no-backend', selector: { app: 'nothing' }, ports: [{ protocol: 'TCP', port: 80, targetPort: 8080 }] });
    doc.traffic = [{ tcp: { name: 'to no-backend', from: 'n1/client', to: '10.96.0.4', port: 80, mode: 'crr', count: 2, rate: 10, start: '100ms' } }];
    const file = join(work, 'no-endpoints.yaml');
    writeFileSync(file, YAML.stringify(doc));
    const r = run(file, 'no-endpoints');
    const flow = (r.results.flows as { name: string; received: number; errors: Record<string, number> }[])[0]!;
    expect(flow.received).toBe(0);
    expect(JSON.stringify(flow.errors)).toContain('ECONNREFUSED');
    const icmp = ipv4(r.captureFiles, 'n1/client/eth0').filter((p) => p.icmp !== undefined && p.dst === '10.244.1.2');
    expect(icmp.length).toBe(2);
    for (const p of icmp) expect(p.icmp).toEqual([3, 3]);
    expect(readFileSync(join(work, 'no-endpoints', 'netfilter', 'n1.nft'), 'utf8')).toContain('10.96.0.4 . tcp . 80 comment "default/no-backend" : goto reject-chain');
  });
});
