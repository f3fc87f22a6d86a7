/**
 * Traffic endpoints as written in a scenario ("n1", "n1/p1", "n1/p1/app",
 * "10.244.1.1", "localhost") resolved against the nodes: where a client runs,
 * and which address a destination stands for. Used by validation (which only
 * wants the error) and by expansion (which wants the answer).
 */
import { listNames } from './errors.js';
import type { ExternalHostConfig, NodeConfig, PodConfig } from './scenario.js';
import { cidrNetwork, formatIpv4, parseCidr, parseIpv4 } from './ipv4.js';

export const LOCALHOST = '127.0.0.1';

/** A namespace an application can run in. */
export interface EndpointRef {
  /** "n1", "n1/p1", or an external host's name. */
  ns: string;
  /** Absent for an external host. */
  node?: NodeConfig;
  external?: ExternalHostConfig;
  pod?: PodConfig;
  container?: string;
}

export interface Destination {
  /** Dotted quad the traffic is sent to. */
  address: string;
  /** Namespace owning the address, when the scenario knows it. */
  ns?: string;
}

interface NodeEntry {
  node: NodeConfig;
  pods?: Map<string, PodConfig>;
}

/** "app=web,tier=front" -> {app: 'web', tier: 'front'}; undefined when `text` is not a selector. */
export function parseSelector(text: string): Record<string, string> | undefined {
  if (!text.includes('=')) return undefined;
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export class EndpointIndex {
  /** Service name -> ClusterIP, for "svc:<name>" destinations (set once Services are resolved). */
  services = new Map<string, string>();
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly externals = new Map<string, ExternalHostConfig>();
  private owners?: Map<string, string>;

  constructor(
    private readonly nodeList: readonly NodeConfig[],
    private readonly underlayGateway: string,
    private readonly externalHosts: readonly ExternalHostConfig[] = [],
  ) {
    for (const node of nodeList) if (!this.nodes.has(node.name)) this.nodes.set(node.name, { node });
    for (const h of externalHosts) if (!this.nodes.has(h.name) && !this.externals.has(h.name)) this.externals.set(h.name, h);
  }

  external(name: string): ExternalHostConfig | undefined {
    return this.externals.get(name);
  }

  externalNames(): string[] {
    return [...this.externals.keys()];
  }

  node(name: string): NodeConfig | undefined {
    return this.nodes.get(name)?.node;
  }

  /** The pod `podName` of node `nodeName` (per-node maps are built on first use). */
  pod(nodeName: string, podName: string): PodConfig | undefined {
    const entry = this.nodes.get(nodeName);
    if (!entry) return undefined;
    if (!entry.pods) {
      entry.pods = new Map();
      for (const p of entry.node.pods) if (!entry.pods.has(p.name)) entry.pods.set(p.name, p);
    }
    return entry.pods.get(podName);
  }

  /**
   * The pods a label selector matches, in node/pod order, as sources; a string
   * is the error (a selector matching nothing is a mistake, not a no-op).
   */
  select(text: string): EndpointRef[] | string {
    const sel = parseSelector(text);
    if (sel === undefined) return `${JSON.stringify(text)} is not a label selector (key=value[,key=value])`;
    const out: EndpointRef[] = [];
    for (const node of this.nodeList) {
      for (const pod of node.pods) {
        if (Object.entries(sel).every(([k, v]) => pod.labels?.[k] === v)) out.push({ ns: `${node.name}/${pod.name}`, node, pod });
      }
    }
    if (out.length === 0) return `selector ${JSON.stringify(text)} matches no pod`;
    return out;
  }

  /** Resolves node, node/pod, node/pod/container or an external host; a string is the error. */
  source(text: string): EndpointRef | string {
    const parts = text.split('/');
    const unknown = `unknown endpoint ${JSON.stringify(text)}`;
    const external = this.external(parts[0]!);
    if (external) return parts.length === 1 ? { ns: external.name, external } : `${unknown} (${external.name} is an external host: no pods)`;
    const node = this.node(parts[0]!);
    if (!node) {
      const ext = this.externalHosts.length > 0 ? `; external hosts are ${listNames(this.externalHosts.map((h) => h.name))}` : '';
      return `${unknown} (nodes are ${listNames(this.nodeList.map((n) => n.name))}${ext})`;
    }
    if (parts.length === 1) return { ns: node.name, node };
    const pod = this.pod(node.name, parts[1]!);
    if (!pod) {
      if (node.pods.length === 0) return `${unknown} (${node.name} has no pods)`;
      return `${unknown} (pods of ${node.name} are ${listNames(node.pods.map((p) => p.name))})`;
    }
    const ns = `${node.name}/${pod.name}`;
    if (parts.length === 2) return { ns, node, pod };
    const container = parts[2]!;
    if (!pod.containers.includes(container)) {
      return `${unknown} (containers of ${ns} are ${listNames(pod.containers)})`;
    }
    return { ns, node, pod, container };
  }

  /**
   * The address a destination stands for, seen from `from`: a node's NIC
   * address, a pod's IP, 127.0.0.1 for a container of the client's own pod
   * (containers of a pod share its namespace and talk over localhost), or a
   * literal address.
   */
  destination(text: string, from: EndpointRef): Destination | string {
    if (text === 'localhost') return { address: LOCALHOST, ns: from.ns };
    if (text.startsWith('svc:')) {
      const name = text.slice(4);
      const ip = this.services.get(name);
      if (ip === undefined) return `unknown Service ${JSON.stringify(name)} (Services are ${this.services.size > 0 ? listNames([...this.services.keys()]) : 'none'})`;
      return { address: ip };
    }
    const literal = parseIpv4(text);
    if (literal !== undefined) {
      // Sent as if unicast, a group's datagrams would go to the gateway's MAC and be routed: wrong, so refused.
      if (literal === 0) return '0.0.0.0 as a destination is this host, which Linux reaches through lo as 127.0.0.1: use localhost';
      if (literal >>> 28 === 0xe) {
        return `${text} is a multicast group (224.0.0.0/4), which podwire does not model (no group membership, multicast MACs or TTL 1); use a unicast or broadcast address`;
      }
      if (literal >>> 24 === 127) return { address: text, ns: from.ns };
      return { address: text, ns: this.ownerOf(text) };
    }
    const to = this.source(text);
    if (typeof to === 'string') return to;
    if (to.external) return { address: to.external.address, ns: to.ns };
    if (!to.pod) return { address: to.node!.address, ns: to.ns };
    if (to.container !== undefined && to.ns === from.ns) return { address: LOCALHOST, ns: to.ns };
    return { address: to.pod.ip, ns: to.ns };
  }

  /** Namespace holding an address (pods, node NICs, pod gateways, external hosts, the underlay gateway). */
  ownerOf(address: string): string | undefined {
    if (!this.owners) {
      const owners = new Map<string, string>([[this.underlayGateway, 'underlay']]);
      for (const node of this.nodeList) {
        owners.set(node.address, node.name);
        const cidr = parseCidr(node.podCIDR);
        if (cidr) owners.set(formatIpv4(cidrNetwork(cidr) + 1), node.name);
        for (const pod of node.pods) owners.set(pod.ip, `${node.name}/${pod.name}`);
      }
      for (const h of this.externals.values()) owners.set(h.address, h.name);
      this.owners = owners;
    }
    return this.owners.get(address);
  }
}
