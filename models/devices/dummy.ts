import type { Packet } from '../packet.js';
import { NetDevice } from './net-device.js';
import type { Netns } from '../stack/netns.js';

/**
 * A dummy device (drivers/net/dummy.c): a place to hold addresses, such as
 * kube-proxy's kube-ipvs0 with every virtual IP as a /32. Whatever is sent to
 * it is counted and freed (dummy_xmit); nothing is ever received. kube-proxy
 * leaves kube-ipvs0 down: its addresses are local all the same.
 */
export class DummyDevice extends NetDevice {
  constructor(ns: Netns, name: string, mac: number) {
    super(ns, name, mac, 1500);
  }

  xmit(pkt: Packet): void {
    pkt.orphan();
    this.transmitted(pkt);
  }
}
