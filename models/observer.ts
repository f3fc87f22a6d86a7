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

  /** Counts as [namespace, reason, count] (a partition's share in a partitioned run). */
  toPartial(): [string, string, number][] {
    const out: [string, string, number][] = [];
    for (const [ns, m] of this.counts) for (const [reason, n] of m) out.push([ns, reason, n]);
    return out;
  }

  merge(partial: [string, string, number][]): void {
    for (const [ns, reason, n] of partial) {
      let m = this.counts.get(ns);
      if (m === undefined) {
        m = new Map();
        this.counts.set(ns, m);
      }
      m.set(reason as DropReason, (m.get(reason as DropReason) ?? 0) + n);
      this.total += n;
    }
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
