import type { TopologySpec } from '../../scenarios/topology.js';

/** kube-proxy's nftables endpoint choice between two endpoints: `numgen random mod 2 vmap { 0 : goto A , 1 : goto B }`. */
const NUMGEN_VMAP = /^(add rule ip kube-proxy (\S+) )numgen random mod 2 vmap \{ 0 : goto (\S+) , 1 : goto (\S+) \}$/;

/**
 * The spec with a Service's `numgen random` choice replaced, in the kernel's
 * copy only, by "these client source ports go to the first endpoint chain,
 * every other packet to the second" (`udp sport { ... } goto A` then `goto B`),
 * so that the kernel picks the backends podwire's seeded draws picked.
 * `service` is "namespace/name/protocol" as in kube-proxy's chain names
 * ("default/echo-udp/udp"); every node must have the rule once.
 */
export function pinNftBackends(spec: TopologySpec, service: string, firstEndpointPorts: readonly number[], nodes = 2): TopologySpec {
  const proto = service.split('/').at(-1);
  if (proto !== 'udp' && proto !== 'tcp') throw new Error(`pinNftBackends: service "${service}" does not end in /udp or /tcp`);
  let pinned = 0;
  const namespaces = spec.namespaces.map((ns) => {
    if (ns.nftables === undefined) return ns;
    const text = ns.nftables.text
      .split('\n')
      .flatMap((line) => {
        const m = NUMGEN_VMAP.exec(line);
        if (m === null || !m[2]!.endsWith(`-${service}/`)) return [line];
        pinned++;
        const [, prefix, , first, second] = m;
        const out: string[] = [];
        if (firstEndpointPorts.length > 0) out.push(`${prefix}${proto} sport { ${firstEndpointPorts.join(', ')} } goto ${first}`);
        out.push(`${prefix}goto ${second}`);
        return out;
      })
      .join('\n');
    return { ...ns, nftables: { ...ns.nftables, text } };
  });
  if (pinned !== nodes) throw new Error(`expected ${service}'s numgen endpoint rule once per node (${nodes}), found ${pinned}`);
  return { ...spec, namespaces };
}
