/**
 * Datagrams larger than the MTU from sockets with Linux's default
 * IP_PMTUDISC_WANT, against the kernel, every capture point equal:
 * - a UDP request of 2,000 bytes and its 3,000-byte answer, and `ping -s
 *   2000` and its reply, each fragmented where it is sent (no DF on the
 *   fragments) and reassembled only at its destination; a request that fits
 *   the MTU carries DF. podwire once refused such datagrams with EMSGSIZE;
 * - path MTU discovery over flannel's vxlan with `podMtu: 1500`: the first
 *   1,500-byte ping gets "fragmentation needed" (MTU 1450) from the node; the
 *   pod then sends the rest, and a UDP flow's requests to the same pod, as
 *   1,444 + 76-byte fragments (the learned path MTU), which cross the tunnel.
 *   podwire once sent every one with DF into the same ICMP error;
 * - the same large datagrams through ClusterIP Services (test/helpers/service-fragments.ts):
 *   with kube-proxy's conntrack loaded, br_netfilter reassembles them at the
 *   bridge port (cni0's capture shows the whole datagram, DNATed), and they
 *   are cut again to the largest fragment's size on the way out, routed or
 *   bridged. podwire once dropped the fragments as INVALID;
 * - docker-publish with large datagrams: the host's datagram to its own
 *   published port, DNATed from lo out docker0, is fragmented there although
 *   it left with DF (skb->ignore_df of a socket below IP_PMTUDISC_DO);
 * - a node reaching Services itself with large datagrams, masqueraded with
 *   --random-fully (source ports paired from 1024, normalise.ts 'pair-nat').
 */
import { describe, expect, it } from 'vitest';
import { expandScenario } from '../../scenarios/expand.js';
import { parseScenario } from '../../scenarios/loader.js';
import { kernelPrerequisites, tunnelPrerequisites } from './kernel-harness.js';
import { compareWithKernel } from './compare-spec.js';
import { expectNamespacesCleanedUp } from './namespace-hygiene.js';
import { BROADCAST_FRAGMENTS, NODE_TO_SERVICES, SERVICE_FRAGMENTS, dockerPublishLarge } from '../helpers/service-fragments.js';

const pre = kernelPrerequisites();
if (!pre.ok) console.warn(`[kernel comparison, fragments] skipped: ${pre.reason}`);
const vxlan = pre.ok ? tunnelPrerequisites('vxlan') : pre;
if (pre.ok && !vxlan.ok) console.warn(`[kernel comparison, fragments] path MTU over vxlan skipped: ${vxlan.reason}`);

/** Pod a on n1, pod b on n2. */
const TWO_NODES = `nodes:
  - name: n1
    pods: [{ name: a }]
  - name: n2
    pods: [{ name: b }]`;

const BIG = `name: big-datagrams
duration: 1s
${TWO_NODES}
traffic:
  - udp: { from: n1/a, to: n2/b, port: 9000, count: 2, rate: 10, requestSize: 2000, responseSize: 3000 }
  - udp: { from: n1/a, to: n2/b, port: 9001, count: 1, requestSize: 1472, responseSize: 8, start: 300ms }
  - ping: { from: n2/b, to: n1/a, count: 2, interval: 100ms, size: 2000, start: 500ms }
capture: all
`;

const MISMATCH = `name: pmtu
duration: 1200ms
routing: vxlan
podMtu: 1500
${TWO_NODES}
traffic:
  - ping: { from: n1/a, to: n2/b, count: 3, interval: 100ms, size: 1472 }
  - udp: { from: n1/a, to: n2/b, port: 9000, count: 3, rate: 10, requestSize: 1472, responseSize: 8, start: 500ms }
capture: all
`;

describe.skipIf(!pre.ok)('datagrams above the MTU reproduce the kernel, capture point by capture point', () => {
  expectNamespacesCleanedUp();

  it('UDP and ping -s 2000, fragmented where they are sent', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(BIG, 'big.yaml')));
    const sent = result.kernel.get('n1/a/eth0')!.filter((f) => f.dir === 'out' && f.ipv4 !== undefined);
    // The kernel fragmented the big requests (first fragments with MF, none with DF) and sent the one that fits with DF.
    expect(sent.filter((f) => f.ipv4!.mf === true && !f.ipv4!.df).length).toBeGreaterThanOrEqual(2);
    expect(sent.some((f) => f.ipv4!.totalLength === 1500 && f.ipv4!.df)).toBe(true);
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);

  it.skipIf(!vxlan.ok)('path MTU learned from "fragmentation needed" over vxlan', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(MISMATCH, 'pmtu.yaml')));
    const pod = result.kernel.get('n1/a/eth0')!;
    // One ICMP error from the node, then the kernel's pod fragments to 1,444 + 76 bytes.
    expect(pod.filter((f) => f.icmp?.type === 3 && f.icmp.code === 4).length).toBe(1);
    expect(pod.filter((f) => f.dir === 'out' && f.ipv4?.totalLength === 1444 && f.ipv4.mf === true).length).toBe(5);
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);

  it('through ClusterIP Services: reassembled at the bridge port, DNATed, cut again on the way out', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(SERVICE_FRAGMENTS, 'service-fragments.yaml')));
    // The kernel's cni0 saw whole datagrams, DNATed to a backend (2,000-byte requests: 2,028 bytes of IP).
    const cni0 = result.kernel.get('n1/cni0')!;
    expect(cni0.some((f) => f.dir === 'in' && f.ipv4?.totalLength === 2028 && f.udp?.dstPort === 8080)).toBe(true);
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);

  it('docker-publish with large datagrams, the host reaching its own published port included', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(dockerPublishLarge(), 'docker-publish-large.yaml')));
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);

  it('a node reaching ClusterIP Services itself, with large datagrams', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(NODE_TO_SERVICES, 'node-to-services.yaml')), { ephemeralPorts: 'pair-nat' });
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);

  it('a large broadcast reassembled at the bridge port and flooded, cut again at every port', async () => {
    const result = await compareWithKernel(expandScenario(parseScenario(BROADCAST_FRAGMENTS, 'broadcast-fragments.yaml')));
    expect(result.text, 'podwire differs from the kernel').toBe('');
    expect(result.equal).toBe(true);
  }, 60_000);
});
