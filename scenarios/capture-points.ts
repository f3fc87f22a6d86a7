/**
 * The scenario's `capture` points ("<namespace>/<interface>"): each must name
 * an interface that exists, once.
 */
import type { EndpointIndex } from './endpoints.js';
import { listNames } from './errors.js';
import { DEFAULTS } from './defaults.js';
import { overlayDevice } from './overlay.js';
import type { Problems } from './problems.js';
import type { RawScenario } from './raw-scenario.js';
import type { NodeConfig, Scenario, UnderlaySegment } from './scenario.js';
import { segmentInterfaces, segmentNamespaceNames } from './underlay-segments.js';

export function capturePoints(
  problems: Problems,
  raw: RawScenario,
  nodes: NodeConfig[],
  index: EndpointIndex,
  segs: UnderlaySegment[] | undefined,
): Scenario['capture'] {
  const capture = raw.capture ?? DEFAULTS.capture;
  if (!Array.isArray(capture)) return capture;
  const seen = new Map<string, number>();
  capture.forEach((point, i) => {
    const path = ['capture', i];
    const prev = seen.get(point);
    if (prev !== undefined) {
      problems.fail(path, `"${point}" is already listed as capture[${prev}]`);
      return;
    }
    seen.set(point, i);
    const slash = point.lastIndexOf('/');
    const ns = point.slice(0, slash);
    const ifname = point.slice(slash + 1);
    const interfaces =
      segs !== undefined && (ns === 'underlay' || segmentInterfaces(ns, segs) !== undefined)
        ? segmentInterfaces(ns, segs)
        : namespaceInterfaces(ns, nodes, index, overlayDevice(raw.routing ?? DEFAULTS.routing));
    if (!interfaces) {
      const namespaces = [
        ...new Set([...(segs !== undefined ? segmentNamespaceNames(segs) : ['underlay']), ...nodes.flatMap((n) => [n.name, ...n.pods.map((p) => `${n.name}/${p.name}`)]), ...index.externalNames()]),
      ];
      problems.fail(path, `unknown capture point "${point}" (no namespace "${ns}"; namespaces are ${listNames(namespaces)})`);
    } else if (!interfaces.includes(ifname)) {
      problems.fail(path, `unknown capture point "${point}" (interfaces of ${ns} are ${listNames(interfaces)})`);
    }
  });
  return capture;
}

/**
 * Interfaces a capture may name in a namespace (bridges, then interfaces, then
 * lo), or undefined when there is no such namespace.
 */
function namespaceInterfaces(ns: string, nodes: NodeConfig[], index: EndpointIndex, tunnel: string | undefined): string[] | undefined {
  if (ns === 'underlay') return ['br0', ...nodes.map((n) => n.name), ...index.externalNames(), 'lo'];
  if (index.external(ns)) return ['eth0', 'lo'];
  const [nodeName, podName, extra] = ns.split('/');
  if (extra !== undefined) return undefined;
  const node = index.node(nodeName!);
  if (!node) return undefined;
  if (podName === undefined) return [node.bridge, 'eth0', ...node.pods.map((p) => p.hostVeth), ...(tunnel !== undefined ? [tunnel] : []), 'lo'];
  return index.pod(node.name, podName) ? ['eth0', 'lo'] : undefined;
}
