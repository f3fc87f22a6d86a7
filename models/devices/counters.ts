import type { DropReason } from './drop-reason.js';

/** Per-device counters, the fields `ip -s link` prints, plus drops by reason. */
export class DeviceCounters {
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  txBytes = 0;
  rxDropped = 0;
  txDropped = 0;
  readonly dropsByReason = new Map<DropReason, number>();

  countDrop(reason: DropReason, tx: boolean): void {
    if (tx) this.txDropped++;
    else this.rxDropped++;
    this.dropsByReason.set(reason, (this.dropsByReason.get(reason) ?? 0) + 1);
  }

  toJSON(): Record<string, unknown> {
    return {
      rx: { packets: this.rxPackets, bytes: this.rxBytes, dropped: this.rxDropped },
      tx: { packets: this.txPackets, bytes: this.txBytes, dropped: this.txDropped },
      drops: Object.fromEntries([...this.dropsByReason.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
    };
  }
}
