/**
 * The pingAll/udpAll patterns ("all pods pinging", used by benchmarks): which
 * pod talks to which. Pods are taken node by node, pod by pod.
 */
import type { NodeConfig, PodConfig, TrafficPattern } from './scenario.js';

/** [client node, client pod, server node, server pod]. */
export type PodPair = [NodeConfig, PodConfig, NodeConfig, PodConfig];

/**
 * Who talks to whom, pods taken node by node, pod by pod.
 * ring: pod k -> pod (k+1) mod total. same-node: pod j -> pod (j+1) mod P of
 * its node (nodes with fewer than 2 pods take no part: a pod is not its own
 * peer). cross-node: pod j of node i -> pod j of node (i+stride) mod N, when
 * that node has a pod j (stride 1 by default; the caller keeps it off a
 * multiple of N, where a pod would be its own peer).
 */
export function patternPairs(pattern: TrafficPattern, nodes: readonly NodeConfig[], stride = 1): PodPair[] {
  const pairs: PodPair[] = [];
  if (pattern === 'ring') {
    const all: [NodeConfig, PodConfig][] = [];
    for (const n of nodes) for (const p of n.pods) all.push([n, p]);
    if (all.length < 2) return pairs;
    for (let k = 0; k < all.length; k++) {
      const [fn, fp] = all[k]!;
      const [tn, tp] = all[(k + 1) % all.length]!;
      pairs.push([fn, fp, tn, tp]);
    }
  } else if (pattern === 'same-node') {
    for (const n of nodes) {
      const P = n.pods.length;
      if (P < 2) continue;
      for (let j = 0; j < P; j++) pairs.push([n, n.pods[j]!, n, n.pods[(j + 1) % P]!]);
    }
  } else {
    const N = nodes.length;
    if (N < 2) return pairs;
    for (let i = 0; i < N; i++) {
      const n = nodes[i]!;
      const peer = nodes[(i + stride) % N]!;
      for (let j = 0; j < n.pods.length; j++) {
        const tp = peer.pods[j];
        if (tp) pairs.push([n, n.pods[j]!, peer, tp]);
      }
    }
  }
  return pairs;
}
