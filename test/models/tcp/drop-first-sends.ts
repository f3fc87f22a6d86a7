/** A fault for the TCP tests: drop the first transmissions of chosen data segments. */
import type { NetDevice } from '../../../models/devices/net-device.js';
import type { Packet } from '../../../models/packet.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { decodeTcp } from './tcp-helpers.js';

/** A segment dropped: its stream offset and when. */
export interface Dropped {
  off: number;
  t: number;
}

/**
 * Drops the first `times` transmissions of the data segments starting at the
 * given stream offsets (the first one only, by default); returns those dropped.
 */
export function dropFirstSends(dev: NetDevice, conn: () => Connection | null, offsets: number[], now: () => number, times = 1): Dropped[] {
  const pending = new Map(offsets.map((off) => [off, times]));
  const dropped: Dropped[] = [];
  const xmit = dev.xmit.bind(dev);
  dev.xmit = (pkt: Packet): void => {
    const c = conn();
    const f = decodeTcp({ t: 0, dev: '', dir: 'out', bytes: pkt.bytes() });
    if (c !== null && f !== null && f.payload.length > 0) {
      const off = (f.seq - c.iss) >>> 0;
      const left = pending.get(off) ?? 0;
      if (left > 0) {
        pending.set(off, left - 1);
        dropped.push({ off, t: now() });
        pkt.orphan(); // lost on the wire: it left the host, so its socket is no longer charged for it
        return;
      }
    }
    xmit(pkt);
  };
  return dropped;
}
