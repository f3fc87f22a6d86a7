/**
 * The library scenarios that mirror shared/kernel-ref/<name> must expand
 * to the same namespaces, MACs, addresses, bridge ports, static routes, links
 * and capture points as the real kernel topology recorded in its topology.json
 * (names mapped: ref-n1 -> n1, ref-n1-p1 -> n1/p1, ref-underlay -> underlay,
 * underlay port veth-n1 -> n1).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kernelRefDir } from '../helpers/kernel-ref.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenario } from '../../scenarios/library.js';
import { namespaceRoutes, type TopologySpec } from '../../scenarios/topology.js';

const REF = kernelRefDir() ?? '../shared/kernel-ref';
const present = existsSync(`${REF}/cross-node/topology.json`) && existsSync(`${REF}/same-node/topology.json`);
if (!present) console.warn(`kernel-ref comparison skipped: ${REF}/*/topology.json not found (set PODWIRE_KERNEL_REF)`);

interface RefInterface {
  name: string;
  kind: string;
  mac: string;
  addresses: string[];
  master: string | null;
  bridge_port?: { hairpin: boolean };
}
interface RefNamespace {
  name: string;
  role: string;
  interfaces: RefInterface[];
  routes: { dst: string; gateway?: string; dev: string; protocol?: string }[];
  sysctls: Record<string, string>;
}
interface RefTopology {
  namespaces: RefNamespace[];
  links: { a: { namespace: string; interface: string }; b: { namespace: string; interface: string } }[];
  captures: { namespace: string; interface: string }[];
}

function nsName(ref: string): string {
  const bare = ref.replace(/^ref-/, '');
  if (bare === 'underlay') return bare;
  const dash = bare.indexOf('-');
  return dash < 0 ? bare : `${bare.slice(0, dash)}/${bare.slice(dash + 1)}`;
}

function ifName(refNs: string, ifname: string): string {
  return refNs === 'ref-underlay' ? ifname.replace(/^veth-/, '') : ifname;
}

/** Comparable facts about every interface: "ns/if mac addresses master". */
function refInterfaces(ref: RefTopology): string[] {
  return ref.namespaces
    .flatMap((n) =>
      n.interfaces
        .filter((i) => i.kind !== 'loopback')
        .map((i) => `${nsName(n.name)}/${ifName(n.name, i.name)} ${i.mac} [${i.addresses.join(',')}] ${i.master ?? '-'}`),
    )
    .sort();
}

function ourInterfaces(t: TopologySpec, namespaces: Set<string>): string[] {
  return t.namespaces
    .filter((n) => namespaces.has(n.name))
    .flatMap((n) =>
      [...n.bridges, ...n.interfaces].map(
        (i) => `${n.name}/${i.name} ${i.mac} [${i.addresses.join(',')}] ${('master' in i && i.master) || '-'}`,
      ),
    )
    .sort();
}

function refStaticRoutes(ref: RefTopology): string[] {
  return ref.namespaces
    .flatMap((n) =>
      n.routes
        .filter((r) => r.protocol !== 'kernel')
        .map((r) => `${nsName(n.name)} ${r.dst === 'default' ? '0.0.0.0/0' : r.dst} via ${r.gateway} dev ${r.dev}`),
    )
    .sort();
}

function ourRoutes(t: TopologySpec, namespaces: Set<string>): string[] {
  return t.namespaces
    .filter((n) => namespaces.has(n.name))
    .flatMap((n) => namespaceRoutes(t, n).map((r) => `${n.name} ${r.dst} via ${r.via} dev ${r.dev}`))
    .sort();
}

describe.skipIf(!present)('expansion matches the kernel reference topologies', () => {
  for (const name of ['cross-node', 'same-node']) {
    it(name, () => {
      const ref = JSON.parse(readFileSync(`${REF}/${name}/topology.json`, 'utf8')) as RefTopology;
      const t = expandScenario(resolveScenario(name));
      // The reference builds only what its traffic needs (same-node has no
      // underlay and no node eth0); compare the namespaces it has.
      const namespaces = new Set(ref.namespaces.map((n) => nsName(n.name)));
      const covered = new Set(ref.namespaces.flatMap((n) => n.interfaces.map((i) => `${nsName(n.name)}/${ifName(n.name, i.name)}`)));
      const ours = ourInterfaces(t, namespaces).filter((line) => covered.has(line.split(' ')[0]!));
      expect(ours).toEqual(refInterfaces(ref));
      expect(ours.length).toBeGreaterThanOrEqual(name === 'cross-node' ? 11 : 5);

      // ip_forward per namespace.
      for (const n of ref.namespaces) {
        const mine = t.namespaces.find((x) => x.name === nsName(n.name))!;
        expect(mine.ipForward, n.name).toBe(n.sysctls['net.ipv4.ip_forward'] === '1');
      }

      // Hairpin on every bridge port.
      for (const n of ref.namespaces) {
        for (const i of n.interfaces.filter((x) => x.bridge_port)) {
          const mine = t.namespaces.find((x) => x.name === nsName(n.name))!.interfaces.find((x) => x.name === ifName(n.name, i.name))!;
          expect(mine.hairpin ?? false).toBe(i.bridge_port!.hairpin);
        }
      }

      // Static routes (connected ones are derived by both, from the addresses).
      const ourRouteLines = ourRoutes(t, namespaces).filter(
        (line) => !(name === 'same-node' && line.startsWith('n1 ')), // the reference node has no uplink
      );
      expect(ourRouteLines).toEqual(refStaticRoutes(ref).filter((line) => !(name === 'same-node' && line.startsWith('n1 '))));

      // Links as unordered pairs of ends.
      const pair = (a: string, b: string) => [a, b].sort().join(' <-> ');
      const refLinks = ref.links
        .map((l) =>
          pair(
            `${nsName(l.a.namespace)}/${ifName(l.a.namespace, l.a.interface)}`,
            `${nsName(l.b.namespace)}/${ifName(l.b.namespace, l.b.interface)}`,
          ),
        )
        .sort();
      const ourLinks = t.links
        .map((l) => pair(`${l.a.ns}/${l.a.ifname}`, `${l.b.ns}/${l.b.ifname}`))
        .filter((l) => l.split(' <-> ').every((end) => covered.has(end)))
        .sort();
      expect(ourLinks).toEqual(refLinks);

      // Capture points.
      expect([...t.captures].sort()).toEqual(
        ref.captures.map((c) => `${nsName(c.namespace)}/${ifName(c.namespace, c.interface)}`).sort(),
      );
    });
  }
});
