import type { NetDevice } from './devices/net-device.js';
import type { DropReason } from './devices/drop-reason.js';
import type { Packet } from './packet.js';
import type { Netns } from './stack/netns.js';

/**
 * Named trace points (after ns-3's MacTxDrop, PhyRxDrop...): models call them,
 * statistics and tracers implement them. Cheap when nobody listens.
 */
export interface Observer {
  drop(ns: Netns, dev: NetDevice | null, pkt: Packet, reason: DropReason): void;
}

/** Counts drops by namespace and reason. */
export class DropCounter implements Observer {
  readonly counts = new Map<string, Map<DropReason, number>>();
  total = 0;

  drop(ns: Netns, _dev: NetDevice | null, _pkt: Packet, reason: DropReason): void {
    let m = this.counts.get(ns.name);
    if (m === undefined) {
      m = new Map();
      this.counts.set(ns.name, m);
    }
    m.set(reason, (m.get(reason) ?? 0) + 1);
    this.total++;
  }

  toJSON(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const ns of [...this.counts.keys()].sort()) {
      const m = this.counts.get(ns)!;
      out[ns] = Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return out;
  }
}
