/** `cni:` in a scenario: where the configuration comes from and how its problems are reported. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';

const dir = mkdtempSync(join(tmpdir(), 'podwire-cni-scn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 's.yaml');

function load(yaml: string) {
  return parseScenario(yaml, file);
}

function problem(yaml: string): string {
  try {
    load(yaml);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('no error');
}

const PTP = { cniVersion: '0.4.0', name: 'p2p', plugins: [{ type: 'ptp', ipMasq: false, ipam: { type: 'host-local', subnet: '{{.PodCIDR}}', routes: [{ dst: '0.0.0.0/0' }] } }] };

describe('scenario cni', () => {
  it('an inline ptp config on one node: its pods get ptp wiring, the other node keeps the built-in bridge', () => {
    const s = load(`name: t
nodes:
  - name: n1
    cni:
      config: ${JSON.stringify(PTP)}
    pods: [{ name: a }]
  - name: n2
    pods: [{ name: c }]
traffic:
  - ping: { from: n1/a, to: n2/c, count: 1 }
`);
    expect(s.nodes[0]!.pods.map((p) => p.ip)).toEqual(['10.244.1.2']);
    expect(s.nodes[0]!.pods[0]!.hostVeth).toMatch(/^veth[0-9a-f]{8}$/);
    const t = expandScenario(s);
    const n1 = t.namespaces.find((n) => n.name === 'n1')!;
    expect(n1.bridges).toEqual([]);
    expect(n1.interfaces.slice(1).map((i) => i.addresses)).toEqual([['10.244.1.1/32']]);
    expect(n1.routes.filter((r) => r.dev !== 'eth0').map((r) => r.dst)).toEqual(['10.244.1.2/32']);
    expect(t.namespaces.find((n) => n.name === 'n1/a')!.interfaces[0]!.addresses).toEqual(['10.244.1.2/32']);
    expect(t.namespaces.find((n) => n.name === 'n2')!.bridges.map((b) => b.name)).toEqual(['cni0']);
    expect(t.cniResults?.map((r) => `${r.node}/${r.pod} ${(r.result.ips as { version: string; address: string }[])[0]!.version} ${(r.result.ips as { address: string }[])[0]!.address}`)).toEqual([
      'n1/a 4 10.244.1.2/24',
    ]);
  });

  it('reports configuration problems at the cni field, naming the file and JSON path', () => {
    writeFileSync(join(dir, 'bad.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: 'nope' }]] } }] }));
    expect(problem('name: t\ncni: { conflist: bad.conflist }\nnodes: [{ name: n1, pods: [{ name: a }] }]\n')).toContain(
      's.yaml:2:1: cni.conflist (node n1): bad.conflist: plugins[0].ipam.ranges[0][0].subnet: not a CIDR',
    );
    expect(problem('name: t\nnodes:\n  - name: n1\n    cni: { conflist: missing.conflist }\n')).toMatch(/s\.yaml:4:1: nodes\[0\]\.cni\.conflist: cannot read .*missing\.conflist: ENOENT/);
  });

  it('reports ADD failures (address exhaustion), pod addresses outside the podCIDR', () => {
    const tiny = { ...PTP, plugins: [{ type: 'ptp', ipam: { type: 'host-local', subnet: '10.244.1.0/30' } }] };
    expect(problem(`name: t\nnodes:\n  - name: n1\n    cni: { config: ${JSON.stringify(tiny)} }\n    pods: [{ name: a }, { name: b }]\n`)).toContain(
      's.yaml:4:1: nodes[0].cni.config: inline config: plugins[0] (ptp): no IP addresses available in range set: 10.244.1.1-10.244.1.2',
    );
    const elsewhere = { ...PTP, plugins: [{ type: 'ptp', ipam: { type: 'host-local', subnet: '10.9.0.0/24' } }] };
    expect(problem(`name: t\nnodes:\n  - name: n1\n    cni: { config: ${JSON.stringify(elsewhere)} }\n    pods: [{ name: a }]\n`)).toContain(
      "pod a got 10.9.0.2 from IPAM, outside the node's podCIDR 10.244.1.0/24",
    );
  });

  it('pod ip and hostPorts: the first is host-local\'s with cni, the second needs it', () => {
    expect(problem(`name: t\ncni: { config: ${JSON.stringify(PTP)} }\nnodes: [{ name: n1, pods: [{ name: a, ip: 10.244.1.9 }] }]\n`)).toContain(
      "nodes[0].pods[0].ip: is given by the CNI configuration's IPAM (host-local) when the node has cni; remove it",
    );
    expect(problem(`name: t\ncni: { config: ${JSON.stringify(PTP)} }\nnodes: [{ name: n1, pods: [{ name: a, hostPorts: [{ hostPort: 80, containerPort: 8080 }] }] }]\n`)).toContain(
      'cni.config (node n1): pod a has hostPorts but inline config has no portmap plugin with capabilities.portMappings, so they would not be mapped',
    );
    expect(problem('name: t\nnodes: [{ name: n1, pods: [{ name: a, hostPorts: [{ hostPort: 80, containerPort: 8080 }] }] }]\n')).toContain(
      'nodes[0].pods[0].hostPorts: needs cni (a CNI configuration with the portmap plugin maps host ports) or runtime docker (docker run -p)',
    );
  });
});
