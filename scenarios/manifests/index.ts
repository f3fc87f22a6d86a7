/**
 * Kubernetes manifests as scenario input (`manifests:`): Pods and Deployments
 * become pods on the scenario's nodes, Services join `services:`, and
 * EndpointSlices give selector-less Services their endpoints. The loader calls
 * applyManifests on the schema-valid data before normalizing (pods need their
 * addresses allocated with the others), then the returned `finish` on the
 * normalized scenario (slices name pod addresses).
 */
import { ScenarioError, type PathSegment, type ScenarioIssue, formatIssue, formatPath } from '../errors.js';
import type { Issue } from '../schema-check.js';
import type { RawScenario } from '../raw-scenario.js';
import type { Scenario } from '../scenario.js';
import type { RawService } from '../services.js';
import { expandDeployment } from './deployments.js';
import { applyEndpointSlices } from './endpoint-slices.js';
import { Fields, ManifestIssues, type ManifestObject, readManifests } from './load.js';
import { type ManifestPod, readPod, schedulePods } from './pods.js';
import { readService } from './services.js';

export { MAX_PODS } from './pods.js';
export { podTemplateHash } from './deployments.js';

/** What the loader gets back: the step after normalizing, and where a normalize problem really lies. */
export interface AppliedManifests {
  /** Resolves EndpointSlices on the normalized scenario; throws a ScenarioError. */
  finish(scenario: Scenario): void;
  /** Normalize's problems as a ScenarioError, those about manifest objects placed in their manifest. */
  error(issues: Issue[], locate: (issues: Issue[]) => ScenarioIssue[], scenarioFile: string): ScenarioError;
}

/**
 * Reads `raw.manifests` and adds their pods (to `raw.nodes[i].pods`) and
 * Services (to `raw.services`) in place. Throws a ScenarioError listing every
 * problem as `file:line:col: field.path: problem`. `locate` gives positions
 * in the scenario file.
 */
export function applyManifests(
  raw: RawScenario,
  scenarioFile: string,
  locate: (path: PathSegment[]) => { line: number; col: number },
): AppliedManifests | undefined {
  if (raw.manifests === undefined || raw.manifests.length === 0) return undefined;
  const issues = new ManifestIssues();
  const here = (path: PathSegment[]) => ({ file: scenarioFile, ...locate(path) });
  if (raw.nodes === undefined) {
    issues.fail(here(['manifests']), ['manifests'], 'needs nodes: listed explicitly (pods are placed onto them)');
    throw new ScenarioError(issues.list);
  }
  if ((raw.runtime ?? 'cni') !== 'cni') {
    issues.fail(here(['runtime']), ['manifests'], `need runtime cni (Kubernetes pods), not ${raw.runtime}`);
    throw new ScenarioError(issues.list);
  }
  const objects = readManifests(raw.manifests, scenarioFile, issues);

  const pods: ManifestPod[] = [];
  const services: { svc: RawService; obj: ManifestObject }[] = [];
  const slices: ManifestObject[] = [];
  const firstOfKind = new Map<string, ManifestObject>();
  for (const obj of objects) {
    const key = `${obj.kind}/${obj.name}`;
    const prev = firstOfKind.get(key);
    if (prev !== undefined) {
      issues.fail(obj, ['metadata', 'name'], `${obj.kind} "${obj.name}" is already defined at ${prev.file}:${prev.source.locate(['metadata', 'name']).line}`);
      continue;
    }
    firstOfKind.set(key, obj);
    const f = new Fields(obj, issues);
    if (obj.kind === 'Pod') pods.push(readPod(f));
    else if (obj.kind === 'Deployment') pods.push(...expandDeployment(f));
    else if (obj.kind === 'Service') {
      const svc = readService(f);
      if (svc !== undefined) services.push({ svc, obj });
    } else slices.push(obj);
  }

  // Names are unique per namespace in Kubernetes, and all pods here share one.
  const podOwners = new Map<string, string>();
  raw.nodes.forEach((n, i) => (n.pods ?? []).forEach((p, j) => podOwners.set(p.name, `nodes[${i}].pods[${j}]`)));
  for (const pod of pods) {
    const owner = podOwners.get(pod.name);
    if (owner !== undefined) issues.fail(pod.obj, pod.at, `pod name "${pod.name}" is already used by ${owner}`);
    else podOwners.set(pod.name, `${pod.obj.file}:${pod.obj.source.locate(pod.at).line}`);
  }
  raw.services ??= [];
  const svcNames = new Set(raw.services.filter((s) => (s.namespace ?? 'default') === 'default').map((s) => s.name));
  for (const { svc, obj } of services) {
    if (svcNames.has(svc.name)) issues.fail(obj, ['metadata', 'name'], `Service "default/${svc.name}" is already in the scenario's services`);
  }

  const placement = raw.nodes.map((n) => ({
    name: n.name,
    pods: n.pods?.length ?? 0,
    hostPorts: new Set((n.pods ?? []).flatMap((p) => (p.hostPorts ?? []).map((h) => `${h.protocol ?? 'tcp'}:${h.hostPort}`))),
  }));
  const nodeOf = schedulePods(pods, placement, issues);
  if (issues.list.length > 0) throw new ScenarioError(issues.list);

  const podBase = raw.nodes.map((n) => n.pods?.length ?? 0);
  const placed = raw.nodes.map((): ManifestPod[] => []);
  pods.forEach((pod, k) => placed[nodeOf[k]!]!.push(pod));
  const svcBase = raw.services.length;
  pods.forEach((pod, k) => {
    const node = raw.nodes![nodeOf[k]!]!;
    (node.pods ??= []).push({ name: pod.name, containers: pod.containers, labels: pod.labels, ...(pod.hostPorts !== undefined ? { hostPorts: pod.hostPorts } : {}) });
  });
  // The services' positions in the file still point at the scenario's own entries; manifests' go after them.
  raw.services.push(...services.map((s) => s.svc));

  /** The manifest object and field behind a path into the data, for the pods and services added to it. */
  const origin = (path: PathSegment[]): { obj: ManifestObject; at: PathSegment[] } | undefined => {
    const [top, i, sub, j, ...rest] = path;
    if (top === 'services' && typeof i === 'number' && i >= svcBase) {
      const obj = services[i - svcBase]!.obj;
      const tail = [sub, j, ...rest].filter((x) => x !== undefined) as PathSegment[];
      return { obj, at: tail[0] === 'name' ? ['metadata', 'name'] : tail.length === 0 ? [] : ['spec', ...tail] };
    }
    if (top === 'nodes' && typeof i === 'number' && sub === 'pods' && typeof j === 'number' && j >= podBase[i]!) {
      const pod = placed[i]![j - podBase[i]!]!;
      return { obj: pod.obj, at: pod.at };
    }
    return undefined;
  };

  return {
    finish(scenario: Scenario): void {
      applyEndpointSlices(slices, scenario, issues);
      if (issues.list.length > 0) throw new ScenarioError(issues.list);
    },
    error(list: Issue[], locate: (issues: Issue[]) => ScenarioIssue[], file: string): ScenarioError {
      const ours = new ManifestIssues();
      const theirs: Issue[] = [];
      for (const issue of list) {
        const o = origin(issue.path);
        if (o === undefined) theirs.push(issue);
        else ours.fail(o.obj, o.at, `${issue.message} (as ${formatPath(issue.path)})`);
      }
      if (ours.list.length === 0) return new ScenarioError(locate(list), file);
      const located = locate(theirs).map((x) => ({ ...x, path: formatIssue(x, file).slice(0, -(x.message.length + 2)) }));
      return new ScenarioError([...located, ...ours.list]);
    },
  };
}
