/**
 * A node's pod networking done by its CNI configuration: ADD for every pod in
 * order, as the kubelet's sandboxes come up, on one CniNode. The result is
 * plain data for scenarios/expand.ts: the bridges, each pod's veth pair,
 * addresses and routes, the node's routes and the nat rules the plugins wrote,
 * plus each pod's CNI result to write as cni/<node>.<pod>.json.
 */
import { formatIpv4, parseCidr } from '../ipv4.js';
import type { RouteSpec } from '../topology.js';
import type { CniConfList } from './conflist.js';
import { CniNode, type PodNetwork, sandboxId, sandboxNetns } from './execute.js';
import type { Attachment, BridgeDevice, PortMapping } from './plugin.js';
import { formatResult } from './result.js';

export interface CniPodInput {
  name: string;
  hostPorts?: PortMapping[];
  /** The interface the ADD makes in the pod (CNI_IFNAME): eth0, or net1... on additional networks. */
  ifName?: string;
}

export interface CniNodeNetwork {
  /** The configuration file (or "<scenario> (inline cni.config)"). */
  file: string;
  bridges: BridgeDevice[];
  /** By pod name, in pod order. */
  pods: Map<string, PodNetwork & { ip: string; containerId: string }>;
  hostRoutes: RouteSpec[];
  /** iptables-restore text of the plugins' nat rules ('' when none). */
  iptables: string;
  /** What the ADDs were run with, so that DELs can be replayed (scenarios/cni/del.ts). */
  list: CniConfList;
  inputs: CniPodInput[];
}

export function runNodeCni(nodeName: string, list: CniConfList, pods: readonly CniPodInput[]): CniNodeNetwork {
  const node = new CniNode(nodeName);
  const out = new Map<string, PodNetwork & { ip: string; containerId: string }>();
  for (const pod of pods) {
    const att = podAttachment(nodeName, pod);
    const containerId = att.containerId;
    const net = node.add(list, att);
    const first = net.result.ips.find((x) => x.interface === undefined || net.result.interfaces[x.interface]?.sandbox !== undefined);
    if (first === undefined) throw new Error(`${list.file}: the result for pod ${pod.name} has no address in the sandbox`);
    out.set(pod.name, { ...net, ip: formatIpv4(parseCidr(first.address)!.base), containerId });
  }
  return {
    file: list.file,
    bridges: [...node.bridges.values()],
    pods: out,
    hostRoutes: [...out.values()].flatMap((p) => p.hostRoutes),
    iptables: node.nat.restoreText(),
    list,
    inputs: pods.map((p) => ({ ...p })),
  };
}

/** The runtime's arguments for `pod`'s attachment on `nodeName` (the same for its ADD and its DEL). */
export function podAttachment(nodeName: string, pod: CniPodInput): Attachment {
  const containerId = sandboxId(nodeName, pod.name);
  return {
    containerId,
    netns: sandboxNetns(containerId),
    ifName: pod.ifName ?? 'eth0',
    ...(pod.hostPorts !== undefined ? { portMappings: pod.hostPorts } : {}),
  };
}

/** The JSON of a pod's result, as the runtime would cache it. */
export function podResultJson(net: PodNetwork): string {
  return JSON.stringify(formatResult(net.result), null, 2) + '\n';
}
