/**
 * pkg/proxy/topology.go CategorizeEndpoints (v1.30): which endpoints the
 * Cluster and Local traffic policies use, with the fallback to serving
 * terminating endpoints when no ready one exists. Topology-aware hints are not
 * modelled (canUseTopology is false: no zone label on the node).
 */
import type { EndpointInfo } from './endpoints.js';
import { usesClusterEndpoints, usesLocalEndpoints, type ServicePortInfo } from './service-port.js';

export interface CategorizedEndpoints {
  /** Used by Cluster traffic policy; empty if the service never uses it. */
  clusterEndpoints: EndpointInfo[];
  /** Used by Local traffic policy; empty if the service never uses it. */
  localEndpoints: EndpointInfo[];
  /** The union: every endpoint that gets a KUBE-SEP chain on this node. */
  allReachableEndpoints: EndpointInfo[];
  /** Whether any usable endpoint exists anywhere in the cluster. */
  hasAnyEndpoints: boolean;
}

export function categorizeEndpoints(endpoints: readonly EndpointInfo[], p: ServicePortInfo): CategorizedEndpoints {
  let clusterEndpoints: EndpointInfo[] = [];
  let localEndpoints: EndpointInfo[] = [];
  let hasAnyEndpoints = false;
  let useServingTerminatingEndpoints = false;

  const usesCluster = usesClusterEndpoints(p);
  if (usesCluster) {
    clusterEndpoints = endpoints.filter((ep) => ep.ready);
    // No ready endpoint anywhere: fall back to serving, terminating ones.
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter((ep) => ep.serving && ep.terminating);
    if (clusterEndpoints.length > 0) hasAnyEndpoints = true;
  }

  if (!usesLocalEndpoints(p)) return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints };

  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalReady = true;
    } else if (ep.serving && ep.terminating) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalServingTerminating = true;
    }
  }
  if (hasLocalReady) {
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.ready);
  } else if (hasLocalServingTerminating) {
    useServingTerminatingEndpoints = true;
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.serving && ep.terminating);
  }

  if (!usesCluster) return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints };
  // Only ready endpoints on both sides: the cluster list is a superset of the local one.
  if (!useServingTerminatingEndpoints) return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints };

  // kube-proxy merges the two through a Go map (random order); keep the sorted
  // endpoint order instead so the output is deterministic.
  const merged = new Set<EndpointInfo>([...clusterEndpoints, ...localEndpoints]);
  const allReachableEndpoints = endpoints.filter((ep) => merged.has(ep));
  return { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints };
}
