/**
 * Captures on kernel interfaces with tcpdump, one process per direction
 * (`-Q in`, `-Q out`) because a classic pcap file has no direction field, and
 * merges the two files by timestamp into one direction-annotated list per
 * capture point.
 *
 * `-p` matters: without it tcpdump puts the interface in promiscuous mode, and
 * a promiscuous bridge device receives every frame the bridge forwards
 * (net/bridge/br_input.c, br_handle_frame_finish: `if (br->dev->flags & IFF_PROMISC)`).
 */
import { join } from 'node:path';
import { LINKTYPE_ETHERNET, readCapture } from '../../models/capture/index.js';
import { inNetns, type ProcessSet, type Started, waitUntil } from './commands.js';
import type { KernelTopology } from './netns-topology.js';

/** The largest IPv4 datagram (65,535) with an Ethernet header and a VLAN tag. */
const SNAPLEN = String(65535 + 14 + 4);

export interface CapturedFrame {
  /** Kernel capture time, nanoseconds since the epoch (CLOCK_REALTIME). */
  timeNs: bigint;
  dir: 'in' | 'out';
  data: Uint8Array;
}

export interface CaptureSession {
  readonly points: readonly string[];
  /** Stops every tcpdump (SIGINT, so files are complete) and returns the merged frames per point. */
  stop(): Promise<Map<string, CapturedFrame[]>>;
}

interface Direction {
  dir: 'in' | 'out';
  file: string;
  proc: Started;
}

/** File name of a capture point: '/' replaced by '.', as podwire names its pcapng files. */
export function pointFileName(point: string): string {
  return point.replaceAll('/', '.');
}

/** Starts two tcpdumps per capture point, writing into `dir`; resolves once all are listening. */
export async function startCaptures(
  topo: KernelTopology,
  points: readonly string[],
  dir: string,
  procs: ProcessSet,
  hardTimeoutMs = 120_000,
): Promise<CaptureSession> {
  const perPoint = new Map<string, Direction[]>();
  const all: Started[] = [];
  for (const point of points) {
    const k = topo.resolvePoint(point);
    const dirs: Direction[] = [];
    for (const d of ['in', 'out'] as const) {
      const file = join(dir, `${pointFileName(point)}.${d}.pcap`);
      // -U: write each packet as it arrives; --immediate-mode: no wait for a full TPACKET_V3 block;
      // -Z root: keep writing as root into our private directory (Debian drops to user tcpdump).
      // -s, -B: room for the largest IPv4 datagram in one frame (br_netfilter shows the datagrams it
      // reassembled whole) and a ring of 64 of them. In immediate mode libpcap's ring (TPACKET_V2)
      // holds -B / snaplen frames: with -s 0 (256 KiB) and -B 1024 only 3, and a burst of 4 (a TCP
      // flight, or an ICMP error and the retransmission it causes) lost one.
      const argv = ['tcpdump', '-i', k.ifname, '-Q', d, '-p', '-n', '-s', SNAPLEN, '-U', '--immediate-mode', '-B', '4096',
        '--time-stamp-precision=nano', '-Z', 'root', '-w', file];
      const proc = procs.start(`tcpdump ${point} ${d}`, 'ip', inNetns(k.netns, argv), { hardTimeoutMs });
      dirs.push({ dir: d, file, proc });
      all.push(proc);
    }
    perPoint.set(point, dirs);
  }
  // tcpdump prints "listening on IF" once the packet socket is bound and the ring mapped.
  const listening = await waitUntil(() => all.every((p) => p.stderr.includes('listening on') || p.child.exitCode !== null), 10_000, 20);
  const failed = all.filter((p) => p.child.exitCode !== null || !p.stderr.includes('listening on'));
  if (!listening || failed.length > 0) {
    await procs.stop(all, 500);
    throw new Error(`tcpdump did not start: ${failed.map((p) => `${p.name}: ${p.stderr.trim() || 'no output'}`).join('; ')}`);
  }

  return {
    points,
    async stop() {
      await procs.stop(all);
      const out = new Map<string, CapturedFrame[]>();
      for (const [point, dirs] of perPoint) {
        const lists: CapturedFrame[][] = [];
        for (const d of dirs) {
          const dropped = /(\d+) packets? dropped by kernel/.exec(d.proc.stderr);
          if (dropped && Number(dropped[1]) > 0) throw new Error(`${d.proc.name}: ${dropped[1]} packets dropped by the kernel`);
          // Classic pcap (tcpdump -w): one interface, no direction field; the direction is the file's.
          const pcap = readCapture(d.file);
          const linkType = pcap.interfaces[0]?.linkType;
          if (linkType !== LINKTYPE_ETHERNET) throw new Error(`${d.file}: link type ${linkType}, expected Ethernet (1)`);
          const cut = pcap.packets.find((r) => r.data.length < r.origLen);
          if (cut !== undefined) throw new Error(`${d.proc.name}: a ${cut.origLen}-byte frame is longer than the snap length ${SNAPLEN} (a GSO or GRO super-frame?)`);
          lists.push(pcap.packets.map((r) => ({ timeNs: r.timeNs, dir: d.dir, data: r.data })));
        }
        out.set(point, mergeByTime(lists[0]!, lists[1]!));
      }
      return out;
    },
  };
}

/**
 * Merges the received and sent frames of one interface by kernel timestamp.
 * On equal timestamps the received frame goes first: what an interface sends
 * at the same instant is a consequence of what it received, never the reverse.
 */
export function mergeByTime(received: readonly CapturedFrame[], sent: readonly CapturedFrame[]): CapturedFrame[] {
  const out: CapturedFrame[] = [];
  let i = 0;
  let j = 0;
  while (i < received.length || j < sent.length) {
    if (j >= sent.length || (i < received.length && received[i]!.timeNs <= sent[j]!.timeNs)) out.push(received[i++]!);
    else out.push(sent[j++]!);
  }
  return out;
}
