/**
 * Pods deleted during a run (`deleteAt:`), turned into the per-namespace
 * actions of models/k8s/pod-lifecycle.ts:
 * - the pod: `shutdown` at deleteAt (the kubelet kills it);
 * - its node, at deleteAt: the runtime's CNI DEL of each attachment, as
 *   Multus orders it (additional networks last to first, then eth0): a
 *   `delete-veth` for its host veth (it leaves its bridge; ptp's host route
 *   goes with it) and an `iptables-restore` of what the plugins' DEL removed
 *   from the nat table (scenarios/cni/del.ts replays the node's ADDs and the
 *   DELs: portmap's CNI-DN-<hash> chain and CNI-HOSTPORT-DNAT jump, ipMasq
 *   chains); host-local's release has no run-time effect;
 * - every node, when the pod was a Service endpoint: `kube-proxy-sync` (or
 *   `ipvs-sync`, `userspace-sync`) at deleteAt + kubeProxy.syncDelay with the
 *   state kube-proxy then writes.
 *
 * kube-proxy's sync is an `iptables-restore --noflush` of its whole ruleset:
 * every chain it writes is flushed and refilled, and chains it no longer
 * needs (the removed endpoint's KUBE-SEP-*) are flushed and deleted (-X), as
 * its proxier does. In nftables mode the sync replaces `table ip kube-proxy`
 * (delete, then the new transaction): the rules come out as kube-proxy's
 * incremental transaction leaves them, though sets' dynamic elements (ClientIP
 * affinity) start afresh. In ipvs mode the endpoint's real servers are deleted
 * from their virtual servers, and net.ipv4.vs.expire_nodest_conn (which
 * kube-proxy sets) expires connections still bound to them. In userspace mode
 * the proxy's round-robin lists of the changed service ports are replaced
 * (LoadBalancerRR.OnEndpointsUpdate); what the proxy already has open to the
 * dead pod (TCP connections, busy UDP client sockets) stays and fails as it
 * would. conntrack entries portmap's DNAT made stay too (portmap's DEL does
 * not flush them; its ADD does for UDP).
 */
import type { LifecycleAction } from '../models/k8s/pod-lifecycle.js';
import { kubeProxyIpvs, kubeProxyIptables, kubeProxyNftables, NFT_TABLE } from '../models/k8s/kube-proxy/index.js';
import { kubeProxyUserspace } from '../models/k8s/kube-proxy/userspace.js';
import { cniDelNatChanges } from './cni/del.js';
import { ScenarioError } from './errors.js';
import type { NodeConfig, Scenario } from './scenario.js';
import { kubeProxyInput } from './services.js';

interface Deletion {
  node: string;
  pod: string;
  ip: string;
  atNs: number;
}

/** Per scenario: every node asks (kubeProxySyncs), and a scan of all pods per node was quadratic (2.6 s of a 5,000-node expand). */
const deletionsOf = new WeakMap<Scenario, Deletion[]>();

function deletions(s: Scenario): Deletion[] {
  let d = deletionsOf.get(s);
  if (d === undefined) {
    d = s.nodes.flatMap((n) => n.pods.filter((p) => p.deleteAtNs !== undefined).map((p) => ({ node: n.name, pod: p.name, ip: p.ip, atNs: p.deleteAtNs! })));
    deletionsOf.set(s, d);
  }
  return d;
}

/** The actions in pod `pod` of `node` (its sandbox going away). */
export function podLifecycle(node: NodeConfig, podName: string): LifecycleAction[] {
  const pod = node.pods.find((p) => p.name === podName);
  return pod?.deleteAtNs !== undefined ? [{ atNs: pod.deleteAtNs, action: 'shutdown' }] : [];
}

/**
 * The actions in `node`'s own namespace: each deleted pod's CNI DEL (as
 * Multus does it, the additional attachments last to first, then the
 * cluster network: each host veth deleted, then what the plugins' DEL
 * removed from the nat table), then kube-proxy's syncs.
 */
export function nodeLifecycle(s: Scenario, node: NodeConfig): LifecycleAction[] {
  // Stable: pods deleted at the same time go in pod order.
  const deleted = node.pods.filter((p) => p.deleteAtNs !== undefined).sort((a, b) => a.deleteAtNs! - b.deleteAtNs!);
  if (deleted.length === 0) return kubeProxySyncs(s, node);
  const order = deleted.map((p) => p.name);
  const primaryNat = node.cniNetwork !== undefined ? cniDelNatChanges(node.name, node.cniNetwork, order) : new Map<string, string>();
  const extraNat = new Map((node.extraNetworks ?? []).map((e) => [e.name, cniDelNatChanges(node.name, e.net, order.filter((p) => e.net.pods.has(p)))]));
  const out: LifecycleAction[] = [];
  for (const pod of deleted) {
    const atNs = pod.deleteAtNs!;
    const natText = (text: string | undefined, file: string): void => {
      if (text !== undefined && text !== '') out.push({ atNs, action: 'iptables-restore', text, file: `CNI DEL of ${pod.name} (${file})` });
    };
    for (const name of [...(pod.networks ?? [])].reverse()) {
      const extra = node.extraNetworks?.find((e) => e.name === name);
      const veth = extra?.net.pods.get(pod.name)?.hostVeth;
      if (extra === undefined || veth === undefined) continue;
      out.push({ atNs, action: 'delete-veth', dev: veth.name, ...(veth.master !== undefined ? { bridge: veth.master } : {}) });
      natText(extraNat.get(name)?.get(pod.name), extra.net.file);
    }
    const cni = node.cniNetwork?.pods.get(pod.name)?.hostVeth;
    if (node.cniNetwork !== undefined && cni !== undefined) {
      out.push({ atNs, action: 'delete-veth', dev: cni.name, ...(cni.master !== undefined ? { bridge: cni.master } : {}) });
      natText(primaryNat.get(pod.name), node.cniNetwork.file);
    } else {
      out.push({ atNs, action: 'delete-veth', dev: pod.hostVeth, bridge: node.bridge });
    }
  }
  return [...out, ...kubeProxySyncs(s, node)];
}

function kubeProxySyncs(s: Scenario, node: NodeConfig): LifecycleAction[] {
  const endpointOf = (d: Deletion) => s.services.some((svc) => svc.endpoints.some((e) => e.node === d.node && e.pod === d.pod));
  const relevant = deletions(s).filter(endpointOf);
  if (relevant.length === 0) return [];
  const mode = s.kubeProxy.mode;
  if (mode === 'ipvs') return ipvsSyncs(s, node, relevant);
  if (mode === 'userspace') return userspaceSyncs(s, node, relevant);
  if (mode !== 'iptables' && mode !== 'nftables') {
    const d = relevant[0]!;
    throw new ScenarioError([{ path: `nodes (${d.node}).pods (${d.pod}).deleteAt`, message: `the pod is a Service endpoint, and kube-proxy's resync after a deletion is modelled in iptables, nftables, ipvs and userspace modes (mode is ${mode})` }]);
  }
  const rules = (sc: Scenario): string => (mode === 'nftables' ? kubeProxyNftables(kubeProxyInput(sc, node)) : kubeProxyIptables(kubeProxyInput(sc, node)));
  const removedUdp = removedUdpEndpoints(s, relevant);
  return syncsAtDeletionTimes(s, relevant, rules, (t, before, after) => ({
    atNs: t + s.kubeProxy.syncDelayNs,
    action: 'kube-proxy-sync' as const,
    ruleset: mode,
    text: mode === 'nftables' ? `delete table ip ${NFT_TABLE}\n${after}` : withStaleChainsDeleted(before, after),
    file: `kube-proxy sync after deletions at ${t / 1e9}s (${node.name})`,
    removedUdpEndpoints: removedUdp(t),
  }));
}

/**
 * One sync per deletion time: kube-proxy's state (`stateOf`) computed from the
 * Services without every endpoint deleted by then, and the action taking the
 * node from the previous state to it.
 */
function syncsAtDeletionTimes<T>(s: Scenario, relevant: Deletion[], stateOf: (sc: Scenario) => T, action: (t: number, before: T, after: T) => LifecycleAction): LifecycleAction[] {
  const times = [...new Set(relevant.map((d) => d.atNs))].sort((a, b) => a - b);
  let before = stateOf(s);
  return times.map((t) => {
    const gone = new Set(relevant.filter((d) => d.atNs <= t).map((d) => `${d.node}/${d.pod}`));
    const services = s.services.map((svc) => ({ ...svc, endpoints: svc.endpoints.filter((e) => !gone.has(`${e.node}/${e.pod}`)) }));
    const after = stateOf({ ...s, services });
    const out = action(t, before, after);
    before = after;
    return out;
  });
}

/** The addresses of the pods deleted at `t` that were endpoints of a UDP Service port (kube-proxy clears their conntrack entries). */
function removedUdpEndpoints(s: Scenario, relevant: Deletion[]): (t: number) => string[] {
  const udp = (d: Deletion) => s.services.some((svc) => svc.ports.some((p) => p.protocol === 'UDP') && svc.endpoints.some((e) => e.node === d.node && e.pod === d.pod));
  return (t) => relevant.filter((d) => d.atNs === t && udp(d)).map((d) => d.ip);
}

/** ipvs mode: the real servers of the deleted endpoints go from every virtual server (kube-proxy's ipvsadm -d). */
function ipvsSyncs(s: Scenario, node: NodeConfig, relevant: Deletion[]): LifecycleAction[] {
  if (s.kubeProxy.mode !== 'ipvs') return [];
  const scheduler = s.kubeProxy.ipvs.scheduler;
  const key = (v: { protocol: string; address: string; port: number }, r: { address: string; port: number }) => `${v.protocol} ${v.address}:${v.port} ${r.address}:${r.port}`;
  const removedUdp = removedUdpEndpoints(s, relevant);
  const servers = (sc: Scenario) => kubeProxyIpvs(kubeProxyInput(sc, node), { scheduler }).virtualServers;
  return syncsAtDeletionTimes(s, relevant, servers, (t, before, after) => {
    const kept = new Set(after.flatMap((v) => v.realServers.map((r) => key(v, r))));
    const removed = before.flatMap((v) =>
      v.realServers.filter((r) => !kept.has(key(v, r))).map((r) => ({ protocol: v.protocol, vip: v.address, vport: v.port, addr: r.address, port: r.port })),
    );
    return { atNs: t + s.kubeProxy.syncDelayNs, action: 'ipvs-sync' as const, removed, removedUdpEndpoints: removedUdp(t) };
  });
}

/**
 * userspace mode: the proxy's backend lists of the service ports whose
 * endpoints changed (the proxy ports and rules stay: the Services did not).
 */
function userspaceSyncs(s: Scenario, node: NodeConfig, relevant: Deletion[]): LifecycleAction[] {
  // Only the ports' names and backends are used; the proxy ports drawn here are not.
  const backendsOf = (sc: Scenario) => new Map(kubeProxyUserspace(kubeProxyInput(sc, node), () => 0).ports.map((p) => [p.name, p.backends]));
  const same = (a: { ip: string; port: number }[], b: { ip: string; port: number }[]) => a.length === b.length && a.every((x, i) => x.ip === b[i]!.ip && x.port === b[i]!.port);
  return syncsAtDeletionTimes(s, relevant, backendsOf, (t, before, after) => {
    const ports = [...after].filter(([name, backends]) => !same(backends, before.get(name) ?? [])).map(([name, backends]) => ({ name, backends }));
    return { atNs: t + s.kubeProxy.syncDelayNs, action: 'userspace-sync' as const, ports };
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
