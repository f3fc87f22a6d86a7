/**
 * ip sets as ipset(8) documents them, used from a scenario's rules with
 * -m set --match-set (xt_set): hash:ip, hash:net, hash:ip,port, bitmap:port.
 */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpSetTable } from '../../models/netfilter/ipset.js';
import { parseIpv4 } from '../../models/wire/addr.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { ScenarioError } from '../../scenarios/errors.js';

const ip = parseIpv4;

describe('ip set types', () => {
  test('hash:ip holds addresses; a CIDR element adds each address of it', () => {
    const s = IpSetTable.of('a', 'hash:ip', ['10.0.0.1', '10.1.0.0/30']);
    expect([ip('10.0.0.1'), ip('10.1.0.3'), ip('10.1.0.4'), ip('10.0.0.2')].map((a) => s.test(a, 6, 0))).toEqual([true, true, false, false]);
  });
  test('hash:net matches any address inside any of its networks', () => {
    const s = IpSetTable.of('n', 'hash:net', ['10.244.0.0/16', '192.168.1.7']);
    expect(s.test(ip('10.244.99.1'), 17, 0)).toBe(true);
    expect(s.test(ip('192.168.1.7'), 17, 0)).toBe(true);
    expect(s.test(ip('192.168.1.8'), 17, 0)).toBe(false);
  });
  test('hash:ip,port keys on address, protocol and port (tcp by default)', () => {
    const s = IpSetTable.of('p', 'hash:ip,port', ['10.96.0.10,tcp:80', '10.96.0.10,udp:53-54', '10.0.0.1,443', '10.0.0.2,icmp:8/0']);
    expect(s.test(ip('10.96.0.10'), 6, 80)).toBe(true);
    expect(s.test(ip('10.96.0.10'), 17, 80)).toBe(false);
    expect(s.test(ip('10.96.0.10'), 17, 54)).toBe(true);
    expect(s.test(ip('10.0.0.1'), 6, 443)).toBe(true);
    expect(s.test(ip('10.0.0.2'), 1, 8 << 8)).toBe(true);
  });
  test('bitmap:port holds ports of any protocol', () => {
    const s = IpSetTable.of('b', 'bitmap:port', ['30000-30002', '8080']);
    expect([29999, 30000, 30002, 8080, 8081].map((p) => s.test(0, 6, p))).toEqual([false, true, true, true, false]);
  });
  test('bad elements say what is wrong', () => {
    expect(() => IpSetTable.of('p', 'hash:ip,port', ['10.0.0.1'])).toThrow(/not an ip,port element/);
    expect(() => IpSetTable.of('p', 'hash:ip,port', ['10.0.0.1,gre:1'])).toThrow(/unknown protocol "gre"/);
    expect(() => IpSetTable.of('b', 'bitmap:port', ['70000'])).toThrow(/not a port/);
  });
});

const scenario = (entries: string, rule: string) => `
name: sets
duration: 1s
nodes:
  - name: n1
    pods: [{ name: a, ip: 10.244.1.2 }, { name: b, ip: 10.244.1.3 }]
    ipsets:
      - { name: BLOCKED, type: "hash:ip,port", entries: [${entries}] }
    iptables: |
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      ${rule}
      COMMIT
servers: [{ on: n1/b, port: 9000, responseSize: 8 }, { on: n1/b, port: 9001, responseSize: 8 }]
traffic:
  - udp: { name: to 9000, from: n1/a, to: n1/b, port: 9000, count: 2, rate: 10, requestSize: 8, responseSize: 8 }
  - udp: { name: to 9001, from: n1/a, to: n1/b, port: 9001, count: 2, rate: 10, requestSize: 8, responseSize: 8 }
capture: none
`;

describe('-m set in a scenario', () => {
  test('a FORWARD rule drops what the set holds and nothing else', () => {
    const text = scenario('"10.244.1.3,udp:9000"', '-A FORWARD -m set --match-set BLOCKED dst,dst -j DROP');
    const r = runTopology(expandScenario(parseScenario(text, 'sets.yaml')), { outDir: join(mkdtempSync(join(tmpdir(), 'pw-set-')), 'o') });
    expect((r.results.flows as { name: string; received: number }[]).map((f) => [f.name, f.received])).toEqual([
      ['to 9000', 0],
      ['to 9001', 2],
    ]);
  });
  test('a bad element and a rule naming a missing set are errors at their lines', () => {
    const bad = () => parseScenario(scenario('"10.244.1.3"', '-A FORWARD -j ACCEPT'), 'sets.yaml');
    expect(bad).toThrow(ScenarioError);
    expect(bad).toThrow(/sets\.yaml:8:\d+: nodes\[0\]\.ipsets\[0\]\.entries\[0\]: "10\.244\.1\.3" is not an ip,port element/);
    const missing = () => parseScenario(scenario('"10.244.1.3,udp:9000"', '-A FORWARD -m set --match-set NOPE dst -j DROP'), 'sets.yaml');
    expect(missing).toThrow(/sets\.yaml:14:\d+: nodes\[0\]\.iptables: .*NOPE/);
  });

  test('nfacct objects declared on the node count what -m nfacct rules match', () => {
    const text = scenario('"10.244.1.3,udp:9000"', '-A FORWARD -m nfacct --nfacct-name to-b -j ACCEPT').replace(
      '    ipsets:',
      '    nfacct: [to-b]\n    ipsets:',
    );
    const out = join(mkdtempSync(join(tmpdir(), 'pw-acct-')), 'o');
    runTopology(expandScenario(parseScenario(text, 'sets.yaml')), { outDir: out });
    // 2 requests + 2 responses per flow, two flows, all forwarded by the node bridge.
    expect(readFileSync(join(out, 'netfilter', 'n1.nfacct'), 'utf8')).toMatch(/pkts = 0+8, bytes = 0+\d+ } = to-b;/);
    const missing = () => parseScenario(scenario('"10.244.1.3,udp:9000"', '-A FORWARD -m nfacct --nfacct-name nope -j ACCEPT'), 'sets.yaml');
    expect(missing).toThrow(/nodes\[0\]\.iptables: .*nope/);
  });
});
