/**
 * `podwire iptables trace` through main(): a kube-proxy node's rules in two
 * files (the node's base chains and kube-proxy's --noflush input), the JSON
 * shape, the text, and one-line errors.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { endpointIps, kubeNode } from '../netfilter/explain/cluster.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-ipt-trace-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const k = kubeNode();
const base = join(work, 'base.rules');
const rules = join(work, 'kube-proxy.rules');
writeFileSync(base, k.base);
writeFileSync(rules, k.rules);

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const trace = (...args: string[]) => cli('iptables', 'trace', '--base', base, '--rules', rules, '--local-ip', k.nodeIP, ...args);

describe('podwire iptables trace --json', () => {
  test('has exactly verdict, destinations, masquerade and path', async () => {
    const r = await trace('--src', k.pod, '--dst', k.two.clusterIP, '--proto', 'tcp', '--dport', '80', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['verdict', 'destinations', 'masquerade', 'path']);
    expect(j.verdict).toBe('ACCEPT');
    expect(j.masquerade).toBe(false);
    for (const d of j.destinations) {
      expect(Object.keys(d)).toEqual(['ip', 'port', 'probability']);
      expect(typeof d.ip).toBe('string');
      expect(d.port).toBe(k.two.ports[0]!.targetPort);
      expect(d.probability).toBeCloseTo(0.5, 12);
    }
    expect(j.destinations.map((d: { ip: string }) => d.ip).sort()).toEqual(endpointIps(k.two).sort());
    expect(Array.isArray(j.path)).toBe(true);
    expect(j.path[0]).toEqual({ step: 'hook', hook: 'PREROUTING', in: 'eth0', out: null, packet: `TCP ${k.pod}:40000 > ${k.two.clusterIP}:80` });
    const rule = j.path.find((s: { step: string }) => s.step === 'rule');
    expect(Object.keys(rule)).toEqual(['step', 'hook', 'table', 'chain', 'ruleNum', 'kind', 'rule', 'matched', 'verdict', 'target']);
  });

  test('a NodePort on the node address: DNAT to the endpoints, masqueraded', async () => {
    const np = String(k.nodePort.ports[0]!.nodePort);
    const r = await trace('--src', k.outside, '--dst', k.nodeIP, '--dport', np, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.masquerade).toBe(true);
    expect(j.destinations.map((d: { ip: string }) => d.ip).sort()).toEqual(endpointIps(k.nodePort).sort());
    const total = j.destinations.reduce((s: number, d: { probability: number }) => s + d.probability, 0);
    expect(total).toBeCloseTo(1, 12);
  });

  test('a service without endpoints is REJECTed; an unrelated address goes through unchanged', async () => {
    const rej = JSON.parse((await trace('--src', k.pod, '--dst', k.empty.clusterIP, '--dport', '80', '--json')).out);
    expect([rej.verdict, rej.destinations, rej.masquerade]).toEqual(['REJECT', [], false]);
    const other = JSON.parse((await trace('--src', k.pod, '--dst', '198.51.100.7', '--dport', '8443', '--json')).out);
    expect([other.verdict, other.destinations, other.masquerade]).toEqual(['ACCEPT', [{ ip: '198.51.100.7', port: 8443, probability: 1 }], false]);
  });

  test('--rules alone lacks the base chains that jump into kube-proxy\'s: no DNAT', async () => {
    const r = await cli('iptables', 'trace', '--rules', rules, '--src', k.pod, '--dst', k.two.clusterIP, '--dport', '80', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).destinations).toEqual([{ ip: k.two.clusterIP, port: 80, probability: 1 }]);
  });

  test('--local-ip takes several addresses, in one flag or repeated; --hook overrides the entry', async () => {
    const extra = '192.168.0.77';
    const args = ['iptables', 'trace', '--rules', rules, '--base', base, '--src', extra, '--dst', k.two.clusterIP, '--dport', '80', '--json'];
    const out1 = JSON.parse((await cli(...args, '--local-ip', k.nodeIP, extra)).out);
    const out2 = JSON.parse((await cli(...args, '--local-ip', k.nodeIP, '--local-ip', extra)).out);
    expect(out1.path[0]).toMatchObject({ step: 'route' });
    expect(out1.path[1]).toMatchObject({ step: 'hook', hook: 'OUTPUT' });
    expect(out2).toEqual(out1);
    const pre = JSON.parse((await cli(...args, '--local-ip', extra, '--hook', 'prerouting')).out);
    expect(pre.path[0]).toMatchObject({ step: 'hook', hook: 'PREROUTING' });
  });

  test('ICMP needs no port', async () => {
    const r = await trace('--src', k.pod, '--dst', '198.51.100.7', '--proto', 'icmp', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).destinations).toEqual([{ ip: '198.51.100.7', port: null, probability: 1 }]);
  });
});

describe('podwire iptables trace (text)', () => {
  test('prints the verdict, each destination with its probability, masquerade and the path', async () => {
    const r = await trace('--src', k.outside, '--dst', k.nodePort.clusterIP, '--dport', '80');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(`packet       TCP ${k.outside}:40000 > ${k.nodePort.clusterIP}:80, entering at PREROUTING on eth0`);
    expect(lines[1]).toBe('verdict      ACCEPT');
    for (const ip of endpointIps(k.nodePort)) expect(r.out).toMatch(new RegExp(`^(destinations| {12}) ${ip.replaceAll('.', '\\.')}:8080 +p=0\\.333333  \\(masqueraded\\)$`, 'm'));
    expect(r.out).toMatch(/^masquerade {3}yes$/m);
    expect(r.out).toMatch(/^path \(first ACCEPT branch of 3, p=0\.333333\):$/m);
    expect(r.out).toMatch(/^ {4}DNAT: .* -> .*:8080$/m);
    expect(r.out).toMatch(/^ {4}nat KUBE-POSTROUTING #3: .*-j MASQUERADE --random-fully -> ACCEPT$/m);
    expect(r.out).toMatch(/^ {2}sent: TCP /m);
  });
});

describe('podwire iptables trace errors', () => {
  const one = (r: { code: number; out: string; err: string }) => {
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    return r.err.trimEnd();
  };

  test('a bad address, an unknown hook, a missing port, an unreadable file', async () => {
    expect(one(await trace('--src', k.pod, '--dst', '10.0.0.256', '--dport', '80'))).toBe('podwire: --dst: "10.0.0.256" is not an IPv4 address');
    expect(one(await trace('--src', k.pod, '--dst', '10.0.0.1', '--dport', '80', '--hook', 'FORWARD'))).toBe('podwire: --hook: expected PREROUTING or OUTPUT, got "FORWARD"');
    expect(one(await trace('--src', k.pod, '--dst', '10.0.0.1'))).toBe('podwire: --dport: required for tcp');
    expect(one(await trace('--src', k.pod, '--dst', '10.0.0.1', '--dport', '80', '--local-ip', '1.2.3'))).toBe('podwire: --local-ip: "1.2.3" is not an IPv4 address (or ADDR/LEN)');
    const missing = join(work, 'missing.rules');
    expect(one(await cli('iptables', 'trace', '--rules', missing, '--src', k.pod, '--dst', '10.0.0.1', '--dport', '80'))).toBe(`podwire: --rules: cannot read "${missing}": no such file`);
  });

  test('a rule error names the file and line', async () => {
    const bad = join(work, 'bad.rules');
    writeFileSync(bad, '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.300\nCOMMIT\n');
    const msg = one(await cli('iptables', 'trace', '--base', base, '--rules', bad, '--src', k.pod, '--dst', '10.0.0.1', '--dport', '80'));
    expect(msg.startsWith(`podwire: ${bad}:3: `)).toBe(true);
  });
});
