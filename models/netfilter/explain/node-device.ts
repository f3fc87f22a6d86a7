/**
 * The interfaces of the node `podwire iptables trace` pretends to be. The
 * rule engine reads only a device's name (-i/-o, ip_packet_match), its
 * addresses (MASQUERADE's source, REDIRECT's destination) and, through the
 * host, which local addresses it owns (-m addrtype --limit-iface-*). A real
 * NetDevice also needs a namespace, a medium and a simulation clock, none of
 * which a single packet walked through the hooks uses, so the node makes
 * these small stand-ins and hands them to netfilter in NetDevice's place.
 */
import type { IfAddr, NetDevice } from '../../devices/net-device.js';

export class NodeDevice {
  readonly addrs: IfAddr[] = [];

  constructor(
    readonly name: string,
    readonly ifindex: number,
  ) {}

  /**
   * The view netfilter's types ask for. Only name, ifindex and addrs are
   * read on the hook path (see above); nothing transmits through it.
   */
  asNetDevice(): NetDevice {
    return this as unknown as NetDevice;
  }
}
