import type { EventHandler } from '../../engine/simulation.js';
import type { DelayLine } from '../../engine/delay-line.js';
import type { Packet } from '../packet.js';
import { DropReason } from './drop-reason.js';
import { CaptureDirection, NetDevice } from './net-device.js';
import type { Netns } from '../stack/netns.js';
import type { TbfQdisc } from './tbf.js';
import { ETH_HLEN } from '../wire/ethernet.js';

/** include/linux/if_vlan.h: the slack is_skb_forwardable allows for one VLAN tag. */
const VLAN_HLEN = 4;

const EV_ARRIVE = 0;

/**
 * One end of a veth pair (drivers/net/veth.c): what one end transmits arrives
 * at its peer, in the peer's namespace. With zero delay (the default) the frame
 * is queued on the receiving component's backlog like veth_xmit's netif_rx;
 * a positive delay models a per-hop cost and schedules the arrival.
 */
export class VethDevice extends NetDevice implements EventHandler {
  peer: VethDevice | null = null;
  /** The component's FIFO for this pair's delay (null with no delay, set by `pair`). */
  private line: DelayLine | null = null;
  private qdisc: TbfQdisc | null = null;

  constructor(ns: Netns, name: string, mac: number, mtu: number) {
    super(ns, name, mac, mtu);
  }

  get delayNs(): number {
    return this.line === null ? 0 : this.line.delayNs;
  }

  static pair(a: VethDevice, b: VethDevice, delayNs = 0): void {
    a.peer = b;
    b.peer = a;
    a.line = b.line = delayNs > 0 ? a.ns.component.delayLine(delayNs) : null;
  }

  /**
   * A root qdisc (`tc qdisc add dev X root tbf ...`; the default is noqueue):
   * frames wait in it and reach the peer, and the capture taps, as it lets
   * them go (dev_hard_start_xmit). Its drops are this end's tx_dropped.
   */
  setQdisc(q: TbfQdisc): void {
    if (this.qdisc !== null) throw new Error(`${this.path}: already has a root qdisc`);
    this.qdisc = q;
    q.attach(
      (pkt) => this.hardXmit(pkt),
      (pkt) => this.dropTx(pkt, DropReason.QDISC_DROP),
    );
  }

  xmit(pkt: Packet): void {
    if (this.qdisc !== null && this.up) {
      // A flood's shared copy (Bridge.flood) waits in the qdisc as this port's own.
      this.qdisc.enqueue(pkt.holders > 1 ? pkt.take() : pkt);
    } else this.hardXmit(pkt);
  }

  /** veth_xmit. */
  private hardXmit(pkt: Packet): void {
    pkt.orphan(); // __dev_forward_skb -> skb_scrub_packet -> skb_orphan
    const peer = this.peer;
    if (!this.up || peer === null || !peer.up) {
      this.dropTx(pkt, DropReason.DEV_READY);
      pkt.release();
      return;
    }
    // veth_xmit -> __dev_forward_skb -> is_skb_forwardable: the peer takes up to
    // mtu + hard_header_len + VLAN_HLEN bytes. Taps on this end saw the frame
    // already (dev_queue_xmit_nit runs before ndo_start_xmit).
    if (pkt.len > peer.mtu + ETH_HLEN + VLAN_HLEN) {
      if (this.tap !== null) this.tap.capture(this, pkt, CaptureDirection.OUT);
      this.dropTx(pkt, DropReason.PKT_TOO_BIG);
      pkt.release();
      return;
    }
    this.transmitted(pkt);
    // __dev_forward_skb -> skb_scrub_packet: the peer sees a fresh skb, with no
    // connection and, across namespaces, no mark.
    pkt.scrub(peer.ns !== this.ns);
    if (this.line === null) peer.ns.backlog.enqueue(peer, pkt);
    else this.line.push(this, EV_ARRIVE, pkt);
  }

  handleEvent(_kind: number, arg: unknown): void {
    const peer = this.peer!;
    peer.ns.backlog.enqueue(peer, arg as Packet);
  }
}
