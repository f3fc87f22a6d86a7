import type { Packet } from '../packet.js';
import { PacketType } from '../packet.js';
import { DeviceCounters } from './counters.js';
import { DropReason } from './drop-reason.js';
import type { Netns } from '../stack/netns.js';
import { readMac } from '../wire/addr.js';
import { ETHERTYPE_ARP, ethType } from '../wire/ethernet.js';
import { describeFrame } from '../trace/describe.js';
import type { TbfQdisc } from './tbf.js';

/** Direction of a captured frame, as pcapng's epb_flags encodes it. */
export const enum CaptureDirection {
  IN = 1,
  OUT = 2,
}

/** Something that records frames seen at a device (a capture point). */
export interface CaptureTap {
  capture(dev: NetDevice, pkt: Packet, direction: CaptureDirection): void;
}

/** The receive hook a bridge installs on its ports (the kernel's rx_handler). */
export interface RxHandler {
  handleFrame(port: NetDevice, pkt: Packet): void;
}

/** An IPv4 address configured on a device (struct in_ifaddr). */
export interface IfAddr {
  addr: number;
  prefixLen: number;
}

/**
 * A network device: a name, a MAC, an MTU, counters, an optional capture tap,
 * and two directions. Upper layers hand it complete Ethernet frames through
 * `xmit` (dev_queue_xmit); frames that arrive from its medium enter through
 * `receive` (netif_receive_skb), which passes them to the bridge it is a port
 * of, or else up to its namespace's stack.
 */
export abstract class NetDevice {
  readonly counters = new DeviceCounters();
  tap: CaptureTap | null = null;
  /** Set when the device is a bridge port. */
  rxHandler: RxHandler | null = null;
  private ingressShaper: TbfQdisc | null = null;
  up = true;
  readonly addrs: IfAddr[] = [];
  readonly ifindex: number;

  constructor(
    readonly ns: Netns,
    readonly name: string,
    public mac: number,
    public mtu: number,
  ) {
    this.ifindex = ns.nextIfindex();
  }

  /** IFF_NOARP without header_ops (ip tunnels): the neighbour layer hands frames over unresolved. */
  get noArp(): boolean {
    return false;
  }

  /** "<namespace>/<name>", the capture-point name. */
  get path(): string {
    return `${this.ns.name}/${this.name}`;
  }

  /** Transmit a complete Ethernet frame (the packet is consumed). */
  abstract xmit(pkt: Packet): void;

  /**
   * A frame arrived from the medium. Runs from the owning component's backlog
   * (see Backlog), never re-entrantly from another device's transmit.
   */
  receive(pkt: Packet): void {
    // A flood's copy several receivers hold (Packet.take): read in place when
    // this device's receive path only reads it, else this device's own.
    if (pkt.holders > 1) {
      if (this.readsInPlace(pkt)) pkt.release();
      else pkt = pkt.take();
    }
    if (!this.up) {
      this.dropRx(pkt, DropReason.DEV_READY);
      return;
    }
    this.counters.rxPackets++;
    this.counters.rxBytes += pkt.len;
    if (this.tap !== null) this.tap.capture(this, pkt, CaptureDirection.IN);
    this.traceFrame(pkt, 'rx');
    if (this.ingressShaper !== null) this.ingressShaper.enqueue(pkt);
    else this.receiveShaped(pkt);
  }

  /**
   * Whether this device's receive path only reads `pkt` and is done with it
   * when `receive` returns, so a flood's receivers can share one object: an
   * ARP frame (arp_process only reads; replies are new frames) going straight
   * into the stack. Not with a bridge on the port (it forwards the frame), an
   * ingress shaper (it keeps it), or a tracer (it follows packet objects).
   */
  private readsInPlace(pkt: Packet): boolean {
    return (
      this.rxHandler === null &&
      this.ingressShaper === null &&
      this.ns.ctx.tracer === null &&
      ethType(pkt.buf, pkt.off) === ETHERTYPE_ARP
    );
  }

  /**
   * The bandwidth plugin's egress shaping: tc ingress on this device redirects
   * (mirred) to an ifb whose root tbf holds the frames; the ifb then re-injects
   * them here, past the taps (ifb_ri_tasklet, skb_skip_tc_classify). Simplified:
   * the ifb is not a device of its own; its drops count as this device's rx drops.
   */
  setIngressShaper(q: TbfQdisc): void {
    if (this.ingressShaper !== null) throw new Error(`${this.path}: already has an ingress shaper`);
    this.ingressShaper = q;
    q.attach(
      (pkt) => this.receiveShaped(pkt),
      (pkt) => this.dropRx(pkt, DropReason.QDISC_DROP),
    );
  }

  /** The receive path after the taps (and after any ingress shaper). */
  private receiveShaped(pkt: Packet): void {
    pkt.pktType = this.classify(pkt);
    if (this.rxHandler !== null) this.rxHandler.handleFrame(this, pkt);
    else {
      if (pkt.shared && mayWriteOnReceive(pkt)) pkt.unshare();
      this.ns.netifReceive(this, pkt);
    }
  }

  /** eth_type_trans: where the frame is addressed relative to this device. */
  classify(pkt: Packet): PacketType {
    const b = pkt.buf;
    const o = pkt.off;
    if ((b[o]! & 1) !== 0) {
      return (b[o]! & b[o + 1]! & b[o + 2]! & b[o + 3]! & b[o + 4]! & b[o + 5]!) === 0xff
        ? PacketType.BROADCAST
        : PacketType.MULTICAST;
    }
    return readMac(b, o) === this.mac ? PacketType.HOST : PacketType.OTHERHOST;
  }

  /** Account a frame leaving the device and show it to the capture tap (dev_queue_xmit_nit). */
  protected transmitted(pkt: Packet): void {
    this.counters.txPackets++;
    this.counters.txBytes += pkt.len;
    if (this.tap !== null) this.tap.capture(this, pkt, CaptureDirection.OUT);
    const tr = this.ns.ctx.tracer;
    if (tr !== null && tr.consider(pkt)) tr.add(pkt, this.path, 'tx', describeFrame(pkt.buf, pkt.off, pkt.len));
  }

  /** Trace point: the frame seen at this device. */
  protected traceFrame(pkt: Packet, what: string): void {
    const tr = this.ns.ctx.tracer;
    if (tr !== null && tr.wants(pkt)) tr.add(pkt, this.path, what, describeFrame(pkt.buf, pkt.off, pkt.len));
  }

  /** Trace point: something this device decided about a traced frame. Callers test ns.ctx.tracer first, so the text is built only when tracing. */
  trace(pkt: Packet, what: string, text: string): void {
    const tr = this.ns.ctx.tracer;
    if (tr !== null && tr.wants(pkt)) tr.add(pkt, this.path, what, text);
  }

  dropTx(pkt: Packet, reason: DropReason): void {
    this.counters.countDrop(reason, true);
    this.ns.dropped(this, pkt, reason);
  }

  dropRx(pkt: Packet, reason: DropReason): void {
    this.counters.countDrop(reason, false);
    this.ns.dropped(this, pkt, reason);
  }
}

/**
 * Whether the stack may write into a frame it receives (and so needs bytes of
 * its own, Packet.unshare): not for ARP, which arp_process only reads, nor
 * for a frame addressed to another host, which ip_rcv drops unread.
 */
export function mayWriteOnReceive(pkt: Packet): boolean {
  return pkt.pktType !== PacketType.OTHERHOST && ethType(pkt.buf, pkt.off) !== ETHERTYPE_ARP;
}
