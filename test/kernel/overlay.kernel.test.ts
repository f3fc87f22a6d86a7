/**
 * flannel's vxlan and ipip overlays, podwire against the kernel: two node
 * namespaces on one veth "underlay", a pod namespace behind each node, the
 * devices, neighbours, FDB entries and onlink routes flanneld would write,
 * and pod MTU 1500 (the mismatch). Each side pings the remote pod twice, then
 * sends one DF ping of 1472 bytes. Compared on n1's eth0: the encapsulated
 * frames (size, outer DF/TTL/protocol/addresses, UDP port and checksum,
 * VXLAN header, inner addresses/TTL/ICMP type), and the ICMP
 * "fragmentation needed" the pod gets (its source and MTU).
 * Not compared: outer IP ids and VXLAN source ports (hashed with per-boot secrets).
 *
 * Namespaces are `pwh-<pid>-<name>`, deleted afterwards; nothing is done in
 * the root namespace.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { readCapture } from '../../models/capture/index.js';
import { parseScenario } from '../../scenarios/loader.js';
import { expandScenario } from '../../scenarios/expand.js';
import { runTopology } from '../../scenarios/run.js';
import { computeUdpChecksum } from '../../models/wire/udp.js';
import { read16, read32 } from '../../models/wire/bytes.js';
import { partialChecksum } from '../../models/wire/checksum.js';
import { formatIpv4 } from '../../models/wire/addr.js';
import { ProcessSet, run, runSync, sleep, waitUntil } from './commands.js';
import { tunnelPrerequisites } from './kernel-harness.js';

const PREFIX = `pwh-${process.pid}-`;
const NAMES = ['n1', 'n2', 'p1', 'p2'] as const;
const nsName = (n: string) => `${PREFIX}${n}`;

const pre = { vxlan: tunnelPrerequisites('vxlan'), ipip: tunnelPrerequisites('ipip') };
for (const [kind, p] of Object.entries(pre)) if (!p.ok) console.warn(`[overlay kernel comparison] ${kind} skipped: ${p.reason}`);

const work = mkdtempSync(join(tmpdir(), 'pwh-overlay-'));
afterAll(() => {
  for (const n of NAMES) runSync('ip', ['netns', 'del', nsName(n)]);
  rmSync(work, { recursive: true, force: true });
});

type Routing = 'vxlan' | 'ipip';

/** The commands that build the topology, as `ip`/`bridge`/`sysctl` argv lists. */
function setup(routing: Routing): string[][] {
  const cmds: string[][] = [];
  const ip = (ns: string, ...args: string[]) => cmds.push(['ip', '-n', nsName(ns), ...args]);
  const sysctl = (ns: string, ...kv: string[]) => cmds.push(['ip', 'netns', 'exec', nsName(ns), 'sysctl', '-qw', ...kv]);
  for (const n of NAMES) {
    cmds.push(['ip', 'netns', 'add', nsName(n)]);
    sysctl(n, 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0');
    ip(n, 'link', 'set', 'lo', 'up');
  }
  ip('n1', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsName('n2'));
  for (const [i, n] of [[1, 'n1'], [2, 'n2']] as const) {
    const node = `192.168.49.${i + 1}`;
    const other = 3 - i;
    sysctl(n, 'net.ipv4.ip_forward=1');
    ip(n, 'link', 'set', 'eth0', 'address', `02:42:c0:a8:31:0${i + 1}`, 'up');
    ip(n, 'addr', 'add', `${node}/24`, 'dev', 'eth0');
    // The pod: eth0 in p<i>, vethp1 on the node, MTU 1500 on both (the mismatch).
    const pod = `p${i}`;
    ip(n, 'link', 'add', 'vethp1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsName(pod));
    ip(n, 'link', 'set', 'vethp1', 'up');
    ip(n, 'addr', 'add', `10.244.${i}.1/24`, 'dev', 'vethp1');
    ip(pod, 'link', 'set', 'eth0', 'up');
    ip(pod, 'addr', 'add', `10.244.${i}.2/24`, 'dev', 'eth0');
    ip(pod, 'route', 'add', 'default', 'via', `10.244.${i}.1`);
    if (routing === 'vxlan') {
      ip(n, 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'local', node, 'dev', 'eth0', 'dstport', '8472', 'nolearning');
      ip(n, 'link', 'set', 'flannel.1', 'address', `0e:f1:c0:a8:31:0${i + 1}`, 'mtu', '1450', 'up');
      ip(n, 'addr', 'add', `10.244.${i}.0/32`, 'dev', 'flannel.1');
      ip(n, 'neigh', 'replace', `10.244.${other}.0`, 'lladdr', `0e:f1:c0:a8:31:0${other + 1}`, 'dev', 'flannel.1', 'nud', 'permanent');
      cmds.push(['bridge', '-n', nsName(n), 'fdb', 'append', `0e:f1:c0:a8:31:0${other + 1}`, 'dev', 'flannel.1', 'dst', `192.168.49.${other + 1}`]);
      ip(n, 'route', 'add', `10.244.${other}.0/24`, 'via', `10.244.${other}.0`, 'dev', 'flannel.1', 'onlink');
    } else {
      ip(n, 'link', 'add', 'flannel.ipip', 'type', 'ipip', 'local', node);
      ip(n, 'link', 'set', 'flannel.ipip', 'mtu', '1480', 'up');
      ip(n, 'addr', 'add', `10.244.${i}.0/32`, 'dev', 'flannel.ipip');
      ip(n, 'route', 'add', `10.244.${other}.0/24`, 'via', `192.168.49.${other + 1}`, 'dev', 'flannel.ipip', 'onlink');
    }
  }
  return cmds;
}

/** What must agree between the kernel and podwire about one tunnelled frame on n1's eth0. */
function summarise(b: Uint8Array, routing: Routing): string {
  const outer = `${b.length} df=${(read16(b, 20) >> 14) & 1} ttl=${b[22]} proto=${b[23]} ${formatIpv4(read32(b, 26))}>${formatIpv4(read32(b, 30))}`;
  let inner: number;
  let extra = '';
  if (routing === 'vxlan') {
    // veth offloads: the kernel's capture holds CHECKSUM_PARTIAL's pseudo-header sum, podwire the full sum.
    // Both say "checksummed" (not the 0 of noudpcsum); anything else is a bug on either side.
    const csum = read16(b, 40);
    const src = read32(b, 26);
    const dst = read32(b, 30);
    const kind =
      csum === 0 ? 'none'
      : csum === computeUdpChecksum(b, 34, src, dst) || csum === partialChecksum(src, dst, 17, read16(b, 38)) ? 'set'
      : 'bad';
    extra = ` dport=${read16(b, 36)} csum=${kind} vxlan=${[...b.subarray(42, 50)].join(',')}`;
    inner = 50 + 14;
  } else {
    inner = 34;
  }
  const innerText = `${formatIpv4(read32(b, inner + 12))}>${formatIpv4(read32(b, inner + 16))} ttl=${b[inner + 8]} proto=${b[inner + 9]} df=${(read16(b, inner + 6) >> 14) & 1} icmp=${b[inner + 20]}/${b[inner + 21]}`;
  return `${outer}${extra} | ${innerText}`;
}

function tunnelled(frames: Uint8Array[], routing: Routing): string[] {
  return frames
    .filter((b) => b.length > 34 && read16(b, 12) === 0x0800 && (routing === 'vxlan' ? b[23] === 17 && read16(b, 36) === 8472 : b[23] === 4))
    .map((b) => summarise(b, routing));
}

/** ICMP errors at the pod: source, type/code and the MTU they announce. */
function podErrors(frames: Uint8Array[]): string[] {
  return frames
    .filter((b) => read16(b, 12) === 0x0800 && b[23] === 1 && b[34] === 3)
    .map((b) => `${formatIpv4(read32(b, 26))} ${b[34]}/${b[35]} mtu=${read16(b, 40)}`);
}

async function onKernel(routing: Routing): Promise<{ eth0: Uint8Array[]; pod: Uint8Array[] }> {
  const procs = new ProcessSet();
  try {
    for (const c of setup(routing)) await run(c[0]!, c.slice(1));
    const files = { eth0: join(work, `k-${routing}-eth0.pcap`), pod: join(work, `k-${routing}-pod.pcap`) };
    const dumps = [
      procs.start('tcpdump n1 eth0', 'ip', ['netns', 'exec', nsName('n1'), 'tcpdump', '-i', 'eth0', '-p', '-n', '-s', '0', '-U', '--immediate-mode', '-Z', 'root', '-w', files.eth0], { hardTimeoutMs: 30_000 }),
      procs.start('tcpdump p1 eth0', 'ip', ['netns', 'exec', nsName('p1'), 'tcpdump', '-i', 'eth0', '-p', '-n', '-s', '0', '-U', '--immediate-mode', '-Z', 'root', '-w', files.pod], { hardTimeoutMs: 30_000 }),
    ];
    const listening = await waitUntil(() => dumps.every((d) => /listening on/.test(d.stderr)), 5_000);
    expect(listening, dumps.map((d) => d.stderr).join('\n')).toBe(true);
    const ping = (...args: string[]) => run('ip', ['netns', 'exec', nsName('p1'), 'ping', '-n', ...args, '10.244.2.2'], 10_000).catch((e: Error) => e.message);
    // -Z root: Debian's tcpdump drops to user tcpdump, which could not write into our private folder.
    await ping('-c', '2', '-i', '0.2', '-W', '1');
    await ping('-c', '1', '-M', 'do', '-s', '1472', '-W', '1');
    await sleep(300);
    await procs.stop(dumps);
    return {
      eth0: readCapture(readFileSync(files.eth0)).packets.map((p) => p.data.slice()),
      pod: readCapture(readFileSync(files.pod)).packets.map((p) => p.data.slice()),
    };
  } finally {
    await procs.stopAll();
    for (const n of NAMES) runSync('ip', ['netns', 'del', nsName(n)]);
  }
}

function onPodwire(routing: Routing): { eth0: Uint8Array[]; pod: Uint8Array[] } {
  const text = `
name: overlay-kernel
duration: 2s
routing: ${routing}
podMtu: 1500
vethDelay: 0s
nodes:
  - { name: n1, address: 192.168.49.2, podCIDR: 10.244.1.0/24, pods: [{ name: p1, ip: 10.244.1.2 }] }
  - { name: n2, address: 192.168.49.3, podCIDR: 10.244.2.0/24, pods: [{ name: p1, ip: 10.244.2.2 }] }
traffic:
  - ping: { from: n1/p1, to: n2/p1, count: 2, interval: 200ms }
  - ping: { from: n1/p1, to: n2/p1, count: 1, size: 1472, start: 1s }
capture: [n1/eth0, n1/p1/eth0]
`;
  const r = runTopology(expandScenario(parseScenario(text, 'overlay-kernel.yaml')), { outDir: join(work, `podwire-${routing}`) });
  const read = (p: string) => readCapture(readFileSync(r.captureFiles.get(p)!)).packets.map((x) => x.data.slice());
  return { eth0: read('n1/eth0'), pod: read('n1/p1/eth0') };
}

async function compare(routing: Routing): Promise<void> {
  const kernel = await onKernel(routing);
  const podwire = onPodwire(routing);
  const k = tunnelled(kernel.eth0, routing);
  expect(k.length, 'the kernel run tunnelled the two pings').toBe(4);
  expect(tunnelled(podwire.eth0, routing)).toEqual(k);
  const kErrors = podErrors(kernel.pod);
  expect(kErrors.length).toBe(1);
  expect(podErrors(podwire.pod)).toEqual(kErrors);
}

describe('flannel overlays: podwire = kernel on the underlay', () => {
  test.skipIf(!pre.vxlan.ok)('vxlan', () => compare('vxlan'));
  test.skipIf(!pre.ipip.ok)('ipip', () => compare('ipip'));
});
