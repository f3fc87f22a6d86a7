/**
 * Broken scenarios and the exact messages they must produce: the field path,
 * the problem, and where it is in the file (line:col of the value, of the
 * offending key, or of the enclosing mapping for a missing or defaulted field).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ScenarioError } from '../../scenarios/errors.js';
import { loadScenarioFile, parseScenario } from '../../scenarios/loader.js';
import { scenarioErrors } from '../helpers/scenario-errors.js';

const NODES = 'nodes:\n  - name: n1\n    pods: [{ name: p1 }]\n';

const cases: { what: string; text: string; errors: string[] }[] = [
  {
    what: 'misspelt key, with a suggestion',
    text: 'name: x\nnodes:\n  - name: n1\n    podCidr: 10.244.1.0/24\n',
    errors: ['x.yaml:4:5: nodes[0]: unknown key "podCidr" (did you mean "podCIDR"?)'],
  },
  {
    what: 'unknown top-level key without a close match',
    text: `name: x\n${NODES}colour: blue\n`,
    errors: [
      'x.yaml:5:1: scenario: unknown key "colour" (expected name, description, seed, duration, runtime, vethDelay, loopbackDelay, mtu, clusterCIDR, routing, vxlan, podMtu, underlay, cni, networks, nodes, scale, externalHosts, traffic, capture, netfilter, tcp, servers, serviceCIDR, kubeProxy, serviceLoad, manifests, services or sweep)',
    ],
  },
  {
    what: 'TCP buffer sizes out of order',
    text: `name: x\n${NODES}tcp:\n  wmem: [4096, 8388608, 4194304]\n`,
    errors: ['x.yaml:6:9: tcp.wmem: must be [min, default, max] with min <= default <= max, got [4096, 8388608, 4194304]'],
  },
  {
    what: 'unknown congestion control',
    text: `name: x\n${NODES}tcp:\n  congestionControl: bbr\n`,
    errors: ['x.yaml:6:22: tcp.congestionControl: unknown value "bbr" (expected reno or cubic)'],
  },
  {
    what: 'SACK setting not a boolean',
    text: `name: x\n${NODES}tcp:\n  sack: off\n`,
    errors: ['x.yaml:6:9: tcp.sack: must be true or false (got "off")'],
  },
  {
    what: 'TCP buffer sizes not three',
    text: `name: x\n${NODES}tcp:\n  rmem: [4096, 131072]\n`,
    errors: ['x.yaml:6:9: tcp.rmem: must list at least 3'],
  },
  {
    what: "a node's TCP buffer sizes out of order",
    text: 'name: x\nnodes:\n  - name: n1\n    tcp:\n      wmem: [4096, 8388608, 4194304]\n',
    errors: ['x.yaml:5:13: nodes[0].tcp.wmem: must be [min, default, max] with min <= default <= max, got [4096, 8388608, 4194304]'],
  },
  {
    what: "a node's SACK setting not a boolean",
    text: 'name: x\nnodes:\n  - name: n1\n  - name: n2\n    tcp: { sack: off }\n',
    errors: ['x.yaml:5:18: nodes[1].tcp.sack: must be true or false (got "off")'],
  },
  {
    what: 'invalid duration',
    text: `name: x\nduration: 2 sec\n${NODES}`,
    errors: ['x.yaml:2:11: duration: invalid duration "2 sec" (expected e.g. 2s, 200ms, 50us, 100ns)'],
  },
  {
    what: 'zero underlay delay',
    text: `name: x\nunderlay:\n  delay: 0s\n${NODES}`,
    errors: ['x.yaml:3:10: underlay.delay: must be positive (node links are where a partitioned run cuts the topology)'],
  },
  {
    what: 'pod IP outside the podCIDR',
    text: 'name: x\nnodes:\n  - name: n1\n    pods:\n      - { name: a }\n      - { name: b }\n      - { name: c, ip: 10.244.2.7 }\n',
    errors: ["x.yaml:7:24: nodes[0].pods[2].ip: 10.244.2.7 is outside the node's podCIDR 10.244.1.0/24"],
  },
  {
    what: 'pod IP used twice',
    text: 'name: x\nnodes:\n  - name: n1\n    pods:\n      - { name: a, ip: 10.244.1.2 }\n      - { name: b, ip: 10.244.1.2 }\n',
    errors: ['x.yaml:6:24: nodes[0].pods[1].ip: 10.244.1.2 is already used by nodes[0].pods[0]'],
  },
  {
    what: 'pod IP on the gateway',
    text: 'name: x\nnodes:\n  - name: n1\n    pods:\n      - name: a\n        ip: 10.244.1.1\n',
    errors: ['x.yaml:6:13: nodes[0].pods[0].ip: 10.244.1.1 is the gateway address of podCIDR 10.244.1.0/24'],
  },
  {
    what: 'unknown endpoint node',
    text: `name: x\nnodes:\n  - name: n1\n  - name: n2\ntraffic:\n  - ping: { from: n1, to: n3/p1 }\n`,
    errors: ['x.yaml:6:27: traffic[0].ping.to: unknown endpoint "n3/p1" (nodes are n1, n2)'],
  },
  {
    what: 'unknown endpoint container',
    text: `name: x\n${NODES}traffic:\n  - udp:\n      from: n1/p1/web\n      to: n1\n`,
    errors: ['x.yaml:7:13: traffic[0].udp.from: unknown endpoint "n1/p1/web" (containers of n1/p1 are main)'],
  },
  {
    what: 'podCIDR outside clusterCIDR',
    text: 'name: x\nnodes:\n  - name: n1\n    podCIDR: 10.245.1.0/24\n',
    errors: ['x.yaml:4:14: nodes[0].podCIDR: 10.245.1.0/24 is outside clusterCIDR 10.244.0.0/16'],
  },
  {
    what: 'podCIDR overlapping the underlay (docker: no clusterCIDR)',
    text: 'name: x\nruntime: docker\nnodes:\n  - name: host\n    podCIDR: 192.168.49.128/25\n',
    errors: ['x.yaml:5:14: nodes[0].podCIDR: 192.168.49.128/25 overlaps underlay.cidr (192.168.49.0/24)'],
  },
  {
    what: 'podCIDR in the loopback range',
    text: 'name: x\nruntime: docker\nnodes:\n  - name: host\n    podCIDR: 127.1.0.0/16\n',
    errors: ['x.yaml:5:14: nodes[0].podCIDR: 127.1.0.0/16 overlaps the loopback range 127.0.0.0/8'],
  },
  {
    what: 'podCIDR with host bits',
    text: 'name: x\nnodes:\n  - name: n1\n    podCIDR: 10.244.1.9/24\n',
    errors: ['x.yaml:4:14: nodes[0].podCIDR: 10.244.1.9/24 has host bits set (the prefix is 10.244.1.0/24)'],
  },
  {
    what: 'node address outside the underlay, on the gateway, duplicated',
    text:
      'name: x\nnodes:\n  - { name: n1, address: 10.0.0.2 }\n  - { name: n2, address: 192.168.49.1 }\n' +
      '  - { name: n3, address: 192.168.49.7 }\n  - { name: n4, address: 192.168.49.7 }\n',
    errors: [
      'x.yaml:3:26: nodes[0].address: 10.0.0.2 is outside the underlay cidr 192.168.49.0/24',
      'x.yaml:4:26: nodes[1].address: 192.168.49.1 is the underlay gateway',
      'x.yaml:6:26: nodes[3].address: 192.168.49.7 is already used by nodes[2]',
    ],
  },
  {
    what: 'a defaulted address colliding with an explicit one points at the node',
    text: 'name: x\nnodes:\n  - { name: n1, address: 192.168.49.3 }\n  - { name: n2 }\n',
    errors: ['x.yaml:4:5: nodes[1].address: 192.168.49.3 (the default, underlay host 3) is already used by nodes[0]'],
  },
  {
    what: 'a defaulted podCIDR overlapping an explicit one points at the node',
    text: 'name: x\nnodes:\n  - name: n1\n    podCIDR: 10.244.2.0/23\n  - name: n2\n',
    errors: ['x.yaml:5:5: nodes[1].podCIDR: 10.244.2.0/24 (the default) overlaps nodes[0].podCIDR (10.244.2.0/23)'],
  },
  {
    what: 'more pods than the podCIDR holds',
    text:
      'name: x\nnodes:\n  - name: n1\n    podCIDR: 10.244.1.0/30\n    pods:\n      - { name: a }\n      - { name: b }\n',
    errors: ['x.yaml:6:7: nodes[0].pods: 2 pods do not fit podCIDR 10.244.1.0/30 (1 address after the gateway)'],
  },
  {
    what: 'duplicate node, pod and container names',
    text:
      'name: x\nnodes:\n  - name: n1\n    pods:\n      - { name: a, containers: [app, app] }\n      - { name: a }\n  - name: n1\n',
    errors: [
      'x.yaml:5:38: nodes[0].pods[0].containers[1]: "app" is already used by containers[0]',
      'x.yaml:6:17: nodes[0].pods[1].name: "a" is already used by nodes[0].pods[0]',
      'x.yaml:7:11: nodes[1].name: "n1" is already used by nodes[0]',
    ],
  },
  {
    what: 'capture points that do not exist',
    text: `name: x\n${NODES}capture:\n  - n1/p1/eth1\n  - n1/p2/eth0\n  - n1/p1/lo\n`,
    errors: [
      'x.yaml:6:5: capture[0]: unknown capture point "n1/p1/eth1" (interfaces of n1/p1 are eth0, lo)',
      'x.yaml:7:5: capture[1]: unknown capture point "n1/p2/eth0" (no namespace "n1/p2"; namespaces are underlay, n1, n1/p1)',
    ],
  },
  {
    what: 'nodes and scale together',
    text: `name: x\n${NODES}scale: { nodes: 3 }\n`,
    errors: ['x.yaml:5:8: scale: give either nodes or scale, not both'],
  },
  {
    what: 'neither nodes nor scale',
    text: '# nothing but a name\nname: x\n',
    errors: ['x.yaml:2:1: nodes: is required (or scale, to generate nodes)'],
  },
  {
    what: 'negative count, loss of 1, unknown runtime, wrong type',
    text:
      `name: x\nruntime: containerd\nunderlay: { loss: 1 }\nmtu: big\n${NODES}` +
      'traffic:\n  - ping: { from: n1/p1, to: n1, count: -2 }\n',
    errors: [
      'x.yaml:2:10: runtime: unknown value "containerd" (expected cni or docker)',
      'x.yaml:3:19: underlay.loss: must be < 1 (got 1)',
      'x.yaml:4:6: mtu: must be an integer (got "big")',
      'x.yaml:9:41: traffic[0].ping.count: must be >= 1 (got -2)',
    ],
  },
  {
    what: 'a traffic item with two kinds, and a missing field',
    text: `name: x\n${NODES}traffic:\n  - ping: { from: n1/p1, to: n1 }\n    udp: { from: n1/p1 }\n`,
    errors: [
      'x.yaml:6:5: traffic[0]: must hold exactly one of ping, udp, tcp, pingAll, udpAll or tcpAll',
      'x.yaml:7:10: traffic[0].udp.to: is required',
    ],
  },
  {
    what: 'duplicate explicit flow names',
    text: `name: x\n${NODES}traffic:\n  - ping: { from: n1/p1, to: n1, name: probe }\n  - udp: { from: n1/p1, to: n1, name: probe }\n`,
    errors: ['x.yaml:7:39: traffic[1].udp.name: duplicate flow name "probe" (also traffic[0].ping.name)'],
  },
  {
    what: 'a pattern that yields no flows',
    text: `name: x\n${NODES}traffic:\n  - pingAll: { pattern: cross-node }\n`,
    errors: ['x.yaml:6:25: traffic[0].pingAll.pattern: cross-node yields no flows here (it needs at least 2 nodes with pods)'],
  },
  {
    what: 'scale beyond the default ranges',
    text: 'name: x\nscale:\n  nodes: 300\n  podsPerNode: 254\n',
    errors: [
      'x.yaml:3:10: scale.nodes: 300 nodes do not fit clusterCIDR 10.244.0.0/16 (255 node ranges of /24)',
      'x.yaml:3:10: scale.nodes: 300 nodes do not fit underlay cidr 192.168.49.0/24 (node addresses are hosts 2..301; it has 254)',
      'x.yaml:4:16: scale.podsPerNode: 254 pods do not fit a /24 podCIDR (253 addresses after the gateway)',
    ],
  },
  {
    what: 'YAML syntax error',
    text: 'name: x\nnodes:\n  - name: n1: n2\n',
    errors: ['x.yaml:3:11: YAML syntax: Nested mappings are not allowed in compact mappings'],
  },
  {
    what: 'an empty file',
    text: '',
    errors: ['x.yaml:1:1: scenario: must be a mapping (got nothing)'],
  },
];

describe('broken scenarios', () => {
  it.each(cases)('$what', ({ text, errors }) => {
    expect(scenarioErrors(() => parseScenario(text, 'x.yaml'))).toEqual(errors);
  });

  it('gives the errors as data too', () => {
    try {
      parseScenario(cases[0]!.text, 'x.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      expect((e as ScenarioError).errors).toEqual([
        { path: 'nodes[0]', line: 4, col: 5, message: 'unknown key "podCidr" (did you mean "podCIDR"?)' },
      ]);
      expect((e as ScenarioError).fileName).toBe('x.yaml');
    }
  });
});

describe('broken scenario files', () => {
  const file = (name: string) => fileURLToPath(new URL(`broken/${name}`, import.meta.url));

  it('cross.yaml: the overlap example of the format specification', () => {
    const path = file('cross.yaml');
    expect(scenarioErrors(() => loadScenarioFile(path))).toEqual([
      `${path}:14:14: nodes[1].podCIDR: 10.244.1.0/24 overlaps nodes[0].podCIDR (10.244.1.0/24)`,
    ]);
    // The message names the file as given.
    expect(scenarioErrors(() => parseScenario(readFileSync(path, 'utf8'), 'cross.yaml'))).toEqual([
      'cross.yaml:14:14: nodes[1].podCIDR: 10.244.1.0/24 overlaps nodes[0].podCIDR (10.244.1.0/24)',
    ]);
  });

  it('many.yaml: every semantic mistake, in file order', () => {
    const text = readFileSync(file('many.yaml'), 'utf8');
    expect(scenarioErrors(() => parseScenario(text, 'many.yaml'))).toEqual([
      'many.yaml:7:5: nodes[0].address: 192.168.49.2 (the default, underlay host 2) is the underlay gateway',
      'many.yaml:10:13: nodes[0].pods[0].ip: 10.244.1.1 is the gateway address of podCIDR 10.244.1.0/24',
      'many.yaml:11:15: nodes[0].pods[1].name: "web" is already used by nodes[0].pods[0]',
      'many.yaml:12:27: nodes[0].pods[1].containers[1]: "app" is already used by containers[0]',
      'many.yaml:14:14: nodes[1].address: 192.168.49.2 is the underlay gateway',
      'many.yaml:15:14: nodes[1].podCIDR: 10.245.0.0/24 is outside clusterCIDR 10.244.0.0/16',
      'many.yaml:17:31: traffic[0].ping.to: unknown endpoint "n2/db" (n2 has no pods)',
      'many.yaml:17:45: traffic[0].ping.start: 2s is not before the end of the run (duration 1s)',
      'many.yaml:18:18: traffic[1].udp.from: unknown endpoint "n1/web/cache" (containers of n1/web are main)',
      'many.yaml:19:32: capture[2]: unknown capture point "n1/veth0" (interfaces of n1 are cni0, eth0, vethweb, vethweb1, lo)',
      'many.yaml:19:42: capture[3]: unknown capture point "n2/p1/eth0" (no namespace "n2/p1"; namespaces are underlay, n1, n1/web, n2)',
    ]);
  });

  it('syntax.yaml: the YAML error with its line', () => {
    const text = readFileSync(file('syntax.yaml'), 'utf8');
    const errors = scenarioErrors(() => parseScenario(text, 'syntax.yaml'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^syntax\.yaml:5:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a \]$/);
  });
});
