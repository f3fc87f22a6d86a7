/**
 * The loader's step for `cni:`: read each node's configuration (the file,
 * relative to the scenario, or the inline JSON), execute ADD for its pods,
 * and give the pods the addresses and veth names the plugins chose. Problems
 * are reported at the `cni` field of the scenario.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatPath, type ScenarioIssue } from '../errors.js';
import { cidrContains, parseCidr, parseIpv4 } from '../ipv4.js';
import type { Scenario } from '../scenario.js';
import { type CniConfList, parseConflist } from './conflist.js';
import { CniConfigError } from './fields.js';
import { CniExecError } from './execute.js';
import { runNodeCni } from './node-network.js';

export function resolveCni(scenario: Scenario, fileName: string, lineOf: (path: (string | number)[]) => number): ScenarioIssue[] {
  const issues: ScenarioIssue[] = [];
  scenario.nodes.forEach((node) => {
    const src = node.cni;
    if (src === undefined) return;
    const key = 'conflist' in src ? 'conflist' : 'config';
    const at = [...src.at, key];
    const issue = (message: string): void => {
      issues.push({ path: `${formatPath(at)}${src.at[0] === 'cni' ? ` (node ${node.name})` : ''}`, line: lineOf(at), col: 1, message });
    };
    let list: CniConfList;
    try {
      if ('conflist' in src) {
        const path = resolve(dirname(fileName), src.conflist);
        let text: string;
        try {
          text = readFileSync(path, 'utf8');
        } catch (e) {
          issue(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          return;
        }
        list = parseConflist(text, src.conflist, { podCIDR: node.podCIDR });
      } else {
        list = parseConflist(JSON.stringify(src.config), 'inline config', { podCIDR: node.podCIDR });
      }
      const mapsPorts = list.plugins.some((p) => p.conf.type === 'portmap' && p.conf.wantsPortMappings);
      const withPorts = node.pods.find((p) => p.hostPorts !== undefined && p.hostPorts.length > 0);
      if (withPorts !== undefined && !mapsPorts) {
        issue(`pod ${withPorts.name} has hostPorts but ${list.file} has no portmap plugin with capabilities.portMappings, so they would not be mapped`);
        return;
      }
      const net = runNodeCni(node.name, list, node.pods);
      const podCidr = parseCidr(node.podCIDR);
      for (const pod of node.pods) {
        const p = net.pods.get(pod.name)!;
        if (podCidr !== undefined && !cidrContains(podCidr, parseIpv4(p.ip)!)) {
          issue(`pod ${pod.name} got ${p.ip} from IPAM, outside the node's podCIDR ${node.podCIDR} (routes to pods follow podCIDRs; use {{.PodCIDR}})`);
        }
        if (scenario.services.length > 0 && pod.ip !== p.ip) {
          issue(`pod ${pod.name} got ${p.ip} from IPAM, not ${pod.ip} as Services assumed (allocate from the podCIDR's second host up)`);
        }
        if (p.shaping !== undefined && p.shaping.device !== p.hostVeth.name) {
          issue(`pod ${pod.name}: the bandwidth plugin shapes ${p.shaping.device}, not the pod's host veth ${p.hostVeth.name}; podwire shapes host veths only`);
        }
        pod.ip = p.ip;
        pod.hostVeth = p.hostVeth.name;
      }
      // ptp gives every host veth the gateway /32; podwire's stack holds an address on one device only.
      const held = new Map<string, string>();
      for (const [pod, p] of net.pods) {
        for (const a of p.hostVeth.addresses) {
          const first = held.get(a);
          if (first !== undefined) issue(`pods ${first} and ${pod} both need ${a} on their host veth (ptp); podwire holds an address on one device only, so give this node one such pod`);
          else held.set(a, pod);
        }
      }
      if (net.bridges[0] !== undefined) node.bridge = net.bridges[0].name;
      node.cniNetwork = net;
    } catch (e) {
      if (e instanceof CniConfigError || e instanceof CniExecError) issue(e.message);
      else throw e;
    }
  });
  for (const network of scenario.networks ?? []) resolveNetwork(scenario, network, fileName, lineOf, issues);
  return issues;
}

/**
 * An additional network (Multus-style): on every node, ADD for each pod that
 * lists it, with CNI_IFNAME net<k> after its place in the pod's `networks`.
 */
function resolveNetwork(
  scenario: Scenario,
  network: NonNullable<Scenario['networks']>[number],
  fileName: string,
  lineOf: (path: (string | number)[]) => number,
  issues: ScenarioIssue[],
): void {
  const src = network.cni;
  const at = [...src.at, 'conflist' in src ? 'conflist' : 'config'];
  for (const node of scenario.nodes) {
    const pods = node.pods
      .filter((p) => p.networks?.includes(network.name))
      .map((p) => ({ name: p.name, ifName: `net${p.networks!.indexOf(network.name) + 1}` }));
    if (pods.length === 0) continue;
    const issue = (message: string): void => void issues.push({ path: `${formatPath(at)} (network ${network.name}, node ${node.name})`, line: lineOf(at), col: 1, message });
    try {
      let text: string;
      let name: string;
      if ('conflist' in src) {
        const path = resolve(dirname(fileName), src.conflist);
        try {
          text = readFileSync(path, 'utf8');
        } catch (e) {
          issue(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          return;
        }
        name = src.conflist;
      } else {
        text = JSON.stringify(src.config);
        name = `inline config of network ${network.name}`;
      }
      const list = parseConflist(text, name, { podCIDR: node.podCIDR });
      if (list.plugins.some((p) => p.conf.type === 'portmap' || p.conf.type === 'bandwidth' || p.conf.type === 'flannel')) {
        issue(`${list.file}: an additional network takes bridge, ptp, host-local and loopback; portmap, bandwidth and flannel belong to the primary network`);
        return;
      }
      const net = runNodeCni(node.name, list, pods);
      node.extraNetworks = [...(node.extraNetworks ?? []), { name: network.name, net }];
    } catch (e) {
      if (e instanceof CniConfigError || e instanceof CniExecError) issue(e.message);
      else throw e;
    }
  }
}
