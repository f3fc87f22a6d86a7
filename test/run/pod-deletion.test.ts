/**
 * A Service backend deleted mid-run (pods[].deleteAt): its sandbox goes down,
 * its veth leaves the bridge, and kubeProxy.syncDelay later every node's
 * kube-proxy rules drop it (stale chains deleted, UDP conntrack entries to it
 * removed). Connections to it in between fail; afterwards all go to the rest.
 * (hostPorts and additional networks: pod-deletion-cni.test.ts; userspace
 * mode: pod-deletion-userspace.test.ts.)
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { withStaleChainsDeleted } from '../../scenarios/pod-deletion.js';
import { ipv4Frames, isSyn } from '../helpers/ipv4-frames.js';

const work = mkdtempSync(join(tmpdir(), 'pw-podel-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const scenario = (mode = 'iptables', extra = '') => `
name: del
seed: 3
duration: 3s
underlay: { cidr: 192.168.49.0/24, gateway: 192.168.49.1 }
kubeProxy: { mode: ${mode}, syncDelay: 500ms }
nodes:
  - name: n1
    pods:
      - { name: client }
      - { name: echo-a, labels: { app: echo } }
  - name: n2
    pods:
      - { name: echo-b, labels: { app: echo }, deleteAt: 1s${extra} }
services:
  - name: echo-udp
    selector: { app: echo }
    ports: [{ protocol: UDP, port: 80, targetPort: 8080, responseSize: 48 }]
  - name: echo-tcp
    selector: { app: echo }
    ports: [{ protocol: TCP, port: 80, targetPort: 8080, requestSize: 100, responseSize: 200 }]
traffic:
${[1, 2, 3, 4, 5, 6].map((k) => `  - udp: { name: udp ${k}, from: n1/client, to: svc:echo-udp, port: 80, sourcePort: 4000${k}, count: 60, rate: 20, requestSize: 32, responseSize: 48, timeout: 200ms }`).join('\n')}
  - tcp: { name: crr, from: n1/client, to: svc:echo-tcp, port: 80, mode: crr, count: 60, rate: 20, requestSize: 100, responseSize: 200, start: 10ms, timeout: 2s }
capture: all
`;

type Flow = { name: string; sent: number; received: number; lost: number };

/** Simulated time (s) of the first SYN of each connection towards `ip` in a capture, by client port. */
function firstSynsTo(file: string, ip: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of ipv4Frames(file)) if (isSyn(f) && f.dst === ip && !out.has(f.sport)) out.set(f.sport, f.t);
  return out;
}

describe('deleting a Service backend during the run', () => {
  const out = join(work, 'seq');
  const r = runTopology(expandScenario(parseScenario(scenario(), 'del.yaml')), { outDir: out });
  const flows = r.results.flows as Flow[];

  test('TCP: connections picked for the deleted pod before the resync fail; before the deletion and after the resync all succeed', () => {
    const crr = flows.find((f) => f.name === 'crr')!;
    expect(crr.lost).toBeGreaterThan(0);
    // Only those started in the 0.5 s between deletion and resync (10 of 60) can fail; about half pick echo-b.
    expect(crr.lost).toBeLessThanOrEqual(10);
    const toB = [...firstSynsTo(r.captureFiles.get('n2/eth0')!, '10.244.2.2').values()];
    // Connections to echo-b start before the deletion (and succeed) and between deletion and resync (and fail)...
    expect(toB.some((t) => t < 1)).toBe(true);
    expect(toB.some((t) => t >= 1 && t < 1.5)).toBe(true);
    // ...but none starts after the resync: the rules no longer name it.
    expect(toB.filter((t) => t >= 1.5)).toEqual([]);
  });

  test('UDP: flows whose conntrack entry pointed at the deleted pod lose requests until the resync, then answer from the other backend', () => {
    const udp = flows.filter((f) => f.name.startsWith('udp'));
    const hit = udp.filter((f) => f.lost > 0);
    expect(hit.length).toBeGreaterThan(0);
    expect(hit.length).toBeLessThan(udp.length);
    // 0.5 s at 20/s: at most 10 requests (+1 in flight) are lost, then conntrack's entry is gone and they recover.
    for (const f of hit) expect(f.lost).toBeLessThanOrEqual(11);
  });

  test("every node's rules end without the deleted endpoint; the stale chains are gone", () => {
    for (const node of ['n1', 'n2']) {
      const saved = readFileSync(join(out, 'netfilter', `${node}.iptables-save`), 'utf8');
      expect(saved).not.toContain('10.244.2.2');
      expect(saved).not.toMatch(/--mode random --probability/);
      expect(saved).toMatch(/-j DNAT --to-destination 10\.244\.1\.3:8080/);
    }
  });

  test('a partitioned run gives the same bytes', async () => {
    const par = join(work, 'par');
    await runPartitioned(expandScenario(parseScenario(scenario(), 'del.yaml')), { outDir: par, workers: 3, inTurn: true });
    for (const f of readdirSync(join(out, 'captures'))) {
      expect(readFileSync(join(par, 'captures', f)).equals(readFileSync(join(out, 'captures', f))), f).toBe(true);
    }
    expect(readFileSync(join(par, 'results.json'), 'utf8')).toBe(readFileSync(join(out, 'results.json'), 'utf8'));
  });

  test('nftables mode: the table is replaced without the endpoint, with the same effect on clients', () => {
    const nftOut = join(work, 'nft');
    const n = runTopology(expandScenario(parseScenario(scenario('nftables'), 'del.yaml')), { outDir: nftOut });
    const nflows = n.results.flows as Flow[];
    const crr = nflows.find((f) => f.name === 'crr')!;
    expect(crr.lost).toBeGreaterThan(0);
    expect(crr.lost).toBeLessThanOrEqual(10);
    for (const f of nflows.filter((x) => x.name.startsWith('udp'))) expect(f.lost).toBeLessThanOrEqual(11);
    for (const node of ['n1', 'n2']) {
      const ruleset = readFileSync(join(nftOut, 'netfilter', `${node}.nft`), 'utf8');
      expect(ruleset).not.toContain('10.244.2.2');
      expect(ruleset).toContain('10.244.1.3');
    }
    const toB = [...firstSynsTo(n.captureFiles.get('n2/eth0')!, '10.244.2.2').values()];
    expect(toB.filter((t) => t >= 1.5)).toEqual([]);
  });

  test('ipvs mode: the real servers go; connections still bound to them expire at their next packet', () => {
    const dir = join(work, 'ipvs');
    const v = runTopology(expandScenario(parseScenario(scenario('ipvs'), 'del.yaml')), { outDir: dir });
    const vflows = v.results.flows as Flow[];
    // rr: every other connection went to echo-b until the sync.
    const crr = vflows.find((f) => f.name === 'crr')!;
    expect(crr.lost).toBeGreaterThan(0);
    expect(crr.lost).toBeLessThanOrEqual(10);
    for (const f of vflows.filter((x) => x.name.startsWith('udp'))) expect(f.lost, f.name).toBeLessThanOrEqual(11);
    for (const node of ['n1', 'n2']) {
      const dump = readFileSync(join(dir, 'netfilter', `${node}.ipvsadm`), 'utf8');
      expect(dump.split('# ipvsadm -Lnc')[0]).not.toContain('10.244.2.2');
    }
    const toB = [...firstSynsTo(v.captureFiles.get('n2/eth0')!, '10.244.2.2').values()];
    expect(toB.some((t) => t >= 1 && t < 1.5)).toBe(true);
    expect(toB.filter((t) => t >= 1.5)).toEqual([]);
  });

  test('a docker container is not deleted mid-run: an error at the field', () => {
    expect(() => parseScenario('name: d\nruntime: docker\nnodes: [{ name: n1, pods: [{ name: a, deleteAt: 1s }] }]\n', 'd.yaml')).toThrow(
      /nodes\[0\]\.pods\[0\]\.deleteAt: applies to runtime cni/,
    );
  });

  test('stale chains are flushed and deleted in the table that had them', () => {
    const before = '*nat\n:KUBE-SEP-A - [0:0]\n:KUBE-SEP-B - [0:0]\n:OTHER - [0:0]\nCOMMIT\n*filter\n:KUBE-X - [0:0]\nCOMMIT\n';
    const after = '*nat\n:KUBE-SEP-A - [0:0]\nCOMMIT\n*filter\nCOMMIT\n';
    expect(withStaleChainsDeleted(before, after)).toBe('*nat\n:KUBE-SEP-A - [0:0]\n:KUBE-SEP-B - [0:0]\n-X KUBE-SEP-B\nCOMMIT\n*filter\n:KUBE-X - [0:0]\n-X KUBE-X\nCOMMIT\n');
  });
});
