import type { NetDevice } from '../devices/net-device.js';
import { DropReason } from '../devices/drop-reason.js';
import { Packet, PacketType } from '../packet.js';
import type { Neighbour } from './neighbour.js';
import type { Netns } from './netns.js';
import { MAC_BROADCAST } from '../wire/addr.js';
import { ETH_HLEN, ETHERTYPE_ARP, emitEthernet } from '../wire/ethernet.js';
import { ARP_LEN, ARP_OP_REPLY, ARP_OP_REQUEST, arpOp, arpSenderIp, arpSenderMac, arpTargetIp, emitArp, isValidArp } from '../wire/arp.js';
import { ipv4Src } from '../wire/ipv4.js';

/**
 * arp_process (net/ipv4/arp.c) with the default sysctls (arp_ignore=0,
 * arp_accept=0, arp_announce=0, proxy_arp=0):
 * - a request for one of our addresses (on any device) creates or refreshes the
 *   sender's entry as STALE (neigh_event_ns) and is answered with a unicast reply;
 * - any other ARP message only updates an entry that already exists: REACHABLE
 *   for a reply addressed to us, STALE otherwise. Unsolicited ARP creates nothing.
 */
export function arpReceive(ns: Netns, dev: NetDevice, pkt: Packet): void {
  // arp_rcv: frames for another host's MAC are not looked at.
  if (pkt.pktType === PacketType.OTHERHOST) return;
  const a = pkt.off + ETH_HLEN;
  if (!isValidArp(pkt.buf, a, pkt.len - ETH_HLEN)) {
    dev.dropRx(pkt, DropReason.NOT_SPECIFIED);
    return;
  }
  // Most ARP frames are a flood's requests for another host from a sender we
  // have no entry for: all the rules below then change nothing. Rejecting them
  // first spares loading the device, its addresses and the neighbour entries,
  // all out of cache in a large flood.
  const sender = arpSenderIp(pkt.buf, a);
  if (sender !== 0 && !ns.isLocal(arpTargetIp(pkt.buf, a)) && !ns.neigh.mayHave(sender)) return;
  if (dev.addrs.length === 0 && dev !== ns.lo) {
    // No in_device configuration: arp_rcv ignores the frame.
    return;
  }
  const op = arpOp(pkt.buf, a);
  const sip = arpSenderIp(pkt.buf, a);
  const tip = arpTargetIp(pkt.buf, a);
  // arp_process drops requests about multicast or loopback targets (route_localnet=0).
  if (isMulticastOrLoopback(tip)) return;
  // A loopback or multicast sender is a martian source: no reply, nothing learned.
  if (isMulticastOrLoopback(sip)) return;
  if (sip === 0) {
    // RFC 2131 duplicate address detection probe: answered (to 0.0.0.0), nothing learned.
    if (op === ARP_OP_REQUEST && ns.isLocal(tip)) {
      const sha = arpSenderMac(pkt.buf, a);
      sendArp(ns, dev, ARP_OP_REPLY, sha, tip, sha, 0);
    }
    return;
  }
  const sha = arpSenderMac(pkt.buf, a);
  if (op === ARP_OP_REQUEST && ns.isLocal(tip)) {
    ns.neigh.update(dev, sip, sha, false, true);
    sendArp(ns, dev, ARP_OP_REPLY, sha, tip, sha, sip);
    return;
  }
  const reachable = op === ARP_OP_REPLY && pkt.pktType === PacketType.HOST;
  ns.neigh.update(dev, sip, sha, reachable, false);
}

function isMulticastOrLoopback(a: number): boolean {
  return (a & 0xf0000000) >>> 0 === 0xe0000000 || a >>> 24 === 127;
}

/**
 * arp_solicit: a request for `n.ip`, broadcast, or unicast to `dstMac` for a
 * NUD_PROBE re-check. The sender address is the source of the packet that
 * triggered it when that is one of ours, else an address of the device on the
 * target's subnet (arp_announce=0).
 */
export function arpSolicit(ns: Netns, n: Neighbour, dstMac: number, trigger: Packet | undefined): void {
  let sip = 0;
  if (trigger !== undefined) {
    const s = ipv4Src(trigger.buf, trigger.off + ETH_HLEN);
    if (ns.isLocal(s)) sip = s;
  }
  if (sip === 0) sip = ns.selectSource(n.dev, n.ip);
  sendArp(ns, n.dev, ARP_OP_REQUEST, dstMac === 0 ? MAC_BROADCAST : dstMac, sip, 0, n.ip);
}

/** arp_send: a 42-byte frame (no padding, as captured on Linux). */
function sendArp(ns: Netns, dev: NetDevice, op: number, ethDst: number, sip: number, tha: number, tip: number): void {
  const pkt = ns.newPacket(ARP_LEN);
  emitEthernet({ dst: ethDst, src: dev.mac, ethertype: ETHERTYPE_ARP }, pkt.buf, pkt.off);
  emitArp({ op: op as 1 | 2, senderMac: dev.mac, senderIp: sip, targetMac: tha, targetIp: tip }, pkt.buf, pkt.off + ETH_HLEN);
  // arp_xmit -> dev_queue_xmit: bottom halves held until the transmit returns (see Backlog.hold).
  ns.backlog.hold();
  try {
    dev.xmit(pkt);
  } finally {
    ns.backlog.release();
  }
}
