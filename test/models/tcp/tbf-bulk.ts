/**
 * A bulk TCP transfer through a tbf at the sending end of a veth, from the
 * namespace that owns the tbf or from a pod behind it: the case of TCP small
 * queues (tsq.test.ts, and test/kernel/tsq.kernel.test.ts against the kernel).
 */
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { TbfQdisc } from '../../../models/devices/tbf.js';
import type { Netns } from '../../../models/stack/netns.js';
import { ip, route, SECOND, TestNet } from '../helpers.js';
import { tcpOf } from './tcp-helpers.js';

export const TSQ_TOTAL = 30_000_000;
/** net.ipv4.tcp_rmem of the receiver (and the kernel's, in the comparison). */
export const TSQ_RMEM: [number, number, number] = [4096, 6291456, 6291456];
export const TSQ_TBF = { rateBytesPerSec: 12_500_000, burstBytes: 4000, limitBytes: 1_500_000 }; // tbf rate 100mbit burst 32kbit limit 1500000

/** The default net.ipv4.tcp_rmem of a new network namespace. */
export const DEFAULT_RMEM: [number, number, number] = [4096, 131072, 6291456];

/**
 * TSQ_TOTAL bytes to b over a veth whose sending end has a tbf: from the namespace
 * that owns the tbf (`fromPod` false), or from a pod behind it (true). Returns
 * the tbf's largest backlog and the largest window b advertised (sampled, as
 * the sender saw it, every 10 ms).
 */
export function tbfBulk(fromPod: boolean, rmem: [number, number, number] = TSQ_RMEM) {
  const net = new TestNet(1);
  const a = net.ns('a', { forward: true });
  const b = net.ns('b');
  const [va, vb] = net.veth(a, 'va', '02:00:00:00:00:0a', b, 'vb', '02:00:00:00:00:0b', { cidrA: '10.98.0.1/24', cidrB: '10.98.0.2/24' });
  const tbf = new TbfQdisc(a, TSQ_TBF);
  va.setQdisc(tbf);
  let sender: Netns = a;
  if (fromPod) {
    sender = net.ns('p');
    const [vp] = net.veth(sender, 'eth0', '02:00:00:00:00:01', a, 'vethp', '02:00:00:00:00:02', { cidrA: '10.98.1.2/24', cidrB: '10.98.1.1/24' });
    route(vp, '0.0.0.0/0', '10.98.1.1');
    route(vb, '10.98.1.0/24', '10.98.0.1');
  }
  let maxBacklog = 0;
  const enqueue = tbf.enqueue.bind(tbf);
  tbf.enqueue = (pkt) => {
    enqueue(pkt);
    if (tbf.backlogBytes > maxBacklog) maxBacklog = tbf.backlogBytes;
  };
  const ta = tcpOf(sender, { congestionControl: 'reno' });
  // TSQ_RMEM: the receiver starts with a 6 MiB buffer, so that its window does not limit the flow.
  const tb = tcpOf(b, { congestionControl: 'reno', rmem });
  let client: Connection | null = null;
  let doneAt = -1;
  tb.listen(5001, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === TSQ_TOTAL) doneAt = net.sim.now; } }) });
  net.at(0, () => { client = ta.connect(ip('10.98.0.2'), 5001, { onConnected: (c) => { c.send(TSQ_TOTAL); } }); });
  let maxWindow = 0;
  for (let t = 10; t < 3000; t += 10) net.at(t * 1e6, () => { if (client !== null) maxWindow = Math.max(maxWindow, client.sndWnd); });
  net.run(10 * SECOND);
  return { doneAt, maxBacklog, maxWindow, drops: net.dropsOf(a)['QDISC_DROP'] ?? 0, client: client! as Connection };
}

