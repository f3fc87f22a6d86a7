/**
 * Deleting pods whose CNI DEL does more than remove a veth from a bridge:
 * - hostPorts: portmap's DEL removes the pod's CNI-DN-<hash> chain and its
 *   jump in CNI-HOSTPORT-DNAT, so traffic to the host port is no longer
 *   DNATed (a new flow finds no listener on the node: ICMP port
 *   unreachable), while another pod's host port keeps working;
 * - additional networks: each attachment's DEL deletes its host veth (it
 *   leaves its bridge; with ptp its host route goes with it).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { runPartitioned } from '../../scenarios/partitioned-run.js';
import { nodeLifecycle } from '../../scenarios/pod-deletion.js';
import { sandboxId } from '../../scenarios/cni/execute.js';
import { chainName } from '../../scenarios/cni/nat-table.js';
import { BridgeDevice } from '../../models/devices/bridge.js';
import { formatIpv4, parseIpv4 } from '../../models/wire/addr.js';
import { ipv4Frames } from '../helpers/ipv4-frames.js';

const work = mkdtempSync(join(tmpdir(), 'pw-podel-cni-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CONFLIST = {
  cniVersion: '1.0.0',
  name: 'cbr0',
  plugins: [
    { type: 'bridge', bridge: 'cni0', isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: '{{.PodCIDR}}' }]] } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'loopback' },
  ],
};

const udp = (name: string, port: number, sourcePort: number, start: string) =>
  `  - udp: { name: ${name}, from: n2, to: 192.168.49.2, port: ${port}, sourcePort: ${sourcePort}, count: 3, rate: 10, requestSize: 16, responseSize: 32, start: ${start} }`;

const hostPorts = `
name: del-hostport
seed: 1
duration: 2s
runtime: cni
clusterCIDR: 10.244.0.0/16
routing: host-gw
underlay: { cidr: 192.168.49.0/24, gateway: 192.168.49.1 }
cni:
  config: ${JSON.stringify(CONFLIST)}
nodes:
  - name: n1
    address: 192.168.49.2
    podCIDR: 10.244.1.0/24
    pods:
      - { name: web, deleteAt: 1s, hostPorts: [{ hostPort: 8080, containerPort: 80, protocol: udp }] }
      - { name: keep, hostPorts: [{ hostPort: 9090, containerPort: 80, protocol: udp }] }
  - name: n2
    address: 192.168.49.3
    podCIDR: 10.244.2.0/24
    pods: [{ name: b }]
servers:
  - { on: n1/web, port: 80, responseSize: 32 }
  - { on: n1/keep, port: 80, responseSize: 32 }
traffic:
${udp('before', 8080, 40001, '200ms')}
${udp('after', 8080, 40002, '1200ms')}
${udp('other pod after', 9090, 40003, '1200ms')}
capture: all
`;

type Flow = { name: string; sent: number; received: number; lost: number };

describe('deleting a pod with hostPorts (portmap DEL)', () => {
  const webId = sandboxId('n1', 'web');
  const dn = chainName('cbr0', webId, 'DN-');

  test('the plan: at deleteAt the node deletes the veth, then applies the DEL of the pod\'s nat rules', () => {
    const s = parseScenario(hostPorts, 'hp.yaml');
    const n1 = s.nodes.find((n) => n.name === 'n1')!;
    const actions = nodeLifecycle(s, n1);
    expect(actions.map((a) => `${a.atNs} ${a.action}`)).toEqual(['1000000000 delete-veth', '1000000000 iptables-restore']);
    const veth = actions[0]!;
    expect(veth).toMatchObject({ dev: n1.pods[0]!.hostVeth, bridge: 'cni0' });
    const restore = actions[1]!;
    if (restore.action !== 'iptables-restore') throw new Error('expected iptables-restore');
    expect(restore.text).toContain(`-X ${dn}`);
    expect(restore.text).toMatch(new RegExp(`-D CNI-HOSTPORT-DNAT .*--dports 8080 -j ${dn}`));
    expect(restore.text).not.toContain(chainName('cbr0', sandboxId('n1', 'keep'), 'DN-'));
    expect(nodeLifecycle(s, s.nodes.find((n) => n.name === 'n2')!)).toEqual([]);
  });

  const out = join(work, 'hp');
  const r = runTopology(expandScenario(parseScenario(hostPorts, 'hp.yaml')), { outDir: out });
  const flows = r.results.flows as Flow[];
  const flow = (name: string) => flows.find((f) => f.name === name)!;

  test("before the deletion the host port is DNATed to the pod; afterwards it is not (the node's own socket on the port answers), the other pod's still is", () => {
    expect(flow('before').received).toBe(3);
    expect(flow('other pod after').received).toBe(3);
    // The flow's port on the node has a listener of its own (podwire's server for traffic to a node address),
    // so without the DNAT it answers; with a stale DNAT to the dead pod every request would be lost.
    expect(flow('after').received).toBe(3);
    const atWeb = ipv4Frames(r.captureFiles.get('n1/web/eth0')!).filter((f) => f.proto === 17 && f.dst === '10.244.1.2' && f.dport === 80);
    expect(atWeb.map((f) => f.sport)).toEqual([40001, 40001, 40001]);
    const atKeep = ipv4Frames(r.captureFiles.get('n1/keep/eth0')!).filter((f) => f.proto === 17 && f.dst === '10.244.1.3' && f.dport === 80);
    expect(atKeep.map((f) => f.sport)).toEqual([40003, 40003, 40003]);
    // The answers to the after flow come from the node's port 8080 itself.
    const answers = ipv4Frames(r.captureFiles.get('n2/eth0')!).filter((f) => f.proto === 17 && f.src === '192.168.49.2' && f.dport === 40002);
    expect(answers.map((f) => f.sport)).toEqual([8080, 8080, 8080]);
  });

  test("iptables-save on the node no longer has the pod's chains; the shared ones and the other pod's stay", () => {
    const saved = readFileSync(join(out, 'netfilter', 'n1.iptables-save'), 'utf8');
    expect(saved).not.toContain(dn);
    expect(saved).not.toContain(chainName('cbr0', webId));
    expect(saved).not.toContain('--to-destination 10.244.1.2:80');
    expect(saved).toContain(chainName('cbr0', sandboxId('n1', 'keep'), 'DN-'));
    expect(saved).toContain('--to-destination 10.244.1.3:80');
    expect(saved).toMatch(/^:CNI-HOSTPORT-DNAT - /m);
    expect(saved).toMatch(/^\[\d+:\d+\] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT$/m);
  });

  test('a partitioned run gives the same bytes', async () => {
    const par = join(work, 'hp-par');
    await runPartitioned(expandScenario(parseScenario(hostPorts, 'hp.yaml')), { outDir: par, workers: 2, inTurn: true });
    for (const f of readdirSync(join(out, 'captures'))) expect(readFileSync(join(par, 'captures', f)).equals(readFileSync(join(out, 'captures', f))), f).toBe(true);
    expect(readFileSync(join(par, 'results.json'), 'utf8')).toBe(readFileSync(join(out, 'results.json'), 'utf8'));
  });
});

const networks = `
name: del-networks
seed: 1
duration: 2s
underlay: { cidr: 192.168.49.0/24, gateway: 192.168.49.1 }
networks:
  - name: storage
    cni:
      config:
        cniVersion: 1.0.0
        name: storage
        plugins:
          - type: bridge
            bridge: br-storage
            ipam: { type: host-local, ranges: [[{ subnet: 10.50.0.0/24 }]] }
  - name: backup
    cni:
      config:
        cniVersion: 1.0.0
        name: backup
        plugins:
          - type: ptp
            ipam: { type: host-local, ranges: [[{ subnet: 10.60.0.0/24 }]] }
nodes:
  - name: n1
    pods:
      - { name: a, networks: [storage, backup], deleteAt: 1s }
      - { name: b, networks: [storage] }
traffic:
  - ping: { name: b to a on storage, from: n1/b, to: 10.50.0.2, count: 15, interval: 100ms, start: 200ms }
  - ping: { name: node to a on backup, from: n1, to: 10.60.0.2, count: 15, interval: 100ms, start: 250ms }
capture: all
`;

describe('deleting a pod on additional networks', () => {
  const s = parseScenario(networks, 'nw.yaml');
  const n1 = s.nodes[0]!;
  const storageVeth = n1.extraNetworks!.find((e) => e.name === 'storage')!.net.pods.get('a')!.hostVeth.name;
  const backupVeth = n1.extraNetworks!.find((e) => e.name === 'backup')!.net.pods.get('a')!.hostVeth.name;

  test('the plan: the attachments are deleted last to first (net2, net1), then eth0', () => {
    expect(nodeLifecycle(s, n1)).toEqual([
      { atNs: 1e9, action: 'delete-veth', dev: backupVeth },
      { atNs: 1e9, action: 'delete-veth', dev: storageVeth, bridge: 'br-storage' },
      { atNs: 1e9, action: 'delete-veth', dev: n1.pods[0]!.hostVeth, bridge: n1.bridge },
    ]);
  });

  test('the host veths leave their bridge and the ptp host route goes; pings stop being answered at the deletion', () => {
    const r = runTopology(expandScenario(parseScenario(networks, 'nw.yaml')), { outDir: join(work, 'nw') });
    const node = r.world.namespaces.get('n1')!;
    const br = node.device('br-storage') as BridgeDevice;
    expect(br.ports.map((p) => p.name)).not.toContain(storageVeth);
    expect(br.ports.length).toBe(1);
    expect(node.routes.all().filter((x) => x.dev.name === backupVeth)).toEqual([]);
    expect(node.routes.all().some((x) => formatIpv4(x.dst) === '10.60.0.2')).toBe(false);
    // ptp put its gateway address on the host veth; it went with the device.
    const gateway = s.nodes[0]!.extraNetworks!.find((e) => e.name === 'backup')!.net.pods.get('a')!.hostVeth.addresses;
    expect(gateway.length).toBe(1);
    expect(node.isLocal(parseIpv4(gateway[0]!.split('/')[0]!))).toBe(false);
    expect(node.device(backupVeth).addrs).toEqual([]);
    const flows = r.results.flows as Flow[];
    // 8 pings before 1 s (200..900 ms, 250..950 ms), none after.
    expect(flows.map((f) => [f.name, f.received])).toEqual([
      ['b to a on storage', 8],
      ['node to a on backup', 8],
    ]);
    // Nothing goes out of the deleted veths after the deletion.
    for (const dev of [storageVeth, backupVeth]) {
      const frames = ipv4Frames(r.captureFiles.get(`n1/${dev}`)!);
      expect(frames.some((f) => f.t < 1)).toBe(true);
      expect(frames.filter((f) => f.t >= 1)).toEqual([]);
    }
  });
});
