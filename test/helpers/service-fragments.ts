import { readFileSync } from 'node:fs';
import { resolveScenarioPath } from '../../scenarios/library.js';

/** Two UDP ClusterIP Services answering 3,000 bytes: far-udp (pods app=far), near-udp (app=near). */
const SERVICES = `services:
  - name: far-udp
    selector: { app: far }
    ports: [{ protocol: UDP, port: 80, targetPort: 8080, responseSize: 3000 }]
  - name: near-udp
    selector: { app: near }
    ports: [{ protocol: UDP, port: 80, targetPort: 8080, responseSize: 3000 }]`;

/**
 * UDP datagrams larger than the MTU through ClusterIP Services programmed by
 * kube-proxy (so conntrack is loaded and br_netfilter runs iptables at cni0's
 * ports): a 2,000-byte request to a Service whose backend is on the other
 * node (routed after DNAT), one to a Service whose backend shares the
 * client's bridge (bridged DNAT), and 2,500 bytes between two pods of one
 * node. One flow at a time, for the kernel comparison.
 */
export const SERVICE_FRAGMENTS = `name: service-fragments
duration: 1500ms
nodes:
  - name: n1
    pods: [{ name: client }, { name: near, labels: { app: near } }, { name: peer }]
  - name: n2
    pods: [{ name: far, labels: { app: far } }]
${SERVICES}
traffic:
  - udp: { from: n1/client, to: svc:far-udp, port: 80, sourcePort: 40001, count: 2, rate: 10, requestSize: 2000, responseSize: 3000, start: 100ms }
  - udp: { from: n1/client, to: svc:near-udp, port: 80, sourcePort: 40002, count: 2, rate: 10, requestSize: 2000, responseSize: 3000, start: 500ms }
  - udp: { from: n1/client, to: n1/peer, port: 9000, sourcePort: 40003, count: 2, rate: 10, requestSize: 2500, responseSize: 1600, start: 900ms }
capture: all
`;

/**
 * The library's docker-publish with 2,000-byte requests and 3,000-byte
 * answers. Its "host to its published port" flow leaves through lo (MTU
 * 65,536, so with DF) and Docker's OUTPUT DNAT sends it out docker0 (1,500):
 * the host cuts it there all the same (skb->ignore_df).
 */
export function dockerPublishLarge(): string {
  const text = readFileSync(resolveScenarioPath('docker-publish'), 'utf8');
  const large = text.replaceAll('requestSize: 16, responseSize: 32', 'requestSize: 2000, responseSize: 3000').replace('port: 80, responseSize: 32 }', 'port: 80, responseSize: 3000 }');
  if (large === text || large.includes('responseSize: 32')) throw new Error('docker-publish changed: dockerPublishLarge no longer enlarges every flow');
  return large;
}

/**
 * A node reaching ClusterIP Services itself (kube-proxy's OUTPUT DNAT), with
 * large datagrams: to a backend on another node (out eth0) and to one on its
 * own bridge (out cni0), both masqueraded with --random-fully; and a pod
 * pinging the node with 3,000 bytes.
 */
export const NODE_TO_SERVICES = `name: node-to-services
duration: 1500ms
nodes:
  - name: n1
    pods: [{ name: near, labels: { app: near } }]
  - name: n2
    pods: [{ name: far, labels: { app: far } }]
${SERVICES}
traffic:
  - udp: { from: n1, to: svc:far-udp, port: 80, sourcePort: 40001, count: 2, rate: 10, requestSize: 2000, responseSize: 3000, start: 100ms }
  - udp: { from: n1, to: svc:near-udp, port: 80, sourcePort: 40002, count: 2, rate: 10, requestSize: 2000, responseSize: 3000, start: 500ms }
  - ping: { from: n2/far, to: n1, count: 1, size: 3000, start: 900ms }
capture: all
`;

/**
 * A 2,000-byte UDP broadcast on a node's bridge where kube-proxy's rules
 * load conntrack: br_netfilter reassembles it at the sender's port, and every
 * copy the bridge floods is cut again at its own port (deliver_clone keeps
 * the record); b's server answers.
 */
export const BROADCAST_FRAGMENTS = `name: broadcast-fragments
duration: 1000ms
nodes:
  - name: n1
    pods: [{ name: a }, { name: b }, { name: c }, { name: x, labels: { app: x } }]
  - name: n2
    pods: [{ name: d }]
services:
  - name: x
    selector: { app: x }
    ports: [{ protocol: UDP, port: 80, targetPort: 8080, responseSize: 10 }]
servers:
  - { on: n1/b, port: 9000, responseSize: 16 }
traffic:
  - udp: { from: n1/a, to: 10.244.1.255, port: 9000, count: 1, requestSize: 2000, responseSize: 16, broadcast: true, start: 100ms }
capture: all
`;
