/**
 * ARP (RFC 826) for Ethernet and IPv4 only: htype 1, ptype 0x0800, hlen 6,
 * plen 4, so every packet is ARP_LEN bytes. parse rejects anything else, as
 * arp_rcv/arp_process (net/ipv4/arp.c) drop it for an Ethernet device.
 */
import { readMac, writeMac } from './addr.js';
import { read16, read32, write16, write32 } from './bytes.js';
import { checkLen, hex16, WireError } from './errors.js';
import { ETHERTYPE_IPV4 } from './ethernet.js';

export const ARP_LEN = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export type ArpOp = typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY;

const HTYPE = 0;
const PTYPE = 2;
const HLEN = 4;
const PLEN = 5;
const OP = 6;
const SHA = 8;
const SPA = 14;
const THA = 18;
const TPA = 24;

export function arpOp(buf: Uint8Array, off: number): number {
  return read16(buf, off + OP);
}
export function setArpOp(buf: Uint8Array, off: number, op: number): void {
  write16(buf, off + OP, op);
}
export function arpSenderMac(buf: Uint8Array, off: number): number {
  return readMac(buf, off + SHA);
}
export function setArpSenderMac(buf: Uint8Array, off: number, mac: number): void {
  writeMac(buf, off + SHA, mac);
}
export function arpSenderIp(buf: Uint8Array, off: number): number {
  return read32(buf, off + SPA);
}
export function setArpSenderIp(buf: Uint8Array, off: number, ip: number): void {
  write32(buf, off + SPA, ip);
}
export function arpTargetMac(buf: Uint8Array, off: number): number {
  return readMac(buf, off + THA);
}
export function setArpTargetMac(buf: Uint8Array, off: number, mac: number): void {
  writeMac(buf, off + THA, mac);
}
export function arpTargetIp(buf: Uint8Array, off: number): number {
  return read32(buf, off + TPA);
}
export function setArpTargetIp(buf: Uint8Array, off: number, ip: number): void {
  write32(buf, off + TPA, ip);
}

export interface ArpRepr {
  op: ArpOp;
  senderMac: number;
  senderIp: number;
  targetMac: number;
  targetIp: number;
}

/**
 * Whether parseArp would accept the packet, without building its repr: the
 * receive path checks every flooded ARP frame, so this allocates nothing.
 */
export function isValidArp(buf: Uint8Array, off: number, len: number): boolean {
  if (len < ARP_LEN) return false;
  if (read16(buf, off + HTYPE) !== ARP_HTYPE_ETHERNET || read16(buf, off + PTYPE) !== ETHERTYPE_IPV4) return false;
  if (buf[off + HLEN] !== 6 || buf[off + PLEN] !== 4) return false;
  const op = read16(buf, off + OP);
  return op === ARP_OP_REQUEST || op === ARP_OP_REPLY;
}

export function parseArp(buf: Uint8Array, off: number, len: number): ArpRepr {
  checkLen('arp', 'packet', len, ARP_LEN);
  const htype = read16(buf, off + HTYPE);
  if (htype !== ARP_HTYPE_ETHERNET) throw new WireError('arp', 'htype', `${htype} is not Ethernet (1)`);
  const ptype = read16(buf, off + PTYPE);
  if (ptype !== ETHERTYPE_IPV4) {
    throw new WireError('arp', 'ptype', `${hex16(ptype)} is not IPv4 (0x0800)`);
  }
  const hlen = buf[off + HLEN]!;
  if (hlen !== 6) throw new WireError('arp', 'hlen', `${hlen} is not 6`);
  const plen = buf[off + PLEN]!;
  if (plen !== 4) throw new WireError('arp', 'plen', `${plen} is not 4`);
  // arp_process handles only these two; RARP and InARP ops are dropped.
  const op = arpOp(buf, off);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) {
    throw new WireError('arp', 'op', `${op} is neither request (1) nor reply (2)`);
  }
  return {
    op,
    senderMac: arpSenderMac(buf, off),
    senderIp: arpSenderIp(buf, off),
    targetMac: arpTargetMac(buf, off),
    targetIp: arpTargetIp(buf, off),
  };
}

export function emitArp(repr: ArpRepr, buf: Uint8Array, off: number): void {
  write16(buf, off + HTYPE, ARP_HTYPE_ETHERNET);
  write16(buf, off + PTYPE, ETHERTYPE_IPV4);
  buf[off + HLEN] = 6;
  buf[off + PLEN] = 4;
  setArpOp(buf, off, repr.op);
  setArpSenderMac(buf, off, repr.senderMac);
  setArpSenderIp(buf, off, repr.senderIp);
  setArpTargetMac(buf, off, repr.targetMac);
  setArpTargetIp(buf, off, repr.targetIp);
}
