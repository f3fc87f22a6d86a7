import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { planPartitions } from '../../scenarios/partition-plan.js';
import { closePorts, partitionWiring } from '../../scenarios/partitioned-run.js';
import { openPartitionJob, type OpenJob } from '../../scenarios/partition-job.js';
import { runPartitionsInTurn } from '../../engine/partition-stepper.js';
import { NicDevice } from '../../models/devices/nic.js';
import { PacketType, type Packet } from '../../models/packet.js';
import { ETH_HLEN, ETHERTYPE_ARP, ethType } from '../../models/wire/ethernet.js';

// The underlay switch floods each ARP broadcast to every node's NIC, and the
// copies for another partition cross as a run of records of the same frame.
// The receiving side shares one packet among those NICs until each arrives
// (models/devices/remote-wire.ts, Packet.take). An ARP frame is only read by
// the stack it reaches, so every node reads that one packet in place
// (NetDevice.receive): no packet is made per node, and each stack must still
// see the frame as sent, addressed to it as a broadcast.

const YAML = `
name: remote-flood
duration: 2ms
scale: { nodes: 8, podsPerNode: 1 }
traffic:
  - pingAll: { pattern: cross-node, count: 1, interval: 1ms }
capture: none
`;

describe('a flood crossing to another partition', () => {
  it('hands every receiving node the one packet that crossed, with the frame as sent', () => {
    const spec = expandScenario(parseScenario(YAML, 'remote-flood.yaml'));
    const plan = planPartitions(spec, 2);
    const staging = mkdtempSync(join(tmpdir(), 'pw-remote-flood-'));
    const wiring = partitionWiring(spec, plan, spec.durationNs, false);
    const open: OpenJob[] = [];
    try {
      for (const w of wiring) open.push(openPartitionJob({ ...w, staging, format: 'pcapng', epochSeconds: 0, singleCapture: false }));
      // Every ARP frame the nodes' stacks get from their underlay NIC, per packet id, in the partition without the switch.
      const far = open.find((o) => ![...o.part.world.namespaces.keys()].includes('underlay'))!;
      const byId = new Map<number, { pkt: Packet; bytes: string; broadcast: boolean }[]>();
      for (const ns of far.part.world.namespaces.values()) {
        const nic = [...ns.devices.values()].find((d) => d instanceof NicDevice);
        if (nic === undefined) continue;
        const netifReceive = ns.netifReceive.bind(ns);
        ns.netifReceive = (dev, pkt) => {
          if (dev === nic && ethType(pkt.buf, pkt.off) === ETHERTYPE_ARP) {
            const seen = byId.get(pkt.id) ?? [];
            seen.push({
              pkt,
              bytes: Buffer.from(pkt.buf.subarray(pkt.off, pkt.off + ETH_HLEN + 28)).toString('hex'),
              broadcast: pkt.pktType === PacketType.BROADCAST,
            });
            byId.set(pkt.id, seen);
          }
          netifReceive(dev, pkt);
        };
      }
      runPartitionsInTurn(open.map((o) => o.stepper));
      const floods = [...byId.values()].filter((copies) => copies.length > 1);
      expect(floods.length).toBeGreaterThan(0);
      for (const copies of floods) {
        expect(new Set(copies.map((c) => c.pkt)).size).toBe(1);
        expect(new Set(copies.map((c) => c.bytes)).size).toBe(1);
        expect(copies.every((c) => c.broadcast)).toBe(true);
      }
    } finally {
      for (const o of open) o.part.abort();
      closePorts(wiring);
      rmSync(staging, { recursive: true, force: true });
    }
  });
});
