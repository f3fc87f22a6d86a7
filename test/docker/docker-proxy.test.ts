/**
 * Runtime docker with published ports (scenarios/library/docker-proxy.yaml):
 * Docker's generated rules are the ones the kernel-checked docker-publish
 * scenario carries by hand, and docker-proxy serves the host's own traffic.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveScenario, resolveScenarioPath } from '../../scenarios/library.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { dockerIptables } from '../../models/docker/docker-iptables.js';
import { ipv4Frames, isSyn } from '../helpers/ipv4-frames.js';

const work = mkdtempSync(join(tmpdir(), 'pw-docker-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('runtime docker with published ports', () => {
  test("the rules Docker writes for -p 8080:80/udp are docker-publish's hand-written ones", () => {
    const host = resolveScenario('docker-publish').nodes.find((n) => n.name === 'host')!;
    const expected = host.iptables!.trim();
    expect(dockerIptables({ bridge: 'docker0', subnet: '172.17.0.0/16' }, [{ containerIP: '172.17.0.2', containerPort: 80, hostPort: 8080, protocol: 'udp' }]).trim()).toBe(expected);
  });

  test('client traffic is DNATed to the container; the host and the container itself go through docker-proxy', () => {
    const r = runTopology(expandScenario(resolveScenario('docker-proxy')), { outDir: join(work, 'dp') });
    for (const f of r.results.flows as { name: string; sent: number; received: number }[]) expect(f.received, f.name).toBe(f.sent);
    const syns = ipv4Frames(r.captureFiles.get('host/web/eth0')!).filter(isSyn).map((f) => `${f.src} > ${f.dst}`);
    // 4 from the client (DNAT keeps its address), 4 + 2 from docker-proxy (the docker0 address),
    // and the container's own 2 connections to the host's port, which docker-proxy accepted.
    expect(syns.filter((s) => s === '192.168.1.11 > 172.17.0.2')).toHaveLength(4);
    expect(syns.filter((s) => s === '172.17.0.1 > 172.17.0.2')).toHaveLength(6);
    expect(syns.filter((s) => s === '172.17.0.2 > 192.168.1.10')).toHaveLength(2);

    // libnetwork's tcp_proxy.go broker half-closes (io.Copy, then to.CloseWrite()): the
    // container's FIN to the published port becomes docker-proxy's FIN to the container's
    // server, and only the server's FIN back becomes docker-proxy's FIN to the client.
    const fins = ipv4Frames(r.captureFiles.get('host/web/eth0')!).filter((f) => f.proto === 6 && (f.tcpFlags & 0x01) !== 0 && f.t > 1).slice(0, 4);
    expect(fins.map((f) => `${f.src}:${f.sport} > ${f.dst}:${f.dport}`.replace(/:\d{5}/g, ':*'))).toEqual(['172.17.0.2:* > 192.168.1.10:8080', '172.17.0.1:* > 172.17.0.2:80', '172.17.0.2:80 > 172.17.0.1:*', '192.168.1.10:8080 > 172.17.0.2:*']);
    // The FIN to the client waits for the server's FIN and one copy (10 us) after it.
    expect(fins[3]!.t - fins[2]!.t).toBeGreaterThanOrEqual(10e-6);
  });

  // libnetwork's udp_proxy.go keeps a client's socket for UDPConnTrackTimeout (90 s);
  // kube-proxy's userspace mode for --udp-timeout (250 ms). Datagrams 500 ms apart
  // reach the container from one proxy socket.
  test('docker-proxy keeps a UDP client\'s socket for 90 s', () => {
    const text = readFileSync(resolveScenarioPath('docker-proxy'), 'utf8').replace('count: 4, rate: 10, requestSize: 40', 'count: 2, rate: 2, requestSize: 40');
    expect(text).toContain('count: 2, rate: 2, requestSize: 40');
    const r = runTopology(expandScenario(parseScenario(text, 'docker-proxy.yaml')), { outDir: join(work, 'udp') });
    const udp = (r.results.flows as { name: string; sent: number; received: number }[]).find((f) => f.name === 'host -> localhost:5301 udp')!;
    expect([udp.sent, udp.received]).toEqual([2, 2]);
    const toEcho = ipv4Frames(r.captureFiles.get('host/echo/eth0')!).filter((f) => f.proto === 17 && f.dport === 40053);
    expect(toEcho).toHaveLength(2);
    expect(new Set(toEcho.map((f) => f.sport)).size).toBe(1);
  });

  test('hand-written iptables and published ports on one docker node are refused', () => {
    const text = `
name: x
runtime: docker
routing: none
underlay: { cidr: 192.168.1.0/24, gateway: 192.168.1.1 }
nodes:
  - name: host
    address: 192.168.1.10
    podCIDR: 172.17.0.0/16
    iptables: "*nat\\nCOMMIT\\n"
    pods:
      - { name: web, hostPorts: [{ hostPort: 8080, containerPort: 80 }] }
traffic: []
`;
    expect(() => parseScenario(text, 'x.yaml')).toThrow(/hostPorts: with runtime docker, Docker writes the node's rules for its published ports/);
  });
});
