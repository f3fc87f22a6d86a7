/**
 * The studies (scenarios/studies/): each plans as a sweep, and the service
 * scaling study, cut down to 0 and 2,000 background Services, shows what it is
 * there to show: iptables mode's connection setup grows with the Service count,
 * IPVS's and nftables's do not.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { planSweep } from '../../scenarios/sweep/grid.js';
import { runPoint } from '../../scenarios/sweep/run-point.js';
import { scenariosDir } from '../../scenarios/package-root.js';

const dir = join(scenariosDir(), 'studies');

describe('studies', () => {
  test.each(readdirSync(dir).filter((f) => f.endsWith('.yaml')))('%s plans as a sweep', (file) => {
    const plan = planSweep(readFileSync(join(dir, file), 'utf8'), file);
    expect(plan.points.length).toBeGreaterThan(1);
  });

  test('service-scaling: each Service costs iptables mode setup time; IPVS and nftables stay flat', () => {
    const text = readFileSync(join(dir, 'service-scaling.yaml'), 'utf8').replace(/serviceLoad\.services: \[[^\]]*\]/, 'serviceLoad.services: [0, 2000]').replace('count: 200,', 'count: 40,');
    const plan = planSweep(text, 'service-scaling.yaml');
    const setup = new Map<string, number>();
    for (const p of plan.points) {
      const r = runPoint({ scenario: p.scenario, durationNs: 400e6, outDir: null });
      const crr = (r.flows as { name: string; received: number; sent: number; tcp: { setupNs: { p50: number } } }[]).find((f) => f.name === 'crr')!;
      expect(crr.received).toBe(crr.sent);
      setup.set(`${p.values['kubeProxy.mode']}/${p.values['serviceLoad.services']}`, crr.tcp.setupNs.p50);
    }
    // The SYN walks KUBE-SERVICES on both nodes: about half of 2,000 Services on n1 and all of them on n2, 15 ns a rule.
    const growth = setup.get('iptables/2000')! - setup.get('iptables/0')!;
    expect(growth).toBeGreaterThan(2000 * 15);
    expect(growth).toBeLessThan(2 * 2000 * 15 * 2);
    // Flat: within the histogram's resolution (3 significant digits: 64 ns at 90 us).
    for (const mode of ['ipvs', 'nftables']) expect(Math.abs(setup.get(`${mode}/2000`)! - setup.get(`${mode}/0`)!), mode).toBeLessThanOrEqual(128);
  });

  test('rack-size: a broadcast reaches only its rack, so racks bound the first traffic\'s ARP', () => {
    const text = readFileSync(join(dir, 'rack-size.yaml'), 'utf8').replace('nodes: 1000,', 'nodes: 100,').replace(/scale\.nodesPerRack: \[[^\]]*\]/, 'scale.nodesPerRack: [100, 10]');
    const hops = new Map<number, number>();
    for (const p of planSweep(text, 'rack-size.yaml').points) {
      const r = runPoint({ scenario: p.scenario, durationNs: null, outDir: null });
      for (const f of r.flows as { sent: number; received: number }[]) expect(f.received).toBe(f.sent);
      hops.set(p.values['scale.nodesPerRack'] as number, r.frameHops);
    }
    // 200 pods, 3 pings each, 8 hops a ping: 4,800 hops of steady traffic. In one rack of 100 each
    // node's broadcast for its peer reaches all 100 ports and more; in racks of 10, ten.
    expect(hops.get(100)! - 4800).toBeGreaterThan(100 * 100);
    expect(hops.get(10)! - 4800).toBeLessThan(100 * 100 / 3);
  });
});
