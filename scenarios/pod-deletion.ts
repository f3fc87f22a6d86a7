/**
 * Pods deleted during a run (`deleteAt:`), turned into the per-namespace
 * actions of models/k8s/pod-lifecycle.ts:
 * - the pod: `shutdown` at deleteAt (the kubelet kills it);
 * - its node: `remove-port` at deleteAt (CNI DEL deletes its veth);
 * - every node, when the pod was a Service endpoint: `kube-proxy-sync` at
 *   deleteAt + kubeProxy.syncDelay with the rules kube-proxy then writes.
 *
 * kube-proxy's sync is an `iptables-restore --noflush` of its whole ruleset:
 * every chain it writes is flushed and refilled, and chains it no longer
 * needs (the removed endpoint's KUBE-SEP-*) are flushed and deleted (-X), as
 * its proxier does. In nftables mode the sync replaces `table ip kube-proxy`
 * (delete, then the new transaction): the rules come out as kube-proxy's
 * incremental transaction leaves them, though sets' dynamic elements (ClientIP
 * affinity) start afresh. In ipvs mode the endpoint's real servers are deleted
 * from their virtual servers, and net.ipv4.vs.expire_nodest_conn (which
 * kube-proxy sets) expires connections still bound to them. userspace mode is
 * not modelled: a deleted endpoint there is an error, not a silent no-op.
 */
import type { LifecycleAction } from '../models/k8s/pod-lifecycle.js';
import { kubeProxyIpvs, kubeProxyIptables, kubeProxyNftables, NFT_TABLE } from '../models/k8s/kube-proxy/index.js';
import { ScenarioError } from './errors.js';
import type { NodeConfig, Scenario } from './scenario.js';
import { kubeProxyInput } from './services.js';

interface Deletion {
  node: string;
  pod: string;
  ip: string;
  atNs: number;
}

function deletions(s: Scenario): Deletion[] {
  return s.nodes.flatMap((n) => n.pods.filter((p) => p.deleteAtNs !== undefined).map((p) => ({ node: n.name, pod: p.name, ip: p.ip, atNs: p.deleteAtNs! })));
}

/** The actions in pod `pod` of `node` (its sandbox going away). */
export function podLifecycle(node: NodeConfig, podName: string): LifecycleAction[] {
  const pod = node.pods.find((p) => p.name === podName);
  return pod?.deleteAtNs !== undefined ? [{ atNs: pod.deleteAtNs, action: 'shutdown' }] : [];
}

/** The actions in `node`'s own namespace: its deleted pods' veths leaving the bridge, then kube-proxy's syncs. */
export function nodeLifecycle(s: Scenario, node: NodeConfig): LifecycleAction[] {
  const out: LifecycleAction[] = node.pods
    .filter((p) => p.deleteAtNs !== undefined)
    .map((p) => ({ atNs: p.deleteAtNs!, action: 'remove-port' as const, bridge: node.bridge, dev: p.hostVeth }));
  return [...out, ...kubeProxySyncs(s, node)];
}

function kubeProxySyncs(s: Scenario, node: NodeConfig): LifecycleAction[] {
  const endpointOf = (d: Deletion) => s.services.some((svc) => svc.endpoints.some((e) => e.node === d.node && e.pod === d.pod));
  const relevant = deletions(s).filter(endpointOf);
  if (relevant.length === 0) return [];
  const mode = s.kubeProxy.mode;
  if (mode === 'ipvs') return ipvsSyncs(s, node, relevant, udpEndpointOf(s));
  if (mode !== 'iptables' && mode !== 'nftables') {
    const d = relevant[0]!;
    throw new ScenarioError([{ path: `nodes (${d.node}).pods (${d.pod}).deleteAt`, message: `the pod is a Service endpoint, and kube-proxy's resync after a deletion is modelled in iptables, nftables and ipvs modes (mode is ${mode})` }]);
  }
  const rules = (sc: Scenario): string => (mode === 'nftables' ? kubeProxyNftables(kubeProxyInput(sc, node)) : kubeProxyIptables(kubeProxyInput(sc, node)));
  const udpEndpoint = udpEndpointOf(s);
  const times = [...new Set(relevant.map((d) => d.atNs))].sort((a, b) => a - b);
  let before = rules(s);
  return times.map((t) => {
    const gone = new Set(relevant.filter((d) => d.atNs <= t).map((d) => `${d.node}/${d.pod}`));
    const services = s.services.map((svc) => ({ ...svc, endpoints: svc.endpoints.filter((e) => !gone.has(`${e.node}/${e.pod}`)) }));
    const after = rules({ ...s, services });
    const text = mode === 'nftables' ? `delete table ip ${NFT_TABLE}\n${after}` : withStaleChainsDeleted(before, after);
    before = after;
    return {
      atNs: t + s.kubeProxy.syncDelayNs,
      action: 'kube-proxy-sync' as const,
      ruleset: mode,
      text,
      file: `kube-proxy sync after deletions at ${t / 1e9}s (${node.name})`,
      removedUdpEndpoints: relevant.filter((d) => d.atNs === t && udpEndpoint(d)).map((d) => d.ip),
    };
  });
}

/** Whether a deleted pod was an endpoint of a UDP Service port (kube-proxy then clears its conntrack entries). */
function udpEndpointOf(s: Scenario): (d: Deletion) => boolean {
  return (d) => s.services.some((svc) => svc.ports.some((p) => p.protocol === 'UDP') && svc.endpoints.some((e) => e.node === d.node && e.pod === d.pod));
}

/** ipvs mode: the real servers of the deleted endpoints go from every virtual server (kube-proxy's ipvsadm -d). */
function ipvsSyncs(s: Scenario, node: NodeConfig, relevant: Deletion[], udpEndpoint: (d: Deletion) => boolean): LifecycleAction[] {
  if (s.kubeProxy.mode !== 'ipvs') return [];
  const scheduler = s.kubeProxy.ipvs.scheduler;
  const times = [...new Set(relevant.map((d) => d.atNs))].sort((a, b) => a - b);
  const key = (v: { protocol: string; address: string; port: number }, r: { address: string; port: number }) => `${v.protocol} ${v.address}:${v.port} ${r.address}:${r.port}`;
  let before = kubeProxyIpvs(kubeProxyInput(s, node), { scheduler }).virtualServers;
  return times.map((t) => {
    const gone = new Set(relevant.filter((d) => d.atNs <= t).map((d) => `${d.node}/${d.pod}`));
    const services = s.services.map((svc) => ({ ...svc, endpoints: svc.endpoints.filter((e) => !gone.has(`${e.node}/${e.pod}`)) }));
    const after = kubeProxyIpvs(kubeProxyInput({ ...s, services }, node), { scheduler }).virtualServers;
    const kept = new Set(after.flatMap((v) => v.realServers.map((r) => key(v, r))));
    const removed = before.flatMap((v) =>
      v.realServers.filter((r) => !kept.has(key(v, r))).map((r) => ({ protocol: v.protocol, vip: v.address, vport: v.port, addr: r.address, port: r.port })),
    );
    before = after;
    return {
      atNs: t + s.kubeProxy.syncDelayNs,
      action: 'ipvs-sync' as const,
      removed,
      removedUdpEndpoints: relevant.filter((d) => d.atNs === t && udpEndpoint(d)).map((d) => d.ip),
    };
  });
}

/**
 * `after`, with the chains `before` declared and `after` does not flushed and
 * deleted in each table, as kube-proxy's full sync removes stale chains.
 */
export function withStaleChainsDeleted(before: string, after: string): string {
  const chainsOf = (text: string): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    let table = '';
    for (const line of text.split('\n')) {
      if (line.startsWith('*')) out.set((table = line.slice(1)), []);
      else if (line.startsWith(':')) out.get(table)!.push(line.slice(1).split(' ')[0]!);
    }
    return out;
  };
  const old = chainsOf(before);
  const now = chainsOf(after);
  let table = '';
  const lines: string[] = [];
  for (const line of after.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    if (line === 'COMMIT') {
      const keep = new Set(now.get(table) ?? []);
      const stale = (old.get(table) ?? []).filter((c) => !keep.has(c) && c.startsWith('KUBE-'));
      for (const c of stale) lines.push(`:${c} - [0:0]`);
      for (const c of stale) lines.push(`-X ${c}`);
    }
    lines.push(line);
  }
  return lines.join('\n');
}
