/**
 * The generated text loads the way kube-proxy loads it (the base rules, then
 * the sync with --noflush) into podwire's iptables model and, where this
 * machine allows, into the kernel: iptables-legacy-restore in a fresh network
 * namespace. The model's save() must round-trip and print what
 * iptables-legacy-save prints for the same rules.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  kubeProxyBaseRules,
  kubeProxyIptables,
  syntheticServices,
  type KubeProxyInput,
} from '../../../models/k8s/kube-proxy/index.js';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import { fakeProxierNode, overallServices } from './fixtures.js';

const cases: [string, KubeProxyInput][] = [
  ['TestOverallIPTablesRules services, --random-fully', { node: { ...fakeProxierNode, randomFully: true }, services: overallServices }],
  ['300 synthetic NodePort services x 3 endpoints (default mark 0x00004000)', syntheticServices({ services: 300, endpointsPerService: 3, nodes: 4, seed: 11, nodePorts: true })],
  ['1100 endpoints: large-cluster mode, --nodeport-addresses', (() => {
    const input = syntheticServices({ services: 275, endpointsPerService: 4, nodes: 8, seed: 5 });
    return { ...input, node: { ...input.node, nodePortAddresses: ['192.168.0.0/16'], localhostNodePorts: false } };
  })()],
];

function load(input: KubeProxyInput): IptablesRuleset {
  const r = new IptablesRuleset();
  r.restore(kubeProxyBaseRules(), 'kube-proxy-base');
  r.restore(kubeProxyIptables(input), 'kube-proxy-sync', { noflush: true });
  return r;
}

const appendCount = (text: string) => (text.match(/^-A /gm) ?? []).length;

describe('restore into the iptables model', () => {
  for (const [name, input] of cases) {
    it(`${name}: loads, and save() round-trips table by table`, () => {
      const r = load(input);
      const saved = r.save();
      expect(appendCount(saved)).toBe(appendCount(kubeProxyBaseRules()) + appendCount(kubeProxyIptables(input)));
      const again = new IptablesRuleset();
      again.restore(saved, 'saved');
      // Whole-text order differs on purpose: like the kernel, save() lists the newest table first.
      for (const table of ['filter', 'nat'] as const) expect(again.save({ table })).toBe(r.save({ table }));
    });
  }

  it('kube-proxy rewriting its chains with --noflush leaves one copy of each rule', () => {
    const input = cases[1][1];
    const r = load(input);
    const once = r.save();
    r.restore(kubeProxyIptables(input), 'resync', { noflush: true });
    expect(r.save()).toBe(once);
  });
});

/** Whether `unshare -n` and iptables-legacy work here; the reason if not. */
function kernelProbe(): string | null {
  const r = spawnSync('unshare', ['-n', 'iptables-legacy-save'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return `cannot run unshare/iptables-legacy-save: ${r.error.message}`;
  if (r.status !== 0) return `unshare -n iptables-legacy-save failed (needs root and ip_tables): ${r.stderr.trim()}`;
  return null;
}

const whyNoKernel = kernelProbe();
if (whyNoKernel !== null) console.warn(`skipping the kernel comparison: ${whyNoKernel}`);

describe.skipIf(whyNoKernel !== null)('restore into the kernel (iptables-legacy in a new network namespace)', () => {
  for (const [name, input] of cases) {
    it(`${name}: iptables-legacy-restore accepts it and iptables-legacy-save prints what the model's save() prints`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'podwire-kube-proxy-'));
      try {
        writeFileSync(join(dir, 'base.rules'), kubeProxyBaseRules());
        writeFileSync(join(dir, 'sync.rules'), kubeProxyIptables(input));
        const script = `iptables-legacy-restore < ${dir}/base.rules && iptables-legacy-restore --noflush < ${dir}/sync.rules && iptables-legacy-save`;
        const r = spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const kernelSave = r.stdout
          .split('\n')
          .filter((l) => !l.startsWith('#'))
          .join('\n');
        expect(load(input).save()).toBe(kernelSave);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
