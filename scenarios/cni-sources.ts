/**
 * Where each node's CNI configuration comes from, the scenario's additional
 * networks and the pods that join them, and pods' hostPorts (which only a CNI
 * portmap plugin or Docker serves).
 */
import type { PathSegment } from './errors.js';
import type { Problems } from './problems.js';
import type { RawCni, RawScenario } from './raw-scenario.js';
import type { CniSource, NodeConfig, PodConfig, Scenario } from './scenario.js';

/**
 * Each node's `cni` (its own, else the cluster's), which the loader executes
 * (scenarios/cni/); with it pod IPs come from host-local. hostPorts are the
 * runtime's portMappings, served only by the CNI portmap plugin.
 */
export function cniSources(problems: Problems, raw: RawScenario, nodes: NodeConfig[]): void {
  nodes.forEach((node, i) => {
    const rn = raw.nodes?.[i];
    const src: CniSource | undefined =
      rn?.cni !== undefined ? { ...rn.cni, at: ['nodes', i, 'cni'] } : raw.cni !== undefined ? { ...raw.cni, at: ['cni'] } : undefined;
    if (src !== undefined) node.cni = src;
    rn?.pods?.forEach((rp, j) => {
      const at: PathSegment[] = ['nodes', i, 'pods', j];
      if (src !== undefined && rp.ip !== undefined) problems.fail([...at, 'ip'], "is given by the CNI configuration's IPAM (host-local) when the node has cni; remove it");
      if (rp.networks !== undefined) podNetworks(problems, raw, rp.networks, at, node.pods[j]);
      if (rp.hostPorts === undefined) return;
      if (src === undefined && raw.runtime !== 'docker') problems.fail([...at, 'hostPorts'], 'needs cni (a CNI configuration with the portmap plugin maps host ports) or runtime docker (docker run -p)');
      if (raw.runtime === 'docker' && (rn.iptables !== undefined || rn.iptablesFile !== undefined)) {
        problems.fail([...at, 'hostPorts'], "with runtime docker, Docker writes the node's rules for its published ports; remove the node's hand-written iptables or the hostPorts");
      }
      const pod = node.pods[j];
      if (pod !== undefined) pod.hostPorts = rp.hostPorts.map((h) => ({ hostPort: h.hostPort, containerPort: h.containerPort, protocol: h.protocol ?? 'tcp' }));
    });
  });
}

/** The scenario's additional networks: unique names. */
export function scenarioNetworks(problems: Problems, raw: { name: string; cni: RawCni }[]): NonNullable<Scenario['networks']> {
  const seen = new Set<string>();
  return raw.map((n, i) => {
    if (seen.has(n.name)) problems.fail(['networks', i, 'name'], `"${n.name}" is defined twice`);
    seen.add(n.name);
    return { name: n.name, cni: { ...n.cni, at: ['networks', i, 'cni'] } };
  });
}

/** A pod's `networks`: names from the scenario's `networks`, each once. */
function podNetworks(problems: Problems, raw: RawScenario, names: string[], at: PathSegment[], pod: PodConfig | undefined): void {
  const known = (raw.networks ?? []).map((n) => n.name);
  const seen = new Set<string>();
  names.forEach((name, k) => {
    if (!known.includes(name)) problems.fail([...at, 'networks', k], `unknown network "${name}" (${known.length > 0 ? `networks are ${known.join(', ')}` : 'the scenario has no networks'})`);
    else if (seen.has(name)) problems.fail([...at, 'networks', k], `"${name}" is listed twice`);
    seen.add(name);
  });
  if (pod !== undefined) pod.networks = [...names];
}
