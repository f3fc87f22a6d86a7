/**
 * The cni-bridge ready scenario end to end: pods wired by executing
 * scenarios/library/cni/10-bridge.conflist, pings across nodes answered, the
 * hostPort DNAT written by the portmap plugin working from the other node,
 * results written per pod, and the run deterministic.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveScenario } from '../../scenarios/library.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { checkCaptureWithTshark, tsharkPath } from '../helpers/tshark.js';
import { ipv4Frames } from '../helpers/ipv4-frames.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-cni-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('cni-bridge (ready scenario)', () => {
  const spec = expandScenario(resolveScenario('cni-bridge'));
  const out = join(work, 'lib');
  const r = runTopology(spec, { outDir: out });
  const flows = Object.fromEntries((r.results.flows as { name: string; sent: number; received: number }[]).map((f) => [f.name, f]));
  const cap = (point: string) => ipv4Frames(join(out, 'captures', `${point.replaceAll('/', '.')}.pcapng`));

  test('pods get host-local addresses in pod order and veth names from the plugin', () => {
    const pod = (name: string) => spec.namespaces.find((n) => n.name === name)!;
    expect(pod('n1/web').interfaces[0]!.addresses).toEqual(['10.244.1.2/24']);
    expect(pod('n1/a').interfaces[0]!.addresses).toEqual(['10.244.1.3/24']);
    expect(pod('n2/b').interfaces[0]!.addresses).toEqual(['10.244.2.2/24']);
    expect(pod('n1/a').routes).toEqual([{ dst: '0.0.0.0/0', via: '10.244.1.1', dev: 'eth0' }]);
    const n1 = pod('n1');
    expect(n1.bridges.map((b) => `${b.name} ${b.addresses.join(',')}`)).toEqual(['cni0 10.244.1.1/24']);
    const veths = n1.interfaces.filter((i) => i.master === 'cni0');
    expect(veths).toHaveLength(2);
    for (const v of veths) expect(v.name).toMatch(/^veth[0-9a-f]{8}$/);
    expect(veths.every((v) => v.hairpin === true)).toBe(true);
  });

  test('every ping and every hostPort request is answered', () => {
    expect(flows['a pings b']).toMatchObject({ sent: 3, received: 3 });
    expect(flows['b pings web']).toMatchObject({ sent: 3, received: 3 });
    expect(flows['hostPort from n2']).toMatchObject({ sent: 3, received: 3 });
  });

  test('the hostPort is DNATed to the pod on n1 and answered from the node address', () => {
    const atWeb = cap('n1/web/eth0').filter((f) => f.proto === 17);
    expect(atWeb.filter((f) => f.dst === '10.244.1.2').map((f) => `${f.src}:${f.sport} > ${f.dst}:${f.dport}`)).toEqual(
      Array(3).fill('192.168.49.3:40001 > 10.244.1.2:80'),
    );
    const back = cap('n1/eth0').filter((f) => f.proto === 17 && f.dst === '192.168.49.3');
    expect(back.map((f) => `${f.src}:${f.sport}`)).toEqual(Array(3).fill('192.168.49.2:8080'));
  });

  test('ipMasq: echo requests leave each node masqueraded to its address, the replies are un-NATed', () => {
    const requests = (point: string) => cap(point).filter((f) => f.icmpType === 8 && f.dst.startsWith('10.244.'));
    const replies = (point: string) => cap(point).filter((f) => f.icmpType === 0 && f.dst.startsWith('10.244.'));
    expect(requests('n2/b/eth0').filter((f) => f.dst === '10.244.2.2').map((f) => `${f.src} > ${f.dst}`)).toEqual(Array(3).fill('192.168.49.2 > 10.244.2.2'));
    expect(requests('n1/web/eth0').filter((f) => f.dst === '10.244.1.2').map((f) => `${f.src} > ${f.dst}`)).toEqual(Array(3).fill('192.168.49.3 > 10.244.1.2'));
    expect(replies('n1/a/eth0').map((f) => `${f.src} > ${f.dst}`)).toEqual(Array(3).fill('10.244.2.2 > 10.244.1.3'));
  });

  test('the plugins rules are in the node dump with the counters of the traffic', () => {
    const save = readFileSync(join(out, 'netfilter', 'n1.iptables-save'), 'utf8');
    // nat sees the first packet of a connection: one UDP flow, one echo flow per pinging pod.
    expect(save).toMatch(/^\[1:44\] -A CNI-DN-[0-9a-f]{21} -p udp -m udp --dport 8080 -j DNAT --to-destination 10\.244\.1\.2:80$/m);
    expect(save).toMatch(/^\[1:84\] -A CNI-[0-9a-f]{24} ! -d 224\.0\.0\.0\/4 -m comment --comment "name: \\"cbr0\\" id: \\"[0-9a-f]{64}\\"" -j MASQUERADE$/m);
  });

  test('each pod CNI result is written as cni/<node>.<pod>.json (cniVersion 1.0.0)', () => {
    expect(readdirSync(join(out, 'cni')).sort()).toEqual(['n1.a.json', 'n1.web.json', 'n2.b.json']);
    const web = JSON.parse(readFileSync(join(out, 'cni', 'n1.web.json'), 'utf8'));
    expect(web.cniVersion).toBe('1.0.0');
    expect(web.ips).toEqual([{ interface: 2, address: '10.244.1.2/24', gateway: '10.244.1.1' }]);
    expect(web.interfaces.map((i: { name: string }) => i.name)).toEqual(['cni0', expect.stringMatching(/^veth[0-9a-f]{8}$/), 'eth0']);
    expect(web.routes).toEqual([{ dst: '0.0.0.0/0' }]);
  });

  test('the same seed gives byte-identical captures, dumps, results and CNI results', () => {
    const again = join(work, 'again');
    runTopology(expandScenario(resolveScenario('cni-bridge')), { outDir: again });
    for (const sub of ['captures', 'netfilter', 'cni']) {
      const files = readdirSync(join(out, sub)).sort();
      expect(readdirSync(join(again, sub)).sort()).toEqual(files);
      for (const f of files) expect(readFileSync(join(again, sub, f)).equals(readFileSync(join(out, sub, f))), f).toBe(true);
    }
    expect(readFileSync(join(again, 'results.json'), 'utf8')).toBe(readFileSync(join(out, 'results.json'), 'utf8'));
  });

  const tshark = tsharkPath();
  if (tshark === null) console.log('skipping the tshark check of cni-bridge: tshark is not installed');
  test.skipIf(tshark === null)('tshark finds every frame well formed', async () => {
    for (const f of readdirSync(join(out, 'captures'))) {
      const c = await checkCaptureWithTshark(join(out, 'captures', f));
      expect(c.frames, f).toBeGreaterThan(0);
      expect(c.problems, f).toEqual([]);
    }
  });
});
