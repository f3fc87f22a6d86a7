// podwire's side of the ns-3 comparison: the same workload as bridged-lan.cc or
// routed-cluster.cc, built from a scenario (YAML, as bench/simulation.bench.ts
// does) and run from dist/; prints one JSON line with the same keys as the
// ns-3 programs (peer-kit.h, PrintReport).
//
//   node bench/peers/ns3/podwire-side.mjs --topology bridged-lan --hosts 100
//   node bench/peers/ns3/podwire-side.mjs --topology routed-cluster --nodes 10 --podsPerNode 30
//
// Options as in the ns-3 programs: --count 10 --interval 100ms --duration 1100ms.
// --warmup N first builds and runs the same workload N times in this process, so
// the timed run measures JIT-compiled code (ns-3 is compiled ahead of time);
// maxRssKiB then includes the warm-up runs' garbage.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const dist = new URL('../../../dist/', import.meta.url);
const { parseScenario } = await import(new URL('scenarios/loader.js', dist).href);
const { expandScenario } = await import(new URL('scenarios/expand.js', dist).href);
const { buildWorld } = await import(new URL('scenarios/build.js', dist).href);
const { VethDevice } = await import(new URL('models/devices/veth.js', dist).href);
const { NicDevice } = await import(new URL('models/devices/nic.js', dist).href);

const { values: opt } = parseArgs({
  options: {
    topology: { type: 'string' },
    hosts: { type: 'string', default: '100' },
    nodes: { type: 'string', default: '10' },
    podsPerNode: { type: 'string', default: '30' },
    count: { type: 'string', default: '10' },
    interval: { type: 'string', default: '100ms' },
    duration: { type: 'string', default: '1100ms' },
    warmup: { type: 'string', default: '0' },
  },
});

function integer(name, min) {
  const n = Number(opt[name]);
  if (!Number.isInteger(n) || n < min) {
    console.error(`podwire-side: --${name} must be an integer >= ${min}, got ${opt[name]}`);
    process.exit(2);
  }
  return n;
}

/** The smallest podCIDR 10.244.0.0/len that holds the gateway and `hosts` pods (as bridged-lan.cc). */
function lanPrefixLen(hosts) {
  let len = 30;
  while (len > 8 && 2 ** (32 - len) < hosts + 3) len--;
  return len;
}

const count = integer('count', 1);
const warmup = integer('warmup', 0);
let yaml;
let size;
let pods;
if (opt.topology === 'bridged-lan') {
  const hosts = integer('hosts', 2);
  size = `H=${hosts}`;
  pods = hosts;
  yaml = `
name: ns3-bridged-lan
duration: ${opt.duration}
nodes:
  - name: n1
    podCIDR: 10.244.0.0/${lanPrefixLen(hosts)}
    pods: [${Array.from({ length: hosts }, (_, i) => `{name: p${i + 1}}`).join(', ')}]
traffic:
  - pingAll: { pattern: ring, count: ${count}, interval: ${opt.interval} }
capture: none
`;
} else if (opt.topology === 'routed-cluster') {
  const nodes = integer('nodes', 2);
  const podsPerNode = integer('podsPerNode', 1);
  size = `${nodes}x${podsPerNode}`;
  pods = nodes * podsPerNode;
  yaml = `
name: ns3-routed-cluster
duration: ${opt.duration}
scale: { nodes: ${nodes}, podsPerNode: ${podsPerNode} }
traffic:
  - pingAll: { pattern: cross-node, count: ${count}, interval: ${opt.interval} }
capture: none
`;
} else {
  console.error('podwire-side: --topology must be bridged-lan or routed-cluster');
  process.exit(2);
}

/** Frames that arrived at a device over its link: rx of every veth end and NIC (bridges and lo excluded). */
function frameHops(world) {
  let n = 0;
  for (const ns of world.namespaces.values()) {
    for (const dev of ns.devices.values()) {
      if (dev instanceof VethDevice || dev instanceof NicDevice) n += dev.counters.rxPackets;
    }
  }
  return n;
}

for (let i = 0; i < warmup; i++) {
  const w = buildWorld(expandScenario(parseScenario(yaml, `${opt.topology}.yaml`)));
  w.sim.run(w.spec.durationNs);
}

const t0 = performance.now();
const spec = expandScenario(parseScenario(yaml, `${opt.topology}.yaml`));
const world = buildWorld(spec);
const buildSeconds = (performance.now() - t0) / 1000;
const t1 = performance.now();
world.sim.run(spec.durationNs);
const wallSeconds = (performance.now() - t1) / 1000;

const report = {
  sim: 'podwire',
  version: process.version,
  topology: opt.topology,
  size,
  pods,
  events: world.sim.executed,
  frameHops: frameHops(world),
  echoRequests: world.flows.reduce((n, f) => n + f.sent, 0),
  echoReplies: world.flows.reduce((n, f) => n + f.received, 0),
  simulatedSeconds: spec.durationNs / 1e9,
  wallSeconds,
  buildSeconds,
  maxRssKiB: process.resourceUsage().maxRSS,
  warmupRuns: warmup,
};
console.log(JSON.stringify(report));
