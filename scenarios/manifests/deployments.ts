/**
 * Deployments (apps/v1) expanded into their pods, as the ReplicaSet
 * controller would name them: `<deployment>-<pod-template-hash>-<suffix>`,
 * labelled with the template's labels plus pod-template-hash. The API server
 * derives the hash from an FNV hash of the template and the suffix at random;
 * here both come from sha256 (of the template, and of the pod's index), in the
 * alphabet of k8s.io/apimachinery's rand.SafeEncodeString, so the same
 * manifest always gives the same names.
 */
import { createHash } from 'node:crypto';
import type { Fields } from './load.js';
import { type ManifestPod, readPodSpec } from './pods.js';

/** rand.SafeEncodeString's alphabet: no vowels, no look-alike characters. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function encode(text: string, length: number): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[digest[i]! % ALPHABET.length];
  return out;
}

/** JSON with keys sorted, so the hash does not depend on key order in the file. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (typeof x === 'object' && x !== null) {
    const keys = Object.keys(x).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((x as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

/** The pod-template-hash label value of a template. */
export function podTemplateHash(template: unknown): string {
  return encode(canonical(template), 10);
}

/** The pods of one Deployment, in replica order. */
export function expandDeployment(f: Fields): ManifestPod[] {
  const name = f.obj.name;
  const replicas = f.int(['spec', 'replicas'], 0, 1_000_000, 'a non-negative integer') ?? (f.raw(['spec', 'replicas']) == null ? 1 : 0);
  f.unsupported(['spec', 'selector', 'matchExpressions'], 'give spec.selector.matchLabels');
  const selector = f.labels(['spec', 'selector', 'matchLabels']);
  const labels = f.labels(['spec', 'template', 'metadata', 'labels']) ?? {};
  if (selector === undefined || Object.keys(selector).length === 0) {
    f.fail(['spec', 'selector'], 'empty selector is invalid for deployment (give matchLabels)');
    return [];
  }
  const mismatch = Object.entries(selector).filter(([k, v]) => labels[k] !== v);
  if (mismatch.length > 0) {
    f.fail(
      ['spec', 'template', 'metadata', 'labels'],
      `selector does not match template labels (${mismatch.map(([k, v]) => `${k}=${v}`).join(', ')} missing)`,
    );
    return [];
  }
  const { containers, hostPorts, nodeName } = readPodSpec(f, ['spec', 'template', 'spec']);
  const hash = podTemplateHash(f.raw(['spec', 'template']));
  const prefix = `${name}-${hash}-`;
  if (prefix.length + 5 > 63) {
    f.fail(['metadata', 'name'], `"${name}" is too long: its pods' names (${prefix}xxxxx) would exceed 63 characters`);
    return [];
  }
  const pods: ManifestPod[] = [];
  const used = new Set<string>();
  for (let i = 0; pods.length < replicas; i++) {
    const podName = prefix + encode(`${prefix}${i}`, 5);
    if (used.has(podName)) continue; // a suffix collision: the controller would draw again
    used.add(podName);
    pods.push({
      name: podName,
      labels: { ...labels, 'pod-template-hash': hash },
      containers,
      ...(hostPorts !== undefined ? { hostPorts } : {}),
      ...(nodeName !== undefined ? { nodeName } : {}),
      obj: f.obj,
      at: ['metadata', 'name'],
    });
  }
  return pods;
}
