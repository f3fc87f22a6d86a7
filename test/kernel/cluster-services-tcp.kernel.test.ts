/**
 * podwire's kube-proxy and TCP against the kernel: the TCP flows of the
 * library scenario cluster-services ("client crr": pod -> ClusterIP
 * 10.96.0.3:80, and "n1 -> NodePort on n2": node -> NodePort 30000 with
 * KUBE-MARK-MASQ / MASQUERADE --random-fully), run by tcp-agent.py in real
 * namespaces loaded with the rules podwire generates. Its UDP flows are
 * dropped on both sides (cluster-services.kernel.test.ts compares them); the
 * echo-udp rules stay, their counters must stay 0 on both.
 *
 * The backend choice (KUBE-SVC's `-m statistic --mode random`) is pinned to
 * podwire's: the kernel's random rule becomes a source-port match on the ports
 * podwire sent to the first endpoint, and the kernel's clients bind the very
 * source ports podwire's clients used (read from podwire's capture), so both
 * sides open the same connections in the same order. Then, per connection and
 * capture point, the TCP segments must agree (tcp-segments.ts: flags, seq/ack
 * relative to the ISNs, payload lengths, windows, options and their values,
 * TTLs, MACs, addresses and ports after DNAT/SNAT, the masqueraded port
 * written as "<snat>" because --random-fully draws it on both sides: only its
 * being masqueraded, at the same points, is compared), and `iptables-save -c`
 * must agree on every rule of both nodes. Timing is not compared.
 *
 * This comparison found three podwire bugs, since fixed (models/stack/tcp/connection.ts,
 * receive-window.ts): Linux's separate quick ACK before the application's answer, the
 * SYN-ACK's window sized in MSS-less-timestamp segments, and the window after the
 * handshake. Kernel 6.18 (wscale 7) advertises 502 from the client (the SYN's 64240
 * rounded up to 128-byte units: the right edge never moves left, although rcv_ssthresh
 * is clamped to 64076 = half of tcp_rmem[1] less one MSS by tcp_init_buffer_space),
 * 509 from the server (its SYN-ACK's 65160 less the request, rounded up) and 501 from
 * the client once it has received data (64076 rounded up); podwire used to advertise
 * 501/502/503 (a window grown by what was delivered). Every window is asserted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { expandScenario } from '../../scenarios/expand.js';
import { resolveScenarioPath } from '../../scenarios/library.js';
import { loadScenarioFile } from '../../scenarios/loader.js';
import { runTopology } from '../../scenarios/run.js';
import type { TopologySpec } from '../../scenarios/topology.js';
import { pinBackends } from './pin-backends.js';
import { inTempDir } from './service-udp-flows.js';
import { compareCounters, parseSaveCounters } from './iptables-counters.js';
import { netfilterPrerequisites, runOnKernelDetailed, tcpTrafficPrerequisites } from './kernel-harness.js';
import { namespacesWithRules } from './kernel-iptables.js';
import { deleteOwnNamespaces, listOwnNamespaces } from './netns-topology.js';
import { compareCapturePoints, normaliseFrame } from './normalise.js';
import { connectionText, decodeTcpSegment, firstDifference, type RawFrame, tcpConnections, type TextOptions } from './tcp-segments.js';

const CRR = 'client crr';
const NODEPORT = 'n1 -> NodePort on n2';
/** Where each flow's client sends from: its SYNs leave this point with these addresses. */
const ORIGIN: Record<string, { point: string; src: string; dst: string; dstPort: number }> = {
  [CRR]: { point: 'n1/client/eth0', src: '10.244.1.2', dst: '10.96.0.3', dstPort: 80 },
  [NODEPORT]: { point: 'n1/eth0', src: '192.168.49.2', dst: '192.168.49.3', dstPort: 30000 },
};
const FIRST_BACKEND_POINT = 'n1/echo-a/eth0';
const SECOND_BACKEND_POINT = 'n2/echo-b/eth0';
/** echo-tcp's first endpoint rule as models/k8s/kube-proxy writes it (KUBE-SVC chain). */

function prerequisites(): { ok: boolean; reason: string } {
  const nf = netfilterPrerequisites();
  if (!nf.ok) return nf;
  const tcp = tcpTrafficPrerequisites();
  return tcp.ok ? { ok: true, reason: `${nf.reason}; python3` } : tcp;
}

const pre = prerequisites();
if (!pre.ok) console.warn(`[kernel cluster-services TCP comparison] skipped: ${pre.reason}`);

/** cluster-services with its TCP flows and TCP servers only. */
function tcpClusterServices(): TopologySpec {
  const spec = expandScenario(loadScenarioFile(resolveScenarioPath('cluster-services')));
  return {
    ...spec,
    traffic: spec.traffic.filter((f) => f.kind === 'tcp'),
    servers: (spec.servers ?? []).filter((s) => s.protocol === 'tcp'),
  };
}


/** The source ports of a flow's SYNs where they leave its client, in order. */
function clientPorts(captures: ReadonlyMap<string, readonly RawFrame[]>, flow: string): number[] {
  const o = ORIGIN[flow]!;
  return (captures.get(o.point) ?? [])
    .map(decodeTcpSegment)
    .filter((s) => s !== undefined && s.dir === 'out' && s.flags === 'S' && s.src === o.src && s.dst === o.dst && s.dstPort === o.dstPort)
    .map((s) => s!.srcPort);
}

/** Client port -> the backend pod's point its connection reached. */
function backendsOf(conns: ReturnType<typeof tcpConnections>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [port, c] of conns) {
    const at = [FIRST_BACKEND_POINT, SECOND_BACKEND_POINT].filter((p) => c.points.has(p));
    if (at.length !== 1) throw new Error(`connection from client port ${port} reached ${at.length === 0 ? 'no backend' : at.join(' and ')}`);
    out.set(port, at[0]!);
  }
  return out;
}


function runPodwire(spec: TopologySpec, outDir: string) {
  const { captureFiles, results } = runTopology(spec, { outDir });
  const raw = new Map<string, RawFrame[]>();
  for (const [point, file] of captureFiles) {
    raw.set(point, readCapture(file).packets.map((p) => ({ data: p.data, dir: p.direction === 1 ? 'in' : p.direction === 2 ? 'out' : 'unknown' })));
  }
  const saves = new Map<string, string>();
  for (const ns of namespacesWithRules(spec)) {
    const file = join(outDir, 'netfilter', `${ns.replaceAll('/', '.')}.iptables-save`);
    expect(existsSync(file), `podwire wrote ${file}`).toBe(true);
    saves.set(ns, readFileSync(file, 'utf8'));
  }
  return { raw, saves, flows: results.flows as Array<{ name: string; sent: number; received: number }> };
}

const CLIENT_ADDRESSES = [ORIGIN[CRR]!.src, ORIGIN[NODEPORT]!.src];

/**
 * One retry when tcpdump lost frames: on a loaded machine (26 tcpdumps on shared cores)
 * the capture, not the traffic, occasionally reports a few frames "dropped by kernel"
 * (seen 2 times in about 20 runs); any other failure is not retried.
 */
async function kernelRunRetryingCaptureLoss<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!/packets? dropped by the kernel/.test(String(e))) throw e;
    console.warn(`[kernel cluster-services TCP comparison] retrying the kernel run once: ${String(e)}`);
    return run();
  }
}

interface Runs {
  podwire: ReturnType<typeof runPodwire>;
  /** Flow -> the source ports of its connections, in order (podwire's, given to the kernel's client). */
  ports: Map<string, number[]>;
  /** Client port -> the backend pod's point in podwire. */
  backends: Map<number, string>;
  podwireConns: ReturnType<typeof tcpConnections>;
  kernel: Awaited<ReturnType<typeof runOnKernelDetailed>>;
  kernelRaw: Map<string, RawFrame[]>;
  kernelConns: ReturnType<typeof tcpConnections>;
  /** "iptables nft" or "iptables legacy", for messages. */
  backend: string;
}

/** Every connection of both flows, kernel against podwire, as text with `options`: the differing ones. */
function connectionDiffs(r: Runs, options: TextOptions): string {
  const diffs: string[] = [];
  for (const flow of [CRR, NODEPORT]) {
    for (const port of r.ports.get(flow)!) {
      const k = r.kernelConns.get(port);
      const p = r.podwireConns.get(port);
      if (k === undefined || p === undefined) {
        diffs.push(`${flow}, client port ${port}: no such connection in the ${k === undefined ? 'kernel' : 'podwire'} captures`);
        continue;
      }
      const d = firstDifference(connectionText(k, options), connectionText(p, options));
      if (d !== '') diffs.push(`${flow}, client port ${port} (${r.backends.get(port)}): ${d}`);
    }
  }
  return diffs.join('\n\n');
}

describe.skipIf(!pre.ok)('podwire kube-proxy + TCP (cluster-services: crr to a ClusterIP, crr to a NodePort) against the kernel', () => {
  let runs: Runs | undefined;
  const r = (): Runs => {
    if (runs === undefined) throw new Error('the podwire and kernel runs failed (see beforeAll)');
    return runs;
  };

  beforeAll(async () => {
    const spec = tcpClusterServices();
    await inTempDir('pwk-podwire-cluster-services-tcp-', async (outDir) => {
      const podwire = runPodwire(spec, outDir);
      const ports = new Map([CRR, NODEPORT].map((flow) => [flow, clientPorts(podwire.raw, flow)]));
      const podwireConns = tcpConnections(podwire.raw, CLIENT_ADDRESSES);
      const backends = backendsOf(podwireConns);
      const first = [...backends].filter(([, b]) => b === FIRST_BACKEND_POINT).map(([p]) => p);
      const kernel = await kernelRunRetryingCaptureLoss(() => runOnKernelDetailed(pinBackends(spec, 'default/echo-tcp', 'tcp', first), { traffic: { tcpSourcePorts: ports } }));
      const kernelRaw = new Map([...kernel.captures].map(([p, l]) => [p, l.map((f): RawFrame => ({ data: f.data, dir: f.dir }))]));
      runs = {
        podwire, ports, backends, podwireConns, kernel, kernelRaw,
        kernelConns: tcpConnections(kernelRaw, CLIENT_ADDRESSES),
        backend: `iptables ${kernel.iptablesBackend}`,
      };
    });
  }, 120_000);
  afterEach(() => {
    expect(listOwnNamespaces()).toEqual([]);
  });
  afterAll(() => {
    deleteOwnNamespaces();
  });

  it('the kernel makes the same connections: client ports, answers and backends as podwire', () => {
    const { podwire, ports, backends, podwireConns, kernel, kernelConns } = r();
    for (const f of podwire.flows) expect([f.name, f.received]).toEqual([f.name, f.sent]);
    expect(ports.get(CRR)!.length).toBe(8);
    expect(ports.get(NODEPORT)!.length).toBe(6);
    expect([...podwireConns.keys()].sort()).toEqual([...ports.values()].flat().sort());
    // seed 1: both backends get connections of both flows, so every path is compared.
    for (const flow of [CRR, NODEPORT]) {
      expect(new Set(ports.get(flow)!.map((p) => backends.get(p))), flow).toEqual(new Set([FIRST_BACKEND_POINT, SECOND_BACKEND_POINT]));
    }
    expect(kernel.traffic.flows.map((f) => f.name).sort()).toEqual([CRR, NODEPORT].sort());
    for (const f of kernel.traffic.flows) {
      expect(f.exit, `${f.name}: ${f.output}`).toBe(0);
      const out = JSON.parse(f.output) as { sent: number; received: number; errors: string[]; ports: number[] };
      expect(out.errors, f.name).toEqual([]);
      expect(out.received, f.name).toBe(podwire.flows.find((p) => p.name === f.name)!.received);
      expect(out.ports, f.name).toEqual(ports.get(f.name));
    }
    expect(backendsOf(kernelConns)).toEqual(backends);
  });

  it('segments per connection at every point (DNAT, SNAT, TTLs, MACs, flags, seq/ack, payloads, options, windows), Linux\'s separate ACKs left out', () => {
    expect(connectionDiffs(r(), { dropSeparateAcks: true }), `podwire's TCP segments differ from the kernel's (${r().backend})`).toBe('');
  });

  // podwire bug (models/stack/tcp/connection.ts, receive path): it calls the application's
  // onData before ackCheck, so a server that answers at once piggybacks the ACK of the
  // request on the answer, and a crr client that closes at once piggybacks the ACK of
  // the answer on its FIN. Linux decides the ACK in softirq (tcp_rcv_established ->
  // __tcp_ack_snd_check, quick-ACK mode after the first data, tcp_event_data_recv) while
  // holding the socket, before the woken application can write: a separate pure ACK
  // ("seq 1 ack 101" from the server, "seq 101 ack 201" from the client) precedes them.
  it('segments per connection, with Linux\'s separate quick ACKs and every window', () => {
    expect(connectionDiffs(r(), {})).toBe('');
  });

  // podwire bug (connection.ts, rcvWnd = floor(65535 / advMss) * advMss on both sides):
  // Linux's passive side sizes the SYN-ACK window with the MSS less the timestamp option
  // when the SYN offered timestamps (tcp_openreq_init_rwin: mss -= TCPOLEN_TSTAMP_ALIGNED),
  // so it advertises 65160 (45 * 1448) where podwire advertises 64240 (44 * 1460); the
  // SYN's 64240 (tcp_connect_init, no ts_recent yet) agrees.
  it('the handshake\'s windows (SYN 64240, SYN-ACK 65160)', () => {
    expect(connectionDiffs(r(), { synWindowsOnly: true, dropSeparateAcks: true })).toBe('');
  });

  it('checksums: podwire writes full ones; the kernel full or CHECKSUM_PARTIAL', () => {
    const sums = (conns: ReturnType<typeof tcpConnections>) => [...conns.values()].flatMap((c) => [...c.points].flatMap(([point, l]) => l.map((e) => `${point} ip=${e.segment.ipChecksumOk ? 'ok' : 'bad'} tcp=${e.segment.checksum}`)));
    const p = sums(r().podwireConns);
    expect(p.length).toBeGreaterThan(0);
    expect(p.filter((s) => !s.endsWith('ip=ok tcp=full'))).toEqual([]);
    expect(sums(r().kernelConns).filter((s) => !/ip=ok tcp=(full|partial)$/.test(s))).toEqual([]);
  });

  it('frames that are not TCP (ARP), point by point in order', () => {
    const nonTcp = (raw: Map<string, RawFrame[]>) => new Map([...raw].map(([p, l]) => [p, l.filter((f) => decodeTcpSegment(f) === undefined).map((f) => normaliseFrame(f.data, f.dir))]));
    const arp = compareCapturePoints(nonTcp(r().kernelRaw), nonTcp(r().podwire.raw), { ephemeralPorts: 'exact' });
    expect(arp.text, `podwire's non-TCP frames differ from the kernel's (${r().backend})`).toBe('');
  });

  /** Per node: the kernel's and podwire's counters of one table. */
  const tableCounters = (table: string) => [...r().podwire.saves].map(([ns, podwireSave]) => {
    const kernelSave = r().kernel.counters.get(ns);
    if (kernelSave === undefined) throw new Error(`no kernel iptables-save -c of ${ns}`);
    const only = (d: ReturnType<typeof parseSaveCounters>) => new Map([...d].filter(([, c]) => c.table === table));
    return { ns, kernel: only(parseSaveCounters(kernelSave, `kernel ${ns}`)), podwire: only(parseSaveCounters(podwireSave, `podwire ${ns}`)), kernelSave, podwireSave };
  });

  it('iptables-save -c, nat table on both nodes (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXT, KUBE-MARK-MASQ, KUBE-SVC, KUBE-SEP, KUBE-POSTROUTING)', () => {
    for (const t of tableCounters('nat')) {
      const counters = compareCounters(t.kernel, t.podwire);
      expect(counters.text, `${t.ns}: nat counters differ (${r().backend})\n--- kernel\n${t.kernelSave}\n--- podwire\n${t.podwireSave}`).toBe('');
      expect(counters.compared).toBeGreaterThan(20);
    }
    const n2 = parseSaveCounters(r().podwire.saves.get('n2')!, 'podwire n2');
    const used = [...n2.values()].filter((c) => c.chain.startsWith('KUBE-') && c.index > 0 && c.packets > 0n).map((c) => c.chain);
    expect(used).toEqual(expect.arrayContaining(['KUBE-NODEPORTS', 'KUBE-MARK-MASQ', 'KUBE-POSTROUTING', 'KUBE-SVC-AKNTZBVP5UT5XOKF']));
  });

  // The filter chains count every segment, the separate quick ACKs included.
  it('iptables-save -c, filter table on both nodes equal', () => {
    for (const t of tableCounters('filter')) expect(compareCounters(t.kernel, t.podwire).text, t.ns).toBe('');
  });
});
