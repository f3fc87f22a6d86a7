/**
 * The node a packet is explained on: the addresses it owns and the one
 * routing decision `podwire iptables trace` makes. It stands for a
 * Kubernetes node as kube-proxy sees it, reduced to what netfilter asks:
 *
 *   lo       127.0.0.1/8 (all of 127.0.0.0/8 is local, as the kernel's
 *            local table makes it)
 *   uplink   the device forwarded and locally sent packets leave by
 *            (--out-iface, default eth0); it holds the --local-ip addresses,
 *            so MASQUERADE picks its source from them
 *   in       the device a PREROUTING packet arrives on (--in-iface, default
 *            eth0); the uplink itself when the names agree, else a device
 *            without addresses (a veth or cni0 port)
 *
 * Routing is local-or-not (fib_lookup reduced to the local table): a local
 * destination goes up to INPUT (through lo when sent by the node itself),
 * any other is forwarded out of the uplink (net.ipv4.ip_forward=1, as on
 * every node).
 */
import type { IfAddr, NetDevice } from '../../devices/net-device.js';
import { directedBroadcast, formatIpv4 } from '../../wire/addr.js';
import type { AddrType } from '../types.js';
import { NodeDevice } from './node-device.js';

export interface NodeConfig {
  /** Addresses the node owns besides 127.0.0.0/8 (prefixLen 32 when none was given). */
  localAddrs: readonly IfAddr[];
  /** Default 'eth0'. */
  inIface?: string;
  /** Default 'eth0'. */
  outIface?: string;
}

/** Linux's IFNAMSIZ - 1; "lo" may be named, other names must be real interface names. */
const IFNAME_MAX = 15;
const LOOPBACK_NET = 0x7f000000;

/** What the routing decision says of a destination. */
export interface RouteDecision {
  /** The destination is one of the node's own addresses. */
  local: boolean;
  /** The device the packet leaves by (lo for a local destination sent by the node). */
  dev: NodeDevice;
}

export class ExplainNode {
  readonly lo: NodeDevice;
  readonly uplink: NodeDevice;
  readonly inDev: NodeDevice;
  private readonly owners = new Map<number, NodeDevice>();
  private readonly broadcasts = new Set<number>();
  private readonly byName = new Map<string, NodeDevice>();

  constructor(cfg: NodeConfig) {
    this.lo = this.device('lo');
    this.lo.addrs.push({ addr: 0x7f000001, prefixLen: 8 });
    this.uplink = this.device(cfg.outIface ?? 'eth0');
    this.inDev = this.device(cfg.inIface ?? 'eth0');
    for (const a of cfg.localAddrs) {
      if ((a.addr & 0xff000000) >>> 0 === LOOPBACK_NET) continue; // already local, on lo
      if (this.owners.has(a.addr)) throw new Error(`--local-ip: ${formatIpv4(a.addr)} given twice`);
      this.owners.set(a.addr, this.uplink);
      this.uplink.addrs.push({ addr: a.addr, prefixLen: a.prefixLen });
      if (a.prefixLen < 31) this.broadcasts.add(directedBroadcast(a.addr, a.prefixLen));
    }
  }

  private device(name: string): NodeDevice {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    if (name === '' || name.length > IFNAME_MAX || /[\s/:]/.test(name)) throw new Error(`"${name}" is not an interface name`);
    const d = new NodeDevice(name, this.byName.size + 1);
    this.byName.set(name, d);
    return d;
  }

  /** inet_addr_type(...) == RTN_LOCAL. */
  isLocal(addr: number): boolean {
    return (addr & 0xff000000) >>> 0 === LOOPBACK_NET || this.owners.has(addr);
  }

  /**
   * inet_addr_type / inet_dev_addr_type, as -m addrtype asks it; with a
   * device, a local address counts only on the device that holds it.
   */
  addressType(addr: number, dev: NetDevice | null): AddrType {
    if (addr === 0 || addr === 0xffffffff) return 'BROADCAST';
    if ((addr & 0xf0000000) >>> 0 === 0xe0000000) return 'MULTICAST';
    if (this.isLocal(addr)) {
      if (dev === null) return 'LOCAL';
      const owner = (addr & 0xff000000) >>> 0 === LOOPBACK_NET ? this.lo : this.owners.get(addr);
      return owner !== undefined && owner.name === dev.name ? 'LOCAL' : 'UNICAST';
    }
    if (this.broadcasts.has(addr) && (dev === null || dev.name === this.uplink.name)) return 'BROADCAST';
    return 'UNICAST';
  }

  /**
   * The routing decision for `dst`: local delivery or the uplink. A packet the
   * node sends to itself leaves by lo (ip_route_output_key: the local table's
   * routes point at the loopback device).
   */
  route(dst: number): RouteDecision {
    return this.isLocal(dst) ? { local: true, dev: this.lo } : { local: false, dev: this.uplink };
  }
}
