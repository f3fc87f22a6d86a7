/**
 * The statistics of a run (results.json), assembled from the shares of its
 * partitions. A sequential run is a run of one partition, so both paths go
 * through `collectShare` and `mergeShares` and cannot drift apart.
 *
 * Every namespace belongs to exactly one partition (the one running its
 * component): its devices, conntrack table and drops are reported from there.
 * Flow statistics are the one thing split across partitions (a one-way flow's
 * client and server may run apart); they are merged exactly (FlowStats.merge).
 */
import type { World } from './build.js';
import type { TopologySpec } from './topology.js';
import { FlowStats, type FlowStatsPartial } from '../models/stats/flow-stats.js';
import { flowRows } from './flow-rows.js';
import { DropCounter } from '../models/observer.js';
import { VethDevice } from '../models/devices/veth.js';
import { NicDevice } from '../models/devices/nic.js';

export interface Results {
  scenario: string;
  seed: number;
  durationNs: number;
  events: number;
  /** Frames that arrived at a device over its link (veth peer or wire): the unit of work compared across simulators. */
  frameHops: number;
  framesCaptured: number;
  flows: unknown[];
  /** Flows merged by class (scenarios/flow-class.ts), in order of first appearance. */
  classes: unknown[];
  drops: Record<string, Record<string, number>>;
  /** Per namespace with connection tracking: entries at the end and `conntrack -S` counters. */
  conntrack: Record<string, unknown>;
  devices: Record<string, unknown>;
}

/** One partition's part of the results: plain data, so it can cross from a worker thread. */
export interface ResultsShare {
  events: number;
  frameHops: number;
  framesCaptured: number;
  /** This partition's share of the statistics of each row it started traffic for, by its row in the whole run (scenarios/flow-rows.ts). */
  flows: { row: number; share: FlowStatsPartial }[];
  drops: [string, string, number][];
  /** Per local namespace: [device path, counters] of devices that saw traffic, in attach order. */
  devices: Record<string, [string, unknown][]>;
  conntrack: Record<string, unknown>;
}

/** This partition's share: what its local namespaces and components did. */
export function collectShare(world: World, framesCaptured: number): ResultsShare {
  const devices: Record<string, [string, unknown][]> = {};
  const conntrack: Record<string, unknown> = {};
  let frameHops = 0;
  for (const ns of world.namespaces.values()) {
    if (!ns.component.local) continue;
    const rows: [string, unknown][] = [];
    for (const dev of ns.devices.values()) {
      const c = dev.counters;
      if (dev instanceof VethDevice || dev instanceof NicDevice) frameHops += c.rxPackets;
      if (c.rxPackets + c.txPackets + c.rxDropped + c.txDropped === 0) continue;
      rows.push([dev.path, c.toJSON()]);
    }
    devices[ns.name] = rows;
    const ct = ns.netfilter?.conntrack;
    if (ct !== undefined && ct !== null) conntrack[ns.name] = { entries: ct.count, ...ct.stats };
  }
  return {
    events: world.sim.executed,
    frameHops,
    framesCaptured,
    flows: world.flows.map((f, k) => ({ row: world.flowRows[k]!, share: f.toPartial() })),
    drops: world.drops.toPartial(),
    devices,
    conntrack,
  };
}

/** The results of the whole run; namespaces are reported in topology order. */
export function mergeShares(spec: TopologySpec, durationNs: number, shares: readonly ResultsShare[]): Results {
  if (shares.length === 0) throw new Error('results: no partitions');
  const merged = flowRows(spec.traffic).rows;
  const classes = new Map<string, FlowStats>();
  const flowCount = new Map<string, number>();
  for (const f of merged) {
    if (f.flowClass === '') continue;
    flowCount.set(f.flowClass, (flowCount.get(f.flowClass) ?? 0) + f.members);
    if (!classes.has(f.flowClass)) classes.set(f.flowClass, new FlowStats(f.flowClass, f.kind, '', '', f.latency, f.flowClass));
  }
  const drops = new DropCounter();
  const devices: Record<string, unknown> = {};
  const conntrack: Record<string, unknown> = {};
  let events = 0;
  let frameHops = 0;
  let framesCaptured = 0;
  for (const s of shares) {
    events += s.events;
    frameHops += s.frameHops;
    framesCaptured += s.framesCaptured;
    for (const p of s.flows) {
      const row = merged[p.row];
      if (row === undefined) throw new Error(`results: a partition reported flow row ${p.row}, but the run has ${merged.length}`);
      row.merge(p.share);
      classes.get(row.flowClass)?.merge(p.share);
    }
    drops.merge(s.drops);
  }
  for (const ns of spec.namespaces) {
    const owner = shares.find((s) => s.devices[ns.name] !== undefined);
    if (owner === undefined) throw new Error(`results: no partition reported namespace ${ns.name}`);
    for (const [path, counters] of owner.devices[ns.name]!) devices[path] = counters;
    if (owner.conntrack[ns.name] !== undefined) conntrack[ns.name] = owner.conntrack[ns.name];
  }
  return {
    scenario: spec.name,
    seed: spec.seed,
    durationNs,
    events,
    frameHops,
    framesCaptured,
    flows: merged.map((f) => f.toJSON()),
    classes: [...classes.values()].map((c) => {
      const { name, kind, from: _from, to: _to, class: _class, ...stats } = c.toJSON();
      return { class: name, kind, flows: flowCount.get(c.flowClass), ...stats };
    }),
    drops: drops.toJSON(),
    conntrack,
    devices,
  };
}

/**
 * results.json's text: indented, except that each device's counters take one
 * line. A cluster of thousands of nodes reports hundreds of thousands of
 * devices; at twelve indented lines each they were most of the file (73 MB at
 * 5,000 nodes of 30 pods), and a line per device is easier to grep too.
 */
export function formatResults(results: Results): string {
  const { devices, ...rest } = results;
  // `devices` is the last key, so its placeholder is the end of the indented text.
  const head = JSON.stringify({ ...rest, devices: {} }, null, 2);
  const lines = Object.entries(devices).map(([path, counters]) => `    ${JSON.stringify(path)}: ${JSON.stringify(counters)}`);
  const body = lines.length === 0 ? '{}' : `{\n${lines.join(',\n')}\n  }`;
  return `${head.slice(0, head.length - '{}\n}'.length)}${body}\n}\n`;
}
