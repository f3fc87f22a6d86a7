/**
 * VXLAN header (RFC 7348 section 5), 8 bytes after the outer UDP header:
 *
 *   flags (8, only I = 0x08) | reserved (24) | VNI (24) | reserved (8)
 *
 * The inner Ethernet frame follows. Parse checks what vxlan_rcv
 * (drivers/net/vxlan/vxlan_core.c) checks without extensions (no GBP, no
 * remote checksum offload): the I flag is set, and every other flag and
 * reserved bit is zero ("unparsed" bits left make the packet malformed).
 */
import { read32, write32 } from './bytes.js';
import { checkLen, WireError } from './errors.js';

export const VXLAN_HEADER_LEN = 8;
/** IANA-assigned UDP port (RFC 7348); flannel and the Linux default (0) use 8472. */
export const VXLAN_PORT_IANA = 4789;
export const VXLAN_PORT_LINUX = 8472;
/** VXLAN_HF_VNI: the I flag, "VNI valid". */
export const VXLAN_FLAG_I = 0x08;
export const VXLAN_VNI_MAX = 0xffffff;

const FLAGS_WORD = 0;
const VNI_WORD = 4;

/** The first 32-bit word: flags in the top byte, reserved below. */
export function vxlanFlagsWord(buf: Uint8Array, off: number): number {
  return read32(buf, off + FLAGS_WORD);
}
export function vxlanFlags(buf: Uint8Array, off: number): number {
  return buf[off + FLAGS_WORD]!;
}
export function vxlanVni(buf: Uint8Array, off: number): number {
  return read32(buf, off + VNI_WORD) >>> 8;
}
export function setVxlanVni(buf: Uint8Array, off: number, vni: number): void {
  // The low byte is reserved and written as 0.
  write32(buf, off + VNI_WORD, (vni << 8) >>> 0);
}

export interface VxlanRepr {
  vni: number;
}

/** `len` is the bytes available from `off` (the UDP payload length). */
export function parseVxlan(buf: Uint8Array, off: number, len: number): VxlanRepr {
  checkLen('vxlan', 'header', len, VXLAN_HEADER_LEN);
  const word = vxlanFlagsWord(buf, off);
  if ((word >>> 24) & VXLAN_FLAG_I) {
    const rest = (word & ~(VXLAN_FLAG_I << 24)) >>> 0;
    if (rest !== 0) throw new WireError('vxlan', 'flags', `0x${word.toString(16).padStart(8, '0')} has unknown flags or reserved bits set`);
  } else {
    throw new WireError('vxlan', 'flags', `0x${(word >>> 24).toString(16).padStart(2, '0')} lacks the I flag (0x08)`);
  }
  if (buf[off + VNI_WORD + 3] !== 0) throw new WireError('vxlan', 'reserved', `byte after the VNI is ${buf[off + VNI_WORD + 3]}, must be 0`);
  return { vni: vxlanVni(buf, off) };
}

/** Writes flags (I), the VNI and zero reserved fields. */
export function emitVxlan(repr: VxlanRepr, buf: Uint8Array, off: number): void {
  write32(buf, off + FLAGS_WORD, (VXLAN_FLAG_I << 24) >>> 0);
  setVxlanVni(buf, off, repr.vni);
}
