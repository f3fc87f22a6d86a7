import type { Packet } from '../packet.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import type { NfHook } from './hooks.js';
import { CtDir, CtState, type NfPacket } from './types.js';

/** The NfPacket a hook sees for `pkt` at `hook`: no devices, not bridged, untracked so far. */
export function nfPacketFor(pkt: Packet, hook: NfHook): NfPacket {
  return {
    pkt,
    ipOff: pkt.off + ETH_HLEN,
    hook,
    inDev: null,
    outDev: null,
    physIn: null,
    physOut: null,
    bridged: false,
    ct: null,
    ctState: CtState.INVALID,
    ctDir: CtDir.ORIGINAL,
  };
}
