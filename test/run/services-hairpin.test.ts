/**
 * services-hairpin: a pod reaching itself through its own ClusterIP. Read from
 * the pod's capture: the request leaves to the ClusterIP and comes back in
 * DNATed to the pod and masqueraded to cni0's address (KUBE-SEP's
 * `-s <podIP> -j KUBE-MARK-MASQ`); without hairpin mode on the pod's bridge
 * port the bridge never sends the frame back and the request is lost.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { libraryDir } from '../../scenarios/library.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology, type RunResult } from '../../scenarios/run.js';
import { readCapture } from '../../models/capture/capture-reader.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { read16 } from '../../models/wire/bytes.js';
import { ipv4Dst, ipv4Src } from '../../models/wire/ipv4.js';

const work = mkdtempSync(join(tmpdir(), 'podwire-hairpin-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const POD = '10.244.1.2';
const CNI0 = '10.244.1.1';
const VIP = '10.96.0.2';

interface Packet {
  dir: 'in' | 'out' | 'unknown';
  proto: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP flags byte (0 for UDP). */
  flags: number;
}

/** TCP and UDP packets of a capture point, in capture order (IPv4 without options). */
function packets(r: RunResult, point: string): Packet[] {
  const file = r.captureFiles.get(point);
  if (file === undefined) throw new Error(`no capture of ${point}`);
  return readCapture(file)
    .packets.filter((p) => p.data[12] === 0x08 && p.data[13] === 0x00 && (p.data[23] === 6 || p.data[23] === 17))
    .map((p) => {
      const b = p.data;
      return {
        dir: p.direction === 1 ? 'in' : p.direction === 2 ? 'out' : 'unknown',
        proto: b[23]!,
        src: formatIpv4(ipv4Src(b, 14)),
        dst: formatIpv4(ipv4Dst(b, 14)),
        sport: read16(b, 34),
        dport: read16(b, 36),
        flags: b[23] === 6 ? b[47]! : 0,
      };
    });
}

const SYN = 0x02;
const ACK = 0x10;

/** The library scenario, with the pod's hairpin flag set to `hairpin`. */
function run(dir: string, hairpin: boolean): RunResult {
  const file = join(libraryDir(), 'services-hairpin.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { nodes: { pods: { hairpin?: boolean }[] }[] };
  doc.nodes[0]!.pods[0]!.hairpin = hairpin;
  return runTopology(expandScenario(parseScenario(stringify(doc), file)), { outDir: join(work, dir) });
}

function flows(r: RunResult): Record<string, { sent: number; received: number }> {
  const out: Record<string, { sent: number; received: number }> = {};
  for (const f of r.results.flows as { name: string; sent: number; received: number }[]) out[f.name] = { sent: f.sent, received: f.received };
  return out;
}

describe('services-hairpin', () => {
  test('the pod is answered by itself through its ClusterIP, the way in DNATed and masqueraded to cni0', () => {
    const r = run('hairpin', true);
    expect(flows(r)).toEqual({
      'web -> own ClusterIP tcp': { sent: 4, received: 4 },
      'web -> own ClusterIP udp': { sent: 3, received: 3 },
    });
    expect(r.results.drops).toEqual({});

    const pod = packets(r, 'n1/web/eth0');
    const syns = pod.filter((p) => p.proto === 6 && (p.flags & (SYN | ACK)) === SYN);
    // Each connection: out to the ClusterIP as the app sent it, then in from cni0 to the pod's own port.
    expect(syns.map((p) => `${p.dir} ${p.src} > ${p.dst}:${p.dport}`)).toEqual(
      Array(4).fill([`out ${POD} > ${VIP}:80`, `in ${CNI0} > ${POD}:8080`]).flat(),
    );
    // The server's answers leave to cni0; the client gets them from the ClusterIP.
    const synAcks = pod.filter((p) => p.proto === 6 && (p.flags & (SYN | ACK)) === (SYN | ACK));
    expect(synAcks.map((p) => `${p.dir} ${p.src}:${p.sport} > ${p.dst}`)).toEqual(
      Array(4).fill([`out ${POD}:8080 > ${CNI0}`, `in ${VIP}:80 > ${POD}`]).flat(),
    );
    const udp = pod.filter((p) => p.proto === 17);
    expect(udp.map((p) => `${p.dir} ${p.src}:${p.sport === 40001 ? 'client' : p.sport} > ${p.dst}:${p.dport === 40001 ? 'client' : p.dport}`)).toEqual(
      Array(3).fill([`out ${POD}:client > ${VIP}:80`, `in ${CNI0}:${udp[1]!.sport} > ${POD}:8080`, `out ${POD}:8080 > ${CNI0}:${udp[1]!.sport}`, `in ${VIP}:80 > ${POD}:client`]).flat(),
    );
    // The host veth sees each frame twice: in from the pod, and back out of the same port.
    const veth = packets(r, 'n1/vethweb').filter((p) => p.proto === 6 && (p.flags & (SYN | ACK)) === SYN);
    expect(veth.map((p) => `${p.dir} ${p.src} > ${p.dst}`)).toEqual(Array(4).fill([`in ${POD} > ${VIP}`, `out ${CNI0} > ${POD}`]).flat());
  });

  test('without hairpin mode the bridge does not send the request back: it is lost', () => {
    const r = run('no-hairpin', false);
    expect(flows(r)).toEqual({
      'web -> own ClusterIP tcp': { sent: 4, received: 0 },
      'web -> own ClusterIP udp': { sent: 3, received: 0 },
    });
    const pod = packets(r, 'n1/web/eth0');
    // Only what the app sent: nothing ever comes back in.
    expect(pod.filter((p) => p.dir === 'in')).toEqual([]);
    expect(pod.length).toBeGreaterThan(0);
    expect(pod.every((p) => p.src === POD && p.dst === VIP && p.dport === 80)).toBe(true);
    // The bridge drops each one: its only egress would be the port it came in by (should_deliver refuses it).
    expect(r.results.drops).toEqual({ n1: { BRIDGE_NO_EGRESS: pod.length } });
  });
});
