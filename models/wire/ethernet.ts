/**
 * Ethernet II header (IEEE 802.3 clause 3 with an EtherType), no VLAN tag.
 *
 * emit never pads to the 60-byte minimum: Linux hands short frames to veth and
 * bridges unpadded, and captures there show a 42-byte ARP as 42 bytes (see
 * kernel-ref/same-node). Padding, if any, belongs to a physical-NIC model.
 */
import { readMac, writeMac } from './addr.js';
import { read16, write16 } from './bytes.js';
import { checkLen } from './errors.js';

export const ETH_HLEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

/** Byte offsets within the header (smoltcp's `mod field`). */
const DST = 0;
const SRC = 6;
const TYPE = 12;

export function ethDst(buf: Uint8Array, off: number): number {
  return readMac(buf, off + DST);
}
export function setEthDst(buf: Uint8Array, off: number, mac: number): void {
  writeMac(buf, off + DST, mac);
}
export function ethSrc(buf: Uint8Array, off: number): number {
  return readMac(buf, off + SRC);
}
export function setEthSrc(buf: Uint8Array, off: number, mac: number): void {
  writeMac(buf, off + SRC, mac);
}
export function ethType(buf: Uint8Array, off: number): number {
  return read16(buf, off + TYPE);
}
export function setEthType(buf: Uint8Array, off: number, ethertype: number): void {
  write16(buf, off + TYPE, ethertype);
}

export interface EthernetRepr {
  dst: number;
  src: number;
  ethertype: number;
}

/** The payload starts at `off + ETH_HLEN`. */
export function parseEthernet(buf: Uint8Array, off: number, len: number): EthernetRepr {
  checkLen('ethernet', 'header', len, ETH_HLEN);
  return { dst: ethDst(buf, off), src: ethSrc(buf, off), ethertype: ethType(buf, off) };
}

export function emitEthernet(repr: EthernetRepr, buf: Uint8Array, off: number): void {
  setEthDst(buf, off, repr.dst);
  setEthSrc(buf, off, repr.src);
  setEthType(buf, off, repr.ethertype);
}
