/**
 * Netfilter wired into the stack (net/ipv4/ip_input.c, ip_forward.c,
 * ip_output.c NF_HOOK calls; net/bridge/br_netfilter_hooks.c): rules loaded
 * from a scenario act on packets at the right hooks, DNAT is undone on
 * replies, REJECT answers with ICMP, drops are counted as NETFILTER_DROP.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenario } from '../../scenarios/library.js';
import { runTopology } from '../../scenarios/run.js';
import { traceTopology } from '../../scenarios/trace.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { ipv4Dst, ipv4Src, ipv4Ttl } from '../../models/wire/ipv4.js';
import { read16 } from '../../models/wire/bytes.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-nf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** UDP frames of a capture as "src:sport > dst:dport ttl N". */
function udpFrames(file: string): string[] {
  return readCapture(file)
    .packets.filter((p) => p.data[12] === 0x08 && p.data[13] === 0x00 && p.data[23] === 17)
    .map((p) => {
      const b = p.data;
      return `${formatIpv4(ipv4Src(b, 14))}:${read16(b, 34)} > ${formatIpv4(ipv4Dst(b, 14))}:${read16(b, 36)} ttl ${ipv4Ttl(b, 14)}`;
    });
}

function twoPods(rules: string, traffic: string): string {
  return `
name: nf
duration: 1s
nodes:
  - name: n1
    pods: [{ name: a, ip: 10.244.1.2 }, { name: b, ip: 10.244.1.3 }]
    iptables: |
${rules
  .trim()
  .split('\n')
  .map((l) => `      ${l.trim()}`)
  .join('\n')}
servers: [{ on: n1/b, port: 8080, responseSize: 8 }]
traffic:
${traffic}
capture: [n1/a/eth0, n1/b/eth0, n1/cni0]
`;
}

describe('netfilter in the stack', () => {
  test('service-nat: DNAT picks b1, b2, b1 by nth; replies come back from the VIP; b1 reaching itself is masqueraded', () => {
    const r = runTopology(expandScenario(resolveScenario('service-nat')), { outDir: join(work, 'svc') });
    for (const f of r.results.flows as { name: string; sent: number; received: number }[]) expect(f.received, f.name).toBe(f.sent);
    const client = udpFrames(r.captureFiles.get('n1/client/eth0')!);
    expect(client.every((l) => l.includes('10.96.0.10:80'))).toBe(true);
    expect(client.filter((l) => l.startsWith('10.96.0.10:80'))).toHaveLength(6);
    // conn 1 to b1 on the same bridge: bridged DNAT, TTL untouched.
    expect(udpFrames(r.captureFiles.get('n1/b1/eth0')!)).toContain('10.244.1.2:40001 > 10.244.1.3:8080 ttl 64');
    // conn 2 to b2 on n2: routed by n1 and n2.
    expect(udpFrames(r.captureFiles.get('n2/b2/eth0')!)).toContain('10.244.1.2:40002 > 10.244.2.2:8080 ttl 62');
    // b1 -> VIP -> b1: hairpinned and masqueraded to cni0's address.
    expect(udpFrames(r.captureFiles.get('n1/b1/eth0')!)).toContain('10.244.1.1:40003 > 10.244.1.3:8080 ttl 64');
  });

  test('DROP in FORWARD (bridged, br_netfilter) drops and counts NETFILTER_DROP', () => {
    const text = twoPods(
      `*filter
       :INPUT ACCEPT [0:0]
       :FORWARD ACCEPT [0:0]
       :OUTPUT ACCEPT [0:0]
       -A FORWARD -d 10.244.1.3/32 -p udp -m udp --dport 8080 -j DROP
       COMMIT`,
      '  - udp: { from: n1/a, to: n1/b, port: 8080, count: 2, rate: 10, requestSize: 8, responseSize: 8 }',
    );
    const r = runTopology(expandScenario(parseScenario(text, 'nf.yaml')), { outDir: join(work, 'drop') });
    const flow = (r.results.flows as { received: number; sent: number }[])[0]!;
    expect(flow.sent).toBe(2);
    expect(flow.received).toBe(0);
    expect(r.results.drops['n1']).toEqual({ NETFILTER_DROP: 2 });
    expect(udpFrames(r.captureFiles.get('n1/b/eth0')!)).toEqual([]);
  });

  test('REJECT answers with ICMP port unreachable, which the client counts', () => {
    const text = twoPods(
      `*filter
       :INPUT ACCEPT [0:0]
       :FORWARD ACCEPT [0:0]
       :OUTPUT ACCEPT [0:0]
       -A FORWARD -d 10.244.1.3/32 -p udp -j REJECT --reject-with icmp-port-unreachable
       COMMIT`,
      '  - udp: { from: n1/a, to: n1/b, port: 8080, count: 1, requestSize: 8, responseSize: 8 }',
    );
    const r = runTopology(expandScenario(parseScenario(text, 'nf.yaml')), { outDir: join(work, 'reject') });
    const flow = (r.results.flows as { errors: Record<string, number> }[])[0]!;
    expect(flow.errors).toEqual({ 'destination port unreachable': 1 });
  });

  test('REJECT with conntrack: the rejected packet keeps its own connection state while the answer runs the hooks', () => {
    // REJECT sends its ICMP error through this namespace's OUTPUT and POSTROUTING
    // while the FORWARD hook that rejected is still running: the hooks nest.
    const text = twoPods(
      `*filter
       :INPUT ACCEPT [0:0]
       :FORWARD ACCEPT [0:0]
       :OUTPUT ACCEPT [0:0]
       -A FORWARD -d 10.244.1.3/32 -p udp -m conntrack --ctstate NEW -j REJECT --reject-with icmp-port-unreachable
       COMMIT`,
      '  - udp: { name: u, from: n1/a, to: n1/b, port: 8080, count: 1, requestSize: 8, responseSize: 8 }',
    );
    const trace = traceTopology(expandScenario(parseScenario(text, 'nf.yaml')), { flow: 'u', packet: 1 }).format();
    expect(trace).toMatch(/n1\s+hook\s+FORWARD \(bridge cni0 port vethb\): DROP, ct NEW, .*UDP 10\.244\.1\.2:\d+ > 10\.244\.1\.3:8080/);
  });

  test('a bad rule in a scenario is reported at its line in the scenario file', () => {
    const text = twoPods(
      `*filter
       :INPUT ACCEPT [0:0]
       -A INPUT -m frobnicate -j ACCEPT
       COMMIT`,
      '  - ping: { from: n1/a, to: n1/b }',
    );
    // The rule is the 3rd line of the block that starts after line 7 ("iptables: |").
    expect(() => parseScenario(text, 'nf.yaml')).toThrow(/nf\.yaml:10:\d+: nodes\[0\]\.iptables: .*frobnicate/);
  });

  test('trace: the first packet of conn 2 is followed through DNAT, routing and the wire', () => {
    const spec = expandScenario(resolveScenario('service-nat'));
    const tracer = traceTopology(spec, { flow: 'client conn 2', packet: 1, followReply: true });
    const text = tracer.format();
    expect(text).toMatch(/n1\/client\s+route\s+output: default via 10\.244\.1\.1 dev eth0/);
    expect(text).toMatch(/n1\s+hook\s+PREROUTING \(bridge cni0 port vethclient\): ACCEPT, ct NEW.*UDP 10\.244\.1\.2:40002 > 10\.244\.2\.2:8080/);
    expect(text).toMatch(/n1\s+nat\s+PREROUTING: 10\.244\.1\.2:40002 > 10\.96\.0\.10:80 -> 10\.244\.1\.2:40002 > 10\.244\.2\.2:8080/);
    expect(text).toMatch(/n1\s+route\s+forward: 10\.244\.2\.0\/24 via 192\.168\.49\.3 dev eth0/);
    expect(text).toMatch(/n2\/b2\s+deliver\s+UDP socket on port 8080/);
    // The reply, un-DNATed at n1: from the VIP.
    expect(text).toMatch(/n1\/client\/eth0\s+rx\s+.*10\.96\.0\.10:80 > 10\.244\.1\.2:40002/);
  });

  test('nf_conntrack_max: a connection beyond the table size is dropped and counted as table full', () => {
    const text = twoPods(
      `*filter
       :INPUT ACCEPT [0:0]
       :FORWARD ACCEPT [0:0]
       :OUTPUT ACCEPT [0:0]
       -A FORWARD -m conntrack --ctstate INVALID -j DROP
       COMMIT`,
      `  - udp: { name: first, from: n1/a, to: n1/b, port: 8080, sourcePort: 1001, count: 1, requestSize: 8, responseSize: 8 }
  - udp: { name: second, from: n1/a, to: n1/b, port: 8080, sourcePort: 1002, count: 1, requestSize: 8, responseSize: 8, start: 100ms }`,
    ).replace('    iptables: |', '    conntrackMax: 1\n    iptables: |');
    const r = runTopology(expandScenario(parseScenario(text, 'nf.yaml')), { outDir: join(work, 'ctmax') });
    const flows = r.results.flows as { name: string; received: number }[];
    expect(flows.map((f) => [f.name, f.received])).toEqual([
      ['first', 1],
      ['second', 0],
    ]);
    expect(r.results.conntrack['n1']).toMatchObject({ entries: 1, dropTableFull: 1 });
    expect(r.results.drops['n1']).toEqual({ NETFILTER_DROP: 1 });
  });

  test('trace --all-rules lists rules that did not match, with their match result', () => {
    const spec = expandScenario(resolveScenario('service-nat'));
    const matched = traceTopology(spec, { flow: 'client conn 2', packet: 1 }).format();
    const all = traceTopology(spec, { flow: 'client conn 2', packet: 1, allRules: true }).format();
    expect(matched).not.toMatch(/no match/);
    expect(all).toMatch(/nat KUBE-SVC-ECHO #2: .*--mode nth --every 2 --packet 0 -j KUBE-SEP-B1 -> no match/);
    expect(all).toMatch(/nat KUBE-SVC-ECHO #3: .* -j KUBE-SEP-B2 -> JUMP KUBE-SEP-B2/);
  });

  test('LOG and TRACE feed the namespace log and the tracer: a TRACE-marked packet is followed', () => {
    const text = twoPods(
      `*raw
       :PREROUTING ACCEPT [0:0]
       :OUTPUT ACCEPT [0:0]
       -A PREROUTING -p udp -m udp --dport 8080 -j TRACE
       COMMIT
       *filter
       :INPUT ACCEPT [0:0]
       :FORWARD ACCEPT [0:0]
       :OUTPUT ACCEPT [0:0]
       -A FORWARD -p udp -m udp --dport 8080 -j LOG --log-prefix "fwd: "
       COMMIT`,
      '  - udp: { from: n1/a, to: n1/b, port: 8080, count: 1, requestSize: 8, responseSize: 8 }',
    );
    const spec = expandScenario(parseScenario(text, 'nf.yaml'));
    const r = runTopology(spec, { outDir: join(work, 'log') });
    const log = r.world.namespaces.get('n1')!.netfilterLog;
    // The kernel logs a TRACE-marked packet from the entry after the TRACE rule on (trace_packet).
    expect(log.some((l) => l.includes('TRACE: raw:PREROUTING:policy:2'))).toBe(true);
    expect(log.some((l) => l.includes('TRACE: filter:FORWARD:rule:1'))).toBe(true);
    expect(log.some((l) => /fwd: IN=cni0 OUT=cni0 .*SRC=10\.244\.1\.2 DST=10\.244\.1\.3/.test(l))).toBe(true);
    // A tracer given no selection of its own still follows what TRACE marked.
    const tracer = traceTopology(spec, { proto: 'tcp', count: 0 });
    expect(tracer.format()).toMatch(/n1\s+log\s+fwd: IN=cni0/);
    expect(tracer.format()).toMatch(/n1\/b\/eth0\s+rx/);
  });
});
