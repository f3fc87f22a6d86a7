/**
 * `externalHosts:`: default addresses, traffic from and to them, capture
 * points, and the exact messages of a bad one.
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { parseErrors } from '../helpers/scenario-errors.js';

const NODES = 'nodes:\n  - name: n1\n    pods: [{ name: p1 }]\n  - name: n2\n';

describe('externalHosts', () => {
  it('defaults addresses to the next free ones after the nodes, skipping explicit ones', () => {
    const s = parseScenario(
      `name: x\n${NODES}externalHosts:\n  - { name: a }\n  - { name: b, address: 192.168.49.4 }\n  - { name: c }\n`,
      'x.yaml',
    );
    expect(s.externalHosts).toEqual([
      { name: 'a', address: '192.168.49.5' },
      { name: 'b', address: '192.168.49.4' },
      { name: 'c', address: '192.168.49.6' },
    ]);
  });

  it('runs traffic from and to an external host, classed "external", and captures its eth0', () => {
    const s = parseScenario(
      `name: x\n${NODES}externalHosts: [{ name: ext1, address: 192.168.49.100 }]\n` +
        'traffic:\n  - ping: { from: ext1, to: n1/p1 }\n  - ping: { from: n1/p1, to: ext1 }\n' +
        'capture: [ext1/eth0, underlay/ext1]\n',
      'x.yaml',
    );
    const t = expandScenario(s);
    expect(t.traffic.map((f) => [f.from.ns, f.to, f.toNs, f.class])).toEqual([
      ['ext1', '10.244.1.2', 'n1/p1', 'ping: external → pod, other node'],
      ['n1/p1', '192.168.49.100', 'ext1', 'ping: pod → external, other node'],
    ]);
    expect(t.captures).toEqual(['ext1/eth0', 'underlay/ext1']);
    expect(t.namespaces.map((n) => `${n.name}:${n.kind}:${n.component}`)).toEqual([
      'underlay:underlay:underlay',
      'n1:node:n1',
      'n1/p1:pod:n1',
      'n2:node:n2',
      'ext1:external:ext1',
    ]);
  });

  it('reports a name taken by a node, an address outside the underlay or taken, with the field path', () => {
    expect(
      parseErrors(
        `name: x\n${NODES}externalHosts:\n` +
          '  - { name: n2 }\n' +
          '  - { name: e1, address: 10.0.0.5 }\n' +
          '  - { name: e2, address: 192.168.49.3 }\n' +
          '  - { name: e3, address: 192.168.49.1 }\n' +
          '  - { name: e4, address: 192.168.49.50 }\n' +
          '  - { name: e4, address: 192.168.49.50 }\n',
      ),
    ).toEqual([
      'x.yaml:7:13: externalHosts[0].name: "n2" is already used by nodes[1]',
      'x.yaml:8:26: externalHosts[1].address: 10.0.0.5 is outside the underlay cidr 192.168.49.0/24',
      'x.yaml:9:26: externalHosts[2].address: 192.168.49.3 is already used by nodes[1] (n2)',
      'x.yaml:10:26: externalHosts[3].address: 192.168.49.1 is already used by the underlay gateway',
      'x.yaml:12:13: externalHosts[5].name: "e4" is already used by externalHosts[4]',
      'x.yaml:12:26: externalHosts[5].address: 192.168.49.50 is already used by externalHosts[4] (e4)',
    ]);
  });

  it('reports traffic from a pod of an external host, and unknown capture points', () => {
    expect(
      parseErrors(`name: x\n${NODES}externalHosts: [{ name: ext1 }]\ntraffic:\n  - ping: { from: ext1/p1, to: n1 }\ncapture: [ext1/cni0]\n`),
    ).toEqual([
      'x.yaml:8:19: traffic[0].ping.from: unknown endpoint "ext1/p1" (ext1 is an external host: no pods)',
      'x.yaml:9:11: capture[0]: unknown capture point "ext1/cni0" (interfaces of ext1 are eth0, lo)',
    ]);
  });
});
