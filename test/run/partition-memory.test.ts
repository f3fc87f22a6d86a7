import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { buildWorld } from '../../scenarios/build.js';
import { planPartitions } from '../../scenarios/partition-plan.js';
import { closePorts, partitionWiring } from '../../scenarios/partitioned-run.js';
import { openPartitionJob } from '../../scenarios/partition-job.js';
import { NicDevice } from '../../models/devices/nic.js';

// A partition is sent and builds only its part of the topology (numbering
// components, NICs and flows from a scope made from the whole spec), and must
// hold no more than that: otherwise each worker of a 2-way run holds a whole
// world, and the main thread copies the whole spec into every worker.

/** The collector, exposed in this process (a v8 flag, then a fresh context's global). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const YAML = `
name: partition-memory
duration: 10ms
scale: { nodes: 40, podsPerNode: 10 }
traffic:
  - udpAll: { pattern: cross-node, count: 2, rate: 1000 }
capture: none
`;

/**
 * Heap held by what `make` returns, after full collections: the median of five
 * tries, since the test runner's own work between two collections moves a
 * single reading of a few MB by a tenth or so.
 */
function retainedBy(gc: () => void, make: () => unknown): number {
  const kept: unknown[] = [];
  const tries: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    kept.push(make());
    gc();
    gc();
    tries.push(process.memoryUsage().heapUsed - before);
  }
  expect(kept.every((k) => k)).toBe(true); // holds every try until all are measured
  return tries.sort((a, b) => a - b)[2]!;
}

describe('a partition keeps only its own models', () => {
  const spec = expandScenario(parseScenario(YAML, 'partition-memory.yaml'));
  const plan = planPartitions(spec, 2);

  it('forgets the namespaces of other partitions and cuts the wires to them', () => {
    const staging = mkdtempSync(join(tmpdir(), 'pw-part-mem-'));
    const wiring = partitionWiring(spec, plan, spec.durationNs, false);
    try {
      const { part } = openPartitionJob({ ...wiring[0]!, staging, format: 'pcapng', epochSeconds: 0, singleCapture: false });
      const names = [...part.world.namespaces.keys()];
      const mine = spec.namespaces.filter((n) => plan.partOf.get(n.component) === 0).map((n) => n.name);
      expect(names).toEqual(mine);
      expect(mine.length).toBeLessThan(spec.namespaces.length);
      let cut = 0;
      for (const ns of part.world.namespaces.values()) {
        for (const dev of ns.devices.values()) {
          if (!(dev instanceof NicDevice) || dev.remote === null) continue;
          cut++;
          expect(dev.peer, dev.path).toBeNull();
        }
      }
      expect(cut).toBeGreaterThan(0);
    } finally {
      closePorts(wiring);
      rmSync(staging, { recursive: true, force: true });
    }
  });

  it('is sent only its namespaces, the links that touch them, every wire, and the flows it takes part in', () => {
    const wiring = partitionWiring(spec, plan, spec.durationNs, false);
    try {
      const own = (ns: string) => plan.partOf.get(spec.namespaces.find((n) => n.name === ns)!.component) === 0;
      const sent = wiring[0]!.spec;
      expect(sent.namespaces.map((n) => n.name)).toEqual(spec.namespaces.filter((n) => own(n.name)).map((n) => n.name));
      expect(sent.links.filter((l) => l.kind !== 'veth')).toEqual(spec.links.filter((l) => l.kind !== 'veth'));
      for (const l of sent.links) if (l.kind === 'veth') expect(own(l.a.ns) || own(l.b.ns)).toBe(true);
      // Request/response flows: those from a client here, or to a server here.
      const involved = spec.traffic.filter((t) => own(t.from.ns) || (t.toNs !== undefined ? own(t.toNs) : sent.namespaces.some((n) => n.interfaces.some((i) => i.addresses.some((a) => a.startsWith(`${t.to}/`))))));
      expect(sent.traffic).toEqual(involved);
      expect(sent.traffic.length).toBeLessThan(spec.traffic.length);
      // The scope numbers what is not sent as the whole spec does.
      expect(wiring[0]!.scope.components).toEqual([...new Set(spec.namespaces.map((n) => n.component))]);
      expect(wiring[0]!.scope.rows).toHaveLength(sent.traffic.length);
      expect(wiring[0]!.scope.wireEnds).toEqual(wiring[1]!.scope.wireEnds);
    } finally {
      closePorts(wiring);
    }
  });

  it('holds about half the heap of the whole world on 2 partitions', () => {
    const gc = collector();
    const whole = retainedBy(gc, () => buildWorld(spec));
    const staging = mkdtempSync(join(tmpdir(), 'pw-part-mem-'));
    const wiring = partitionWiring(spec, plan, spec.durationNs, false);
    try {
      const part = retainedBy(gc, () => openPartitionJob({ ...wiring[0]!, staging, format: 'pcapng', epochSeconds: 0, singleCapture: false }));
      // Each side runs 20 of the 40 nodes (the underlay switch goes to one of them).
      expect(part / whole).toBeLessThan(0.65);
      expect(part / whole).toBeGreaterThan(0.35);
    } finally {
      closePorts(wiring);
      rmSync(staging, { recursive: true, force: true });
    }
  });
});
