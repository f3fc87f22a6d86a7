import type { EventHandler } from '../../engine/simulation.js';
import type { Netns } from '../stack/netns.js';
import { BridgeDevice } from '../devices/bridge.js';
import type { UserspaceProxy } from '../apps/userspace-proxy.js';
import { parseIpv4 } from '../wire/addr.js';

/**
 * What happens in one namespace when a pod is deleted, at the simulated times
 * the control plane would make it happen:
 * - `shutdown`, in the pod: the kubelet kills its containers and removes the
 *   sandbox — every device goes down and its applications stop;
 * - `delete-veth`, on the node: the runtime's CNI DEL deletes the pod's host
 *   veth (eth0's, and net1...'s on additional networks): it leaves its bridge
 *   (its FDB entries go with it), goes down, and its addresses and the routes
 *   through it go (ptp's gateway address and host route), as when Linux
 *   unregisters a device;
 * - `iptables-restore`, on the node, with the veth: what the plugins' DEL
 *   removes from the nat table (portmap's CNI-DN-<hash> chain and its jump,
 *   ipMasq chains), applied with --noflush;
 * - `kube-proxy-sync`, on every node, a sync delay later: the endpoint is gone
 *   from the EndpointSlice and kube-proxy writes its rules anew
 *   (`iptables-restore --noflush`, stale chains deleted with -X) and deletes
 *   the conntrack entries of removed UDP endpoints, as kube-proxy does so that
 *   UDP clients do not keep sending to a dead address;
 * - `ipvs-sync`: the same in ipvs mode (real servers deleted);
 * - `userspace-sync`: the same in userspace mode: the proxy's round-robin
 *   lists of the changed service ports are replaced (LoadBalancerRR
 *   OnEndpointsUpdate); existing proxied connections are left to their TCP.
 * Each action touches only its own namespace, so it is an event of that
 * namespace's component (engine/README.md).
 */
export type LifecycleAction =
  | { atNs: number; action: 'shutdown' }
  | { atNs: number; action: 'delete-veth'; dev: string; bridge?: string }
  | { atNs: number; action: 'iptables-restore'; text: string; file: string }
  | { atNs: number; action: 'kube-proxy-sync'; ruleset: 'iptables' | 'nftables'; text: string; file: string; removedUdpEndpoints: string[] }
  | { atNs: number; action: 'ipvs-sync'; removed: { protocol: 'TCP' | 'UDP'; vip: string; vport: number; addr: string; port: number }[]; removedUdpEndpoints: string[] }
  | { atNs: number; action: 'userspace-sync'; ports: { name: string; backends: { ip: string; port: number }[] }[] };

export class PodLifecycle implements EventHandler {
  /** Actions applied so far (for tests and results). */
  applied = 0;

  constructor(
    private readonly ns: Netns,
    private readonly actions: readonly LifecycleAction[],
    /** kube-proxy's userspace proxy process in this namespace, if any (for `userspace-sync`). */
    private readonly userspaceProxy: UserspaceProxy | null = null,
  ) {
    actions.forEach((a, i) => ns.component.scheduleAt(a.atNs, this, i));
  }

  handleEvent(kind: number): void {
    const a = this.actions[kind]!;
    this.applied++;
    switch (a.action) {
      case 'shutdown':
        this.ns.shutdown();
        return;
      case 'delete-veth': {
        const dev = this.ns.device(a.dev);
        if (a.bridge !== undefined) {
          const br = this.ns.device(a.bridge);
          if (!(br instanceof BridgeDevice)) throw new Error(`${this.ns.name}: ${a.bridge} is not a bridge`);
          br.removePort(dev);
        }
        this.ns.deleteDevice(dev);
        return;
      }
      case 'iptables-restore': {
        const nf = this.ns.netfilter;
        if (nf === null) throw new Error(`${this.ns.name}: ${a.file} without netfilter`);
        nf.restore(a.text, a.file, true);
        return;
      }
      case 'kube-proxy-sync': {
        const nf = this.ns.netfilter;
        if (nf === null) throw new Error(`${this.ns.name}: kube-proxy sync without netfilter`);
        if (a.ruleset === 'nftables') nf.loadNft(a.text, a.file);
        else nf.restore(a.text, a.file, true);
        for (const ip of a.removedUdpEndpoints) nf.conntrack?.deleteByReplySource(17, parseIpv4(ip));
        return;
      }
      case 'ipvs-sync': {
        // kube-proxy's ipvs mode deletes the real servers of the gone endpoint (ipvsadm -d).
        const ipvs = this.ns.netfilter?.ipvs ?? null;
        if (ipvs === null) throw new Error(`${this.ns.name}: ipvs sync without IPVS`);
        for (const r of a.removed) ipvs.removeRealServer(r.protocol === 'TCP' ? 6 : 17, parseIpv4(r.vip), r.vport, parseIpv4(r.addr), r.port);
        for (const ip of a.removedUdpEndpoints) this.ns.netfilter!.conntrack?.deleteByReplySource(17, parseIpv4(ip));
        return;
      }
      case 'userspace-sync': {
        if (this.userspaceProxy === null) throw new Error(`${this.ns.name}: userspace sync without the proxy`);
        for (const p of a.ports) this.userspaceProxy.setBackends(p.name, p.backends.map((b) => ({ ip: parseIpv4(b.ip), port: b.port })));
        return;
      }
    }
  }
}
