/**
 * Pods from manifests: a PodSpec read into the scenario's pod model
 * (containers, labels), and the placement of pods onto nodes the way a
 * plain scheduler would, deterministically: spec.nodeName when given, else
 * round-robin over the nodes in file order, skipping full nodes.
 */
import type { PathSegment } from '../errors.js';
import { DNS_LABEL, type Fields, type ManifestObject, type ManifestIssues } from './load.js';

/** kubelet's default --max-pods. */
export const MAX_PODS = 110;

/** A pod about to be placed, with where it came from (for messages). */
export interface ManifestPod {
  name: string;
  labels: Record<string, string>;
  containers: string[];
  nodeName?: string;
  obj: ManifestObject;
  /** Path of the field that names the pod (metadata.name of the Pod or Deployment). */
  at: PathSegment[];
}

/**
 * Reads the PodSpec at `spec`: container names, nodeName. Fields that would
 * change how the pod is wired or placed and that podwire does not model are
 * errors; the rest (images, resources, probes, volumes...) is ignored.
 */
export function readPodSpec(f: Fields, spec: PathSegment[]): { containers: string[]; nodeName?: string } {
  f.unsupported([...spec, 'hostNetwork'], 'a hostNetwork pod would share the node namespace; podwire gives every pod its own', (v) => v === false);
  f.unsupported([...spec, 'nodeSelector'], 'placement is spec.nodeName or round-robin');
  f.unsupported([...spec, 'affinity'], 'placement is spec.nodeName or round-robin');
  f.unsupported([...spec, 'topologySpreadConstraints'], 'placement is spec.nodeName or round-robin');
  const containers: string[] = [];
  const seen = new Map<string, number>();
  const list = f.list([...spec, 'containers']);
  if (list.length === 0) f.fail([...spec, 'containers'], 'must list at least one container');
  list.forEach((_, k) => {
    const at = [...spec, 'containers', k];
    const name = f.string([...at, 'name']);
    if (name === undefined || !DNS_LABEL.test(name)) {
      f.fail([...at, 'name'], `${JSON.stringify(name ?? null)}: must be a DNS label`);
      return;
    }
    const prev = seen.get(name);
    if (prev !== undefined) f.fail([...at, 'name'], `"${name}" is already used by containers[${prev}]`);
    else seen.set(name, k);
    containers.push(name);
    f.list([...at, 'ports']).forEach((_, j) => {
      f.unsupported([...at, 'ports', j, 'hostPort'], 'host ports need the CNI portmap plugin, not modelled');
      f.unsupported([...at, 'ports', j, 'hostIP'], 'host ports need the CNI portmap plugin, not modelled');
    });
  });
  const nodeName = f.string([...spec, 'nodeName']);
  return { containers, ...(nodeName !== undefined ? { nodeName } : {}) };
}

/** A Pod object (v1). */
export function readPod(f: Fields): ManifestPod {
  const { containers, nodeName } = readPodSpec(f, ['spec']);
  return {
    name: f.obj.name,
    labels: f.labels(['metadata', 'labels']) ?? {},
    containers,
    ...(nodeName !== undefined ? { nodeName } : {}),
    obj: f.obj,
    at: ['metadata', 'name'],
  };
}

/** A node as placement sees it: its name and the pods it already runs. */
export interface PlacementNode {
  name: string;
  pods: number;
}

/**
 * Places `pods` in order: onto spec.nodeName (which must exist and have room),
 * else onto the next node in round-robin order (the cursor moves past the node
 * chosen) with fewer than MAX_PODS pods. Returns the node index per pod, -1
 * where it could not be placed (reported).
 */
export function schedulePods(pods: readonly ManifestPod[], nodes: readonly PlacementNode[], issues: ManifestIssues): number[] {
  const load = nodes.map((n) => n.pods);
  const byName = new Map(nodes.map((n, i) => [n.name, i]));
  let cursor = 0;
  return pods.map((pod) => {
    if (pod.nodeName !== undefined) {
      const i = byName.get(pod.nodeName);
      const at = pod.obj.kind === 'Pod' ? ['spec', 'nodeName'] : ['spec', 'template', 'spec', 'nodeName'];
      if (i === undefined) {
        issues.fail(pod.obj, at, `"${pod.nodeName}" is not a node of the scenario (nodes are ${nodes.map((n) => n.name).join(', ')})`);
        return -1;
      }
      if (load[i]! >= MAX_PODS) {
        issues.fail(pod.obj, at, `node "${pod.nodeName}" already runs ${MAX_PODS} pods (kubelet's max-pods), no room for ${pod.name}`);
        return -1;
      }
      load[i]!++;
      return i;
    }
    for (let k = 0; k < nodes.length; k++) {
      const i = (cursor + k) % nodes.length;
      if (load[i]! < MAX_PODS) {
        load[i]!++;
        cursor = (i + 1) % nodes.length;
        return i;
      }
    }
    issues.fail(pod.obj, pod.at, `no node has room for pod ${pod.name} (every node runs ${MAX_PODS} pods, kubelet's max-pods)`);
    return -1;
  });
}
