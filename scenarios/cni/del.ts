/**
 * CNI DEL of pods deleted during a run, as the runtime calls it when the
 * kubelet removes a sandbox: the node's ADDs replayed, then each deleted pod's
 * DEL in order (execute.ts: plugins in reverse, the cached ADD result as
 * prevResult). What DEL changes in the node's nat table becomes an
 * `iptables-restore --noflush` text to apply at the deletion time: chains the
 * plugins removed are flushed (declaring a chain flushes it under --noflush)
 * and deleted (-X), and rules they removed from chains that stay are deleted
 * (-D) — portmap's CNI-DN-<hash> chain and its jump in CNI-HOSTPORT-DNAT
 * (portmap_iptables.go unforwardPorts, chain.go teardown), bridge and ptp's
 * ipMasq chain and its POSTROUTING jump. The shared chains stay, as they do
 * on Linux. host-local's release is part of the replay (nothing runs for it).
 */
import { CniNode } from './execute.js';
import type { NatTable } from './nat-table.js';
import { type CniNodeNetwork, podAttachment } from './node-network.js';

type NatSnapshot = Map<string, string[]>;

function snapshot(nat: NatTable): NatSnapshot {
  return new Map(nat.chainNames().map((c) => [c, [...nat.rules(c)]]));
}

/**
 * For each of `pods` (deleted in this order, after every ADD of `net`), the
 * restore text of what its DEL removed from the nat table ('' when nothing).
 */
export function cniDelNatChanges(nodeName: string, net: CniNodeNetwork, pods: readonly string[]): Map<string, string> {
  const node = new CniNode(nodeName);
  for (const p of net.inputs) node.add(net.list, podAttachment(nodeName, p));
  const out = new Map<string, string>();
  for (const pod of pods) {
    const input = net.inputs.find((p) => p.name === pod);
    if (input === undefined) throw new Error(`${net.file}: pod ${pod} has no attachment on ${nodeName}`);
    const before = snapshot(node.nat);
    node.del(net.list, podAttachment(nodeName, input));
    out.set(pod, natRemovals(before, snapshot(node.nat)));
  }
  return out;
}

/** The `iptables-restore --noflush` text taking the nat table from `before` to `after` (DEL only removes). */
export function natRemovals(before: NatSnapshot, after: NatSnapshot): string {
  const gone = [...before.keys()].filter((c) => !after.has(c));
  const deletes: string[] = [];
  for (const [chain, rules] of before) {
    if (gone.includes(chain)) continue;
    const kept = after.get(chain) ?? [];
    for (const r of rules) if (!kept.includes(r)) deletes.push(`-D ${chain} ${r}`);
  }
  for (const [chain, rules] of after) {
    const had = before.get(chain) ?? [];
    if (rules.some((r) => !had.includes(r))) throw new Error(`CNI DEL added rules to ${chain}`);
  }
  if (gone.length === 0 && deletes.length === 0) return '';
  return ['*nat', ...gone.map((c) => `:${c} - [0:0]`), ...deletes, ...gone.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
}
