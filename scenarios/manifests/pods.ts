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

/** containers[].ports[] with a hostPort, as the kubelet hands it to the runtime. */
export interface HostPort {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

/** "tcp:8080": two pods cannot hold the same one on a node (the scheduler's NodePorts filter). */
function hostPortKey(h: HostPort): string {
  return `${h.protocol}:${h.hostPort}`;
}

/** A pod about to be placed, with where it came from (for messages). */
export interface ManifestPod {
  name: string;
  labels: Record<string, string>;
  containers: string[];
  /** The containers' hostPorts: the runtime's portMappings for the CNI portmap plugin. */
  hostPorts?: HostPort[];
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
export function readPodSpec(f: Fields, spec: PathSegment[]): { containers: string[]; hostPorts?: HostPort[]; nodeName?: string } {
  f.unsupported([...spec, 'hostNetwork'], 'a hostNetwork pod would share the node namespace; podwire gives every pod its own', (v) => v === false);
  f.unsupported([...spec, 'nodeSelector'], 'placement is spec.nodeName or round-robin');
  f.unsupported([...spec, 'affinity'], 'placement is spec.nodeName or round-robin');
  f.unsupported([...spec, 'topologySpreadConstraints'], 'placement is spec.nodeName or round-robin');
  const containers: string[] = [];
  const hostPorts: HostPort[] = [];
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
      const port = [...at, 'ports', j];
      f.unsupported([...port, 'hostIP'], "a host port on one node address; podwire's hostPorts map every address");
      const hostPort = f.int([...port, 'hostPort'], 1, 65535, 'a port number');
      if (hostPort === undefined) return;
      const containerPort = f.int([...port, 'containerPort'], 1, 65535, 'a port number');
      if (containerPort === undefined) {
        if (f.raw([...port, 'containerPort']) === undefined) f.fail([...port, 'containerPort'], 'is required');
        return;
      }
      const protocol = f.string([...port, 'protocol']) ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP') {
        f.fail([...port, 'protocol'], `${JSON.stringify(protocol)}: host ports are modelled for TCP and UDP`);
        return;
      }
      const h: HostPort = { hostPort, containerPort, protocol: protocol === 'TCP' ? 'tcp' : 'udp' };
      const dup = hostPorts.findIndex((x) => hostPortKey(x) === hostPortKey(h));
      if (dup >= 0) f.fail([...port, 'hostPort'], `${protocol} ${hostPort} is already a host port of this pod`);
      else hostPorts.push(h);
    });
  });
  const nodeName = f.string([...spec, 'nodeName']);
  return { containers, ...(hostPorts.length > 0 ? { hostPorts } : {}), ...(nodeName !== undefined ? { nodeName } : {}) };
}

/** A Pod object (v1). */
export function readPod(f: Fields): ManifestPod {
  const { containers, hostPorts, nodeName } = readPodSpec(f, ['spec']);
  return {
    name: f.obj.name,
    labels: f.labels(['metadata', 'labels']) ?? {},
    containers,
    ...(hostPorts !== undefined ? { hostPorts } : {}),
    ...(nodeName !== undefined ? { nodeName } : {}),
    obj: f.obj,
    at: ['metadata', 'name'],
  };
}

/** A node as placement sees it: its name and the pods it already runs. */
export interface PlacementNode {
  name: string;
  pods: number;
  /** Host ports its pods already hold ("tcp:8080"). */
  hostPorts?: ReadonlySet<string>;
}

/**
 * Places `pods` in order: onto spec.nodeName (which must exist and have room),
 * else onto the next node in round-robin order (the cursor moves past the node
 * chosen) with fewer than MAX_PODS pods and none of the pod's host ports taken
 * (the scheduler's NodePorts filter). Returns the node index per pod, -1
 * where it could not be placed (reported).
 */
export function schedulePods(pods: readonly ManifestPod[], nodes: readonly PlacementNode[], issues: ManifestIssues): number[] {
  const load = nodes.map((n) => n.pods);
  const taken = nodes.map((n) => new Set(n.hostPorts ?? []));
  const byName = new Map(nodes.map((n, i) => [n.name, i]));
  const clash = (pod: ManifestPod, i: number): HostPort | undefined => pod.hostPorts?.find((h) => taken[i]!.has(hostPortKey(h)));
  const place = (pod: ManifestPod, i: number): number => {
    load[i]!++;
    for (const h of pod.hostPorts ?? []) taken[i]!.add(hostPortKey(h));
    return i;
  };
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
      const h = clash(pod, i);
      if (h !== undefined) {
        issues.fail(pod.obj, at, `node "${pod.nodeName}" already has host port ${h.protocol.toUpperCase()} ${h.hostPort} in use, no room for ${pod.name}`);
        return -1;
      }
      return place(pod, i);
    }
    for (let k = 0; k < nodes.length; k++) {
      const i = (cursor + k) % nodes.length;
      if (load[i]! < MAX_PODS && clash(pod, i) === undefined) {
        cursor = (i + 1) % nodes.length;
        return place(pod, i);
      }
    }
    const why = pod.hostPorts === undefined ? `every node runs ${MAX_PODS} pods, kubelet's max-pods` : `every node runs ${MAX_PODS} pods (kubelet's max-pods) or already has one of its host ports in use`;
    issues.fail(pod.obj, pod.at, `no node has room for pod ${pod.name} (${why})`);
    return -1;
  });
}
