import type { TopologySpec } from '../../scenarios/topology.js';

/** kube-proxy's random endpoint choice: `-m statistic --mode random --probability P -j KUBE-SEP-...`. */
const RANDOM_MATCH = /-m statistic --mode random --probability [0-9.]+ (-j KUBE-SEP-\S+)/;

/**
 * The spec with a Service's random choice between its two endpoints replaced
 * by "these client ports go to the first endpoint" (`-m multiport --sports`),
 * in the same rule position so the counters stay comparable: the kernel then
 * picks the backends podwire's seeded draws picked. `service` is
 * "namespace/name" and `protocol` the port's; every node must have the rule.
 */
export function pinBackends(spec: TopologySpec, service: string, protocol: 'tcp' | 'udp', firstEndpointPorts: readonly number[], nodes = 2): TopologySpec {
  // xt_multiport takes at most 15 ports (XT_MULTI_PORTS).
  if (firstEndpointPorts.length > 15) throw new Error(`cannot pin ${firstEndpointPorts.length} ports with one -m multiport rule (at most 15)`);
  const match = firstEndpointPorts.length > 0 ? `-p ${protocol} -m multiport --sports ${firstEndpointPorts.join(',')}` : '-m statistic --mode random --probability 0.0000000000';
  let pinned = 0;
  const namespaces = spec.namespaces.map((ns) => ({
    ...ns,
    ...(ns.iptables
      ? {
          iptables: ns.iptables.map((t) => ({
            ...t,
            text: t.text
              .split('\n')
              .map((line) => {
                if (!line.includes(`"${service} -> `) || !RANDOM_MATCH.test(line)) return line;
                pinned++;
                return line.replace(RANDOM_MATCH, `${match} $1`);
              })
              .join('\n'),
          })),
        }
      : {}),
  }));
  if (pinned !== nodes) throw new Error(`expected ${service}'s random endpoint rule once per node (${nodes}), found ${pinned}`);
  return { ...spec, namespaces };
}
