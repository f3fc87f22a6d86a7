/** A fault for the TCP tests: drop the first transmission of chosen data segments. */
import type { NetDevice } from '../../../models/devices/net-device.js';
import type { Packet } from '../../../models/packet.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { decodeTcp } from './tcp-helpers.js';

/** A segment dropped: its stream offset and when. */
export interface Dropped {
  off: number;
  t: number;
}

/** Drops the first transmission of the data segments starting at the given stream offsets; returns those dropped. */
export function dropFirstSends(dev: NetDevice, conn: () => Connection | null, offsets: number[], now: () => number): Dropped[] {
  const pending = new Set(offsets);
  const dropped: Dropped[] = [];
  const xmit = dev.xmit.bind(dev);
  dev.xmit = (pkt: Packet): void => {
    const c = conn();
    const f = decodeTcp({ t: 0, dev: '', dir: 'out', bytes: pkt.bytes() });
    if (c !== null && f !== null && f.payload.length > 0) {
      const off = (f.seq - c.iss) >>> 0;
      if (pending.delete(off)) {
        dropped.push({ off, t: now() });
        return;
      }
    }
    xmit(pkt);
  };
  return dropped;
}
