/**
 * The scenario's nodes and their pods: written out (`nodes`) or generated
 * (`scale`). Names are unique and clear of the underlay's own; pods get their
 * containers, host veths and addresses (scenarios/address-plan.ts checks and
 * hands those out), ip sets and deletion times.
 */
import { IpSetTable } from '../models/netfilter/ipset.js';
import { type PathSegment, formatPath } from './errors.js';
import { type Cidr, cidrNetwork, formatCidr, formatIpv4 } from './ipv4.js';
import {
  MAX_IFNAME,
  NODE_CIDR_LEN,
  defaultBridge,
  defaultHostVeth,
  defaultNodeAddress,
  generateScaleNodes,
  hostCount,
  nodeCidrCapacity,
  podCapacity,
} from './nodes.js';
import { type RackPlan, rackNodeAddress } from './scale-racks.js';
import { assignPodAddresses, claimPodAddress, nodeAddress, nodePodCidr, podCidrOverlaps } from './address-plan.js';
import { DEFAULTS } from './defaults.js';
import { type Problems, plural } from './problems.js';
import { tcpSettings } from './tcp-settings.js';
import type { RawNode, RawPod, RawScenario } from './raw-scenario.js';
import type { IpSetConfig, NodeConfig, PodConfig, Runtime } from './scenario.js';

/** The nodes as written in `nodes` (`rawNodes`, from `raw`). */
export function explicitNodes(
  problems: Problems,
  raw: RawScenario,
  rawNodes: RawNode[],
  runtime: Runtime,
  underlay: { cidr?: Cidr; gateway?: number },
  cluster: Cidr | undefined,
): NodeConfig[] {
  const names = new Map<string, number>();
  const addresses = new Map<number, number>();
  const podCidrs: { cidr: Cidr; index: number }[] = [];
  const podIps = new Map<number, string>();
  const nodes: NodeConfig[] = [];

  rawNodes.forEach((rn, i) => {
    const at: PathSegment[] = ['nodes', i];
    nodeName(problems, rn.name, [...at, 'name'], names, i);

    // Address on the underlay.
    const address = nodeAddress(problems, rn, i, at, underlay, addresses);

    // Pod CIDR.
    const podCidr = nodePodCidr(problems, raw, rn, i, at, runtime, underlay, cluster);
    if (podCidr) podCidrs.push({ cidr: podCidr, index: i });

    const bridge = rn.bridge ?? defaultBridge(runtime);
    if (bridge === 'eth0' || bridge === 'lo') {
      problems.fail([...at, 'bridge'], `"${bridge}" is already an interface of every node`);
    }

    const pods = nodePods(problems, rn, at, runtime, bridge, podCidr, podIps);
    nodes.push({
      name: rn.name,
      address,
      podCIDR: podCidr ? formatCidr(podCidr) : (rn.podCIDR ?? ''),
      bridge,
      pods,
      ...(rn.iptables !== undefined ? { iptables: rn.iptables } : {}),
      ...(rn.iptablesFile !== undefined ? { iptablesFile: rn.iptablesFile } : {}),
      bridgeNfCallIptables: rn.bridgeNfCallIptables ?? true,
      ...(rn.conntrackMax !== undefined ? { conntrackMax: rn.conntrackMax } : {}),
      ...(rn.ipsets !== undefined && rn.ipsets.length > 0 ? { ipsets: ipsets(problems, rn.ipsets, at) } : {}),
      ...(rn.nfacct !== undefined && rn.nfacct.length > 0 ? { nfacct: [...new Set(rn.nfacct)] } : {}),
      ...(rn.tcp !== undefined ? { tcp: tcpSettings(problems, rn.tcp, [...at, 'tcp']) } : {}),
    });
  });

  podCidrOverlaps(problems, raw, podCidrs);
  return nodes;
}

/** ip sets: unique names, every element valid for its set type. */
function ipsets(problems: Problems, sets: IpSetConfig[], at: PathSegment[]): IpSetConfig[] {
  const names = new Map<string, number>();
  sets.forEach((set, j) => {
    const prev = names.get(set.name);
    if (prev !== undefined) problems.fail([...at, 'ipsets', j, 'name'], `"${set.name}" is already used by ipsets[${prev}]`);
    names.set(set.name, j);
    const table = new IpSetTable(set.name, set.type);
    (set.entries ?? []).forEach((e, k) => {
      try {
        table.add(e);
      } catch (err) {
        problems.fail([...at, 'ipsets', j, 'entries', k], `${(err as Error).message} (in a ${set.type} set)`);
      }
    });
  });
  return sets.map((s) => ({ name: s.name, type: s.type, entries: s.entries ?? [] }));
}

/** A pod's deleteAt (scenarios/pod-deletion.ts says what deletion does). */
function podDeletion(problems: Problems, rp: RawPod, path: PathSegment[], runtime: Runtime): number {
  const at = problems.duration(rp.deleteAt, 0, [...path, 'deleteAt']);
  if (runtime !== 'cni') problems.fail([...path, 'deleteAt'], 'applies to runtime cni (Kubernetes pods); a docker container is not deleted mid-run');
  return at;
}

function nodeName(problems: Problems, name: string, path: PathSegment[], seen: Map<string, number>, index: number): void {
  if (name === 'underlay') problems.fail(path, '"underlay" is reserved (the underlay namespace)');
  else if (name === 'localhost') problems.fail(path, '"localhost" is reserved (it means 127.0.0.1 in traffic destinations)');
  else if (name === 'br0' || name === 'lo') {
    problems.fail(path, `"${name}" is reserved (node names also name their ports on the underlay, which has ${name})`);
  } else if (name.length > MAX_IFNAME) {
    problems.fail(
      path,
      `"${name}" is longer than ${MAX_IFNAME} characters (it also names the node's port on the underlay bridge)`,
    );
  }
  const prev = seen.get(name);
  if (prev !== undefined) problems.fail(path, `"${name}" is already used by nodes[${prev}]`);
  else seen.set(name, index);
}

function nodePods(
  problems: Problems,
  rn: RawNode,
  at: PathSegment[],
  runtime: Runtime,
  bridge: string,
  podCidr: Cidr | undefined,
  podIps: Map<number, string>,
): PodConfig[] {
  const rawPods = rn.pods ?? [];
  if (podCidr && rawPods.length > podCapacity(podCidr)) {
    problems.fail(
      [...at, 'pods'],
      `${rawPods.length} pods do not fit podCIDR ${formatCidr(podCidr)} ` +
        `(${plural(podCapacity(podCidr), 'address', 'addresses')} after the gateway)`,
    );
    podCidr = undefined;
  }
  const names = new Map<string, number>();
  // Interface names of the node: explicit host veths claim theirs first.
  const ifnames = new Map<string, string>([
    ['eth0', 'the node NIC'],
    ['lo', 'the loopback device'],
    [bridge, 'the node bridge'],
  ]);
  const pods: PodConfig[] = rawPods.map((rp, j) => {
    const path = [...at, 'pods', j];
    const prev = names.get(rp.name);
    if (prev !== undefined) problems.fail([...path, 'name'], `"${rp.name}" is already used by ${formatPath([...at, 'pods', prev])}`);
    else names.set(rp.name, j);

    const containers = rp.containers ?? [runtime === 'docker' ? rp.name : 'main'];
    const seen = new Map<string, number>();
    containers.forEach((c, k) => {
      const first = seen.get(c);
      if (first !== undefined) problems.fail([...path, 'containers', k], `"${c}" is already used by containers[${first}]`);
      else seen.set(c, k);
    });
    if (runtime === 'docker' && containers.length > 1) {
      problems.fail([...path, 'containers'], 'runtime docker runs one container per network namespace; list one');
    }

    let ip = '';
    if (rp.ip !== undefined) {
      ip = rp.ip;
      claimPodAddress(problems, rp.ip, path, podCidr, podIps);
    }

    if (rp.hostVeth !== undefined) {
      const taken = ifnames.get(rp.hostVeth);
      if (taken !== undefined) problems.fail([...path, 'hostVeth'], `"${rp.hostVeth}" is already used by ${taken}`);
      else ifnames.set(rp.hostVeth, formatPath(path));
    }
    return {
      name: rp.name,
      ip,
      containers,
      hairpin: rp.hairpin ?? false,
      hostVeth: rp.hostVeth ?? '',
      ...(rp.labels !== undefined ? { labels: { ...rp.labels } } : {}),
      ...(rp.deleteAt !== undefined ? { deleteAtNs: podDeletion(problems, rp, path, runtime) } : {}),
    };
  });

  // Defaults, in pod order: veth names around the explicit ones, addresses
  // from the gateway's next host up, skipping those given explicitly.
  const used = new Set(ifnames.keys());
  for (const pod of pods) if (pod.hostVeth === '') pod.hostVeth = defaultHostVeth(pod.name, used);
  if (podCidr) assignPodAddresses(problems, pods, at, podCidr, podIps);
  return pods;
}

/** The nodes `scale` generates, once everything is checked to fit (else none). */
export function scaleNodes(
  problems: Problems,
  raw: RawScenario,
  scale: { nodes: number; podsPerNode?: number },
  runtime: Runtime,
  underlay: { cidr?: Cidr; gateway?: number },
  cluster: Cidr | undefined,
  /** The racks, when scale.nodesPerRack made them (checked there); else one segment, the underlay cidr. */
  racks?: RackPlan,
): NodeConfig[] {
  const n = scale.nodes;
  const p = scale.podsPerNode ?? DEFAULTS.podsPerNode;
  let ok = true;
  if (!cluster) {
    if (raw.clusterCIDR === undefined) {
      problems.fail(['scale'], `runtime ${runtime} needs clusterCIDR to carve node podCIDRs from`);
    }
    ok = false;
  } else if (n > nodeCidrCapacity(cluster)) {
    problems.fail(
      ['scale', 'nodes'],
      `${n} nodes do not fit clusterCIDR ${formatCidr(cluster)} (${nodeCidrCapacity(cluster)} node ranges of /${NODE_CIDR_LEN})`,
    );
    ok = false;
  }
  if (raw.scale?.nodesPerRack !== undefined) {
    // planRacks checked the racks against underlay.cidr, and made no plan when they do not fit.
    if (racks === undefined) ok = false;
  } else if (!underlay.cidr || underlay.gateway === undefined) {
    ok = false;
  } else {
    const hosts = hostCount(underlay.cidr);
    const gatewayHost = underlay.gateway - cidrNetwork(underlay.cidr);
    if (n + 1 > hosts) {
      problems.fail(
        ['scale', 'nodes'],
        `${n} nodes do not fit underlay cidr ${formatCidr(underlay.cidr)} ` +
          `(node addresses are hosts 2..${n + 1}; it has ${hosts})`,
      );
      ok = false;
    } else if (gatewayHost >= 2 && gatewayHost <= n + 1) {
      problems.fail(['underlay', 'gateway'], `${formatIpv4(underlay.gateway)} is the default address of node-${gatewayHost - 1}`);
      ok = false;
    }
  }
  const perNode = podCapacity({ base: 0, len: NODE_CIDR_LEN });
  if (p > perNode) {
    problems.fail(['scale', 'podsPerNode'], `${p} pods do not fit a /${NODE_CIDR_LEN} podCIDR (${perNode} addresses after the gateway)`);
    ok = false;
  }
  if (!ok || !cluster || !underlay.cidr) return [];
  const flat = underlay.cidr;
  const nodeAddress = racks !== undefined ? (i: number) => rackNodeAddress(racks, i) : (i: number) => defaultNodeAddress(flat, i);
  return generateScaleNodes({ nodes: n, podsPerNode: p, runtime, nodeAddress, cluster });
}
