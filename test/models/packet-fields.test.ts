import { describe, expect, it } from 'vitest';
import { Packet, PacketType } from '../../models/packet.js';
import { CtDir, CtState } from '../../models/netfilter/types.js';
import type { NetDevice } from '../../models/devices/net-device.js';

// Packet packs its small skb fields into one word and keeps br_netfilter's
// rare state out of line: every field must still read back what was written,
// whatever the others hold, and copies and scrubs must treat each as before.

function loaded(): Packet {
  const p = Packet.alloc(4, 1, 0);
  p.pktType = PacketType.OTHERHOST;
  p.ctState = CtState.UNTRACKED;
  p.ctDir = CtDir.REPLY;
  p.brnfPrerouted = true;
  p.ignoreDf = true;
  p.traceFollow = true;
  p.ipvsProperty = true;
  return p;
}

describe('Packet fields', () => {
  it('reads back each packed field, with every other one set', () => {
    const p = loaded();
    expect([p.pktType, p.ctState, p.ctDir, p.brnfPrerouted, p.ignoreDf, p.traceFollow, p.ipvsProperty, p.shared]).toEqual([
      PacketType.OTHERHOST, CtState.UNTRACKED, CtDir.REPLY, true, true, true, true, false,
    ]);
    for (const t of [PacketType.HOST, PacketType.BROADCAST, PacketType.MULTICAST, PacketType.OUTGOING]) {
      p.pktType = t;
      expect(p.pktType).toBe(t);
    }
    for (const s of [CtState.INVALID, CtState.NEW, CtState.ESTABLISHED, CtState.RELATED, 0]) {
      p.ctState = s;
      expect(p.ctState).toBe(s);
    }
    p.ctDir = CtDir.ORIGINAL;
    p.ignoreDf = false;
    p.ipvsProperty = false;
    expect([p.pktType, p.ctState, p.ctDir, p.brnfPrerouted, p.ignoreDf, p.traceFollow, p.ipvsProperty]).toEqual([
      PacketType.OUTGOING, 0, CtDir.ORIGINAL, true, false, true, false,
    ]);
  });

  it('copies every packed field but whether the bytes are shared', () => {
    const p = loaded();
    const c = p.clone();
    expect([c.pktType, c.ctState, c.ctDir, c.brnfPrerouted, c.ignoreDf, c.traceFollow, c.ipvsProperty, c.shared]).toEqual([
      PacketType.OTHERHOST, CtState.UNTRACKED, CtDir.REPLY, true, true, true, true, false,
    ]);
    const s = p.share();
    expect([s.pktType, s.ctDir, s.ipvsProperty, s.shared, p.shared]).toEqual([PacketType.OTHERHOST, CtDir.REPLY, true, true, true]);
    // A copy of a shared packet gets bytes of its own: it is not shared.
    expect(s.clone().shared).toBe(false);
  });

  it('scrubs connection tracking, br_netfilter, ignore_df and across namespaces ipvs_property, and keeps the packet type, trace and sharing', () => {
    const p = loaded();
    const s = p.share();
    s.nextDev = {} as NetDevice;
    s.brnfSrcMac = 0x0242ac110002;
    s.mark = 7;
    s.scrub(true);
    expect([s.ctState, s.ctDir, s.brnfPrerouted, s.ignoreDf, s.ipvsProperty, s.nextDev, s.brnfDnatPort, s.brnfSrcMac, s.mark]).toEqual([
      0, 0, false, false, false, null, null, 0, 0,
    ]);
    expect([s.pktType, s.traceFollow, s.shared]).toEqual([PacketType.OTHERHOST, true, true]);
  });

  it('keeps ipvs_property within a namespace (a tunnel) and drops it on a crossing, with the mark', () => {
    const p = loaded();
    p.mark = 7;
    p.scrub(false);
    expect([p.ipvsProperty, p.mark]).toEqual([true, 7]);
    p.scrub(true);
    expect([p.ipvsProperty, p.mark]).toEqual([false, 0]);
  });

  it('keeps br_netfilter state only where it is set', () => {
    const p = Packet.alloc(4, 1, 0);
    expect(p.brnf).toBeNull();
    p.nextDev = null;
    p.brnfDnatPort = null;
    expect(p.brnf).toBeNull();
    const port = {} as NetDevice;
    p.brnfDnatPort = port;
    p.brnfSrcMac = 0x0242ac110002;
    expect([p.brnfDnatPort, p.brnfSrcMac, p.nextDev]).toEqual([port, 0x0242ac110002, null]);
    p.brnfDnatPort = null;
    expect(p.brnfDnatPort).toBeNull();
  });
});
