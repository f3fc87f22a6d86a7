import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { expandScenario } from '../../scenarios/expand.js';
import { libraryDir, listScenarios, resolveScenario, resolveScenarioPath } from '../../scenarios/library.js';
import { namespaceRoutes, type NamespaceSpec, type TopologySpec } from '../../scenarios/topology.js';

function ns(t: TopologySpec, name: string): NamespaceSpec {
  const found = t.namespaces.find((n) => n.name === name);
  if (!found) throw new Error(`no namespace ${name}`);
  return found;
}

function iface(t: TopologySpec, nsName: string, name: string) {
  const n = ns(t, nsName);
  const found = [...n.bridges, ...n.interfaces].find((i) => i.name === name);
  if (!found) throw new Error(`no interface ${nsName}/${name}`);
  return found;
}

describe('scenario library', () => {
  it('lists the ready scenarios, each named like its file and described', () => {
    const entries = listScenarios();
    expect(entries.map((e) => e.name)).toEqual(['cluster-services', 'cni-bridge', 'cross-node', 'docker-bridge', 'docker-proxy', 'docker-publish', 'flannel-ipip', 'flannel-vxlan', 'localhost', 'manifests-demo', 'nodeport-etp', 'racks', 'same-node', 'service-nat', 'services-hairpin', 'services-ipvs', 'services-nftables', 'services-userspace']);
    for (const e of entries) {
      expect(e.description.length).toBeGreaterThan(10);
      expect(e.path).toBe(join(libraryDir(), `${e.name}.yaml`));
      const s = resolveScenario(e.name);
      expect(s.name).toBe(e.name);
      expect(s.description).toBe(e.description);
      expect(() => expandScenario(s)).not.toThrow();
    }
  });

  it('resolves "default" to cross-node, accepts paths, and lists the library for unknown names', () => {
    expect(resolveScenarioPath('default')).toBe(resolveScenarioPath('cross-node'));
    const path = join(libraryDir(), 'same-node.yaml');
    expect(resolveScenario(path).name).toBe('same-node');
    expect(() => resolveScenarioPath('cross-nod')).toThrow(
      'unknown scenario "cross-nod" (the library has cluster-services, cni-bridge, cross-node (default), docker-bridge, docker-proxy, docker-publish, flannel-ipip, flannel-vxlan, localhost, manifests-demo, nodeport-etp, racks, same-node, service-nat, services-hairpin, services-ipvs, services-nftables, services-userspace; or give a path to a .yaml file)',
    );
    expect(() => resolveScenarioPath('./nowhere/x.yaml')).toThrow('scenario file not found: ./nowhere/x.yaml');
  });

  it('cross-node: two nodes, host-gw routes, underlay wires, every interface captured', () => {
    const t = expandScenario(resolveScenario('cross-node'));
    expect(t.namespaces.map((n) => `${n.name}:${n.kind}:${n.component}:${n.ipForward}`)).toEqual([
      'underlay:underlay:underlay:false',
      'n1:node:n1:true',
      'n1/p1:pod:n1:false',
      'n2:node:n2:true',
      'n2/p1:pod:n2:false',
    ]);
    expect(iface(t, 'underlay', 'br0')).toMatchObject({ mac: '02:42:c0:a8:31:01', addresses: ['192.168.49.1/24'] });
    expect(iface(t, 'underlay', 'n2')).toMatchObject({ mac: '0e:42:c0:a8:31:03', addresses: [], master: 'br0' });
    expect(iface(t, 'n2', 'cni0')).toMatchObject({ mac: '0a:58:0a:f4:02:01', addresses: ['10.244.2.1/24'] });
    expect(iface(t, 'n2', 'eth0')).toMatchObject({ mac: '02:42:c0:a8:31:03', addresses: ['192.168.49.3/24'] });
    expect(iface(t, 'n2', 'vethp1')).toMatchObject({ mac: '0e:58:0a:f4:02:02', master: 'cni0', hairpin: false });
    expect(iface(t, 'n2/p1', 'eth0')).toMatchObject({ mac: '0a:58:0a:f4:02:02', addresses: ['10.244.2.2/24'] });
    expect(namespaceRoutes(t, ns(t, 'n1'))).toEqual([
      { dst: '0.0.0.0/0', via: '192.168.49.1', dev: 'eth0' },
      { dst: '10.244.2.0/24', via: '192.168.49.3', dev: 'eth0' },
    ]);
    expect(ns(t, 'n2/p1').routes).toEqual([{ dst: '0.0.0.0/0', via: '10.244.2.1', dev: 'eth0' }]);
    expect(t.links.map((l) => `${l.kind} ${l.a.ns}/${l.a.ifname} ${l.b.ns}/${l.b.ifname} ${l.delayNs}`)).toEqual([
      'wire n1/eth0 underlay/n1 20000',
      'veth n1/vethp1 n1/p1/eth0 2000',
      'wire n2/eth0 underlay/n2 20000',
      'veth n2/vethp1 n2/p1/eth0 2000',
    ]);
    expect(t.links[0]).toMatchObject({ bandwidthBps: 10e9, loss: 0, txQueueLen: 1000 });
    expect(t.captures).toEqual([
      'underlay/br0',
      'underlay/n1',
      'underlay/n2',
      'n1/cni0',
      'n1/eth0',
      'n1/vethp1',
      'n1/p1/eth0',
      'n2/cni0',
      'n2/eth0',
      'n2/vethp1',
      'n2/p1/eth0',
    ]);
    expect(t.durationNs).toBe(2e9);
    expect(t.traffic).toEqual([
      {
        kind: 'ping',
        name: 'ping n1/p1 -> n2/p1',
        from: { ns: 'n1/p1' },
        to: '10.244.2.2',
        toNs: 'n2/p1',
        startNs: 0,
        count: 3,
        intervalNs: 200e6,
        size: 56,
        ident: 4660,
        timeoutNs: 1e9,
        broadcast: false,
        class: 'ping: pod → pod, other node',
      },
      {
        kind: 'udp',
        name: 'udp n1/p1 -> n2/p1',
        from: { ns: 'n1/p1' },
        to: '10.244.2.2',
        toNs: 'n2/p1',
        startNs: 700e6,
        port: 9000,
        sourcePort: 5555,
        count: 1,
        rate: 1,
        arrivals: 'constant',
        requestSize: 20,
        responseSize: 0,
        timeoutNs: 1e9,
        broadcast: false,
        class: 'udp: pod → pod, other node (one-way)',
      },
    ]);
  });

  it('same-node: two pods on cni0, the kernel reference capture points', () => {
    const t = expandScenario(resolveScenario('same-node'));
    expect(ns(t, 'n1').interfaces.map((i) => `${i.name} ${i.mac} ${i.master ?? '-'}`)).toEqual([
      'eth0 02:42:c0:a8:31:02 -',
      'vethp1 0e:58:0a:f4:01:02 cni0',
      'vethp2 0e:58:0a:f4:01:03 cni0',
    ]);
    expect(iface(t, 'n1/p2', 'eth0')).toMatchObject({ mac: '0a:58:0a:f4:01:03', addresses: ['10.244.1.3/24'] });
    // One node: no host-gw routes, only the default.
    expect(ns(t, 'n1').routes).toEqual([{ dst: '0.0.0.0/0', via: '192.168.49.1', dev: 'eth0' }]);
    expect(t.captures).toEqual(['n1/cni0', 'n1/vethp1', 'n1/vethp2', 'n1/p1/eth0', 'n1/p2/eth0']);
    expect(t.traffic.map((f) => [f.kind, f.to, f.startNs])).toEqual([
      ['ping', '10.244.1.3', 0],
      ['udp', '10.244.1.3', 700e6],
    ]);
    expect(t.traffic[1]).toMatchObject({ sourcePort: 5555, port: 9000, requestSize: 20, responseSize: 0, count: 1 });
  });

  it('localhost: containers of one pod reach each other at 127.0.0.1; lo and eth0 are captured', () => {
    const s = resolveScenario('localhost');
    const t = expandScenario(s);
    expect(ns(t, 'n1/p1').containers).toEqual(['web', 'sidecar']);
    expect(t.captures).toContain('n1/p1/lo');
    expect(t.captures).toContain('n1/p1/eth0');
    expect(t.traffic.map((f) => [f.kind, f.from, f.to, f.toNs])).toEqual([
      ['udp', { ns: 'n1/p1', container: 'web' }, '127.0.0.1', 'n1/p1'],
      ['ping', { ns: 'n1/p1', container: 'web' }, '127.0.0.1', 'n1/p1'],
    ]);
    // ident defaults to 0x1234 + item index.
    expect((t.traffic[1] as { ident: number }).ident).toBe(0x1235);
  });

  it('docker-bridge: docker0 and 02:42 MACs, three kinds of address, traffic to the host', () => {
    const t = expandScenario(resolveScenario('docker-bridge'));
    expect(t.namespaces.map((n) => n.name)).toEqual(['underlay', 'host', 'host/c1', 'host/c2']);
    expect(iface(t, 'underlay', 'br0')).toMatchObject({ mac: '02:42:c0:a8:01:01', addresses: ['192.168.1.1/24'] });
    expect(iface(t, 'host', 'eth0')).toMatchObject({ mac: '02:42:c0:a8:01:0a', addresses: ['192.168.1.10/24'] });
    expect(iface(t, 'host', 'docker0')).toMatchObject({ mac: '02:42:ac:11:00:01', addresses: ['172.17.0.1/16'] });
    expect(iface(t, 'host', 'vethc1')).toMatchObject({ mac: '0e:42:ac:11:00:02', master: 'docker0' });
    expect(iface(t, 'host/c1', 'eth0')).toMatchObject({ mac: '02:42:ac:11:00:02', addresses: ['172.17.0.2/16'] });
    expect(iface(t, 'host/c2', 'eth0')).toMatchObject({ mac: '02:42:ac:11:00:03', addresses: ['172.17.0.3/16'] });
    expect(ns(t, 'host/c1').containers).toEqual(['c1']);
    expect(ns(t, 'host/c1').routes).toEqual([{ dst: '0.0.0.0/0', via: '172.17.0.1', dev: 'eth0' }]);
    expect(t.traffic.map((f) => `${f.kind} ${f.from.ns} -> ${f.to} (${f.toNs})`)).toEqual([
      'ping host/c1 -> 172.17.0.3 (host/c2)',
      'udp host/c1 -> 172.17.0.3 (host/c2)',
      'ping host/c1 -> 192.168.1.10 (host)',
      'ping host/c1 -> 172.17.0.1 (host)',
    ]);
  });
});
